"""Euler-angle helpers in PyBullet's convention, in plain numpy.

The oracle and the expert must run on recorded arrays without a physics client, so they cannot
call pybullet's converters. Convention (as PyBullet and CALVIN): euler (roll, pitch, yaw) about the
fixed x, y, z axes, i.e. R = Rz(yaw) @ Ry(pitch) @ Rx(roll).
"""

from __future__ import annotations

import numpy as np


def wrap_angle(angle: np.ndarray | float) -> np.ndarray:
    """Map angles to [-pi, pi) so differences of euler angles never jump by 2*pi."""
    return (np.asarray(angle, dtype=np.float64) + np.pi) % (2.0 * np.pi) - np.pi


def euler_to_matrix(euler: np.ndarray) -> np.ndarray:
    """Rotation matrix (3, 3) of euler angles (roll, pitch, yaw)."""
    roll, pitch, yaw = (float(v) for v in euler)
    cr, sr = np.cos(roll), np.sin(roll)
    cp, sp = np.cos(pitch), np.sin(pitch)
    cy, sy = np.cos(yaw), np.sin(yaw)
    return np.array(
        [
            [cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr],
            [sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr],
            [-sp, cp * sr, cp * cr],
        ]
    )


def matrix_to_euler(matrix: np.ndarray) -> np.ndarray:
    """Euler angles (roll, pitch, yaw) of a rotation matrix; inverse of euler_to_matrix away from gimbal lock."""
    pitch = np.arcsin(np.clip(-matrix[2, 0], -1.0, 1.0))
    roll = np.arctan2(matrix[2, 1], matrix[2, 2])
    yaw = np.arctan2(matrix[1, 0], matrix[0, 0])
    return np.array([roll, pitch, yaw])


def relative_euler(start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Euler angles of the world-frame rotation that turns orientation `start` into `end`.

    Comparing raw euler angles is unreliable near roll = pi (a gripper pointing down), so rotation
    tasks and the expert compare orientations through this relative rotation instead.
    """
    return matrix_to_euler(euler_to_matrix(end) @ euler_to_matrix(start).T)
