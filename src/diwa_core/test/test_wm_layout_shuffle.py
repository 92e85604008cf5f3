"""Layout-shuffled copies of play for the reward classifiers: blocks move between episodes, nothing
else changes, and only training frames are copied."""

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
from diwa.data.dataset import Dataset
from diwa.sim.obs_layout import block_euler, block_pos
from diwa.world_model.config import load_world_model_config
from diwa.world_model.featurize import featurize_dataset
from diwa.world_model.layout_shuffle import add_shuffled_layouts, shuffle_block_layouts
from diwa.world_model.model import WorldModel
from diwa.world_model.reward import RewardConfig, load_reward_config
from diwa.world_model.synthetic import point_mass_dataset

TINY = Path(__file__).with_name("wm_tiny.yaml")
BLOCKS = np.r_[6:24]
ANGLES = np.concatenate([np.r_[block_euler(c)] for c in ("red", "blue", "pink")])


def play_with_layouts(episodes: int, length: int, seed: int) -> Dataset:
    """Episodes with their own block layout (yaw near +-pi, so shuffling must wrap), a red block
    that slides in episode 0, and articulated parts and robot that move every frame."""
    rng = np.random.default_rng(seed)
    n = episodes * length
    scene = rng.normal(size=(n, 24)).astype(np.float32)
    for e in range(episodes):
        frames = slice(e * length, (e + 1) * length)
        scene[frames, 6:24] = rng.uniform(-0.3, 0.3, size=18)
        scene[frames, ANGLES[2::3]] = rng.choice([-3.1, 3.1])
    scene[:length, block_pos("red")] += np.linspace(0, 0.05, length, dtype=np.float32)[:, None]
    return Dataset(
        robot_obs=rng.normal(size=(n, 15)).astype(np.float32),
        scene_obs=scene,
        actions=rng.normal(size=(n, 7)).astype(np.float32),
        rel_actions=rng.uniform(-1, 1, size=(n, 7)).astype(np.float32),
        episodes=[(e * length, (e + 1) * length - 1) for e in range(episodes)],
    )


def test_each_episode_gets_another_episodes_blocks_and_keeps_its_own_motion() -> None:
    play = play_with_layouts(episodes=5, length=10, seed=0)
    shuffled = shuffle_block_layouts(play, np.random.default_rng(1))
    for key in ("robot_obs", "actions", "rel_actions"):
        assert np.array_equal(getattr(shuffled, key), getattr(play, key))
    assert np.array_equal(shuffled.scene_obs[:, :6], play.scene_obs[:, :6])
    firsts = np.array([play.scene_obs[s, BLOCKS] for s, _ in play.episodes])
    donors = []
    for index, (start, end) in enumerate(play.episodes):
        donor = int(np.argmin(np.abs(firsts - shuffled.scene_obs[start, BLOCKS]).sum(1)))
        assert donor != index
        assert np.allclose(shuffled.scene_obs[start, BLOCKS], firsts[donor], atol=1e-6)
        donors.append(donor)
        motion = shuffled.scene_obs[start : end + 1, BLOCKS] - shuffled.scene_obs[start, BLOCKS]
        own = play.scene_obs[start : end + 1, BLOCKS] - play.scene_obs[start, BLOCKS]
        assert np.allclose(motion, own, atol=1e-5)
    assert sorted(donors) == list(range(5))
    assert np.abs(shuffled.scene_obs[:, ANGLES]).max() <= np.pi
    # The red block's slide in episode 0 went along with it.
    assert shuffled.scene_obs[9, 6] - shuffled.scene_obs[0, 6] == pytest.approx(0.05, abs=1e-5)


def test_one_episode_has_no_other_layout() -> None:
    with pytest.raises(ValueError, match="at least two episodes"):
        shuffle_block_layouts(play_with_layouts(episodes=1, length=10, seed=0), np.random.default_rng(0))


@pytest.fixture(scope="module")
def model() -> WorldModel:
    torch.manual_seed(0)
    return WorldModel(load_world_model_config(TINY)).eval()


def test_copies_join_training_only_with_their_frames_labels(model: WorldModel) -> None:
    play = play_with_layouts(episodes=4, length=40, seed=2)
    features = featurize_dataset(model, play, seed=0)
    labels = (np.arange(len(play)) % 3 == 0).astype(np.int8)
    train_idx, val_idx = np.arange(0, 120), np.arange(120, 160)
    all_features, all_labels, all_train = add_shuffled_layouts(
        model, play, features, labels, train_idx, copies=2, seed=0
    )
    n = len(play)
    assert all_features.shape == (3 * n, model.feat_dim)
    assert np.array_equal(all_features[:n], features)
    assert np.array_equal(all_labels, np.tile(labels, 3))
    assert np.array_equal(all_train, np.concatenate([train_idx, train_idx + n, train_idx + 2 * n]))
    assert not np.isin(val_idx, all_train).any()
    # The latent sees the new layouts, and each copy is a different one.
    assert not np.allclose(all_features[n : 2 * n], features)
    assert not np.allclose(all_features[n : 2 * n], all_features[2 * n :])
    again = add_shuffled_layouts(model, play, features, labels, train_idx, copies=2, seed=0)
    assert np.array_equal(again[0], all_features)


def test_no_copies_changes_nothing_and_a_model_without_scene_obs_is_refused(model: WorldModel) -> None:
    play = point_mass_dataset(60, 30, seed=0)
    features = np.zeros((len(play), 4), np.float32)
    labels = np.zeros(len(play), np.int8)
    train = np.arange(len(play))
    unchanged = add_shuffled_layouts(model, play, features, labels, train, copies=0, seed=0)
    assert all(a is b for a, b in zip(unchanged, (features, labels, train), strict=True))
    config = load_world_model_config(TINY)
    robot_only = WorldModel(
        dataclasses.replace(config, observation=dataclasses.replace(config.observation, state_keys=("robot_obs",)))
    )
    with pytest.raises(ValueError, match="reads scene_obs"):
        add_shuffled_layouts(robot_only, play, features, labels, train, copies=1, seed=0)


def test_quick_classifiers_train_on_copies_and_paper_ones_do_not() -> None:
    assert load_reward_config("quick").layout_shuffles > 0
    assert load_reward_config("paper").layout_shuffles == 0
    with pytest.raises(ValueError, match="layout_shuffles"):
        dataclasses.replace(load_reward_config("quick"), layout_shuffles=-1)
    assert RewardConfig(encoder=(8,), head=()).layout_shuffles == 0
