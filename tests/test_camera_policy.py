"""A camera policy through ROS: the policy node runs a latent policy on an image world model from the
mock robot's two camera topics and its joint state, over real DDS (issue 25). Without the cameras
the goal is refused with the reason."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
import rl_tiny
from action_msgs.msg import GoalStatus
from diwa.policy.checkpoint import save_policy
from diwa.world_model.store import save_world_model
from rclpy.action import ActionClient

from diwa_msgs.action import ExecuteSkill
from tests.ros_graph import (
    RosTestClient,
    done_within,
    goal_result,
    node_processes,
    send_goal,
    unique_domain_id,
    wait_for,
)

pytestmark = pytest.mark.ros
DOMAIN = unique_domain_id()
RATE_HZ = 10.0  # a third of CALVIN's rate: a loaded 2-core machine delivers callbacks late


@pytest.fixture(scope="module")
def camera_policy(tmp_path_factory) -> Path:
    """A latent policy on a toy image world model (both 64x64 cameras + robot_obs), on disk."""
    root = tmp_path_factory.mktemp("camera_policy")
    model = rl_tiny.camera_world_model()
    model.codec.fit({"robot_obs": np.random.default_rng(0).normal(size=(64, 15)).astype(np.float32)})
    wm_json = save_world_model(model, root / "wm", step=1, seed=0, provenance={"dataset_path": "synthetic"})
    wm_sha = json.loads(wm_json.read_text())["files"]["weights"]["sha256"]
    policy = rl_tiny.policy(model.feat_dim, latent=True)
    policy.provenance = {"world_model": {"path": str(root / "wm"), "weights_sha256": wm_sha}}
    save_policy(policy, root / "policy")
    return root / "policy"


def graph_specs(cameras: bool) -> list[tuple[str, str, dict[str, object]]]:
    return [
        (
            "diwa_calvin_bridge",
            "mock_robot",
            # Best-effort images, as camera drivers publish them: the policy node must still match them.
            {
                "seed": 5,
                "rate_hz": RATE_HZ,
                "cameras": cameras,
                "camera_qos": "sensor_data",
                "static_image_size": 64,
                "gripper_image_size": 64,
            },
        ),
        ("diwa_robot", "command_arbiter", {"lease_s": 1.0}),
        (
            "diwa_policy_node",
            "policy_node",
            {"control_rate_hz": RATE_HZ, "observation_max_age_s": 1.0, "image_max_skew_s": 0.5},
        ),
    ]


NO_STATE_YET = "refused: no valid observation received"
NO_IMAGE_YET = "refused: no rgb_"


def execute(specs, tmp_path: Path, goal: ExecuteSkill.Goal, not_yet: tuple[str, ...] = (NO_STATE_YET,)):
    """Run the graph and send the goal until it is no longer refused for `not_yet` reasons: on a
    loaded machine DDS discovery between the nodes can take seconds after the action server is up."""
    with node_processes(specs, tmp_path, DOMAIN) as processes:
        client = RosTestClient(DOMAIN)
        try:
            action = ActionClient(client.node, ExecuteSkill, "/execute_skill")
            assert action.wait_for_server(timeout_sec=60), "\n".join(p.output() for p in processes)
            deadline = time.monotonic() + 60
            while True:
                feedback: list = []
                sent = send_goal(action, goal, feedback_callback=feedback.append)
                if not done_within(sent, 20):  # sent before the server matched this client: lost
                    continue
                result = goal_result(sent.result())
                wait_for(result.done, 120, "the goal's result")
                outcome = result.result()
                if not outcome.result.message.startswith(not_yet) or time.monotonic() > deadline:
                    return outcome, feedback
                time.sleep(0.5)
        finally:
            client.close()


def test_a_camera_policy_runs_on_the_image_topics(camera_policy: Path, tmp_path: Path) -> None:
    goal = ExecuteSkill.Goal(skill=rl_tiny.SKILL, policy=str(camera_policy), max_steps=12)
    outcome, feedback = execute(graph_specs(cameras=True), tmp_path, goal, (NO_STATE_YET, NO_IMAGE_YET))
    # The toy policy does not open the drawer: it runs all 12 steps on fresh images, then stops.
    assert outcome.status == GoalStatus.STATUS_ABORTED, outcome.result.message
    assert outcome.result.message == "not done after 12 steps"
    assert [f.feedback.step for f in feedback][-1] == 12


def test_without_its_cameras_a_camera_policy_is_refused(camera_policy: Path, tmp_path: Path) -> None:
    goal = ExecuteSkill.Goal(skill=rl_tiny.SKILL, policy=str(camera_policy), max_steps=12)
    outcome, _ = execute(graph_specs(cameras=False), tmp_path, goal)
    assert outcome.status == GoalStatus.STATUS_ABORTED
    assert outcome.result.message == "refused: no rgb_gripper image received; the policy reads that camera"
