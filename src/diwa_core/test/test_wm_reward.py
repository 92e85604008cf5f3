"""Reward classifiers: labelling functions, class balancing, contrastive loss, training, checkpoints."""

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
from diwa.data.dataset import Annotation, Dataset
from diwa.skills import UnknownSkillError
from diwa.world_model.checkpoint import CheckpointError
from diwa.world_model.labels import annotation_labels, oracle_labels, reference_starts
from diwa.world_model.reward import (
    RewardClassifier,
    balanced_batch,
    classification_metrics,
    load_reward_classifier,
    load_reward_config,
    save_reward_classifier,
    split_labelled,
    supcon_loss,
    train_reward_classifier,
)


def drawer_dataset(drawer: list[float], annotations: list[Annotation] = ()) -> Dataset:
    n = len(drawer)
    scene = np.zeros((n, 24), np.float32)
    scene[:, 1] = drawer
    return Dataset(
        robot_obs=np.zeros((n, 15), np.float32),
        scene_obs=scene,
        actions=np.zeros((n, 7), np.float32),
        rel_actions=np.zeros((n, 7), np.float32),
        episodes=[(0, n - 1)],
        annotations=list(annotations),
    )


def test_annotation_labels_mark_completion_frames_positive() -> None:
    data = drawer_dataset(
        [0.0] * 20,
        [Annotation(2, 9, "open_drawer"), Annotation(11, 15, "close_drawer"), Annotation(14, 18, "open_drawer")],
    )
    labels = annotation_labels(data, "open_drawer", positive_frames=3)
    expected = np.full(20, -1)
    expected[2:9] = 0  # on the way to completion
    expected[9:12] = 1  # completed at 9, still done right after (overriding the close_drawer window)
    expected[12:18] = 0
    expected[18:20] = 1  # the episode ends at 19
    assert labels.tolist() == expected.tolist()


def test_annotation_labels_reject_unknown_or_missing_skills() -> None:
    data = drawer_dataset([0.0] * 5, [Annotation(0, 4, "open_drawer")])
    with pytest.raises(UnknownSkillError):
        annotation_labels(data, "open_the_fridge", 2)
    with pytest.raises(ValueError, match="no annotation of 'close_drawer'"):
        annotation_labels(data, "close_drawer", 2)


def test_oracle_labels_mark_states_done_from_some_start_of_the_skill() -> None:
    drawer = [0.05, 0.1, 0.15, 0.2, 0.2, 0.1, 0.0, 0.2]

    def opened(start_robot: np.ndarray, start_scene: np.ndarray, robot: np.ndarray, scene: np.ndarray) -> bool:
        return bool(scene[1] - start_scene[1] > 0.12)

    data = drawer_dataset(drawer, [Annotation(6, 7, "open_drawer"), Annotation(0, 3, "close_drawer")])
    assert reference_starts(data, "open_drawer", count=4, seed=0) == [6]
    labels = oracle_labels(data, opened, reference_starts(data, "open_drawer", count=4, seed=0))
    # Done against the closed drawer of frame 6, whether the drawer was opened just now or long ago.
    assert labels.tolist() == [0, 0, 1, 1, 1, 0, 0, 1]
    assert oracle_labels(data, opened, [0]).tolist() == [0, 0, 0, 1, 1, 0, 0, 1]
    without_annotations = drawer_dataset(drawer)
    assert len(reference_starts(without_annotations, "open_drawer", count=3, seed=0)) == 3
    with pytest.raises(ValueError, match="reference"):
        oracle_labels(data, opened, [8])


def test_balanced_batches_are_half_positive_whatever_the_imbalance() -> None:
    rng = np.random.default_rng(0)
    positives, negatives = np.arange(3), np.arange(3, 1000)
    batch = balanced_batch(rng, positives, negatives, 64)
    assert (batch < 3).sum() == 32 and (batch >= 3).sum() == 32


def test_supcon_loss_prefers_class_clusters() -> None:
    labels = torch.tensor([0, 0, 1, 1])
    clustered = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    mixed = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.9, 0.1], [0.1, 0.9]])
    assert supcon_loss(clustered, labels, 0.5) < supcon_loss(mixed, labels, 0.5)
    # Hand computation for anchor 0 of two orthogonal pairs: one positive (sim 1/T), two negatives (0).
    pairs = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    expected = -np.log(np.exp(2.0) / (np.exp(2.0) + 2.0))
    assert float(supcon_loss(pairs, labels, 0.5)) == pytest.approx(expected, rel=1e-5)


def test_metrics_count_precision_recall_f1() -> None:
    m = classification_metrics(np.array([1, 1, 0, 0, 1]), np.array([1, 0, 0, 1, 1]))
    assert (m["precision"], m["recall"]) == (pytest.approx(2 / 3), pytest.approx(2 / 3))
    assert m["f1"] == pytest.approx(2 / 3) and m["positives"] == 3 and m["negatives"] == 2


def separable_set(seed: int, n: int = 3000, dim: int = 32, rate: float = 0.04) -> tuple[np.ndarray, np.ndarray]:
    """Rare positives around one centre, negatives around another: linearly separable."""
    rng = np.random.default_rng(seed)
    labels = (rng.random(n) < rate).astype(np.int8)
    centres = rng.standard_normal((2, dim)) * 2.0
    features = centres[labels] + 0.5 * rng.standard_normal((n, dim))
    return features.astype(np.float32), labels


def test_classifier_learns_a_separable_imbalanced_set() -> None:
    features, labels = separable_set(0)
    train, val = split_labelled(labels, [(0, 1499), (1500, 2999)], 100, 0.25, seed=0)
    assert set(train.tolist()).isdisjoint(val.tolist())
    assert labels[val].sum() > 0 and labels[train].sum() > 0
    config = dataclasses.replace(load_reward_config("quick"), epochs=3)
    classifier, metrics = train_reward_classifier(features, labels, train, val, config, seed=0)
    assert metrics["val"]["f1"] > 0.9
    assert metrics["val"]["recall"] > 0.9


def test_training_needs_both_classes() -> None:
    features, labels = separable_set(1, n=200)
    labels[:] = 0
    with pytest.raises(ValueError, match="both classes"):
        train_reward_classifier(features, labels, np.arange(200), np.arange(0), load_reward_config("quick"), 0)


def test_reward_checkpoint_round_trip_and_mismatches(tmp_path: Path) -> None:
    config = load_reward_config("quick")
    torch.manual_seed(0)
    classifier = RewardClassifier(32, config)
    meta = {"config": dataclasses.asdict(config), "feat_dim": 32, "world_model": {"weights_sha256": "abc"}}
    save_reward_classifier(classifier, tmp_path, "open_drawer", meta)
    loaded, document = load_reward_classifier(tmp_path, "open_drawer", world_model_sha256="abc")
    x = torch.randn(10, 32)
    assert torch.equal(loaded.reward(x), classifier.reward(x))
    assert set(loaded.reward(x).tolist()) <= {0.0, 1.0}
    with pytest.raises(CheckpointError, match="different world model"):
        load_reward_classifier(tmp_path, "open_drawer", world_model_sha256="def")
    with pytest.raises(FileNotFoundError):
        load_reward_classifier(tmp_path, "close_drawer")
    with pytest.raises(ValueError, match="last dimension"):
        loaded.reward(torch.randn(3, 31))


def test_reward_configs_of_both_profiles_load() -> None:
    assert load_reward_config("paper").encoder == (1024, 256)
    assert load_reward_config("paper").head == (1024,)
    with pytest.raises(ValueError, match="no section"):
        load_reward_config("huge")
