"""The DPPO baseline's simulator environment: counted steps, truncation, PPO running on it."""

import numpy as np
import pytest
import rl_tiny
import torch
from diwa.rl.online import EpisodeFeatures, SimulatorChunkEnv
from diwa.world_model.featurize import LatentTracker


@pytest.fixture
def env():
    config = rl_tiny.config().replace("rollout", num_envs=2, chunks_per_iteration=3, max_episode_steps=8)
    model = rl_tiny.world_model()
    simulator = SimulatorChunkEnv(rl_tiny.SKILL, rl_tiny.policy(model.feat_dim), model, config.rollout, seed=0)
    yield simulator, config
    simulator.close()


def test_simulator_episodes_are_counted_and_truncated(env):
    simulator, _ = env
    first = simulator.reset()
    assert first.shape == (2, rl_tiny.world_model().feat_dim)
    hold = torch.zeros(2, 4, 7)
    step = simulator.step(hold)
    assert step.steps.tolist() == [4, 4] and not (step.terminated.any() or step.truncated.any())
    step = simulator.step(hold)
    assert step.truncated.all() and not step.success.any(), "8 steps is this config's limit"
    assert simulator.steps.tolist() == [0, 0]


def test_the_same_ppo_runs_on_the_simulator_and_resumes_its_streams(env):
    simulator, config = env
    state = simulator.state_dict()
    first = simulator.reset()
    ppo = rl_tiny.ppo(rl_tiny.policy(first.shape[1]), config)
    stats = ppo.iterate(simulator, config.rollout.chunks_per_iteration)
    assert stats["primitive_steps"] == 2 * 3 * 4 and stats["episodes"] >= 2
    assert not torch.equal(simulator.reset(), first), "later episodes start elsewhere"
    simulator.load_state_dict(state)
    assert torch.equal(simulator.reset(), first), "restored streams replay the same starts and latents"


def test_batched_filtering_of_one_episode_is_the_latent_tracker():
    model = rl_tiny.world_model()
    batched = EpisodeFeatures(rl_tiny.policy(model.feat_dim), model, num_envs=1, seed=4)
    tracker = LatentTracker(model, seed=4)
    rng = np.random.default_rng(0)
    observations = [
        {"robot_obs": rng.normal(size=15).astype(np.float32), "scene_obs": rng.normal(size=24).astype(np.float32)}
        for _ in range(5)
    ]
    actions = rng.uniform(-1, 1, size=(5, 7)).astype(np.float32)
    batched.update([0], observations[:1], None)
    expected = tracker.reset(observations[0])
    np.testing.assert_array_equal(batched.features[0].numpy(), expected)
    for action, obs in zip(actions[1:], observations[1:], strict=True):
        batched.update([0], [obs], action[None])
        np.testing.assert_array_equal(batched.features[0].numpy(), tracker.step(action, obs))


def test_simulators_in_worker_processes_give_the_episodes_of_one_process():
    """Three episodes on two spawned workers (groups of 2 and 1) against all three here; a step
    budget of 6 cuts the second chunk of 4 after 2 actions."""
    config = rl_tiny.config().replace("rollout", num_envs=3, chunks_per_iteration=3, max_episode_steps=6)
    model = rl_tiny.world_model()
    chunks = torch.from_numpy(np.random.default_rng(1).uniform(-1, 1, size=(5, 3, 4, 7)).astype(np.float32))
    runs = []
    for workers in (1, 2):
        simulator = SimulatorChunkEnv(rl_tiny.SKILL, rl_tiny.policy(model.feat_dim), model, config.rollout, 0, workers)
        try:
            steps = [{"features": simulator.reset()}]
            for chunk in chunks:
                step = simulator.step(chunk)
                steps.append({k: getattr(step, k) for k in ("features", "final_features", "steps", "truncated")})
            runs.append(steps)
        finally:
            simulator.close()
    assert runs[0][1]["steps"].tolist() == [4, 4, 4] and runs[0][2]["steps"].tolist() == [2, 2, 2]
    assert runs[0][2]["truncated"].all()
    for alone, spread in zip(*runs, strict=True):
        for key, value in alone.items():
            assert torch.equal(value, spread[key]), key


def test_delayed_simulator_episodes_execute_and_filter_the_late_actions():
    """Two periods of delay: the arm holds for two steps, then runs each chunk two actions late, and
    the latent filter follows the actions executed: an undelayed run of those actions is identical."""
    config = rl_tiny.config().replace("rollout", num_envs=2, chunks_per_iteration=2, max_episode_steps=12)
    model = rl_tiny.world_model()
    first, second = torch.from_numpy(np.random.default_rng(2).uniform(-1, 1, size=(2, 2, 4, 7)).astype(np.float32))
    runs = []
    for delay in (2, 0):
        simulator = SimulatorChunkEnv(
            rl_tiny.SKILL,
            rl_tiny.policy(model.feat_dim),
            model,
            config.replace("rollout", action_delay=delay).rollout,
            0,
        )
        try:
            simulator.reset()
            if delay:
                hold = simulator.delay.pending.float()
                chunks = (first, second)
            else:
                chunks = (torch.cat([hold, first[:, :2]], 1), torch.cat([first[:, 2:], second[:, :2]], 1))
            runs.append([simulator.step(chunk).features for chunk in chunks])
        finally:
            simulator.close()
    assert hold[..., :6].eq(0).all()
    for late, at_once in zip(*runs, strict=True):
        assert torch.equal(late, at_once)


def test_a_camera_policy_runs_on_simulators_rendering_its_cameras():
    """The DPPO baseline on the camera route: the simulators render both cameras at 64x64 and the
    latent filter reads them (and robot_obs), never scene_obs."""
    config = rl_tiny.config().replace("rollout", num_envs=2, chunks_per_iteration=1, max_episode_steps=8)
    model = rl_tiny.camera_world_model()
    seen: list[set[str]] = []
    to_tensors = model.to_tensors
    model.to_tensors = lambda obs: seen.append(set(obs)) or to_tensors(obs)  # type: ignore[method-assign]
    simulator = SimulatorChunkEnv(rl_tiny.SKILL, rl_tiny.policy(model.feat_dim), model, config.rollout, seed=0)
    try:
        first = simulator.reset()
        simulator.step(torch.zeros(2, 4, 7))
        assert first.shape == (2, model.feat_dim) and torch.isfinite(first).all()
        shapes = {env.observation_space["rgb_static"].shape for env in simulator.simulators.vector.envs[0].envs}
        assert shapes == {(64, 64, 3)}
    finally:
        simulator.close()
    assert seen and all(keys == {"robot_obs", "rgb_static", "rgb_gripper"} for keys in seen)
