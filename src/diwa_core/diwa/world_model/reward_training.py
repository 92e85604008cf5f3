"""A skill's reward classifier from a dataset and a world model, end to end: label the frames (the
simulator's task oracle, or the skill's annotation windows), featurize the dataset with the world
model, add copies with other episodes' block layouts, train, and save with provenance."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from torch.utils.tensorboard import SummaryWriter

from diwa.data.dataset import Dataset
from diwa.world_model.featurize import featurize_dataset
from diwa.world_model.labels import Oracle, annotation_labels, oracle_labels, reference_starts
from diwa.world_model.layout_shuffle import add_shuffled_layouts
from diwa.world_model.model import WorldModel
from diwa.world_model.reward import RewardConfig, save_reward_classifier, split_labelled, train_reward_classifier
from diwa.world_model.store import WorldModelInfo

LABEL_SOURCES = ("oracle", "annotations")


@dataclass(frozen=True)
class TrainedReward:
    checkpoint: Path
    positives: int  # labelled frames, before the layout-shuffled copies
    negatives: int
    metrics: dict[str, Any]


def skill_oracle(skill: str) -> Oracle:
    """The simulator's task oracle for one skill (imported here, not at module import)."""
    from diwa.sim.oracle import completed_tasks

    def done(start_robot: np.ndarray, start_scene: np.ndarray, robot: np.ndarray, scene: np.ndarray) -> bool:
        return bool(completed_tasks(start_robot, start_scene, robot, scene, tasks=(skill,)))

    return done


def train_skill_reward(
    model: WorldModel,
    info: WorldModelInfo,
    dataset: Dataset,
    dataset_path: Path,
    skill: str,
    config: RewardConfig,
    labels_from: str,
    seed: int,
    out: Path,
) -> TrainedReward:
    """Train and save `skill`'s classifier into `out` (TensorBoard scalars under out/tensorboard)."""
    if labels_from == "annotations":
        labels = annotation_labels(dataset, skill, config.positive_frames)
    elif labels_from == "oracle":
        references = reference_starts(dataset, skill, config.oracle_references, seed)
        labels = oracle_labels(dataset, skill_oracle(skill), references)
    else:
        raise ValueError(f"unknown label source {labels_from!r}; expected one of {', '.join(LABEL_SOURCES)}")
    positives, negatives = int((labels == 1).sum()), int((labels == 0).sum())
    features = featurize_dataset(model, dataset, seed=seed, progress=True)
    train_idx, val_idx = split_labelled(labels, dataset.episodes, config.segment_frames, config.val_fraction, seed)
    features, labels, train_idx = add_shuffled_layouts(
        model, dataset, features, labels, train_idx, config.layout_shuffles, seed, progress=True
    )
    writer = SummaryWriter(str(out / "tensorboard" / f"reward_{skill}"))
    classifier, metrics = train_reward_classifier(
        features, labels, train_idx, val_idx, config, seed, progress=True, writer=writer
    )
    writer.close()
    meta: dict[str, Any] = {
        "config": dataclasses.asdict(config),
        "feat_dim": model.feat_dim,
        "seed": seed,
        "labels": labels_from,
        "world_model": {"path": str(info.path), "weights_sha256": info.weights_sha256, "profile": info.config.profile},
        "provenance": {"dataset_path": str(dataset_path.resolve()), "dataset_hash": dataset.content_hash()},
        "metrics": metrics,
    }
    return TrainedReward(save_reward_classifier(classifier, out, skill, meta), positives, negatives, metrics)
