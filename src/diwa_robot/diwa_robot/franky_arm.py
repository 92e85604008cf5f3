"""A Franka arm through franky (libfranka inside): TCP state, Cartesian velocity streaming, the
gripper. ROS-free, so `diwa robot-check` and a ROS bridge share it.

Frames: franky reports and commands in the robot's base frame (fr3_link0). The scene frame that the
safety box and the policies use has parallel axes (docs/deploy.md, step 1), so twists pass through
unchanged and positions differ by the base's position in the scene (`base_in_scene`).

Streaming: each control period's twist becomes a franky CartesianVelocityMotion held for
`hold_s` once reached. franky hands over from one motion to the next without a stop; if no new
twist arrives, the motion ends after the hold and franky brakes the arm to rest on its own, which is
the robot-side command timeout (the safety profile's robot_command_timeout).

franky is imported when an arm is opened, so the rest of the package works where it is not
installed (`make setup` installs it).
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np


class ArmError(RuntimeError):
    """The arm refused, reported an error, or could not be reached."""


def _franky() -> Any:
    try:
        import franky
    except ImportError as err:  # pragma: no cover - make setup installs it
        raise ArmError("franky is not installed (pip install franky-control; `make setup` does)") from err
    return franky


def active_errors(errors: object) -> tuple[str, ...]:
    """The set flags of a franka::Errors (one bool attribute per error; the object is always truthy)."""
    return tuple(name for name in dir(errors) if not name.startswith("_") and getattr(errors, name) is True)


def end_effector_velocity(point_velocity: np.ndarray, angular: np.ndarray, lever: np.ndarray) -> np.ndarray:
    """The linear velocity of the end effector when a point `lever` beyond it (base frame) moves
    at `point_velocity` and the hand turns at `angular`: v_point = v_ee + w x lever."""
    return np.asarray(point_velocity, dtype=float) - np.cross(angular, lever)


@dataclass(frozen=True)
class ArmState:
    tcp: np.ndarray  # TCP position, scene frame, m
    tcp_speed: float  # norm of the TCP's linear velocity, m/s
    errors: tuple[str, ...]  # libfranka's names of the robot's current errors (reflexes, limits)


class FrankyArm:
    """One connection to a Franka (or franky-sim) at `hostname`: state, twists, gripper."""

    def __init__(
        self,
        hostname: str,
        base_in_scene: tuple[float, float, float],
        dynamics_factor: float,
        realtime: bool = True,
    ) -> None:
        if not 0.0 < dynamics_factor <= 1.0:
            raise ValueError(f"dynamics_factor must lie in (0, 1], got {dynamics_factor}")
        franky = _franky()
        self._franky = franky
        self._base = np.asarray(base_in_scene, dtype=float)
        self._dynamics_factor = dynamics_factor
        config = franky.RealtimeConfig.Enforce if realtime else franky.RealtimeConfig.Ignore
        # One thread opens the robot and starts every motion. franky's Robot() raises the thread that
        # opens it to SCHED_FIFO 99 wherever it may (root, CAP_SYS_NICE), RealtimeConfig.Ignore or
        # not, and franky's 1 kHz control thread inherits the policy of the thread that starts the
        # motion. So the control threads run real-time exactly when `realtime` asks for it, and the
        # caller (a node's executor threads, which rclpy lets spin without waiting at times) never
        # does (docs/results/franky_realtime_priority).
        self._motions = ThreadPoolExecutor(max_workers=1, thread_name_prefix="franky-motions")
        try:
            self.robot, self.gripper = self._motions.submit(self._open, hostname, config, realtime).result()
        except franky.Exception as err:
            self._motions.shutdown()
            raise ArmError(f"cannot connect to the robot at {hostname}: {err}") from err

    def _open(self, hostname: str, config: Any, realtime: bool) -> tuple[Any, Any]:
        policy, priority = os.sched_getscheduler(0), os.sched_getparam(0)
        try:
            robot = self._franky.Robot(hostname, realtime_config=config)
            robot.relative_dynamics_factor = self._dynamics_factor
            return robot, self._franky.Gripper(hostname)
        finally:
            if not realtime:
                os.sched_setscheduler(0, policy, priority)

    def close(self) -> None:
        """End the motion thread (with realtime=True a real-time thread: it should not outlive the arm)."""
        self._motions.shutdown(wait=True)

    def _start(self, motion: Any, asynchronous: bool) -> None:
        """robot.move from the motion thread (the caller waits; a planned move blocks until it ends)."""
        try:
            started = self._motions.submit(self.robot.move, motion, asynchronous=asynchronous)
        except RuntimeError as err:  # after close(): a callback still running at shutdown
            raise ArmError("the arm is closed") from err
        started.result()

    def state(self) -> ArmState:
        pose = self.robot.current_pose.end_effector_pose
        twist = self.robot.current_cartesian_velocity.end_effector_twist
        return ArmState(
            tcp=np.asarray(pose.translation, dtype=float) + self._base,
            tcp_speed=float(np.linalg.norm(twist.linear)),
            errors=active_errors(self.robot.state.current_errors),
        )

    def flange_to_end_effector(self) -> float:
        """How far along the flange's axis franky's end effector lies (the Franka Hand: 0.1034 m)."""
        return float(self.robot.state.F_T_EE.translation[2])

    def send_twist(self, linear: np.ndarray, angular: np.ndarray, hold_s: float, point_beyond_ee: float = 0.0) -> None:
        """Command a Cartesian velocity (scene = base axes), held `hold_s` after it is reached.
        `linear` is the velocity of a point `point_beyond_ee` further along the hand's axis than
        franky's end effector (a policy's TCP); it is moved to the end effector: v_ee = v - w x r."""
        franky = self._franky
        linear, angular = np.asarray(linear, dtype=float), np.asarray(angular, dtype=float)
        if point_beyond_ee:
            hand_axis = np.asarray(self.robot.current_pose.end_effector_pose.matrix)[:3, 2]
            linear = end_effector_velocity(linear, angular, point_beyond_ee * hand_axis)
        twist = franky.Twist(linear, angular)
        motion = franky.CartesianVelocityMotion(twist, franky.Duration(max(1, round(1000 * hold_s))))
        try:
            self._start(motion, asynchronous=True)
        except franky.Exception as err:
            raise ArmError(f"the robot refused a velocity command: {err}") from err

    def move_to(self, tcp: np.ndarray, max_speed: float) -> None:
        """A planned straight-line move of the TCP to `tcp` (scene frame), keeping the orientation, no
        faster than `max_speed` (m/s): the safety profile's speed, which the filter cannot enforce on a
        motion franky plans itself. Blocks until it ends."""
        franky = self._franky
        pose = self.robot.current_pose.end_effector_pose
        target = franky.Affine(np.asarray(tcp, dtype=float) - self._base, pose.quaternion)
        # franky's planner limits each axis, so the norm can reach sqrt(3) x the per-axis limit.
        fastest = self.robot.translation_velocity_limit.max * self._dynamics_factor * np.sqrt(3.0)
        factor = franky.RelativeDynamicsFactor(min(1.0, max_speed / fastest))
        try:
            self._start(franky.CartesianMotion(target, relative_dynamics_factor=factor), asynchronous=False)
        except franky.Exception as err:
            raise ArmError(f"the move to {np.round(tcp, 3).tolist()} failed: {err}") from err

    def wait_until_still(self, timeout_s: float, speed: float = 1e-3) -> bool:
        """Poll until the TCP moves slower than `speed` (m/s); False on timeout."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.state().tcp_speed < speed:
                return True
            time.sleep(0.002)
        return False

    def join(self, timeout_s: float) -> None:
        """Wait for the running motion to end and raise what it ended with."""
        try:
            self.robot.join_motion(timeout=timeout_s)
        except self._franky.Exception as err:
            raise ArmError(f"the motion ended with an error: {err}") from err

    def joint_positions(self) -> np.ndarray:
        """The 7 arm joint angles (rad)."""
        return np.asarray(self.robot.current_joint_state.position, dtype=float)

    def gripper_width(self) -> float:
        return float(self.gripper.width)

    def grasp(self, width: float, speed: float, force: float, epsilon_inner: float, epsilon_outer: float) -> bool:
        """Close on an object of `width` (m) with `force` (N); True if the fingers stopped within the
        tolerance, as franka_gripper's Grasp reports it."""
        try:
            return bool(self.gripper.grasp(width, speed, force, epsilon_inner, epsilon_outer))
        except self._franky.Exception as err:
            raise ArmError(f"the gripper refused to grasp at {width:.3f} m: {err}") from err

    def home_gripper(self) -> bool:
        try:
            return bool(self.gripper.homing())
        except self._franky.Exception as err:
            raise ArmError(f"gripper homing failed: {err}") from err

    def move_gripper(self, width: float, speed: float) -> bool:
        try:
            return bool(self.gripper.move(width, speed))
        except self._franky.Exception as err:
            raise ArmError(f"the gripper refused to move to {width:.3f} m: {err}") from err
