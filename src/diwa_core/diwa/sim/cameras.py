"""The static scene camera and the wrist camera, rendered headless with PyBullet's TinyRenderer."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pybullet as p

NEAR = 0.01
FAR = 3.0


@dataclass(frozen=True)
class CameraImage:
    rgb: np.ndarray  # (H, W, 3) uint8
    depth: np.ndarray | None  # (H, W) float32 metres


def _render(client: int, size: int, view: list[float], fov: float, depth: bool) -> CameraImage:
    projection = p.computeProjectionMatrixFOV(fov=fov, aspect=1.0, nearVal=NEAR, farVal=FAR)
    _, _, rgba, buffer, _ = p.getCameraImage(
        size,
        size,
        viewMatrix=view,
        projectionMatrix=projection,
        renderer=p.ER_TINY_RENDERER,
        flags=p.ER_NO_SEGMENTATION_MASK,
        shadow=0,
        physicsClientId=client,
    )
    rgb = np.asarray(rgba, dtype=np.uint8).reshape(size, size, 4)[:, :, :3].copy()
    metric = None
    if depth:
        # The z-buffer is non-linear in distance; convert it to metres along the optical axis.
        z = np.asarray(buffer, dtype=np.float64).reshape(size, size)
        metric = (FAR * NEAR / (FAR - (FAR - NEAR) * z)).astype(np.float32)
    return CameraImage(rgb, metric)


def optical_frame(
    eye: tuple[float, ...], target: tuple[float, ...], up: tuple[float, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """The pose (position, 3x3 rotation) of the camera that computeViewMatrix(eye, target, up)
    describes, as a ROS optical frame (REP 103: z forward, x right, y down in the image): what
    the camera's TF frame and the frame_id of its images and CameraInfo mean."""
    eye_ = np.asarray(eye, dtype=float)
    forward = np.asarray(target, dtype=float) - eye_
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, np.asarray(up, dtype=float))
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    return eye_, np.stack([right, down, forward], axis=1)


def focal_length_px(size: int, fov_deg: float) -> float:
    """PyBullet's projection: `fov_deg` is the vertical field of view of a square image."""
    return 0.5 * size / float(np.tan(np.radians(fov_deg) / 2.0))


class StaticCamera:
    """Fixed camera front-right of the table (clear of the arm), seeing drawer, door, button, switch and lights."""

    EYE = (0.65, -0.85, 1.30)
    TARGET = (-0.05, -0.02, 0.47)
    FOV = 44.0

    def __init__(self, client: int, size: int) -> None:
        self.client = client
        self.size = size
        self.view = p.computeViewMatrix(self.EYE, self.TARGET, (0.0, 0.0, 1.0))

    def render(self, depth: bool = False) -> CameraImage:
        return _render(self.client, self.size, self.view, self.FOV, depth)


class GripperCamera:
    """Wrist camera on the hand, looking along the fingers past the TCP. In the TCP frame (x: the
    side the image's top faces, z: along the fingers) it sits at EYE_IN_TCP and looks at
    TARGET_IN_TCP, with x up in the image."""

    FOV = 75.0
    BEHIND_TCP = 0.11  # m back from the TCP along the fingers
    BESIDE_TCP = 0.05  # m to the side
    LOOK_AHEAD = 0.15  # m past the TCP along the fingers
    EYE_IN_TCP = (BESIDE_TCP, 0.0, -BEHIND_TCP)
    TARGET_IN_TCP = (0.0, 0.0, LOOK_AHEAD)
    UP_IN_TCP = (1.0, 0.0, 0.0)

    def __init__(self, client: int, size: int) -> None:
        self.client = client
        self.size = size

    @classmethod
    def view_matrix(cls, tcp_pos: np.ndarray, tcp_quat: tuple[float, ...]) -> list[float]:
        rotation = np.asarray(p.getMatrixFromQuaternion(tcp_quat)).reshape(3, 3)
        side, forward = rotation[:, 0], rotation[:, 2]
        eye = tcp_pos - cls.BEHIND_TCP * forward + cls.BESIDE_TCP * side
        return p.computeViewMatrix(eye.tolist(), (tcp_pos + cls.LOOK_AHEAD * forward).tolist(), side.tolist())

    def render(self, tcp_pos: np.ndarray, tcp_quat: tuple[float, ...], depth: bool = False) -> CameraImage:
        return _render(self.client, self.size, self.view_matrix(tcp_pos, tcp_quat), self.FOV, depth)
