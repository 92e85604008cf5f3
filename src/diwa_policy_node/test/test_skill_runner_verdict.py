"""Where no oracle exists (a real cell has no scene state), a latent policy's success is its reward
classifier's verdict on the latent; in the simulator the oracle still judges."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import rl_tiny
import torch
from diwa.policy.checkpoint import save_policy
from diwa.world_model.reward import save_reward_classifier
from diwa.world_model.store import save_world_model

from diwa_policy_node.skill_runner import SkillRunner


class Log:
    def warn(self, message: str) -> None:
        pass


def observation(rng: np.random.Generator, scene: bool) -> dict[str, np.ndarray]:
    robot = rng.normal(scale=0.05, size=15).astype(np.float32)
    robot[:3] = (0.03, -0.23, 0.57)
    obs = {k: rng.integers(0, 256, (64, 64, 3), dtype=np.uint8) for k in ("rgb_static", "rgb_gripper")}
    obs["robot_obs"] = robot
    if scene:
        obs["scene_obs"] = np.zeros(24, np.float32)
    return obs


def camera_policy(root: Path, bias: float) -> Path:
    """A fine-tuned latent camera policy whose provenance names its world model and a reward
    classifier that says "done" with a logit margin of `bias`, whatever the latent."""
    model = rl_tiny.camera_world_model()
    wm_sha = json.loads(save_world_model(model, root / "wm", step=1, seed=0, provenance={}).read_text())["files"][
        "weights"
    ]["sha256"]
    classifier = rl_tiny.random_reward(model.feat_dim)
    with torch.no_grad():
        last = classifier.head[-1]
        last.weight.zero_()
        last.bias.copy_(torch.tensor([0.0, bias]))
    meta = {
        "config": dataclasses.asdict(rl_tiny.REWARD_CONFIG),
        "feat_dim": model.feat_dim,
        "world_model": {"weights_sha256": wm_sha},
    }
    save_reward_classifier(classifier, root / "reward", rl_tiny.SKILL, meta)
    policy = rl_tiny.policy(model.feat_dim, latent=True)
    policy.provenance = {
        "world_model": {"path": str(root / "wm"), "weights_sha256": wm_sha},
        "reward": {"path": str(root / "reward"), "weights_sha256": "recorded"},
    }
    save_policy(policy, root / "policy")
    return root / "policy"


@pytest.mark.parametrize(("bias", "done"), [(4.0, True), (-4.0, False)])
def test_without_a_scene_state_the_classifier_decides(tmp_path: Path, bias: float, done: bool) -> None:
    policy = camera_policy(tmp_path, bias)
    runner = SkillRunner({}, seed=0, allow_unpromoted=False, real_arm=False, log=Log())
    rng = np.random.default_rng(0)
    episode = runner.start(rl_tiny.SKILL, str(policy), lambda keys: observation(rng, scene=False))
    obs = observation(rng, scene=False)
    episode.act(obs)
    probability = episode.success_probability()
    assert (probability > 0.9) if done else (probability < 0.1)
    assert episode.succeeded(obs) is done


def test_with_a_scene_state_the_oracle_judges_whatever_the_classifier_says(tmp_path: Path) -> None:
    policy = camera_policy(tmp_path, bias=4.0)
    runner = SkillRunner({}, seed=0, allow_unpromoted=False, real_arm=False, log=Log())
    rng = np.random.default_rng(0)
    episode = runner.start(rl_tiny.SKILL, str(policy), lambda keys: observation(rng, scene=True))
    obs = observation(rng, scene=True)
    episode.act(obs)
    assert episode.success_probability() > 0.9
    assert not episode.succeeded(obs), "the drawer never moved: the oracle says not done"


def test_a_policy_without_a_recorded_classifier_reports_none_and_never_succeeds_blind(tmp_path: Path) -> None:
    model = rl_tiny.camera_world_model()
    wm_sha = json.loads(save_world_model(model, tmp_path / "wm", step=1, seed=0, provenance={}).read_text())["files"][
        "weights"
    ]["sha256"]
    policy = rl_tiny.policy(model.feat_dim, latent=True)
    policy.provenance = {"world_model": {"path": str(tmp_path / "wm"), "weights_sha256": wm_sha}}
    save_policy(policy, tmp_path / "bc")
    runner = SkillRunner({}, seed=0, allow_unpromoted=False, real_arm=False, log=Log())
    rng = np.random.default_rng(0)
    episode = runner.start(rl_tiny.SKILL, str(tmp_path / "bc"), lambda keys: observation(rng, scene=False))
    obs = observation(rng, scene=False)
    episode.act(obs)
    assert episode.success_probability() == -1.0
    assert not episode.succeeded(obs)


@pytest.mark.parametrize("spec", ["scripted", "state"])
def test_a_policy_that_reads_the_scene_state_is_refused_where_none_is_measured(tmp_path: Path, spec: str) -> None:
    if spec == "state":
        save_policy(rl_tiny.policy(0, latent=False), tmp_path / "state")
        spec = str(tmp_path / "state")
    runner = SkillRunner({}, seed=0, allow_unpromoted=False, real_arm=False, log=Log())
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="reads the scene state .* run a camera-route policy here"):
        runner.start(rl_tiny.SKILL, spec, lambda keys: observation(rng, scene=False))
