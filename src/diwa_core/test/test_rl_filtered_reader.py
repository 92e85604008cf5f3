"""A latent-conditioned policy judged in another world model reads its own model's filter of what the
judge imagines (conditioning.FilteredReader), exactly as the robot's latent filter would."""

from __future__ import annotations

import numpy as np
import pytest
import rl_tiny
import torch
from diwa.rl.conditioning import FilteredReader
from diwa.rl.imagination import StartStates
from diwa.rl.verdict import imagine_episodes
from diwa.world_model.config import IMAGE_KEYS
from diwa.world_model.featurize import LatentTracker
from diwa.world_model.synthetic import point_mass_dataset


def fitted(model):
    dataset = point_mass_dataset(frames=300, episode_frames=100, seed=0)
    model.codec.fit({k: getattr(dataset, k) for k in model.codec.keys})
    return model


def camera_starts(frames: int = 6) -> StartStates:
    generator = torch.Generator().manual_seed(3)
    images = {k: torch.randint(0, 256, (frames, 64, 64, 3), generator=generator, dtype=torch.uint8) for k in IMAGE_KEYS}
    return StartStates({"robot_obs": torch.randn(frames, 15, generator=generator), **images})


@torch.no_grad()
def test_the_filter_is_the_robot_filter_fed_the_judges_imagined_observations() -> None:
    own, judge = fitted(rl_tiny.world_model(seed=0)), fitted(rl_tiny.world_model(seed=1))
    starts = rl_tiny.starts()
    reader = FilteredReader(own, starts, judge)
    index = torch.tensor([5])  # one episode: a batch draws its latent noise differently from one frame
    reader.begin(index, 7)
    generator = torch.Generator().manual_seed(0)
    judged = starts.encode(judge, index, generator)
    tracker = LatentTracker(own, seed=7)
    first = tracker.reset({k: v[5].numpy() for k, v in starts.observations.items()})
    np.testing.assert_allclose(reader(judged)[0].numpy(), first, atol=1e-6)
    for step in range(3):
        action = torch.full((1, 7), 0.1 * (step + 1))
        judged = judge.step(judged, action, generator)
        reader.observe(judged, action)
        decoded = {k: v[0].numpy() for k, v in judge.decode(judged.features()).items()}
        expected = tracker.step(action[0].numpy(), {k: decoded[k] for k in own.observation_keys})
        np.testing.assert_allclose(reader(judged)[0].numpy(), expected, atol=1e-5)
        assert not np.allclose(expected, judged.features()[0].numpy()), "the policy reads its own model"

    # begin restarts the noise: the same start gives the same features again.
    again = FilteredReader(own, starts, judge)
    again.begin(index, 7)
    np.testing.assert_allclose(again(judged)[0].numpy(), first, atol=1e-6)


def test_camera_policies_need_a_judge_that_imagines_camera_frames() -> None:
    own = rl_tiny.camera_world_model(seed=0)
    own.codec.fit({"robot_obs": np.random.default_rng(0).normal(size=(50, 15))})
    with pytest.raises(ValueError, match="imagines no \\['rgb_static', 'rgb_gripper'\\]"):
        FilteredReader(own, camera_starts(), fitted(rl_tiny.world_model(seed=1)))

    judge = rl_tiny.camera_world_model(seed=1)
    judge.codec.fit({"robot_obs": np.random.default_rng(1).normal(size=(50, 15))})
    reader = FilteredReader(own, camera_starts(), judge)
    with pytest.raises(RuntimeError, match="before begin"):
        reader.observe(camera_starts().encode(judge, torch.tensor([0]), torch.Generator()), torch.zeros(1, 7))
    # Imagined in the camera judge, the policy reads 16 + 16-d features of its own model.
    policy = rl_tiny.policy(own.feat_dim)
    reward = rl_tiny.random_reward(judge.feat_dim)
    outcomes = imagine_episodes(judge, reward, camera_starts(), policy, reader, None, 4, 0, 8)
    assert outcomes.success.shape == (4,)
    assert reader.state is not None and reader.state.features().shape == (4, own.feat_dim)
