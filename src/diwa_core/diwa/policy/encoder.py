"""Observation encoders: what the diffusion policy is conditioned on.

The quick profile conditions on the simulator state (robot_obs + scene_obs, 39-d). DiWA conditions
on the world model's latent, which is computed once per frame for the whole dataset by the world
model and then handed to behaviour cloning as an array: `FeatureEncoder` covers that case, reading
the precomputed per-frame features of a dataset and a `features` entry of a live observation.
An encoder is described by a small JSON-able spec stored in the checkpoint, so the agent rebuilds
the same encoder that training used.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import numpy as np

from diwa.agent import Observation
from diwa.data.dataset import REQUIRED, Dataset


class ObservationEncoder(Protocol):
    feature_dim: int

    def dataset_features(self, dataset: Dataset) -> np.ndarray:
        """(N, feature_dim) float32 conditioning features of every frame of `dataset`."""

    def observation_features(self, obs: Observation) -> np.ndarray:
        """(feature_dim,) float32 features of one live observation; ValueError if malformed."""

    def spec(self) -> dict[str, Any]:
        """JSON-able description from which `build_encoder` recreates this encoder."""


def _finite_vector(obs: Observation, key: str, size: int) -> np.ndarray:
    if key not in obs:
        raise ValueError(f"observation has no {key!r} entry (keys: {sorted(obs)})")
    value = np.asarray(obs[key], dtype=np.float32)
    if value.shape != (size,):
        raise ValueError(f"observation {key} has shape {value.shape}, expected ({size},)")
    if not np.isfinite(value).all():
        raise ValueError(f"observation {key} contains NaN or infinite values")
    return value


class StateEncoder:
    """Concatenates CALVIN's robot_obs (15) and scene_obs (24) into one 39-d vector."""

    kind = "state"
    feature_dim = REQUIRED["robot_obs"] + REQUIRED["scene_obs"]

    def dataset_features(self, dataset: Dataset) -> np.ndarray:
        return np.concatenate([dataset.robot_obs, dataset.scene_obs], axis=1).astype(np.float32)

    def observation_features(self, obs: Observation) -> np.ndarray:
        robot = _finite_vector(obs, "robot_obs", REQUIRED["robot_obs"])
        scene = _finite_vector(obs, "scene_obs", REQUIRED["scene_obs"])
        return np.concatenate([robot, scene])

    def spec(self) -> dict[str, Any]:
        return {"kind": self.kind, "feature_dim": self.feature_dim}


class FeatureEncoder:
    """Precomputed per-frame features (e.g. a world-model latent) instead of raw observations.

    Training reads an (N, D) .npy array aligned with the dataset's frames; at run time the
    observation must carry the current frame's features under `features`.
    """

    kind = "features"

    def __init__(self, feature_dim: int, source: str | None = None) -> None:
        if feature_dim < 1:
            raise ValueError(f"feature dimension must be positive, got {feature_dim}")
        self.feature_dim = feature_dim
        self.source = source

    @classmethod
    def from_file(cls, path: str | Path) -> FeatureEncoder:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"feature file {path} does not exist")
        features = np.load(path, mmap_mode="r")
        if features.ndim != 2:
            raise ValueError(f"feature file {path} holds shape {features.shape}, expected (frames, dim)")
        return cls(int(features.shape[1]), str(path))

    def dataset_features(self, dataset: Dataset) -> np.ndarray:
        if self.source is None:
            raise ValueError("this feature encoder has no feature file to read dataset features from")
        features = np.asarray(np.load(self.source), dtype=np.float32)
        if features.shape != (len(dataset), self.feature_dim):
            raise ValueError(
                f"feature file {self.source} has shape {features.shape}, "
                f"expected ({len(dataset)}, {self.feature_dim}) for this dataset"
            )
        if not np.isfinite(features).all():
            raise ValueError(f"feature file {self.source} contains NaN or infinite values")
        return features

    def observation_features(self, obs: Observation) -> np.ndarray:
        return _finite_vector(obs, "features", self.feature_dim)

    def spec(self) -> dict[str, Any]:
        return {"kind": self.kind, "feature_dim": self.feature_dim}


def build_encoder(spec: dict[str, Any]) -> ObservationEncoder:
    """Recreate the encoder a checkpoint was trained with."""
    kind = spec.get("kind")
    if kind == StateEncoder.kind:
        if spec.get("feature_dim") != StateEncoder.feature_dim:
            raise ValueError(f"state encoder spec has feature_dim {spec.get('feature_dim')}, expected 39")
        return StateEncoder()
    if kind == FeatureEncoder.kind:
        return FeatureEncoder(int(spec["feature_dim"]))
    raise ValueError(f"unknown observation encoder {kind!r}; known: 'state', 'features'")
