"""robot_obs of a real Franka, from what its drivers publish: the 7 arm joint angles and the two
finger positions (sensor_msgs/JointState). A real cell measures no scene state, so this is the whole
observation there, beside the cameras.

  robot_obs[0:6]   TCP pose in the scene frame, by forward kinematics (diwa.data.franka_kinematics)
  robot_obs[6]     opening width: the two finger positions summed
  robot_obs[7:14]  arm joint angles
  robot_obs[14]    the gripper action last applied (+1 open, -1 closed). The drivers do not publish
                   the command, so it is read from the fingers: they moving apart is an opening,
                   together a closing; at rest the last motion stands, and before any motion a
                   width of at least half the open width counts as open. A grasp stops the
                   fingers on the object mid-way, still "closed", as the command was.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from diwa.data.franka_kinematics import tcp_pose
from diwa.robot_contract import GRIPPER_OPEN_WIDTH_M
from diwa.sim import geometry as g

GRIPPER_MOTION_M = 2e-3
"""A change of the opening width beyond this is the gripper moving; below it, reading noise (the
simulated fingers jitter by up to 1.6 mm when closed; a 0.1 m/s gripper moves 3 mm per 30 Hz period)."""


class GripperActionTracker:
    """The gripper action implied by the opening width, one reading at a time."""

    def __init__(self) -> None:
        self.action: float | None = None
        self.reference: float | None = None  # the width when the last motion was seen

    def update(self, width: float) -> float:
        if self.reference is None:
            self.reference = width
            self.action = 1.0 if width >= GRIPPER_OPEN_WIDTH_M / 2 else -1.0
        elif abs(width - self.reference) > GRIPPER_MOTION_M:
            self.action = 1.0 if width > self.reference else -1.0
            self.reference = width
        assert self.action is not None
        return self.action


class FrankaObservation:
    """robot_obs from joint readings; `base_in_scene` places the robot base (fr3_link0) in the scene
    frame, as the mock robot's TF tree does."""

    def __init__(self, base_in_scene: Sequence[float] = g.ROBOT_BASE_POS) -> None:
        if len(base_in_scene) != 3 or not np.isfinite(base_in_scene).all():
            raise ValueError(f"base_in_scene must be 3 finite numbers (m), got {list(base_in_scene)}")
        self.base_in_scene = tuple(float(v) for v in base_in_scene)
        self.gripper = GripperActionTracker()

    def robot_obs(self, arm_joints: Sequence[float], finger_positions: Sequence[float]) -> np.ndarray:
        """(15,) float64; raises ValueError on a reading of the wrong size or with NaN/inf, which
        must not become an observation."""
        arm = np.asarray(arm_joints, dtype=np.float64)
        fingers = np.asarray(finger_positions, dtype=np.float64)
        if arm.shape != (7,) or fingers.shape != (2,):
            raise ValueError(f"need 7 arm joint angles and 2 finger positions, got {arm.shape} and {fingers.shape}")
        if not (np.isfinite(arm).all() and np.isfinite(fingers).all()):
            raise ValueError("a joint reading holds NaN or infinity")
        position, euler = tcp_pose(arm[None], self.base_in_scene)
        width = float(fingers.sum())
        return np.concatenate([position[0], euler[0], [width], arm, [self.gripper.update(width)]])
