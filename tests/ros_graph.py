"""Helpers for integration tests that run our nodes as separate processes over real DDS.

Each test module gets its own ROS_DOMAIN_ID so concurrent test runs on one machine never see each
other's nodes; nodes are started from the colcon install space exactly as `ros2 run` would.
"""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import rclpy
from diwa.node_graph import executable_path
from rclpy.context import Context
from rclpy.exceptions import InvalidHandle
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node

REPO = Path(__file__).resolve().parents[1]


_modules_seen = itertools.count()


def unique_domain_id() -> int:
    """A domain for the calling test module: distinct for up to 10 modules of one pytest process and
    for 10 concurrent processes. Fast DDS ports fit domains 0..101 on Linux; 0, the default that
    other ROS programs use, is avoided."""
    return 1 + (os.getpid() % 10) * 10 + next(_modules_seen) % 10


def ros_args(params: dict[str, object]) -> list[str]:
    args = ["--ros-args"]
    for key, value in params.items():
        text = str(value).lower() if isinstance(value, bool) else str(value)
        args += ["-p", f"{key}:={text}"]
    return args


class NodeProcess:
    def __init__(self, package: str, executable: str, params: dict[str, object], log_dir: Path, domain: int) -> None:
        self.name = executable
        self.log_path = log_dir / f"{executable}.log"
        env = {**os.environ, "ROS_DOMAIN_ID": str(domain), "PYTHONUNBUFFERED": "1"}
        command = [str(executable_path(package, executable)), *ros_args(params)]
        self.log = self.log_path.open("w")
        self.process = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT, env=env)

    def output(self) -> str:
        self.log.flush()
        return self.log_path.read_text()

    def stop(self, timeout: float = 10.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
        return self.process.returncode


_SPIN_LOCK = threading.RLock()
"""Held by every RosTestClient's spin thread around each spin, and by the goal helpers below: rclpy
7.1's ActionClient registers a request's future only after the request is sent, so a response the
spin thread takes in between is dropped ("Ignoring unexpected goal response") and the goal, result
or cancel request is never answered (seen in CI: a goal response that never came in 20 s)."""


def send_goal(action, goal, **kwargs):
    """action.send_goal_async(goal, ...) without that race."""
    with _SPIN_LOCK:
        return action.send_goal_async(goal, **kwargs)


def goal_result(handle):
    """handle.get_result_async() without that race."""
    with _SPIN_LOCK:
        return handle.get_result_async()


def cancel_goal(handle):
    """handle.cancel_goal_async() without that race."""
    with _SPIN_LOCK:
        return handle.cancel_goal_async()


class RosTestClient:
    """An rclpy node in the test process, spun by a background executor."""

    def __init__(self, domain: int, name: str = "test_client") -> None:
        self.context = Context()
        rclpy.init(context=self.context, domain_id=domain)
        self.node = Node(name, context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        while self.context.ok():
            try:
                with _SPIN_LOCK:
                    self.executor.spin_once(timeout_sec=0.05)
            except InvalidHandle:
                # A test destroyed a node or client (a rig's teardown) while this thread was building
                # its wait set; the next spin_once builds one without it. Raising here ended the
                # thread, and every later test of the module timed out waiting for callbacks (seen
                # once in CI: test_hold_stops_a_planned_move_in_progress).
                continue
            except Exception:
                if self.context.ok():
                    raise

    def close(self) -> None:
        self.node.destroy_node()
        rclpy.shutdown(context=self.context)
        self._thread.join(timeout=5)


def wait_for(predicate: Callable[[], bool], timeout: float, what: str, interval: float = 0.02) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")


@contextmanager
def node_processes(
    specs: list[tuple[str, str, dict[str, object]]], log_dir: Path, domain: int
) -> Iterator[list[NodeProcess]]:
    processes = [NodeProcess(pkg, exe, params, log_dir, domain) for pkg, exe, params in specs]
    try:
        yield processes
    finally:
        for process in reversed(processes):
            process.stop()


def wait_until_goals_are_answered(action, probe, timeout: float = 60.0) -> None:
    """Send `probe`, a goal the server answers at once (refused or aborted), until it is answered:
    wait_for_server returns once the server is discovered, and a goal sent before the server has
    matched this client's request topic is lost (seen in CI: a first goal unanswered after 30 s)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sent = send_goal(action, probe)
        if done_within(sent, 5):
            if sent.result().accepted and not done_within(goal_result(sent.result()), 30):
                continue
            return
    raise TimeoutError(f"no goal sent to {action._action_name} was answered within {timeout:.0f} s")


def wait_until_the_policy_node_sees_the_robot(action, timeout: float = 120.0) -> None:
    """Send one-step dry-run goals (they command nothing) until the policy node no longer refuses for
    want of a robot state: on a loaded machine DDS discovery between the nodes can take seconds
    after the action server is up, and a test's first goal must not race it. A goal whose response
    or result does not come (sent before the server matched this client) is sent again."""
    from diwa_msgs.action import ExecuteSkill

    deadline = time.monotonic() + timeout
    message = "no response to any dry-run goal"
    while time.monotonic() < deadline:
        sent = send_goal(action, ExecuteSkill.Goal(skill="open_drawer", policy="scripted", max_steps=1, dry_run=True))
        if not done_within(sent, 15):
            continue
        result = goal_result(sent.result())
        if not done_within(result, 30):
            continue
        message = result.result().result.message
        if not message.startswith("refused: no valid observation received"):
            return
        time.sleep(0.5)
    raise TimeoutError(f"the policy node saw no robot state within {timeout:.0f} s: {message}")


def done_within(future, seconds: float) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if future.done():
            return True
        time.sleep(0.02)
    return False
