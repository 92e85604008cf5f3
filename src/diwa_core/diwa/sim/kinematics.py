"""Forward and inverse kinematics of the Panda outside any environment.

Start-state samplers must produce consistent robot_obs (TCP pose matching the joints) without
owning a simulator, so they use this arm alone in a private physics client of their own.
"""

from __future__ import annotations

import functools

import numpy as np
import pybullet as p

from diwa.sim import geometry as g
from diwa.sim.obs_layout import ROBOT_OBS_DIM
from diwa.sim.robot import PandaArm


class ArmKinematics:
    def __init__(self) -> None:
        self.client = p.connect(p.DIRECT)
        self.arm = PandaArm(self.client)

    def _set_joints(self, joints: np.ndarray) -> None:
        for index, value in zip(self.arm.arm_joints, joints, strict=True):
            p.resetJointState(self.arm.body, index, float(value), physicsClientId=self.client)

    def forward(self, joints: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """TCP position and euler angles at `joints`."""
        self._set_joints(joints)
        return self.arm.tcp_pose()

    def inverse(self, pos: np.ndarray, euler: np.ndarray, iterations: int = 6) -> np.ndarray:
        """Joints reaching (pos, euler) from the home posture, refined by repeated IK from each solution."""
        self._set_joints(np.asarray(g.HOME_JOINTS))
        quat = p.getQuaternionFromEuler(np.asarray(euler, dtype=float).tolist())
        joints = np.asarray(g.HOME_JOINTS)
        for _ in range(iterations):
            joints = self.arm.solve_ik(np.asarray(pos, dtype=float), quat)
            self._set_joints(joints)
        return joints

    def robot_obs(self, joints: np.ndarray, gripper_width: float, gripper_action: float) -> np.ndarray:
        """A consistent robot_obs for a resting arm at `joints`."""
        pos, euler = self.forward(joints)
        obs = np.empty(ROBOT_OBS_DIM)
        obs[0:3] = pos
        obs[3:6] = euler
        obs[6] = gripper_width
        obs[7:14] = joints
        obs[14] = gripper_action
        return obs


@functools.cache
def shared_kinematics() -> ArmKinematics:
    """One kinematics client per process, created on first use."""
    return ArmKinematics()
