"""ExecuteSkill over real DDS: the mock robot and the policy node run as separate processes, the
action client runs here (issue: workspace foundation and ROS 2 runtime)."""

from __future__ import annotations

import itertools
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from action_msgs.msg import GoalStatus
from diwa.skills import SKILLS
from geometry_msgs.msg import PoseStamped, TwistStamped
from rclpy.action import ActionClient

from diwa_msgs.action import ExecuteSkill
from diwa_msgs.msg import SceneState
from diwa_robot.safety import SafetyFilter, load_safety_limits
from tests.ros_graph import (
    RosTestClient,
    cancel_goal,
    goal_result,
    node_processes,
    send_goal,
    unique_domain_id,
    wait_for,
    wait_until_the_policy_node_sees_the_robot,
)

pytestmark = pytest.mark.ros
DOMAIN = unique_domain_id()
# Both nodes run at a third of CALVIN's 30 Hz (the simulator still steps 1/30 s per action): Python
# executors on a loaded 2-core machine deliver callbacks tens of milliseconds late, and at 30 Hz that
# made the mock robot skip or repeat a twist often enough that the open-loop scripted expert missed
# the drawer handle (2 of 7 isolated runs; 0 of 20 at 10 Hz). A 100 ms period absorbs the jitter.
RATE_HZ = 10.0
SAFETY_FILE = Path(__file__).resolve().parents[1] / "src" / "diwa_bringup" / "config" / "safety.yaml"


class Robot:
    """What the test sees of the robot: TCP poses and the policy node's twist commands, each with the
    sender's header stamp (the ROS clock: system time, shared by every process on this machine), and
    the scene. Sender stamps, not arrival times: a test process stalled on a busy machine receives a
    backlog of poses late, and arrival times would put pre-cancel motion after the cancel."""

    def __init__(self, client: RosTestClient) -> None:
        self.lock = threading.Lock()
        self.poses: list[tuple[float, np.ndarray]] = []
        self.twists: list[tuple[float, np.ndarray]] = []
        self.scene: np.ndarray | None = None
        client.node.create_subscription(PoseStamped, "/mock_robot/tcp_pose", self.on_pose, 50)
        client.node.create_subscription(SceneState, "/mock_robot/scene_state", self.on_scene, 50)
        client.node.create_subscription(TwistStamped, "/servo_node/delta_twist_cmds", self.on_twist, 50)

    def on_pose(self, msg: PoseStamped) -> None:
        p = msg.pose.position
        with self.lock:
            self.poses.append((stamp_s(msg), np.array([p.x, p.y, p.z])))

    def on_twist(self, msg: TwistStamped) -> None:
        lin, ang = msg.twist.linear, msg.twist.angular
        with self.lock:
            self.twists.append((stamp_s(msg), np.array([lin.x, lin.y, lin.z, ang.x, ang.y, ang.z])))

    def on_scene(self, msg: SceneState) -> None:
        with self.lock:
            self.scene = np.array(msg.scene_obs)

    def positions_since(self, t: float) -> np.ndarray:
        """TCP positions stamped at or after system time `t`, in stamp order."""
        with self.lock:
            return np.array([pos for stamp, pos in sorted(self.poses, key=lambda p: p[0]) if stamp >= t])

    def twists_since(self, t: float) -> list[tuple[float, np.ndarray]]:
        with self.lock:
            return sorted((tw for tw in self.twists if tw[0] >= t), key=lambda tw: tw[0])


def stamp_s(msg) -> float:
    return msg.header.stamp.sec + 1e-9 * msg.header.stamp.nanosec


@pytest.fixture(scope="module")
def graph(tmp_path_factory):
    logs = tmp_path_factory.mktemp("execute_skill")
    specs = [
        ("diwa_calvin_bridge", "mock_robot", {"seed": 3, "rate_hz": RATE_HZ}),
        # The policy's twists reach the robot through the arbiter, as in the bringup graphs; a stalled
        # process on a loaded machine must not cost the policy the arm, so the lease is long here.
        ("diwa_robot", "command_arbiter", {"lease_s": 1.0}),
        # A loaded 2-core CI machine can stall a process for a quarter second; these tests check
        # behaviour, not timing, so they allow older observations than the deployed 0.25 s
        # (the stale-observation test stops the robot outright).
        (
            "diwa_policy_node",
            "policy_node",
            {"backend": "sim", "control_rate_hz": RATE_HZ, "default_max_steps": 150, "observation_max_age_s": 1.0},
        ),
    ]
    with node_processes(specs, logs, DOMAIN) as processes:
        client = RosTestClient(DOMAIN)
        try:
            action = ActionClient(client.node, ExecuteSkill, "/execute_skill")
            robot = Robot(client)
            assert action.wait_for_server(timeout_sec=60), "\n".join(p.output() for p in processes)
            wait_for(lambda: robot.scene is not None, 30, "the mock robot's scene state")
            wait_until_the_policy_node_sees_the_robot(action)
            yield client, action, robot, processes
        finally:
            client.close()


def send(action: ActionClient, goal: ExecuteSkill.Goal, feedback: list | None = None):
    future = send_goal(action, goal, feedback_callback=(feedback.append if feedback is not None else None))
    wait_for(future.done, 20, "goal response")
    return future.result()


def result_of(handle, timeout: float = 60.0):
    future = goal_result(handle)
    wait_for(future.done, timeout, "the goal's result")
    return future.result()


def reset(client: RosTestClient, robot: Robot, skill: str, seed: int) -> None:
    """Reset the simulator and return once the new state is being published.

    The policy node accepts observations up to observation_max_age_s (1 s here) old, so a goal sent
    too soon after the reset could start from the state before it: the episode's success is judged
    against that start. Waiting for a pose stamped after the reset's reply, then a few control
    periods, lets the node's cache hold only the new state."""
    from diwa_msgs.srv import ResetSim

    service = client.node.create_client(ResetSim, "/mock_robot/reset")
    assert service.wait_for_service(timeout_sec=20)
    future = service.call_async(ResetSim.Request(seed=seed, skill=skill))
    wait_for(future.done, 20, "reset")
    assert future.result().success, future.result().message
    replied = time.time()
    wait_for(lambda: len(robot.positions_since(replied)) > 0, 10, "a pose published after the reset")
    time.sleep(0.3)


def test_the_mock_robots_reset_refuses_states_outside_the_scene(graph):
    """Joints at 100 rad, a drawer at 5 m, a block at -1e9: refused with the reason, not reported back."""
    from diwa.sim.start_states import sample_robot_obs, sample_scene_obs

    from diwa_msgs.srv import ResetSim

    client, _, _, _ = graph
    service = client.node.create_client(ResetSim, "/mock_robot/reset")
    assert service.wait_for_service(timeout_sec=20)
    rng = np.random.default_rng(0)
    for part, index, value, says in (
        ("robot", 7, 100.0, "arm joint"),
        ("scene", 1, 5.0, "(drawer) = 5 m is outside its travel"),
        ("scene", 6, -1e9, "red block x/y"),
    ):
        robot_obs, scene_obs = sample_robot_obs(rng), sample_scene_obs(rng)
        (robot_obs if part == "robot" else scene_obs)[index] = value
        request = ResetSim.Request(use_state=True, robot_obs=robot_obs.tolist(), scene_obs=scene_obs.tolist())
        future = service.call_async(request)
        wait_for(future.done, 20, "reset")
        assert not future.result().success and says in future.result().message, future.result().message


def test_a_second_source_of_twists_or_robot_state_refuses_the_goal(graph):
    """Another node's twists would reach the arm beside the policy's, past the e-stop latch; a second
    robot state would interleave two robots. Either refuses the goal with the reason."""
    from geometry_msgs.msg import TwistStamped

    from diwa_msgs.msg import SceneState

    client, action, robot, _ = graph
    reset(client, robot, "open_drawer", seed=3)
    for kind, topic, says in (
        (TwistStamped, "/diwa/commands/policy", "another node publishes twist commands"),
        (SceneState, "/mock_robot/scene_state", "nodes publish on /mock_robot/scene_state"),
    ):
        intruder = client.node.create_publisher(kind, topic, 10)
        try:
            time.sleep(1.0)  # discovery
            outcome = result_of(send(action, ExecuteSkill.Goal(skill="open_drawer", policy="scripted")), timeout=20)
            assert not outcome.result.success and says in outcome.result.message, outcome.result.message
        finally:
            client.node.destroy_publisher(intruder)
    time.sleep(1.0)
    outcome = result_of(
        send(action, ExecuteSkill.Goal(skill="open_drawer", policy="scripted", max_steps=3)), timeout=20
    )
    assert "refused" not in outcome.result.message, outcome.result.message


def test_unknown_skill_is_refused_with_the_known_skills(graph):
    _, action, _, _ = graph
    handle = send(action, ExecuteSkill.Goal(skill="make_coffee", policy="scripted"))
    outcome = result_of(handle, timeout=20)
    assert not outcome.result.success
    assert "make_coffee" in outcome.result.message
    for skill in SKILLS:
        assert skill in outcome.result.message


def test_scripted_expert_opens_the_drawer_with_feedback(graph):
    """In real time a loaded machine delivers the expert's twists late, and it can then miss the
    handle (the drawer never moves): one opening in three seeded episodes shows the chain works."""
    client, action, robot, _ = graph
    misses = []
    for seed in (11, 12, 13):
        reset(client, robot, "open_drawer", seed=seed)
        drawer_before = robot.scene[1]
        feedback: list = []
        sent = time.time()
        handle = send(action, ExecuteSkill.Goal(skill="open_drawer", policy="scripted"), feedback)
        assert handle.accepted
        outcome = result_of(handle)
        if not outcome.result.success:
            path = robot.positions_since(sent)
            misses.append(
                f"seed {seed}: {outcome.result.message}; drawer {drawer_before:.3f} -> {robot.scene[1]:.3f}; "
                f"TCP {np.round(path[::10], 3).tolist()}; {len(robot.twists_since(sent))} twists, {len(path)} "
                f"poses, {time.time() - sent:.2f} s"
            )
            continue
        assert robot.scene[1] - drawer_before > 0.12  # CALVIN's open_drawer threshold, seen from outside
        steps = [f.feedback.step for f in feedback]
        assert steps == sorted(steps) and steps[-1] >= 1
        chunk = feedback[-1].feedback.predicted_chunk
        assert chunk.skill == "open_drawer" and chunk.action_dim == 7 and len(chunk.actions) == chunk.horizon * 7
        return
    pytest.fail("the scripted expert did not open the drawer in 3 seeded episodes:\n" + "\n".join(misses))


def test_cancel_brakes_the_arm_through_the_rate_limits_and_stops_it(graph):
    client, action, robot, _ = graph
    reset(client, robot, "move_slider_left", seed=5)
    handle = send(action, ExecuteSkill.Goal(skill="move_slider_left", policy="scripted"))
    time.sleep(0.5)  # the arm is moving now (the expert needs a few seconds for this skill)
    moving = robot.positions_since(time.time() - 0.3)
    assert np.linalg.norm(moving[-1] - moving[0]) > 0.005, "the arm should be moving before the cancel"
    cancel_requested = time.time()
    cancel_future = cancel_goal(handle)
    wait_for(cancel_future.done, 5, "cancel response")
    outcome = result_of(handle, timeout=10)
    assert outcome.status == GoalStatus.STATUS_CANCELED
    time.sleep(10 / RATE_HZ)
    # The command stream: the node checks for a cancel before every step and answers it by braking
    # through the safety filter (the sim profile's 13 m/s^2: no step between consecutive twists above
    # 13 / 30 m/s) down to a zero twist; nothing moves the arm after that.
    twists = robot.twists_since(cancel_requested - 0.2)
    steps = [np.linalg.norm(b[:3] - a[:3]) for (_, a), (_, b) in itertools.pairwise(twists)]
    assert max(steps) <= 13.0 / RATE_HZ * (1 + 1e-6), f"a twist step of {max(steps):.3f} m/s"
    # The stream ends in zeros and stays there. (The expert may itself send a zero twist between two
    # motions before the cancel is handled: the hold is where the final run of zeros starts.)
    twists = robot.twists_since(cancel_requested)
    assert twists and not np.abs(twists[-1][1]).any(), f"the stream did not end at rest: {twists[-3:]}"
    last_motion = max((stamp for stamp, tw in twists if np.abs(tw).any()), default=cancel_requested)
    hold_sent = min(stamp for stamp, tw in twists if stamp > last_motion or last_motion == cancel_requested)
    assert hold_sent - cancel_requested < 1.0, f"the hold came {hold_sent - cancel_requested:.2f} s after the cancel"
    # The arm: from one control period after the hold the TCP only settles onto the last target, then
    # stands still. At the expert's pushing speed (0.7 of a full step) the position controller lags its
    # target by 10.8 mm in the simulator; one more commanded step would add 14 mm.
    after = robot.positions_since(hold_sent + 1.5 / RATE_HZ)
    assert len(after) > 5
    assert np.abs(after - after[0]).max() < 0.011
    assert np.abs(after[-1] - after[-3]).max() < 0.0005


def test_stale_observations_abort_the_goal_and_the_arm_holds(graph):
    client, action, robot, processes = graph
    mock_robot = processes[0].process
    reset(client, robot, "open_drawer", seed=12)
    handle = send(action, ExecuteSkill.Goal(skill="open_drawer", policy="scripted"))
    # Freeze while the arm moves: the twists before the freeze are not zero.
    wait_for(lambda: any(np.abs(t).max() > 0 for _, t in robot.twists_since(time.time() - 0.2)), 10, "motion")
    mock_robot.send_signal(signal.SIGSTOP)  # the robot's state stream stops
    frozen = time.time()
    try:
        outcome = result_of(handle, timeout=10)
    finally:
        mock_robot.send_signal(signal.SIGCONT)
    assert outcome.status == GoalStatus.STATUS_ABORTED
    assert "stale" in outcome.result.message
    # The command arbiter stops trusting the last pose after the profile's max_observation_age and
    # brakes at its rate limit: no twist reaches the robot beyond that plus a full stop (the node's
    # own 1 s limit, relaxed for this loaded machine, does not matter for what the arm receives).
    limits = load_safety_limits(SAFETY_FILE, "sim")
    braking = limits.max_observation_age + SafetyFilter(limits).stop_periods() * limits.control_period
    moving = [stamp - frozen for stamp, twist in robot.twists_since(frozen) if np.abs(twist).max() > 0]
    assert not moving or max(moving) <= braking + 0.15, (max(moving), braking)
    resumed = time.time()
    time.sleep(0.5 + 10 / RATE_HZ)
    # The policy node sent no command after aborting, so once the mock robot runs again its command
    # timeout makes the arm hold still.
    after = robot.positions_since(resumed + 0.5)
    assert len(after) > 5 and np.abs(after - after[0]).max() < 0.003


@pytest.fixture(scope="module")
def trained_policy(tmp_path_factory):
    """A behaviour-cloned open_drawer policy (seeded; ~20 s on one core)."""
    root = tmp_path_factory.mktemp("bc")
    cli = [sys.executable, "-m", "diwa.cli"]
    demos, policy = root / "demos", root / "open_drawer"
    subprocess.run([*cli, "data", "collect-demos", "--skill", "open_drawer", "--episodes", "50", "--seed", "1000",
                    "--out", str(demos), "--quiet"], check=True)  # fmt: skip
    subprocess.run([*cli, "train-policy", "--skill", "open_drawer", "--demos", str(demos), "--out", str(policy),
                    "--epochs", "300", "--seed", "0", "--no-progress"], check=True)  # fmt: skip
    return policy


def test_trained_policy_opens_the_drawer(graph, trained_policy):
    client, action, robot, _ = graph
    # A BC policy succeeds on most start states, not all: one success in a few seeded episodes is
    # what this test needs to show (success rates are measured by `diwa eval`, not here).
    for seed in range(6):
        reset(client, robot, "open_drawer", seed=100 + seed)
        drawer_before = robot.scene[1]
        feedback: list = []
        handle = send(action, ExecuteSkill.Goal(skill="open_drawer", policy=str(trained_policy)), feedback)
        outcome = result_of(handle)
        assert feedback and feedback[-1].feedback.predicted_chunk.horizon == 4
        assert feedback[-1].feedback.inference_latency_ms > 0
        if outcome.result.success:
            assert robot.scene[1] - drawer_before > 0.12
            return
    pytest.fail("the trained policy did not open the drawer in 6 seeded episodes")
