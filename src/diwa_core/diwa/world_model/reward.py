"""Per-skill reward classifiers on world-model features (DiWA's imagined reward).

An encoder maps a latent to an embedding trained with a supervised-contrastive (NT-Xent) loss, so
completed and not-completed states form separate clusters; a head on the embedding is trained
with cross-entropy (weight 0.5) and gives the reward: 1 when it predicts "done". Successes are
rare in play data, so every training batch is half positives and half negatives.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm import tqdm

from diwa.skills import check_skill
from diwa.typed_config import build_dataclass, optional, packaged_yaml, yaml_file
from diwa.world_model.checkpoint import (
    CheckpointError,
    load_state_dict_strict,
    load_weights,
    read_checkpoint_meta,
    save_checkpoint,
)
from diwa.world_model.labels import NEGATIVE, POSITIVE, UNLABELLED

FORMAT = "diwa-reward-classifier"


@dataclass(frozen=True)
class RewardConfig:
    """Classifier sizes and training; DiWA: 2048 -> 1024 -> 256 encoder, 256 -> 1024 -> 2 head,
    NT-Xent temperature 0.5 + 0.5 x cross-entropy, Adam lr 1e-6, batch 32, 100 epochs."""

    encoder: tuple[int, ...]
    head: tuple[int, ...]
    temperature: float = 0.5
    ce_weight: float = 0.5
    lr: float = 1e-6
    batch_size: int = 32
    epochs: int = 100
    val_fraction: float = 0.2
    segment_frames: int = 256
    positive_frames: int = 4
    oracle_references: int = 16
    layout_shuffles: int = optional(0, "absent from classifiers saved before copies existed, which trained on none")
    """Extra training copies of the play with the block layouts of other episodes (layout_shuffle.py);
    0 for world models that do not read scene_obs."""

    def __post_init__(self) -> None:
        if not self.encoder or min(self.encoder) < 1 or min(self.head, default=1) < 1:
            raise ValueError("reward encoder needs at least one layer and all widths must be positive")
        if self.temperature <= 0 or self.ce_weight < 0 or self.lr <= 0:
            raise ValueError("reward temperature and lr must be positive, ce_weight non-negative")
        if self.batch_size < 4 or self.batch_size % 2:
            raise ValueError(f"reward batch_size must be even and at least 4 (half positives), got {self.batch_size}")
        if min(self.epochs, self.segment_frames, self.positive_frames, self.oracle_references) < 1:
            raise ValueError("reward epochs, segment_frames, positive_frames and oracle_references must be positive")
        if self.layout_shuffles < 0:
            raise ValueError(f"reward layout_shuffles must be non-negative, got {self.layout_shuffles}")
        if not 0 < self.val_fraction < 1:
            raise ValueError(f"reward val_fraction must lie in (0, 1), got {self.val_fraction}")


def load_reward_config(profile: str, path: str | os.PathLike[str] | None = None) -> RewardConfig:
    """The section for a world-model profile ('quick', 'camera', 'paper') of the packaged reward.yaml, or of
    the YAML file at `path`: the classifier is sized to that profile's features."""
    sections = packaged_yaml("reward.yaml") if path is None else yaml_file(path)
    if not isinstance(sections, dict) or profile not in sections:
        raise ValueError(f"reward config has no section for profile {profile!r}")
    return build_dataclass(RewardConfig, sections[profile], f"reward.{profile}")


def _mlp(widths: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(len(widths) - 1):
        layers.append(nn.Linear(widths[i], widths[i + 1]))
        if i < len(widths) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class RewardClassifier(nn.Module):
    def __init__(self, feat_dim: int, config: RewardConfig) -> None:
        super().__init__()
        self.feat_dim = feat_dim
        self.encoder = _mlp([feat_dim, *config.encoder])
        self.head = _mlp([config.encoder[-1], *config.head, 2])

    def forward(self, features: Tensor) -> tuple[Tensor, Tensor]:
        """(embedding, logits) for (..., feat_dim) features."""
        if features.shape[-1:] != (self.feat_dim,):
            raise ValueError(f"features must have last dimension {self.feat_dim}, got {tuple(features.shape)}")
        embedding = self.encoder(features)
        return embedding, self.head(embedding)

    @torch.no_grad()
    def reward(self, features: Tensor) -> Tensor:
        """1.0 where the skill is judged done, else 0.0 (float, shape features.shape[:-1])."""
        return self(features)[1].argmax(dim=-1).to(features.dtype)


def supcon_loss(embedding: Tensor, labels: Tensor, temperature: float) -> Tensor:
    """Supervised-contrastive NT-Xent: pull together normalised embeddings of the same class.

    For anchor i, each other sample p of its class is a positive against all other samples a:
    -log(exp(z_i.z_p / T) / sum_a exp(z_i.z_a / T)), averaged over p, then over anchors with any
    positive.
    """
    z = F.normalize(embedding, dim=-1)
    sim = z @ z.T / temperature
    eye = torch.eye(len(z), dtype=torch.bool, device=z.device)
    log_prob = sim - torch.logsumexp(sim.masked_fill(eye, float("-inf")), dim=1, keepdim=True)
    same = (labels[:, None] == labels[None, :]) & ~eye
    count = same.sum(1)
    has = count > 0
    per_anchor = -(log_prob * same).sum(1)[has] / count[has]
    return per_anchor.mean() if has.any() else embedding.sum() * 0.0


def split_labelled(
    labels: np.ndarray, episodes: list[tuple[int, int]], segment_frames: int, val_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """(train, validation) frame indices of labelled frames, held out by whole segments.

    Segments containing a positive and segments without are split separately, so both sides get
    positives whenever at least two segments have one.
    """
    segments = [
        np.arange(a, min(a + segment_frames, end + 1))
        for start, end in episodes
        for a in range(start, end + 1, segment_frames)
    ]
    segments = [seg[labels[seg] != UNLABELLED] for seg in segments]
    segments = [seg for seg in segments if seg.size]
    rng = np.random.default_rng(seed)
    train: list[np.ndarray] = []
    val: list[np.ndarray] = []
    for group in (
        [s for s in segments if (labels[s] == POSITIVE).any()],
        [s for s in segments if not (labels[s] == POSITIVE).any()],
    ):
        order = rng.permutation(len(group))
        n_val = min(len(group) - 1, max(1, round(val_fraction * len(group)))) if len(group) > 1 else 0
        val += [group[i] for i in order[:n_val]]
        train += [group[i] for i in order[n_val:]]
    empty = np.zeros(0, dtype=np.int64)
    return (np.sort(np.concatenate(train)) if train else empty), (np.sort(np.concatenate(val)) if val else empty)


def balanced_batch(rng: np.random.Generator, positives: np.ndarray, negatives: np.ndarray, size: int) -> np.ndarray:
    """Frame indices, half drawn (with replacement) from each class whatever their proportions."""
    half = size // 2
    return np.concatenate([rng.choice(positives, half), rng.choice(negatives, size - half)])


def classification_metrics(predicted: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    tp = int(((predicted == 1) & (truth == 1)).sum())
    fp = int(((predicted == 1) & (truth == 0)).sum())
    fn = int(((predicted == 0) & (truth == 1)).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "accuracy": float((predicted == truth).mean()) if truth.size else 0.0,
        "positives": int((truth == 1).sum()),
        "negatives": int((truth == 0).sum()),
    }


@torch.no_grad()
def evaluate_classifier(classifier: RewardClassifier, features: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    predicted = classifier.reward(torch.from_numpy(features)).numpy().astype(np.int8)
    return classification_metrics(predicted, labels)


def train_reward_classifier(
    features: np.ndarray,
    labels: np.ndarray,
    train_idx: np.ndarray,
    val_idx: np.ndarray,
    config: RewardConfig,
    seed: int,
    *,
    progress: bool = False,
    writer: Any = None,
) -> tuple[RewardClassifier, dict[str, Any]]:
    """Train on `train_idx` with class-balanced batches; report held-out metrics on `val_idx`."""
    if features.ndim != 2 or features.shape[0] != labels.shape[0]:
        raise ValueError(f"features {features.shape} and labels {labels.shape} do not align")
    if not np.isfinite(features).all():
        raise ValueError("features contain NaN or infinite values")
    pos = train_idx[labels[train_idx] == POSITIVE]
    neg = train_idx[labels[train_idx] == NEGATIVE]
    if pos.size == 0 or neg.size == 0:
        raise ValueError(f"training needs both classes; got {pos.size} positive and {neg.size} negative frames")
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    classifier = RewardClassifier(features.shape[1], config)
    optimizer = torch.optim.Adam(classifier.parameters(), lr=config.lr)
    data = torch.from_numpy(np.asarray(features, dtype=np.float32))
    batches = math.ceil((pos.size + neg.size) / config.batch_size)
    history: dict[str, float] = {}
    for epoch in tqdm(range(config.epochs), desc="reward classifier", disable=not progress):
        classifier.train()
        total = 0.0
        for _ in range(batches):
            index = balanced_batch(rng, pos, neg, config.batch_size)
            target = torch.from_numpy((labels[index] == POSITIVE).astype(np.int64))
            embedding, logits = classifier(data[index])
            loss = supcon_loss(embedding, target, config.temperature) + config.ce_weight * F.cross_entropy(
                logits, target
            )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) / batches
        classifier.eval()
        history = {"loss": total}
        if val_idx.size:
            history |= evaluate_classifier(classifier, features[val_idx], labels[val_idx])
        if writer is not None:
            for k, v in history.items():
                writer.add_scalar(f"reward/{k}", v, epoch + 1)
    metrics = {
        "train": evaluate_classifier(classifier, features[train_idx], labels[train_idx]),
        "val": evaluate_classifier(classifier, features[val_idx], labels[val_idx]) if val_idx.size else None,
        "final_loss": history["loss"],
    }
    return classifier, metrics


def save_reward_classifier(
    classifier: RewardClassifier, directory: str | os.PathLike[str], skill: str, meta: dict[str, Any]
) -> Path:
    return save_checkpoint(
        directory, f"reward_{skill}", FORMAT, classifier.state_dict(), {"skill": skill, **meta}, "weights"
    )


def load_reward_classifier(
    path: str | os.PathLike[str], skill: str, world_model_sha256: str | None = None
) -> tuple[RewardClassifier, dict[str, Any]]:
    """Load `skill`'s classifier; with `world_model_sha256`, refuse one trained on another model's
    features (its rewards would be meaningless)."""
    check_skill(skill)
    json_path, document = read_checkpoint_meta(path, f"reward_{skill}", FORMAT)
    if document.get("skill") != skill:
        raise CheckpointError(f"{json_path} is the classifier of {document.get('skill')!r}, not {skill!r}")
    if world_model_sha256 is not None and document.get("world_model", {}).get("weights_sha256") != world_model_sha256:
        raise CheckpointError(f"{json_path} was trained on the features of a different world model")
    try:
        config = build_dataclass(RewardConfig, document["config"], "reward")
        classifier = RewardClassifier(int(document["feat_dim"]), config)
    except (KeyError, TypeError) as err:
        raise CheckpointError(f"{json_path} is incomplete: {err}") from err
    load_state_dict_strict(classifier, load_weights(json_path, document), json_path)
    return classifier.eval(), document
