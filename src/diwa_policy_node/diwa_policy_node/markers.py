"""RViz markers for a predicted action chunk: the end-effector path the chunk would trace."""

from __future__ import annotations

import numpy as np
from builtin_interfaces.msg import Time
from diwa.robot_contract import POSITION_SCALE_M
from geometry_msgs.msg import Point
from std_msgs.msg import ColorRGBA
from visualization_msgs.msg import Marker, MarkerArray

OPEN_COLOR = ColorRGBA(r=0.1, g=0.8, b=0.2, a=0.9)
CLOSED_COLOR = ColorRGBA(r=0.9, g=0.2, b=0.1, a=0.9)


def predicted_tcp_path(tcp_position: np.ndarray, chunk: np.ndarray) -> np.ndarray:
    """Positions the TCP would pass through: start plus cumulative relative steps (CALVIN scaling)."""
    steps = np.clip(np.asarray(chunk, dtype=np.float64)[:, :3], -1.0, 1.0) * POSITION_SCALE_M
    return np.vstack([tcp_position[None, :3], tcp_position[None, :3] + np.cumsum(steps, axis=0)])


def chunk_markers(tcp_position: np.ndarray, chunk: np.ndarray, frame_id: str, stamp: Time) -> MarkerArray:
    """DELETEALL, then a LINE_STRIP of the path and one sphere per step coloured by the gripper command."""
    path = predicted_tcp_path(tcp_position, chunk)
    clear = Marker(action=Marker.DELETEALL)
    line = Marker(type=Marker.LINE_STRIP, action=Marker.ADD, ns="predicted_path", id=0)
    line.header.frame_id, line.header.stamp = frame_id, stamp
    line.scale.x = 0.004
    line.color = ColorRGBA(r=0.2, g=0.5, b=1.0, a=0.9)
    line.points = [Point(x=float(p[0]), y=float(p[1]), z=float(p[2])) for p in path]
    markers = [clear, line]
    for i, (position, action) in enumerate(zip(path[1:], chunk, strict=True)):
        sphere = Marker(type=Marker.SPHERE, action=Marker.ADD, ns="predicted_steps", id=i + 1)
        sphere.header.frame_id, sphere.header.stamp = frame_id, stamp
        sphere.pose.position = Point(x=float(position[0]), y=float(position[1]), z=float(position[2]))
        sphere.pose.orientation.w = 1.0
        sphere.scale.x = sphere.scale.y = sphere.scale.z = 0.012
        sphere.color = OPEN_COLOR if action[6] >= 0 else CLOSED_COLOR
        markers.append(sphere)
    return MarkerArray(markers=markers)
