"""The process entry point every DiWA node shares: init, spin an executor (multi-threaded where
action servers block in their execute callbacks while subscriptions keep flowing), shut down cleanly
on Ctrl-C or SIGINT from `diwa launch`."""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import Callable

import rclpy
from rclpy.executors import Executor, ExternalShutdownException, MultiThreadedExecutor, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions

SIGNAL_CHECK_S = 0.2
GIL_SWITCH_INTERVAL_S = 0.0005
"""How long a thread may hold the GIL while another waits (Python's default: 5 ms). rclpy 7.1's
MultiThreadedExecutor re-yields every callback its thread pool has not started yet, so a spin thread
that keeps the GIL for 5 ms starves the pool, the backlog grows and the spin loop runs hot; a
control loop then misses its 30 Hz (docs/results/realtime_gap)."""
RUNNING_CALLBACKS_S = 0.5


def run_node(make_node: Callable[[], Node], threads: int, on_exit: Callable[[Node], None] | None = None) -> None:
    """Run one node until Ctrl-C (SIGINT) or an external shutdown; `on_exit` then runs while the
    context is still valid (e.g. a last zero-velocity command)."""
    # Without rclpy's SIGINT handler, which shuts the context down at once: Ctrl-C ends the spin
    # here, and on_exit still has a valid context to send its last command.
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
    rclpy.init(signal_handler_options=SignalHandlerOptions.NO)
    node = make_node()
    # One thread where the node's callbacks need no parallelism: rclpy 7.1's thread pool idles hot
    # while one callback of a mutually exclusive group runs (docs/results/realtime_gap).
    executor: Executor = SingleThreadedExecutor() if threads == 1 else MultiThreadedExecutor(num_threads=threads)
    executor.add_node(node)
    try:
        # Waits are bounded so that Ctrl-C is noticed by a node without timers: Python raises
        # KeyboardInterrupt only once the wait returns.
        while node.context.ok():
            executor.spin_once(timeout_sec=SIGNAL_CHECK_S)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        # A terminal's Ctrl-C reaches every process of the group, and `diwa launch` forwards one
        # more: a second SIGINT while the node cleans up must not interrupt it with a traceback.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if on_exit is not None and node.context.ok():
            on_exit(node)
        _finish_callbacks(executor)
        executor.shutdown(timeout_sec=2.0)
        node.destroy_node()
        rclpy.try_shutdown()


def _finish_callbacks(executor: Executor) -> None:
    """Give the callbacks already handed to the executor's thread pool (queued or running) up to
    RUNNING_CALLBACKS_S to end while the executor and the node still exist; the spin loop has
    ended, so no new ones come. rclpy 7.1 (Jazzy) returns from Executor.shutdown without waiting
    for them (ros2/rclpy#1309) and destroys its guard condition: each then failed and printed
    "exception was never retrieved: cannot use Destroyable" at graph shutdown. They are not
    cancelled: a coroutine callback that never ran warns "never awaited" instead. A callback that
    runs longer (a skill) is not waited for."""
    pool = getattr(executor, "_executor", None)  # none single-threaded; a later rclpy may keep it elsewhere
    if pool is None:
        return
    pool.shutdown(wait=False)
    deadline = time.monotonic() + RUNNING_CALLBACKS_S
    for worker in list(getattr(pool, "_threads", ())):
        worker.join(timeout=max(0.0, deadline - time.monotonic()))
