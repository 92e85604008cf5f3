"""The Franka Panda in one physics client: loading, IK control toward a TCP target, state read-out.

Joint and link indices are looked up once by name and state reads are batched, because this code
runs once per control step next to eight physics substeps and must stay cheap (the benchmark target
is 1,000 control steps per second without cameras).
"""

from __future__ import annotations

import numpy as np
import pybullet as p

from diwa.sim import geometry as g
from diwa.sim.assets import panda_urdf, write_cached
from diwa.sim.obs_layout import ROBOT_OBS_DIM

ARM_JOINT_NAMES = tuple(f"panda_joint{i}" for i in range(1, 8))
FINGER_JOINT_NAMES = ("panda_finger_joint1", "panda_finger_joint2")


class PandaArm:
    """A Panda whose TCP follows Cartesian targets through null-space IK and joint position control."""

    def __init__(self, client: int) -> None:
        self.client = client
        self.body = p.loadURDF(
            str(write_cached("panda", panda_urdf())),
            basePosition=g.ROBOT_BASE_POS,
            useFixedBase=True,
            flags=p.URDF_USE_INERTIA_FROM_FILE,
            physicsClientId=client,
        )
        names = {}
        for index in range(p.getNumJoints(self.body, physicsClientId=client)):
            info = p.getJointInfo(self.body, index, physicsClientId=client)
            names[info[1].decode()] = index
            names[info[12].decode()] = index
        self.arm_joints = [names[n] for n in ARM_JOINT_NAMES]
        self.finger_joints = [names[n] for n in FINGER_JOINT_NAMES]
        self.tcp_link = names["tcp"]
        self.state_joints = self.arm_joints + self.finger_joints
        self._gear = -1
        # PyBullet's null-space IK takes limits for every movable joint: 7 arm joints, then 2 fingers.
        self._ik_lower = [*g.ARM_LOWER_LIMITS, 0.0, 0.0]
        self._ik_upper = [*g.ARM_UPPER_LIMITS, g.GRIPPER_OPEN, g.GRIPPER_OPEN]
        self._ik_range = [u - lo for lo, u in zip(self._ik_lower, self._ik_upper, strict=True)]
        self._ik_rest = [*g.HOME_JOINTS, g.GRIPPER_OPEN, g.GRIPPER_OPEN]
        self._arm_lower = np.array(g.ARM_LOWER_LIMITS)
        self._arm_upper = np.array(g.ARM_UPPER_LIMITS)
        self.gripper_action = 1.0

    def solve_ik(self, pos: np.ndarray, quat: tuple[float, ...]) -> np.ndarray:
        """Arm joint positions that put the TCP at (pos, quat), clipped to the joint limits."""
        joints = p.calculateInverseKinematics(
            self.body,
            self.tcp_link,
            targetPosition=pos.tolist(),
            targetOrientation=quat,
            lowerLimits=self._ik_lower,
            upperLimits=self._ik_upper,
            jointRanges=self._ik_range,
            restPoses=self._ik_rest,
            maxNumIterations=20,
            residualThreshold=1e-4,
            physicsClientId=self.client,
        )
        return np.clip(np.asarray(joints[:7]), self._arm_lower, self._arm_upper)

    def command_arm(self, joints: np.ndarray) -> None:
        """Position control toward `joints`, joint by joint: only the single-joint call takes maxVelocity."""
        for index, target in zip(self.arm_joints, joints, strict=True):
            p.setJointMotorControl2(
                self.body,
                index,
                p.POSITION_CONTROL,
                targetPosition=float(target),
                force=g.ARM_FORCE,
                maxVelocity=g.ARM_MAX_VELOCITY,
                physicsClientId=self.client,
            )

    def command_gripper(self, action: float) -> None:
        """+1 opens (weakly, as CALVIN's gripper does), -1 closes with full force."""
        self.gripper_action = 1.0 if action > 0 else -1.0
        opening = self.gripper_action > 0
        p.setJointMotorControlArray(
            self.body,
            self.finger_joints,
            p.POSITION_CONTROL,
            targetPositions=[g.GRIPPER_OPEN if opening else 0.0] * 2,
            forces=[g.GRIPPER_OPEN_FORCE if opening else g.GRIPPER_CLOSE_FORCE] * 2,
            physicsClientId=self.client,
        )

    def _make_gear(self) -> None:
        """A gear constraint keeps both fingers symmetric about the TCP when only one touches an object.

        It is rebuilt on every reset: a constraint keeps its solver warm-start across resets, which
        would make an episode depend on the one before.
        """
        if self._gear >= 0:
            p.removeConstraint(self._gear, physicsClientId=self.client)
        self._gear = p.createConstraint(
            self.body,
            self.finger_joints[0],
            self.body,
            self.finger_joints[1],
            jointType=p.JOINT_GEAR,
            jointAxis=[1, 0, 0],
            parentFramePosition=[0, 0, 0],
            childFramePosition=[0, 0, 0],
            physicsClientId=self.client,
        )
        p.changeConstraint(self._gear, gearRatio=-1, erp=0.1, maxForce=50, physicsClientId=self.client)

    def reset_state(self, joints: np.ndarray, gripper_width: float, gripper_action: float) -> None:
        """Teleport to a joint configuration and hold it there."""
        self._make_gear()
        for index, value in zip(self.arm_joints, joints, strict=True):
            p.resetJointState(self.body, index, float(value), 0.0, physicsClientId=self.client)
        half = float(np.clip(gripper_width / 2, 0.0, g.GRIPPER_OPEN))
        for index in self.finger_joints:
            p.resetJointState(self.body, index, half, 0.0, physicsClientId=self.client)
        self.command_arm(np.asarray(joints))
        self.command_gripper(gripper_action)

    def tcp_pose(self) -> tuple[np.ndarray, np.ndarray]:
        """TCP position and euler angles from forward kinematics of the current joints."""
        state = p.getLinkState(self.body, self.tcp_link, computeForwardKinematics=True, physicsClientId=self.client)
        return np.asarray(state[4]), np.asarray(p.getEulerFromQuaternion(state[5]))

    def observe(self) -> np.ndarray:
        """robot_obs in CALVIN's layout (float64; the env casts)."""
        pos, euler = self.tcp_pose()
        states = p.getJointStates(self.body, self.state_joints, physicsClientId=self.client)
        obs = np.empty(ROBOT_OBS_DIM)
        obs[0:3] = pos
        obs[3:6] = euler
        obs[6] = states[7][0] + states[8][0]
        obs[7:14] = [s[0] for s in states[:7]]
        obs[14] = self.gripper_action
        return obs
