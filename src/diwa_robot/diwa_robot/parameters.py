"""Node parameters with what `ros2 param describe` shows: a description, and read-only where the node
reads the value once at start-up (a later `ros2 param set` would otherwise be accepted and ignored)."""

from __future__ import annotations

from typing import Any

from rcl_interfaces.msg import ParameterDescriptor
from rclpy.node import Node


def declare(
    node: Node, name: str, default: Any, description: str, *, read_only: bool = True, dynamic_typing: bool = False
) -> Any:
    """Declare `name` on `node` and return its value."""
    descriptor = ParameterDescriptor(description=description, read_only=read_only, dynamic_typing=dynamic_typing)
    return node.declare_parameter(name, default, descriptor).value
