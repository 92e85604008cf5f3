"""Forward kinematics of the Franka arm (Panda and FR3 share it), from joint angles to CALVIN's TCP pose.

A recording made on a real Franka stores joint angles; DiWA's robot_obs starts with the TCP pose in
the scene frame. The pose is computed here from Franka's published Denavit-Hartenberg parameters
(Craig's convention, docs/reference.md §6), then moved to CALVIN's TCP (the hand frame, turned
-45 degrees about the flange axis, plus TCP_OFFSET along its z axis) and into the scene frame (the
robot base at `base_in_scene`, identity orientation, as diwa_robot places it). At CALVIN's home
joints this gives CALVIN's home TCP pose (HOME_TCP_POS, HOME_TCP_EULER), which the tests check.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from diwa.sim import geometry as g
from diwa.sim.rotations import matrix_to_euler

# (a_{i-1} m, d_i m, alpha_{i-1} rad) of joints 1..7, then the flange (theta 0).
DH_JOINTS: tuple[tuple[float, float, float], ...] = (
    (0.0, 0.333, 0.0),
    (0.0, 0.0, -np.pi / 2),
    (0.0, 0.316, np.pi / 2),
    (0.0825, 0.0, np.pi / 2),
    (-0.0825, 0.384, -np.pi / 2),
    (0.0, 0.0, np.pi / 2),
    (0.088, 0.0, np.pi / 2),
)
FLANGE_D = 0.107
HAND_YAW = -np.pi / 4  # the Franka Hand is mounted turned -45 degrees about the flange's z axis


def _craig(a: float, d: float, alpha: float, theta: np.ndarray) -> np.ndarray:
    """Batched transforms (N, 4, 4) of one link: RotX(alpha) TransX(a) RotZ(theta) TransZ(d)."""
    ct, st = np.cos(theta), np.sin(theta)
    ca, sa = np.cos(alpha), np.sin(alpha)
    out = np.zeros((len(theta), 4, 4))
    out[:, 0, 0], out[:, 0, 1], out[:, 0, 3] = ct, -st, a
    out[:, 1, 0], out[:, 1, 1], out[:, 1, 2], out[:, 1, 3] = st * ca, ct * ca, -sa, -d * sa
    out[:, 2, 0], out[:, 2, 1], out[:, 2, 2], out[:, 2, 3] = st * sa, ct * sa, ca, d * ca
    out[:, 3, 3] = 1.0
    return out


def tcp_pose(
    joints: np.ndarray,
    base_in_scene: Sequence[float] = g.ROBOT_BASE_POS,
    tcp_offset: float = g.TCP_OFFSET,
) -> tuple[np.ndarray, np.ndarray]:
    """TCP positions (N, 3) in the scene frame and euler angles (N, 3) in CALVIN's convention for
    arm joint angles (N, 7) in radians."""
    q = np.atleast_2d(np.asarray(joints, dtype=np.float64))
    if q.ndim != 2 or q.shape[1] != 7:
        raise ValueError(f"forward kinematics needs (N, 7) arm joint angles, got shape {q.shape}")
    pose = np.broadcast_to(np.eye(4), (len(q), 4, 4)).copy()
    for (a, d, alpha), theta in zip(DH_JOINTS, q.T, strict=True):
        pose = pose @ _craig(a, d, alpha, theta)
    zeros = np.zeros(len(q))
    pose = pose @ _craig(0.0, FLANGE_D, 0.0, zeros + HAND_YAW)
    pose = pose @ _craig(0.0, tcp_offset, 0.0, zeros)
    position = pose[:, :3, 3] + np.asarray(base_in_scene, dtype=np.float64)
    euler = np.stack([matrix_to_euler(rotation) for rotation in pose[:, :3, :3]]) if len(q) else np.zeros((0, 3))
    return position, euler
