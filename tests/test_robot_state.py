"""The real cell's state source over real DDS: robot_state turns the mock robot's /joint_states into
a SceneState whose robot half equals the simulator's (forward kinematics, width, joints, the gripper
action read from the fingers), says the scene is not measured, and goes silent when the joints stop
coming, so that every consumer sees a stale observation and stops the arm."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from rclpy.action import ActionClient

from diwa_msgs.action import Grasp
from diwa_msgs.msg import SceneState
from diwa_msgs.srv import ResetSim
from tests.ros_graph import RosTestClient, node_processes, send_goal, unique_domain_id, wait_for

pytestmark = pytest.mark.ros
DOMAIN = unique_domain_id()


class States:
    """The newest SceneState of the simulator and of robot_state, with receive times."""

    def __init__(self, client: RosTestClient) -> None:
        self.lock = threading.Lock()
        self.sim: dict[tuple[int, int], SceneState] = {}
        self.cell: list[tuple[float, SceneState]] = []
        client.node.create_subscription(SceneState, "/mock_robot/scene_state", self.on_sim, 50)
        client.node.create_subscription(SceneState, "/robot_state/scene_state", self.on_cell, 50)

    def on_sim(self, msg: SceneState) -> None:
        with self.lock:
            self.sim[(msg.header.stamp.sec, msg.header.stamp.nanosec)] = msg

    def on_cell(self, msg: SceneState) -> None:
        with self.lock:
            self.cell.append((time.monotonic(), msg))

    def pairs(self, since: float) -> list[tuple[SceneState, SceneState]]:
        """(simulator, robot_state) messages of the same tick (robot_state stamps with the joints')."""
        with self.lock:
            return [
                (self.sim[key], msg)
                for at, msg in self.cell
                if at >= since and (key := (msg.header.stamp.sec, msg.header.stamp.nanosec)) in self.sim
            ]

    def last_cell_at(self) -> float:
        with self.lock:
            return self.cell[-1][0] if self.cell else -np.inf


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    logs: Path = tmp_path_factory.mktemp("robot_state")
    specs = [("diwa_calvin_bridge", "mock_robot", {"seed": 4}), ("diwa_robot", "robot_state", {})]
    with node_processes(specs, logs, DOMAIN) as processes:
        client = RosTestClient(DOMAIN)
        states = States(client)
        states.processes = processes  # type: ignore[attr-defined]
        try:
            outputs = lambda: "\n".join(p.output() for p in processes)  # noqa: E731
            wait_for(lambda: len(states.pairs(0.0)) > 5, 60, "robot_state's first states\n" + outputs())
            yield client, states
        finally:
            client.close()


def test_the_robot_half_is_the_simulators_and_the_scene_is_not_measured(rig):
    client, states = rig
    reset = client.node.create_client(ResetSim, "/mock_robot/reset")
    assert reset.wait_for_service(timeout_sec=20)
    future = reset.call_async(ResetSim.Request(seed=11, skill="turn_on_led"))  # joints away from home
    wait_for(future.done, 20, "the reset")
    since = time.monotonic() + 0.3
    wait_for(lambda: len(states.pairs(since)) >= 10, 10, "states after the reset")
    for sim, cell in states.pairs(since):
        assert sim.scene_measured and not cell.scene_measured and not np.any(cell.scene_obs)
        np.testing.assert_allclose(cell.robot_obs[:14], sim.robot_obs[:14], atol=1e-5)
        assert cell.robot_obs[14] == sim.robot_obs[14]


def test_closing_the_gripper_reads_as_the_close_action(rig):
    client, states = rig
    grasp = ActionClient(client.node, Grasp, "/franka_gripper/grasp")
    assert grasp.wait_for_server(timeout_sec=20)
    goal = Grasp.Goal(width=0.0, speed=0.1, force=20.0)
    goal.epsilon.inner = goal.epsilon.outer = 0.08
    since = time.monotonic()
    send_goal(grasp, goal)

    def closed() -> bool:
        pairs = states.pairs(since)
        return bool(pairs) and pairs[-1][0].robot_obs[14] < 0 and pairs[-1][1].robot_obs[14] < 0

    wait_for(closed, 10, "both states to show the gripper closed")


def test_joints_that_stop_coming_silence_the_state(rig):
    _, states = rig
    mock_robot = states.processes[0].process
    mock_robot.send_signal(signal.SIGSTOP)
    try:
        frozen_at = time.monotonic()
        time.sleep(1.0)
        # At most one period in flight plus the 0.1 s age limit after the last joints arrived.
        assert states.last_cell_at() - frozen_at < 0.25, "robot_state kept publishing old joints"
    finally:
        mock_robot.send_signal(signal.SIGCONT)
    resumed = time.monotonic()
    wait_for(lambda: states.last_cell_at() > resumed, 10, "robot_state to resume with fresh joints")
