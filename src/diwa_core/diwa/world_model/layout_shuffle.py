"""Training copies of a play dataset with the blocks of other episodes, for the reward classifiers.

Each play episode has its own random block layout, which the world-model latent encodes, while a
skill's label (drawer open, lamp on) depends on the articulated parts alone. A classifier can then
tell the training episodes apart by their layout and memorise which frames of each are done: on
50,000 frames of wide play the quick classifier reached F1 1.00 on its training frames and 0.877
on held-out episodes for open_drawer. Showing it the same episodes again under layouts of other
episodes takes that shortcut away.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from tqdm import tqdm

from diwa.data.dataset import Dataset
from diwa.sim.obs_layout import BLOCK_COLORS, block_euler, block_pos
from diwa.world_model.featurize import featurize_dataset
from diwa.world_model.model import WorldModel


def shuffle_block_layouts(dataset: Dataset, rng: np.random.Generator) -> Dataset:
    """A copy of `dataset` in which every episode starts from the block poses of the first frame of
    another (random) episode and keeps its own block motion from there (angles wrapped to
    [-pi, pi)). Robot, articulated parts and actions are untouched."""
    if len(dataset.episodes) < 2:
        raise ValueError(
            "shuffling block layouts needs at least two episodes; "
            "train without copies (diwa train-reward --layout-shuffles 0)"
        )
    scene = np.array(dataset.scene_obs, dtype=np.float64, copy=True)
    blocks = np.concatenate([np.r_[block_pos(c)] for c in BLOCK_COLORS] + [np.r_[block_euler(c)] for c in BLOCK_COLORS])
    angles = np.concatenate([np.r_[block_euler(c)] for c in BLOCK_COLORS])
    donors = _derangement(len(dataset.episodes), rng)
    for (start, end), donor in zip(dataset.episodes, donors, strict=True):
        own = dataset.scene_obs[start : end + 1, blocks] - dataset.scene_obs[start, blocks]
        scene[start : end + 1, blocks] = dataset.scene_obs[dataset.episodes[donor][0], blocks] + own
    scene[:, angles] = np.remainder(scene[:, angles] + np.pi, 2 * np.pi) - np.pi
    return dataclasses.replace(dataset, scene_obs=scene.astype(dataset.scene_obs.dtype))


def _derangement(count: int, rng: np.random.Generator) -> np.ndarray:
    """A random permutation of range(count) that moves every element (each episode gets a layout
    that is not its own)."""
    while True:
        order = rng.permutation(count)
        if (order != np.arange(count)).all():
            return order


def add_shuffled_layouts(
    model: WorldModel,
    dataset: Dataset,
    features: np.ndarray,
    labels: np.ndarray,
    train_idx: np.ndarray,
    copies: int,
    seed: int,
    progress: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(features, labels, train_idx) extended by `copies` layout-shuffled copies of the dataset,
    featurized by `model`; copy k's frame i sits at index k x N + i with the label of frame i, and
    only copies of training frames join `train_idx` (held-out frames stay the real ones).

    Labels carry over because the oracle judges each of the eight skills on the articulated parts
    alone (sim/oracle.py), and annotations name what the robot did, not where the blocks were."""
    if copies < 0:
        raise ValueError(f"layout copies must be non-negative, got {copies}")
    if copies == 0:
        return features, labels, train_idx
    if "scene_obs" not in model.observation_keys:
        raise ValueError(
            "layout_shuffles needs a world model that reads scene_obs (the quick profile); "
            f"this one reads {list(model.observation_keys)}: train with --layout-shuffles 0"
        )
    rng = np.random.default_rng(seed)
    n = len(dataset)
    # Filled in place: 13 x 50,000 quick features are 1 GB, and a list of copies to concatenate
    # would hold them twice.
    all_features = np.empty(((copies + 1) * n, features.shape[1]), dtype=features.dtype)
    all_features[:n] = features
    for k in tqdm(range(1, copies + 1), desc="layout copies", unit="copy", disable=not progress):
        all_features[k * n : (k + 1) * n] = featurize_dataset(model, shuffle_block_layouts(dataset, rng), seed=seed + k)
    return (
        all_features,
        np.tile(labels, copies + 1),
        np.concatenate([train_idx + k * n for k in range(copies + 1)]),
    )
