"""FineTune and TrainWorldModel action servers over real DDS: progress feedback, success, and a cancel
that leaves no half-written checkpoint (the training runs in a child process of the server)."""

from __future__ import annotations

import importlib.util
import json
import time
from pathlib import Path

import pytest
import yaml
from action_msgs.msg import GoalStatus
from diwa.rl.guard import fit_guard, save_guard
from diwa.world_model.store import load_world_model
from diwa.world_model.synthetic import point_mass_dataset
from rclpy.action import ActionClient

from diwa_msgs.action import FineTune, TrainWorldModel
from tests.ros_graph import (
    RosTestClient,
    cancel_goal,
    goal_result,
    node_processes,
    send_goal,
    unique_domain_id,
    wait_for,
    wait_until_goals_are_answered,
)

pytestmark = pytest.mark.ros
DOMAIN = unique_domain_id()


def _rl_tiny():
    """Tiny checkpoints shared with diwa_core's fine-tuning tests."""
    path = Path(__file__).resolve().parents[1] / "src" / "diwa_core" / "test" / "rl_tiny.py"
    spec = importlib.util.spec_from_file_location("rl_tiny", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("training")
    rl_tiny = _rl_tiny()
    paths = rl_tiny.save_pipeline(root / "inputs")
    profile = root / "tiny_finetune.yaml"
    profile.write_text(yaml.safe_dump(rl_tiny.config(iterations=2).to_dict()))
    # The tiny world model's play is too small to fit the verdict's guard: fit one on more play and
    # put it where the server looks for this world model's guard.
    model, info = load_world_model(paths["wm"])
    guard_config = rl_tiny.config().guard.__class__(enabled=True, members=3, hidden=16, epochs=2)
    guard, metrics = fit_guard(model, point_mass_dataset(frames=600, episode_frames=300, seed=0), guard_config, 0)
    meta = {"world_model": {"weights_sha256": info.weights_sha256}, "metrics": metrics}
    save_guard(guard, root / "work" / "verdict_guards" / info.weights_sha256[:16], guard_config, meta)
    params = {"workdir": str(root / "work"), "finetune_profile": str(profile), "finetune_eval_episodes": 2}
    params.update(verdict_episodes=16, latency_check_periods=1)
    with node_processes([("diwa_training", "training_server", params)], root, DOMAIN) as processes:
        client = RosTestClient(DOMAIN)
        try:
            fine_tune = ActionClient(client.node, FineTune, "/fine_tune")
            train_wm = ActionClient(client.node, TrainWorldModel, "/train_world_model")
            assert fine_tune.wait_for_server(timeout_sec=60), processes[0].output()
            wait_until_goals_are_answered(fine_tune, FineTune.Goal(skill="juggle", world_model=str(paths["wm"])))
            missing = TrainWorldModel.Goal(datasets=[str(root / "missing")], profile="quick")
            wait_until_goals_are_answered(train_wm, missing)
            yield {"paths": paths, "fine_tune": fine_tune, "train_wm": train_wm, "root": root, "skill": rl_tiny.SKILL}
        finally:
            client.close()


def run(action: ActionClient, goal, feedback: list, cancel_after_feedback: bool = False, timeout: float = 180):
    future = send_goal(action, goal, feedback_callback=feedback.append)
    wait_for(future.done, 30, "goal response")
    handle = future.result()
    assert handle.accepted
    if cancel_after_feedback:
        wait_for(lambda: len(feedback) > 0, timeout, "the first progress feedback")
        cancel = cancel_goal(handle)
        wait_for(cancel.done, 10, "cancel response")
    result = goal_result(handle)
    wait_for(result.done, timeout, "the result")
    return result.result()


def leftovers(directory: Path) -> list[Path]:
    return [p for p in directory.iterdir() if ".partial." in p.name]


def test_fine_tune_reports_progress_and_writes_the_checkpoint(server):
    paths, out = server["paths"], server["root"] / "tuned"
    goal = FineTune.Goal(
        skill=server["skill"], world_model=str(paths["wm"]), base_policy=str(paths["policy"]),
        reward_model=str(paths["reward"]), iterations=3, output_path=str(out),
    )  # fmt: skip
    feedback: list = []
    outcome = run(server["fine_tune"], goal, feedback)
    assert outcome.status == GoalStatus.STATUS_SUCCEEDED, outcome.result.message
    assert outcome.result.checkpoint == str(out) and (out / "policy.json").is_file()
    iterations = [f.feedback.iteration for f in feedback]
    assert iterations == sorted(iterations) and iterations[-1] == 3
    assert feedback[-1].feedback.imagined_steps > 0
    assert leftovers(out.parent) == []
    # The pre-deployment verdict came with the checkpoint, in the result and beside the weights.
    verdict = json.loads((out / "verdict.json").read_text())
    assert outcome.result.verdict == verdict["verdict"] and verdict["episodes"] == 16
    assert list(outcome.result.trusted_gain_ci95) == pytest.approx(verdict["trusted_gain_ci95"])
    assert f"verdict {verdict['verdict']}" in outcome.result.message
    # So did the latency check: the paired evaluation replayed with one period of command delay.
    latency = json.loads((out / "latency.json").read_text())
    evaluation = json.loads((out / "evaluation.json").read_text())
    assert list(latency["delays"]) == ["1"] and latency["policy_sha256"] == evaluation["policy_sha256"]
    assert "with command delay 1: " in outcome.result.message


def test_cancelled_fine_tune_leaves_no_checkpoint(server):
    paths, out = server["paths"], server["root"] / "cancelled"
    goal = FineTune.Goal(
        skill=server["skill"], world_model=str(paths["wm"]), base_policy=str(paths["policy"]),
        reward_model=str(paths["reward"]), iterations=100_000, output_path=str(out),
    )  # fmt: skip
    feedback: list = []
    started = time.monotonic()
    outcome = run(server["fine_tune"], goal, feedback, cancel_after_feedback=True)
    assert outcome.status == GoalStatus.STATUS_CANCELED
    assert time.monotonic() - started < 120
    assert not out.exists() and leftovers(out.parent) == []


def test_bad_goals_are_refused_with_a_reason(server):
    paths = server["paths"]
    outcome = run(server["fine_tune"], FineTune.Goal(skill="juggle", world_model=str(paths["wm"])), [])
    assert outcome.status == GoalStatus.STATUS_ABORTED and "known skills" in outcome.result.message
    goal = TrainWorldModel.Goal(datasets=[str(server["root"] / "missing")], profile="quick")
    outcome = run(server["train_wm"], goal, [])
    assert outcome.status == GoalStatus.STATUS_ABORTED and "not found" in outcome.result.message
    # An output the server cannot create fails inside the node: the result still says why.
    blocker = server["root"] / "a_file"
    blocker.write_text("x")
    goal = FineTune.Goal(
        skill="open_drawer",
        world_model=str(paths["wm"]),
        base_policy=str(paths["policy"]),
        reward_model=str(paths["reward"]),
        output_path=str(blocker / "out"),
    )
    outcome = run(server["fine_tune"], goal, [])
    assert outcome.status == GoalStatus.STATUS_ABORTED and outcome.result.message.startswith("failed: "), (
        outcome.result.message
    )
