"""The policy node's software e-stop: a latch on top of, never instead of, the arm's own stop.

Inputs: the topic /diwa/estop (std_msgs/Bool; true latches, false does nothing, because releasing a
latch must be a deliberate act) and the services ~/estop and ~/reset_estop (std_srvs/Trigger).

Triggering latches SafetyFilter.estop(), so every command the control loop sends from then on is
zero, and holds the backend at once (a zero twist now, a planned move stopped) instead of waiting
for the loop: the stream stops within one control period even if the loop is mid-inference. The
loop then ends the goal as "e-stopped" and the node refuses new goals while the latch holds.
Reset is refused while a goal is still finishing, so a quick e-stop/reset pair cannot let the
interrupted goal carry on.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from rclpy.callback_groups import CallbackGroup
from rclpy.node import Node
from std_msgs.msg import Bool
from std_srvs.srv import Trigger

from diwa_robot.safety import SafetyFilter

ESTOP_TOPIC = "diwa/estop"


class EStop:
    def __init__(
        self,
        node: Node,
        safety: SafetyFilter,
        hold: Callable[[], None],
        goal_running: Callable[[], bool],
        callback_group: CallbackGroup | None = None,
    ) -> None:
        self.node = node
        self.safety = safety
        self.hold = hold
        self.goal_running = goal_running
        self.lock = threading.Lock()
        node.create_subscription(Bool, ESTOP_TOPIC, self.on_topic, 10, callback_group=callback_group)
        node.create_service(Trigger, "~/estop", self.on_estop, callback_group=callback_group)
        node.create_service(Trigger, "~/reset_estop", self.on_reset, callback_group=callback_group)

    def trigger(self, source: str) -> None:
        with self.lock:
            newly = not self.safety.estopped
            self.safety.estop()
        self.hold()
        if newly:
            self.node.get_logger().error(f"E-STOP latched by {source}: the arm is held; call ~/reset_estop to release")

    def reset(self) -> tuple[bool, str]:
        with self.lock:
            if not self.safety.estopped:
                return True, "no e-stop was latched"
            if self.goal_running():
                return False, "a goal is still finishing after the e-stop; try again"
            self.safety.reset_estop()
        self.node.get_logger().warn("e-stop released: new goals are accepted again")
        return True, "e-stop released"

    # --- ROS callbacks --------------------------------------------------------------------------
    def on_topic(self, msg: Bool) -> None:
        if msg.data:
            self.trigger(ESTOP_TOPIC)

    def on_estop(self, _request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        self.trigger("the ~/estop service")
        response.success, response.message = True, "e-stop latched"
        return response

    def on_reset(self, _request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        response.success, response.message = self.reset()
        return response
