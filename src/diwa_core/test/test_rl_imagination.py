"""The imagination environment: success ends an episode, 72 steps truncate it, the guard halts."""

import numpy as np
import pytest
import rl_tiny
import torch
from diwa.data.dataset import Annotation
from diwa.rl.config import RolloutConfig
from diwa.rl.guard import fit_guard, load_guard, save_guard
from diwa.rl.imagination import start_frames
from diwa.skills import CHUNK_STEPS
from diwa.world_model.synthetic import point_mass_dataset


def chunks(batch: int) -> torch.Tensor:
    return torch.zeros(batch, CHUNK_STEPS, 7)


def paper_rollout(config):
    """DiWA's episode limit: 72 primitive steps = 18 chunks of 4."""
    return config.replace("rollout", num_envs=3, max_episode_steps=72)


def test_episodes_are_truncated_after_72_steps_and_restart():
    model = rl_tiny.world_model()
    config = paper_rollout(rl_tiny.config())
    env = rl_tiny.imagination(model, rl_tiny.policy(model.feat_dim), config)
    env.reset()
    for chunk in range(1, 37):
        step = env.step(chunks(3))
        assert not step.terminated.any() and not step.success.any()
        assert bool(step.truncated.all()) == (chunk % 18 == 0), chunk
        assert step.steps.tolist() == [CHUNK_STEPS] * 3
        if chunk % 18 == 0:
            # The next episode has begun: its features are a fresh start, not the truncated state.
            assert not torch.equal(step.features, step.final_features)
        else:
            assert torch.equal(step.features, step.final_features)


def test_success_on_the_last_latent_of_a_chunk_ends_the_episode():
    model = rl_tiny.world_model()
    config = paper_rollout(rl_tiny.config())
    # Episode i succeeds on chunk i + 2 (calls to the classifier count from 1 after the start filter).
    reward = rl_tiny.ScriptedReward(model.feat_dim, lambda call, batch: (torch.arange(batch) + 2 == call).float())
    env = rl_tiny.imagination(model, rl_tiny.policy(model.feat_dim), config, reward=reward)
    env.reset()
    for call in range(1, 6):
        step = env.step(chunks(3))
        succeeded = torch.arange(3) + 2 == call
        assert torch.equal(step.terminated, succeeded) and torch.equal(step.success, succeeded)
        assert step.reward.tolist() == succeeded.float().tolist()
        assert not step.truncated.any()
        for i in torch.nonzero(succeeded).flatten().tolist():
            assert env.steps[i] == 0, "a terminated episode restarts"
            assert not torch.equal(step.features[i], step.final_features[i])
    # Episode 0 ended on chunk 2 and restarted: its steps count again from the restart.
    assert env.steps.tolist() == [3 * CHUNK_STEPS, 2 * CHUNK_STEPS, 1 * CHUNK_STEPS]


def test_the_world_model_steps_on_the_actions_the_robot_would_execute():
    """Out-of-range actions and soft gripper commands reach the model clipped and signed, as in the
    play data it learnt from: the same episodes result as from the executable actions."""
    model = rl_tiny.world_model()
    config = paper_rollout(rl_tiny.config())
    asked = torch.tensor([0.0, 0.0, 0.0, 3.0, -2.5, 0.5, 0.3]).expand(3, CHUNK_STEPS, 7)
    executable = torch.tensor([0.0, 0.0, 0.0, 1.0, -1.0, 0.5, 1.0]).expand(3, CHUNK_STEPS, 7)
    features = []
    for chunk in (asked, executable):
        env = rl_tiny.imagination(model, rl_tiny.policy(model.feat_dim), config, seed=3)
        env.reset()
        features.append(env.step(chunk).features)
    assert torch.equal(features[0], features[1])


def test_actions_reach_the_world_model_as_late_as_the_rollout_delay():
    """With one period of delay the model steps on the start's hold action, then the chunks shifted
    by one action across chunk boundaries: what an undelayed run stepping those actions sees."""
    model = rl_tiny.world_model()
    config = paper_rollout(rl_tiny.config())
    generator = torch.Generator().manual_seed(0)
    first, second = (torch.rand(3, CHUNK_STEPS, 7, generator=generator) * 2 - 1 for _ in range(2))
    late = rl_tiny.imagination(model, rl_tiny.policy(model.feat_dim), config.replace("rollout", action_delay=1), seed=3)
    late.reset()
    hold = late.delay.pending[:, 0].float()
    assert hold[:, :6].eq(0).all(), "until the first action arrives the arm holds still"
    at_once = rl_tiny.imagination(model, rl_tiny.policy(model.feat_dim), config, seed=3)
    at_once.reset()
    shifted = (torch.cat([hold[:, None], first[:, :-1]], 1), torch.cat([first[:, -1:], second[:, :-1]], 1))
    for chunk, executed in zip((first, second), shifted, strict=True):
        assert torch.equal(late.step(chunk).features, at_once.step(executed).features)


def test_start_frames_already_judged_done_are_dropped():
    model = rl_tiny.world_model()
    config = rl_tiny.config()
    done_first = rl_tiny.random_reward(model.feat_dim)
    with torch.no_grad():
        done_first.head[-1].weight.zero_()
        done_first.head[-1].bias.copy_(torch.tensor([0.0, 1.0]))  # everything is "done"
    with pytest.raises(ValueError, match="already done"):
        rl_tiny.imagination(model, rl_tiny.policy(model.feat_dim), config, reward=done_first)


def test_start_frames_come_from_the_skills_attempts():
    dataset = point_mass_dataset(frames=100, episode_frames=50, seed=0)
    dataset.annotations = [Annotation(10, 20, "open_drawer"), Annotation(60, 70, "close_drawer")]
    assert start_frames(dataset, "open_drawer", 2).tolist() == [10, 11]
    assert start_frames(dataset, "turn_on_led", 1).tolist() == [0, 50]  # no attempt recorded: episode starts


def test_guard_halts_without_credit_when_members_disagree():
    model = rl_tiny.world_model()
    config = paper_rollout(rl_tiny.config())
    dataset = point_mass_dataset(frames=600, episode_frames=300, seed=0)
    model.codec.fit({"robot_obs": dataset.robot_obs, "scene_obs": dataset.scene_obs})
    guard_config = config.guard.__class__(enabled=True, members=3, hidden=16, epochs=2, halt_reward=-0.5)
    guard, metrics = fit_guard(model, dataset, guard_config, seed=0)
    assert metrics["threshold"] > 0 and metrics["val_transitions"] > 0
    features = torch.from_numpy(np.zeros((2, model.feat_dim), np.float32))
    wild = guard.disagreement(features + 50.0, torch.zeros(2, 7))
    assert torch.all(wild > guard.threshold), "inputs far from the data must exceed the threshold"

    always = rl_tiny.ScriptedReward(model.feat_dim, lambda call, batch: torch.ones(batch))
    guard.threshold = 0.0  # every transition counts as extrapolation
    env = rl_tiny.imagination(model, rl_tiny.policy(model.feat_dim), config, reward=always, guard=guard)
    env.reset()
    step = env.step(chunks(3))
    assert step.terminated.all() and not step.success.any()
    assert step.reward.tolist() == [-0.5] * 3
    assert env.halts == 3
    ppo = rl_tiny.ppo(rl_tiny.policy(model.feat_dim), config)
    stats = ppo.iterate(env, 2)
    assert stats["halt_rate"] == 1.0 and stats["success_rate"] == 0.0


def test_guard_round_trip_and_refusal_for_another_world_model(tmp_path):
    model = rl_tiny.world_model()
    dataset = point_mass_dataset(frames=600, episode_frames=300, seed=0)
    guard_config = rl_tiny.config().guard.__class__(enabled=True, members=2, hidden=8, epochs=1)
    guard, _ = fit_guard(model, dataset, guard_config, seed=0)
    save_guard(guard, tmp_path, guard_config, {"world_model": {"weights_sha256": "abc"}})
    loaded, _ = load_guard(tmp_path, "abc", model.feat_dim, 0.0)
    features, actions = torch.randn(4, model.feat_dim), torch.rand(4, 7)
    torch.testing.assert_close(loaded.disagreement(features, actions), guard.disagreement(features, actions))
    with pytest.raises(ValueError, match="different world model"):
        load_guard(tmp_path, "other", model.feat_dim, 0.0)


def test_rollout_config_rejects_nonsense():
    with pytest.raises(ValueError):
        RolloutConfig(num_envs=0)
