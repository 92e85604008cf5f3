"""The process entry point every DiWA node shares: init, spin a multi-threaded executor (action
servers block in their execute callbacks while subscriptions keep flowing), shut down cleanly on
Ctrl-C or SIGINT from `diwa launch`."""

from __future__ import annotations

from collections.abc import Callable

import rclpy
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor
from rclpy.node import Node


def run_node(make_node: Callable[[], Node], threads: int, on_exit: Callable[[Node], None] | None = None) -> None:
    """Run one node until shutdown; `on_exit` runs while the context is still valid (e.g. a last
    zero-velocity command), and is skipped when a signal already shut the context down."""
    rclpy.init()
    node = make_node()
    executor = MultiThreadedExecutor(num_threads=threads)
    executor.add_node(node)
    try:
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if on_exit is not None and node.context.ok():
            on_exit(node)
        node.destroy_node()
        rclpy.try_shutdown()
