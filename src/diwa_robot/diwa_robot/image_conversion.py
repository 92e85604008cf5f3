"""numpy <-> sensor_msgs/Image for RGB frames.

cv_bridge is used when it is importable (robot PCs with a system ROS); the wheel-based ROS has no
cv_bridge, so an equivalent conversion for the one encoding we publish (rgb8) lives here.
"""

from __future__ import annotations

import numpy as np
from sensor_msgs.msg import Image

try:  # pragma: no cover - depends on the ROS install
    from cv_bridge import CvBridge

    _BRIDGE: CvBridge | None = CvBridge()
except ImportError:
    _BRIDGE = None


def rgb_to_image_msg(rgb: np.ndarray, stamp, frame_id: str) -> Image:
    """(H, W, 3) uint8 array -> rgb8 Image."""
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"expected an (H, W, 3) uint8 image, got {rgb.shape} {rgb.dtype}")
    if _BRIDGE is not None:
        msg = _BRIDGE.cv2_to_imgmsg(np.ascontiguousarray(rgb), encoding="rgb8")
    else:
        msg = Image()
        msg.height, msg.width = int(rgb.shape[0]), int(rgb.shape[1])
        msg.encoding = "rgb8"
        msg.is_bigendian = 0
        msg.step = msg.width * 3
        msg.data = np.ascontiguousarray(rgb).tobytes()
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    return msg


def image_msg_to_rgb(msg: Image) -> np.ndarray:
    """rgb8 (or bgr8) Image -> (H, W, 3) uint8 array; other encodings are refused."""
    if msg.encoding not in ("rgb8", "bgr8"):
        raise ValueError(f"unsupported image encoding {msg.encoding!r}; expected rgb8 or bgr8")
    if msg.step < msg.width * 3 or len(msg.data) < msg.step * msg.height:
        raise ValueError(f"image data too short: {len(msg.data)} bytes for {msg.height}x{msg.width} step {msg.step}")
    rows = np.frombuffer(bytes(msg.data), dtype=np.uint8)[: msg.step * msg.height].reshape(msg.height, msg.step)
    rgb = rows[:, : msg.width * 3].reshape(msg.height, msg.width, 3)
    return rgb[..., ::-1].copy() if msg.encoding == "bgr8" else rgb.copy()
