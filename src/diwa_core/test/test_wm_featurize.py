"""Offline features of a dataset and the online LatentTracker agree frame for frame."""

from pathlib import Path

import numpy as np
import pytest
import torch
from diwa.data.dataset import Dataset
from diwa.world_model.config import load_world_model_config
from diwa.world_model.featurize import CHUNK_FRAMES, LatentTracker, featurize_dataset
from diwa.world_model.model import WorldModel
from diwa.world_model.synthetic import point_mass_dataset

TINY = Path(__file__).with_name("wm_tiny.yaml")


@pytest.fixture(scope="module")
def model() -> WorldModel:
    torch.manual_seed(0)
    return WorldModel(load_world_model_config(TINY)).eval()


def frame(dataset: Dataset, t: int) -> dict[str, np.ndarray]:
    return {"robot_obs": dataset.robot_obs[t], "scene_obs": dataset.scene_obs[t]}


def test_features_align_with_frames_of_unequal_episodes(model: WorldModel) -> None:
    dataset = point_mass_dataset(CHUNK_FRAMES + 90, CHUNK_FRAMES + 40, seed=0)
    assert dataset.episodes[0][1] - dataset.episodes[0][0] != dataset.episodes[1][1] - dataset.episodes[1][0]
    features = featurize_dataset(model, dataset, seed=0)
    assert features.shape == (len(dataset), model.feat_dim) and features.dtype == np.float32
    assert np.isfinite(features).all()
    # Every frame was filtered (the stochastic part is one-hot per variable).
    stoch = features[:, model.config.rssm.deter :].reshape(len(dataset), model.config.rssm.stoch_vars, -1)
    assert np.allclose(stoch.sum(-1), 1.0)
    assert np.array_equal(features, featurize_dataset(model, dataset, seed=0))


def test_tracker_reproduces_offline_features_across_chunks(model: WorldModel) -> None:
    dataset = point_mass_dataset(CHUNK_FRAMES + 30, CHUNK_FRAMES + 30, seed=1)
    features = featurize_dataset(model, dataset, seed=5)
    tracker = LatentTracker(model, seed=5)
    online = [tracker.reset(frame(dataset, 0))]
    for t in range(1, len(dataset)):
        online.append(tracker.step(dataset.rel_actions[t - 1], frame(dataset, t)))
    assert np.allclose(np.stack(online), features, atol=1e-5)


def test_episode_starts_forget_the_previous_episode(model: WorldModel) -> None:
    dataset = point_mass_dataset(60, 30, seed=2)
    features = featurize_dataset(model, dataset, seed=0)
    second = Dataset(
        robot_obs=dataset.robot_obs[30:],
        scene_obs=dataset.scene_obs[30:],
        actions=dataset.actions[30:],
        rel_actions=dataset.rel_actions[30:],
        episodes=[(0, 29)],
    )
    # Same deterministic part at the start of the episode, whatever preceded it.
    deter = model.config.rssm.deter
    assert np.allclose(featurize_dataset(model, second, seed=0)[0, :deter], features[30, :deter], atol=1e-6)


def test_tracker_rejects_misuse(model: WorldModel) -> None:
    dataset = point_mass_dataset(10, 10, seed=3)
    tracker = LatentTracker(model)
    with pytest.raises(RuntimeError, match="before reset"):
        tracker.step(np.zeros(7), frame(dataset, 1))
    tracker.reset(frame(dataset, 0))
    with pytest.raises(ValueError, match="shape"):
        tracker.step(np.zeros(6), frame(dataset, 1))
    bad = frame(dataset, 1)
    bad["scene_obs"] = np.full(24, np.nan, dtype=np.float32)
    with pytest.raises(ValueError, match="NaN"):
        tracker.step(np.zeros(7), bad)
