"""The robot contract shared by the simulator's mock robot and the Franka: how a policy's CALVIN
relative action becomes a Cartesian velocity command (the form MoveIt Servo consumes) and a gripper
request, and back.

CALVIN scales a relative action by 0.02 m and 0.05 rad per control step; at a control rate f the
same motion is a twist of `action * scale * f`. Keeping both directions here means the policy node
and the mock robot can never disagree about units.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

POSITION_SCALE_M = 0.02
ORIENTATION_SCALE_RAD = 0.05
CONTROL_RATE_HZ = 30.0
GRIPPER_OPEN_WIDTH_M = 0.08
GRIPPER_CLOSED_WIDTH_M = 0.0

ARM_JOINT_NAMES: tuple[str, ...] = tuple(f"fr3_joint{i}" for i in range(1, 8))
FINGER_JOINT_NAMES: tuple[str, ...] = ("fr3_finger_joint1", "fr3_finger_joint2")


@dataclass(frozen=True)
class Twist:
    """Linear (m/s) and angular (rad/s) velocity of the TCP in the robot's planning frame."""

    linear: np.ndarray
    angular: np.ndarray


def _check_action(action: np.ndarray) -> np.ndarray:
    action = np.asarray(action, dtype=np.float64)
    if action.shape != (7,):
        raise ValueError(
            f"a relative action has 7 values (dx, dy, dz, droll, dpitch, dyaw, gripper), got shape {action.shape}"
        )
    if not np.isfinite(action).all():
        raise ValueError(f"relative action contains NaN or infinite values: {action}")
    return action


def action_to_twist(action: np.ndarray, rate_hz: float = CONTROL_RATE_HZ) -> Twist:
    """Twist that realises the arm part of a relative action over one control period (clipped to [-1, 1])."""
    arm = np.clip(_check_action(action)[:6], -1.0, 1.0)
    return Twist(linear=arm[:3] * POSITION_SCALE_M * rate_hz, angular=arm[3:6] * ORIENTATION_SCALE_RAD * rate_hz)


def twist_to_action(twist: Twist, gripper_open: bool, rate_hz: float = CONTROL_RATE_HZ) -> np.ndarray:
    """The relative action a twist held for one control period amounts to (inverse of action_to_twist)."""
    linear = np.asarray(twist.linear, dtype=np.float64)
    angular = np.asarray(twist.angular, dtype=np.float64)
    if linear.shape != (3,) or angular.shape != (3,):
        raise ValueError(f"twist needs 3 linear and 3 angular values, got {linear.shape} and {angular.shape}")
    if not (np.isfinite(linear).all() and np.isfinite(angular).all()):
        raise ValueError("twist contains NaN or infinite values")
    arm = np.concatenate([linear / (POSITION_SCALE_M * rate_hz), angular / (ORIENTATION_SCALE_RAD * rate_hz)])
    return np.concatenate([np.clip(arm, -1.0, 1.0), [1.0 if gripper_open else -1.0]])


def gripper_open_requested(action: np.ndarray) -> bool:
    """CALVIN's gripper channel: >= 0 opens, < 0 closes."""
    return bool(_check_action(action)[6] >= 0.0)
