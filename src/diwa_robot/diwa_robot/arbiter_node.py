"""command_arbiter: the only node that publishes on the robot's twist topic (see arbiter.py).

  in:  TwistStamped on <input_namespace>/<source> for each source (policy, play, teleop, robot_check);
       SceneState (the TCP position the filter limits against); /diwa/estop and ~/estop, ~/reset_estop
  out: TwistStamped on output_topic (MoveIt Servo's twist input, or the mock robot's);
       /diagnostics (holder, refused commands, e-stop, safety flags)

MoveIt Servo must listen to this node alone: docs/deploy.md says how. A second publisher on
output_topic would reach the arm beside the arbiter, so the arbiter latches its e-stop when it sees
one, and says which topic.
"""

from __future__ import annotations

import time

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import TwistStamped
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.node import Node

from diwa_msgs.msg import SceneState
from diwa_robot.arbiter import COMMAND_SOURCES, CommandArbiter
from diwa_robot.backends import command_frame_for, safety_profile_for, scene_state_topic_for
from diwa_robot.estop import EStop
from diwa_robot.node_main import run_node
from diwa_robot.observation_cache import ObservationCache, ObservationUnavailableError
from diwa_robot.parameters import declare
from diwa_robot.safety import (
    CartesianCommand,
    FilteredCommand,
    SafetyFilter,
    load_safety_limits,
    safety_file_or_installed,
)

IDLE_ZERO_PERIODS = 3
"""Zero twists sent after motion ends, so the robot side sees the stop even if one is lost."""
CONFLICT_CHECK_S = 1.0


class ArbiterNode(Node):
    def __init__(self) -> None:
        super().__init__("command_arbiter")
        declare(self, "sources", list(COMMAND_SOURCES), "command sources, each on <input_namespace>/<source>")
        declare(self, "input_namespace", "diwa/commands", "where the sources' TwistStamped commands arrive")
        declare(
            self,
            "output_topic",
            "servo_node/delta_twist_cmds",
            "the robot's twist input (MoveIt Servo's, the mock robot's, franky_robot's)",
        )
        declare(
            self, "scene_state_topic", "", "the TCP position the workspace box is kept against; empty: the backend's"
        )
        declare(self, "planning_frame", "", "frame of the twists sent; empty: the backend's (world, fr3_link0)")
        declare(self, "lease_s", 0.2, "a source silent this long loses the arm, which brakes to rest (s)")
        declare(self, "backend", "sim", "sim | franka | franky: chooses the safety profile and frames")
        declare(self, "safety_file", "", "safety YAML; empty: share/diwa_bringup/config/safety.yaml")
        declare(
            self, "safety_profile", "", "profile in the safety file; empty: the backend's (a real arm refuses others)"
        )
        value = lambda name: self.get_parameter(name).value  # noqa: E731
        profile = safety_profile_for(str(value("backend")), str(value("safety_profile")))
        limits = load_safety_limits(safety_file_or_installed(str(value("safety_file"))), profile)
        self.period = limits.control_period
        self.frame = command_frame_for(str(value("backend")), str(value("planning_frame")))
        # One callback group for every input and the timer: the filter is called from one thread.
        group = MutuallyExclusiveCallbackGroup()
        self.arbiter = CommandArbiter(SafetyFilter(limits), float(value("lease_s")), tuple(value("sources")))
        self.observations = ObservationCache()
        self.output_topic = self.resolve_topic_name(str(value("output_topic")))
        self.publisher = self.create_publisher(TwistStamped, self.output_topic, 10)
        self.diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        namespace = self.resolve_topic_name(str(value("input_namespace")).rstrip("/"))
        for source in self.arbiter.sources:
            self.create_subscription(
                TwistStamped, f"{namespace}/{source}", lambda msg, s=source: self.on_command(s, msg), 10,
                callback_group=group,
            )  # fmt: skip
        state_topic = scene_state_topic_for(str(value("backend")), str(value("scene_state_topic")))
        self.create_subscription(SceneState, state_topic, self.on_state, 10, callback_group=group)
        self.estop = EStop(self, self.arbiter.safety, self.hold, lambda: False, group)
        self.idle_periods = IDLE_ZERO_PERIODS
        self.last_flags: tuple[str, ...] = ()
        self.conflict: str | None = None
        self.create_timer(self.period, self.on_period, callback_group=group)
        self.create_timer(CONFLICT_CHECK_S, self.on_check, callback_group=group)
        self.get_logger().info(
            f"command arbiter ready: {namespace}/{{{','.join(self.arbiter.sources)}}} -> {self.output_topic}"
        )

    # --- inputs -------------------------------------------------------------------------------
    def on_state(self, msg: SceneState) -> None:
        self.observations.update_from_scene_state(msg, time.monotonic())

    def on_command(self, source: str, msg: TwistStamped) -> None:
        lin, ang = msg.twist.linear, msg.twist.angular
        command = CartesianCommand(linear=[lin.x, lin.y, lin.z], angular=[ang.x, ang.y, ang.z])
        offer = self.arbiter.offer(source, command, time.monotonic())
        if not offer.accepted:
            holder = "the e-stop" if self.arbiter.safety.estopped else offer.holder or "a stop in progress"
            self.get_logger().warn(f"refused {source}'s commands: {holder} holds the arm", throttle_duration_sec=1.0)

    # --- output -------------------------------------------------------------------------------
    def on_period(self) -> None:
        now = time.monotonic()
        try:
            obs = self.observations.latest(now, np.inf)
            tcp, measured_at = obs.robot_obs[:3], obs.received_at
        except ObservationUnavailableError:
            tcp, measured_at = np.full(3, np.nan), None  # the filter brakes without a pose
        out = self.arbiter.output(tcp, measured_at, now)
        self.last_flags = out.reasons
        if self.arbiter.moving or out.linear.any() or out.angular.any():
            self.idle_periods = 0
        elif self.idle_periods >= IDLE_ZERO_PERIODS:
            return  # at rest and nobody asking: leave the topic quiet
        else:
            self.idle_periods += 1
        self.send(out)

    def send(self, out: FilteredCommand) -> None:
        msg = TwistStamped()
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.header.frame_id = self.frame
        (msg.twist.linear.x, msg.twist.linear.y, msg.twist.linear.z) = (float(v) for v in out.linear)
        (msg.twist.angular.x, msg.twist.angular.y, msg.twist.angular.z) = (float(v) for v in out.angular)
        self.publisher.publish(msg)

    def hold(self) -> None:
        """The e-stop's immediate zero, without waiting for the next period."""
        self.send(self.arbiter.estop())
        self.idle_periods = 0

    # --- monitoring -----------------------------------------------------------------------------
    def on_check(self) -> None:
        others = self.count_publishers(self.output_topic) - 1
        if others > 0 and self.conflict is None:
            self.conflict = f"{others} other node(s) publish on {self.output_topic}, bypassing the arbiter"
            self.estop.trigger(self.conflict)
        elif others <= 0:
            self.conflict = None
        self.publish_diagnostics()

    def publish_diagnostics(self) -> None:
        arbiter = self.arbiter
        status = DiagnosticStatus(name="diwa/command_arbiter", hardware_id=self.get_name())
        if arbiter.safety.estopped:
            status.level, status.message = DiagnosticStatus.ERROR, self.conflict or "e-stopped"
        else:
            status.level, status.message = (
                DiagnosticStatus.OK,
                f"held by {arbiter.holder}" if arbiter.holder else "idle",
            )
        status.values = [
            KeyValue(key="holder", value=arbiter.holder or ""),
            KeyValue(key="estopped", value=str(arbiter.safety.estopped).lower()),
            KeyValue(key="safety", value=",".join(self.last_flags) or "unmodified"),
            *(KeyValue(key=f"refused.{source}", value=str(count)) for source, count in arbiter.refused.items()),
        ]
        msg = DiagnosticArray(status=[status])
        msg.header.stamp = self.get_clock().now().to_msg()
        self.diag_pub.publish(msg)


def main() -> None:
    run_node(ArbiterNode, threads=1, on_exit=lambda node: node.send(node.arbiter.estop()))


if __name__ == "__main__":
    main()
