"""robot_state: a real cell's observation source, standing where the simulator's mock robot stands.

  in:  sensor_msgs/JointState on joint_states_topic: the 7 arm joints and the 2 finger joints, by
       name, in one message or several (franka_ros2 publishes the arm and the gripper apart)
  out: ~/scene_state (diwa_msgs/SceneState at rate_hz) with robot_obs from the joints
       (diwa.franka_state: forward kinematics, width, the gripper action read from the fingers)
       and scene_measured false: nothing measures the scene on a real cell, so the policy node
       runs camera-route policies only and a recording converts with the scene recorded as absent

A state is published only from readings at most max_age_s old, all finite: the command arbiter, the
policy node and teleop then see a stale observation and stop the arm, rather than act on old joints.
"""

from __future__ import annotations

import time

import numpy as np
from diwa.franka_state import FrankaObservation
from diwa.robot_contract import ARM_JOINT_NAMES, CONTROL_RATE_HZ, FINGER_JOINT_NAMES
from diwa.sim.geometry import ROBOT_BASE_POS
from rclpy.node import Node
from sensor_msgs.msg import JointState

from diwa_msgs.msg import SceneState
from diwa_robot.node_main import run_node
from diwa_robot.parameters import declare

JOINTS = (*ARM_JOINT_NAMES, *FINGER_JOINT_NAMES)
STARTUP_GRACE_S = 3.0


class RobotStateNode(Node):
    def __init__(self) -> None:
        super().__init__("robot_state")
        topic = declare(self, "joint_states_topic", "joint_states", "the arm's and the fingers' JointState")
        rate_hz = float(declare(self, "rate_hz", CONTROL_RATE_HZ, "SceneState rate (Hz)"))
        self.max_age_s = float(declare(self, "max_age_s", 0.1, "no state from joint readings older than this (s)"))
        self.frame_id = str(declare(self, "frame_id", "world", "frame of the published states"))
        base = [
            float(v) for v in declare(self, "base_in_scene", list(ROBOT_BASE_POS), "fr3_link0 in the scene frame (m)")
        ]
        if not (rate_hz > 0 and self.max_age_s > 0):
            raise ValueError(f"rate_hz and max_age_s must be positive, got {rate_hz} and {self.max_age_s}")
        self.observation = FrankaObservation(base)
        # Per joint: (position, monotonic receive time); the stamp of the newest arm reading.
        self.readings: dict[str, tuple[float, float]] = {}
        self.arm_stamp = None
        self.started = time.monotonic()
        self.publisher = self.create_publisher(SceneState, "~/scene_state", 10)
        self.create_subscription(JointState, str(topic), self.on_joints, 50)
        self.create_timer(1.0 / rate_hz, self.on_period)
        self.get_logger().info(f"robot state from {topic} at {rate_hz:.0f} Hz, base at {base} in the scene frame")

    def on_joints(self, msg: JointState) -> None:
        now = time.monotonic()
        if len(msg.position) != len(msg.name):
            self.get_logger().warn("a JointState without one position per name: ignored", throttle_duration_sec=5.0)
            return
        for name, position in zip(msg.name, msg.position, strict=True):
            if name in JOINTS:
                self.readings[name] = (float(position), now)
        if ARM_JOINT_NAMES[0] in msg.name:
            self.arm_stamp = msg.header.stamp

    def on_period(self) -> None:
        now = time.monotonic()
        problem = self.problem(now)
        if problem:
            if now - self.started > STARTUP_GRACE_S:  # the drivers' first readings take a moment
                self.get_logger().warn(f"no robot state published: {problem}", throttle_duration_sec=5.0)
            return
        arm = [self.readings[name][0] for name in ARM_JOINT_NAMES]
        fingers = [self.readings[name][0] for name in FINGER_JOINT_NAMES]
        msg = SceneState(robot_obs=self.observation.robot_obs(arm, fingers), scene_measured=False)
        msg.header.stamp = self.arm_stamp if self.arm_stamp is not None else self.get_clock().now().to_msg()
        msg.header.frame_id = self.frame_id
        self.publisher.publish(msg)

    def problem(self, now: float) -> str:
        """Why no state can be published now ('' if one can)."""
        missing = [name for name in JOINTS if name not in self.readings]
        if missing:
            return f"no reading of {', '.join(missing)} yet"
        oldest = min(self.readings[name][1] for name in JOINTS)
        if now - oldest > self.max_age_s:
            stale = [name for name in JOINTS if now - self.readings[name][1] > self.max_age_s]
            return f"readings of {', '.join(stale)} are older than {self.max_age_s * 1000:.0f} ms"
        if not all(np.isfinite(self.readings[name][0]) for name in JOINTS):
            return "a joint reading holds NaN or infinity"
        return ""


def main() -> None:
    run_node(RobotStateNode, threads=2)


if __name__ == "__main__":
    main()
