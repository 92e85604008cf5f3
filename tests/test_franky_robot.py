"""The franky backend over real DDS against franky-sim, the FR3 that speaks libfranka's protocol:
franky_robot streams the command arbiter's twists to the arm and publishes its joints, robot_state
turns them into the observation, and teleop on backend franky moves the simulated arm while the
enable button is held, brings it to rest when released, and the e-stop latches it. As
collect.yaml starts the graph with robot:=franky play:=joy. The gripper's actions report the width
while the fingers move, on /joint_states too."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from action_msgs.msg import GoalStatus
from rclpy.action import ActionClient
from sensor_msgs.msg import JointState
from std_msgs.msg import Bool

from diwa_msgs.action import Move
from diwa_msgs.msg import SceneState
from tests.franky_sim_process import franky_sim, move_to_start
from tests.joystick import Joystick
from tests.ros_graph import (
    RosTestClient,
    done_within,
    goal_result,
    node_processes,
    send_goal,
    unique_domain_id,
    wait_for,
)

pytestmark = [pytest.mark.ros, pytest.mark.slow]
DOMAIN = unique_domain_id()
# Not /franka_gripper, which the Franka backend's tests serve with franka_msgs' Move in this same
# pytest process: an action name used with one type in a process, even in another context and DDS
# domain, breaks the messages of another type used later under that name (this client then
# received no feedback at all, and `publish_feedback` of an empty-feedback action followed by
# Move's raised "Not enough memory in the buffer stream"). No node process uses two types on one
# name; the test process does.
GRIPPER = "/franky_gripper"


class Operator:
    """A gamepad on /joy at 30 Hz, and the TCP as robot_state reports it."""

    def __init__(self, client: RosTestClient) -> None:
        node = client.node
        self.lock = threading.Lock()
        self.tcp: np.ndarray | None = None
        node.create_subscription(SceneState, "/robot_state/scene_state", self.on_state, 10)
        self.joystick = Joystick(node)
        self.estop = node.create_publisher(Bool, "/diwa/estop", 10)
        self.move = ActionClient(node, Move, f"{GRIPPER}/move")
        self.widths: list[tuple[float, float]] = []  # (arrival, finger width) from /joint_states
        node.create_subscription(JointState, "/joint_states", self.on_joints, 50)

    def on_joints(self, msg: JointState) -> None:
        with self.lock:
            self.widths.append((time.monotonic(), 2.0 * msg.position[-1]))

    def widths_between(self, start: float, end: float) -> list[float]:
        with self.lock:
            return [w for t, w in self.widths if start <= t <= end]

    def on_state(self, msg: SceneState) -> None:
        with self.lock:
            self.tcp = np.array(msg.robot_obs[:3])

    def set(self, forward: float, enable: bool) -> None:
        self.joystick.set(forward=forward, enable=enable)

    def position(self) -> np.ndarray:
        with self.lock:
            assert self.tcp is not None
            return self.tcp.copy()

    def settled(self, within: float = 1e-3) -> bool:
        before = self.position()
        time.sleep(0.5)
        return bool(np.linalg.norm(self.position() - before) < within)


@pytest.fixture(scope="module")
def operator(tmp_path_factory):
    with franky_sim() as address:
        move_to_start(address)
        logs = tmp_path_factory.mktemp("franky_robot")
        specs = [
            ("diwa_robot", "franky_robot", {"robot_ip": address, "realtime": False, "gripper_namespace": GRIPPER}),
            ("diwa_robot", "robot_state", {}),
            ("diwa_robot", "command_arbiter", {"backend": "franky", "lease_s": 0.5}),
            ("diwa_play", "teleop", {"input": "joy", "backend": "franky", "observation_max_age_s": 1.0}),
        ]
        with node_processes(specs, logs, DOMAIN) as processes:
            client = RosTestClient(DOMAIN)
            view = Operator(client)
            view.outputs = lambda: "\n".join(p.output() for p in processes)  # type: ignore[attr-defined]
            try:
                wait_for(lambda: view.tcp is not None, 60, "robot_state's first state\n" + view.outputs())
                time.sleep(2.0)  # discovery
                yield view
            finally:
                view.joystick.stop()
                client.close()


def test_teleop_moves_the_arm_only_while_enabled_and_it_comes_to_rest(operator):
    start = operator.position()
    operator.set(forward=0.5, enable=False)
    time.sleep(1.0)
    assert np.linalg.norm(operator.position() - start) < 2e-3, "sticks deflected, no enable: no motion"
    operator.set(forward=0.5, enable=True)
    wait_for(lambda: operator.position()[1] - start[1] > 0.03, 30, f"the arm to move +y\n{operator.outputs()}")
    operator.set(forward=0.5, enable=False)
    wait_for(operator.settled, 10, "the arm to come to rest after the release")
    moved = operator.position() - start
    assert moved[1] > 0.03 and abs(moved[0]) < 0.01 and abs(moved[2]) < 0.01, moved


def test_the_estop_latches_the_arm(operator):
    operator.estop.publish(Bool(data=True))
    time.sleep(1.0)
    before = operator.position()
    operator.set(forward=0.5, enable=True)
    time.sleep(1.5)
    operator.set(forward=0.0, enable=False)
    assert np.linalg.norm(operator.position() - before) < 2e-3


def move_fingers(operator: Operator, width: float, speed: float, feedback: list):
    handle = send_goal(operator.move, Move.Goal(width=width, speed=speed), feedback_callback=feedback.append)
    assert done_within(handle, 20), "no answer to the gripper goal"
    assert handle.result().accepted
    return handle.result()


def finish(handle):
    result = goal_result(handle)
    assert done_within(result, 20), "the gripper goal did not end"
    return result.result()


def test_a_gripper_move_reports_the_width_while_the_fingers_move(operator):
    assert operator.move.wait_for_server(timeout_sec=30)
    feedback: list = []
    finish(move_fingers(operator, 0.08, 0.1, []))  # open, then close
    handle = move_fingers(operator, 0.01, 0.05, feedback)
    started = time.monotonic()
    result = finish(handle)
    ended = time.monotonic()
    assert result.status == GoalStatus.STATUS_SUCCEEDED, result
    widths = [f.feedback.current_width for f in feedback]
    assert len(widths) >= 3, f"feedback while the fingers moved: {widths}\n{operator.outputs()}"
    assert widths[0] > widths[-1] and all(0.005 < w < 0.085 for w in widths), widths
    during = operator.widths_between(started + 0.2, ended - 0.2)
    assert any(0.02 < w < 0.07 for w in during), f"/joint_states during the motion: {np.round(during, 3).tolist()}"


def test_gripper_goals_in_a_burst_run_the_newest_and_never_stop_the_joint_states(operator):
    """A policy may toggle the fingers faster than they move: the running command finishes, the
    newest waiting one runs after it, the ones between are superseded, and /joint_states keeps
    flowing throughout (each waiting goal used to hold an executor thread, until none was left)."""
    assert operator.move.wait_for_server(timeout_sec=30)
    started = time.monotonic()
    handles = [move_fingers(operator, width, 0.1, []) for width in (0.02, 0.07, 0.03, 0.06)]
    results = [finish(handle) for handle in handles]
    ended = time.monotonic()
    assert results[0].status == GoalStatus.STATUS_SUCCEEDED and results[-1].status == GoalStatus.STATUS_SUCCEEDED
    superseded = [r for r in results[1:-1] if r.status == GoalStatus.STATUS_ABORTED]
    assert superseded and all("superseded" in r.result.error for r in superseded), [r.result for r in results]
    time.sleep(0.5)
    assert abs(operator.widths_between(ended, time.monotonic())[-1] - 0.06) < 0.005
    arrivals = [t for t, _ in operator.widths if started <= t] + [time.monotonic()]
    assert max(np.diff(arrivals)) < 0.5, f"/joint_states paused {max(np.diff(arrivals)):.2f} s during the burst"
