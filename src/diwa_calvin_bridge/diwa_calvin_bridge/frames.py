"""The mock robot's frames as ROS publishes them: TF (REP 105 naming, FR3 frame names) and CameraInfo.

Tree: `world` (the CALVIN scene frame) -> `fr3_link0` (the arm's base; a fixed translation, axes
parallel: docs/deploy.md, step 1) -> `fr3_hand_tcp` (the simulator's TCP), and the cameras' optical
frames: `static_camera_optical_frame` fixed in `world`, `gripper_camera_optical_frame` fixed in
`fr3_hand_tcp`. The camera poses and focal lengths are the ones the simulator renders with
(diwa.sim.cameras), so a point projected through TF and CameraInfo lands where the image shows it.
"""

from __future__ import annotations

import numpy as np
from builtin_interfaces.msg import Time
from diwa.sim.cameras import GripperCamera, StaticCamera, focal_length_px, optical_frame
from diwa.sim.geometry import ROBOT_BASE_POS
from geometry_msgs.msg import TransformStamped
from sensor_msgs.msg import CameraInfo

BASE_FRAME = "fr3_link0"
TCP_FRAME = "fr3_hand_tcp"
STATIC_CAMERA_FRAME = "static_camera_optical_frame"
GRIPPER_CAMERA_FRAME = "gripper_camera_optical_frame"


def euler_xyz_to_quaternion(euler: np.ndarray) -> tuple[float, float, float, float]:
    """Extrinsic XYZ Euler angles (CALVIN's tcp orientation) -> quaternion (x, y, z, w)."""
    cr, cp, cy = np.cos(np.asarray(euler) / 2.0)
    sr, sp, sy = np.sin(np.asarray(euler) / 2.0)
    return (
        sr * cp * cy - cr * sp * sy,
        cr * sp * cy + sr * cp * sy,
        cr * cp * sy - sr * sp * cy,
        cr * cp * cy + sr * sp * sy,
    )


def quaternion_from_rotation(rotation: np.ndarray) -> tuple[float, float, float, float]:
    """A proper 3x3 rotation matrix -> quaternion (x, y, z, w), by the largest diagonal term."""
    r = np.asarray(rotation, dtype=float)
    trace = np.trace(r)
    if trace > 0:
        s = 2.0 * np.sqrt(trace + 1.0)
        q = ((r[2, 1] - r[1, 2]) / s, (r[0, 2] - r[2, 0]) / s, (r[1, 0] - r[0, 1]) / s, 0.25 * s)
    else:
        i = int(np.argmax(np.diag(r)))
        j, k = (i + 1) % 3, (i + 2) % 3
        s = 2.0 * np.sqrt(1.0 + r[i, i] - r[j, j] - r[k, k])
        v = [0.0, 0.0, 0.0]
        v[i], v[j], v[k] = 0.25 * s, (r[j, i] + r[i, j]) / s, (r[k, i] + r[i, k]) / s
        q = (*v, (r[k, j] - r[j, k]) / s)
    norm = float(np.linalg.norm(q))
    return tuple(float(c) / norm for c in q)  # type: ignore[return-value]


def transform(
    stamp: Time, parent: str, child: str, position: np.ndarray, quaternion: tuple[float, ...]
) -> TransformStamped:
    msg = TransformStamped()
    msg.header.stamp, msg.header.frame_id, msg.child_frame_id = stamp, parent, child
    t, r = msg.transform.translation, msg.transform.rotation
    t.x, t.y, t.z = (float(v) for v in position)
    r.x, r.y, r.z, r.w = (float(v) for v in quaternion)
    return msg


def static_transforms(stamp: Time, world: str) -> list[TransformStamped]:
    """The frames that never move: the arm's base in the scene and both camera mounts."""
    static_position, static_rotation = optical_frame(StaticCamera.EYE, StaticCamera.TARGET, (0.0, 0.0, 1.0))
    wrist_position, wrist_rotation = optical_frame(
        GripperCamera.EYE_IN_TCP, GripperCamera.TARGET_IN_TCP, GripperCamera.UP_IN_TCP
    )
    return [
        transform(stamp, world, BASE_FRAME, np.asarray(ROBOT_BASE_POS), (0.0, 0.0, 0.0, 1.0)),
        transform(stamp, world, STATIC_CAMERA_FRAME, static_position, quaternion_from_rotation(static_rotation)),
        transform(stamp, TCP_FRAME, GRIPPER_CAMERA_FRAME, wrist_position, quaternion_from_rotation(wrist_rotation)),
    ]


def tcp_transform(stamp: Time, tcp_in_world: np.ndarray, quaternion: tuple[float, ...]) -> TransformStamped:
    """The TCP in the arm's base frame (the base is a pure translation of the scene frame)."""
    return transform(stamp, BASE_FRAME, TCP_FRAME, np.asarray(tcp_in_world) - np.asarray(ROBOT_BASE_POS), quaternion)


def camera_info(stamp: Time, frame: str, size: int, fov_deg: float) -> CameraInfo:
    """A distortion-free pinhole camera of a square `size` image (ROS pixel centres at integers)."""
    f, c = focal_length_px(size, fov_deg), (size - 1) / 2.0
    msg = CameraInfo()
    msg.header.stamp, msg.header.frame_id = stamp, frame
    msg.width = msg.height = size
    msg.distortion_model = "plumb_bob"
    msg.d = [0.0] * 5
    msg.k = [f, 0.0, c, 0.0, f, c, 0.0, 0.0, 1.0]
    msg.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    msg.p = [f, 0.0, c, 0.0, 0.0, f, c, 0.0, 0.0, 0.0, 1.0, 0.0]
    return msg
