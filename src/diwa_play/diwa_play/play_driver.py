"""What the play sources (scripted play, teleop) share: they turn a relative action per control
period into the robot command stream, through the same safety envelope as the policy node. The
twists go to the command arbiter, which alone drives the robot; the e-stop (/diwa/estop or the
node's ~/estop) also latches the source itself, so its gripper requests stop too.

The robot backend is the policy node's (diwa_robot.backends): on a Franka it homes the gripper,
switches MoveIt Servo to twists and unpauses it. That happens at the first motion asked for (for
teleop: the first time the enable button is held with a stick deflected), not at start-up; nothing
is sent to the robot before. At shutdown the arm gets a last zero twist and Servo, left unpaused,
holds on its own incoming-command timeout (a skill's start pauses it again before planning)."""

from __future__ import annotations

import time

import numpy as np
from diwa.robot_contract import GRIPPER_CLOSED_WIDTH_M, GRIPPER_OPEN_WIDTH_M, action_to_twist
from rclpy.node import Node

from diwa_msgs.msg import SceneState
from diwa_robot.backends import (
    BackendError,
    ServoTopics,
    command_frame_for,
    make_backend,
    safety_profile_for,
    scene_state_topic_for,
)
from diwa_robot.estop import EStop
from diwa_robot.observation_cache import ObservationCache, ObservationUnavailableError
from diwa_robot.parameters import declare
from diwa_robot.safety import (
    CartesianCommand,
    GripperRequest,
    SafetyFilter,
    load_safety_limits,
    safety_file_or_installed,
)


def declare_driver_parameters(node: Node, source: str) -> None:
    """`source`: the command arbiter's input this node publishes on (play or teleop)."""
    declare(node, "backend", "sim", "sim | franka (MoveIt Servo) | franky (franky_robot)")
    declare(node, "rate_hz", 30.0, "commands per second (Hz)")
    declare(node, "observation_max_age_s", 0.25, "an older observation holds the arm (s)")
    declare(node, "scene_state_topic", "", "the observation; empty: the backend's source")
    declare(node, "twist_topic", f"diwa/commands/{source}", "this source's commands, to the command arbiter")
    declare(node, "gripper_namespace", "franka_gripper", "the gripper's Move and Grasp actions")
    declare(node, "planning_frame", "", "frame of the twists sent; empty: the backend's command frame")
    declare(node, "safety_file", "", "safety YAML; empty: share/diwa_bringup/config/safety.yaml")
    declare(node, "safety_profile", "", "profile in the safety file; empty: the backend's own")
    declare(node, "gripper_speed", 0.1, "finger speed of gripper commands (m/s)")
    declare(node, "gripper_force", 20.0, "grasp force (N)")


class PlayDriver:
    def __init__(self, node: Node) -> None:
        value = lambda name: node.get_parameter(name).value  # noqa: E731
        self.node = node
        self.rate_hz = float(value("rate_hz"))
        self.max_age_s = float(value("observation_max_age_s"))
        self.gripper_speed, self.gripper_force = float(value("gripper_speed")), float(value("gripper_force"))
        backend = str(value("backend"))
        profile = safety_profile_for(backend, str(value("safety_profile")))
        self.safety = SafetyFilter(load_safety_limits(safety_file_or_installed(str(value("safety_file"))), profile))
        frame = command_frame_for(backend, str(value("planning_frame")))
        topics = ServoTopics(str(value("twist_topic")), str(value("gripper_namespace")), frame)
        self.backend = make_backend(node, backend, topics, self.safety.limits)
        self.active = False  # the backend was activated: the robot takes commands from here on
        self.observations = ObservationCache()
        state_topic = scene_state_topic_for(backend, str(value("scene_state_topic")))
        node.create_subscription(SceneState, state_topic, self._on_state, 10)
        self.estop = EStop(node, self.safety, self.hold, lambda: False)

    def _on_state(self, msg: SceneState) -> None:
        self.observations.update_from_scene_state(msg, time.monotonic())

    def observation(self) -> dict[str, np.ndarray] | None:
        try:
            return self.observations.latest(time.monotonic(), self.max_age_s).as_dict()
        except ObservationUnavailableError:
            return None

    def send_action(self, action: np.ndarray, tcp_position: np.ndarray) -> None:
        if not self.active:
            if not np.any(action[:6]) or self.safety.estopped:
                return  # no motion asked for yet (or the e-stop is latched): the robot is left alone
            try:
                self.backend.activate()
            except BackendError as err:
                self.node.get_logger().error(f"the robot is not ready: {err}", throttle_duration_sec=5.0)
                return
            self.active = True
        twist = action_to_twist(action, self.rate_hz)
        width = GRIPPER_OPEN_WIDTH_M if action[6] >= 0 else GRIPPER_CLOSED_WIDTH_M
        gripper = GripperRequest(width=width, speed=self.gripper_speed, force=self.gripper_force)
        command = CartesianCommand(linear=twist.linear, angular=twist.angular, gripper=gripper)
        self.backend.send(self.safety.filter(command, tcp_position, time.monotonic()))

    def hold(self) -> None:
        if self.active:
            self.backend.send(self.safety.watchdog(time.monotonic()))
