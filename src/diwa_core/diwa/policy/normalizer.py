"""Normalisation of conditioning features and actions, fitted on the training data.

Actions are mapped to [-1, 1] per dimension by their range in the demonstrations, because the
denoising chain clips its predicted x0 and its final sample to [-1, 1]: the clip then means "stay
within what the demonstrations did". Features are standardised (zero mean, unit std). Both are
stored in the checkpoint, since a policy is meaningless without the scaling it was trained with.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

MIN_FEATURE_STD = 1e-2
"""A feature (nearly) constant in the demonstrations, e.g. a block nobody touched, must not be
blown up by 1/std when it does vary at deployment; its std is floored here."""

MIN_ACTION_RANGE = 1e-6
"""Below this range an action dimension is treated as constant (e.g. rotations a scripted expert
never uses): it normalises to 0 and always decodes to the demonstrated value."""


def _vector(values: Any, name: str) -> np.ndarray:
    array = np.asarray(values, dtype=np.float32)
    if array.ndim != 1 or not np.isfinite(array).all():
        raise ValueError(f"normaliser field {name} must be a finite 1-d vector")
    return array


@dataclass(frozen=True)
class FeatureNormalizer:
    mean: np.ndarray
    std: np.ndarray

    def __post_init__(self) -> None:
        if self.mean.shape != self.std.shape or np.any(self.std <= 0):
            raise ValueError("feature normaliser needs mean and positive std of the same shape")
        object.__setattr__(self, "_mean", torch.from_numpy(self.mean.astype(np.float32)))
        object.__setattr__(self, "_std", torch.from_numpy(self.std.astype(np.float32)))

    @property
    def dim(self) -> int:
        return int(self.mean.shape[0])

    @classmethod
    def fit(cls, features: np.ndarray) -> FeatureNormalizer:
        features = np.asarray(features, dtype=np.float64)
        if features.ndim != 2 or features.shape[0] == 0:
            raise ValueError(f"cannot fit a feature normaliser on an array of shape {features.shape}")
        std = np.maximum(features.std(axis=0), MIN_FEATURE_STD)
        return cls(mean=features.mean(axis=0).astype(np.float32), std=std.astype(np.float32))

    def normalize(self, features: torch.Tensor) -> torch.Tensor:
        device = features.device
        return (features - self._mean.to(device)) / self._std.to(device)

    def to_dict(self) -> dict[str, list[float]]:
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureNormalizer:
        return cls(mean=_vector(data["mean"], "mean"), std=_vector(data["std"], "std"))


@dataclass(frozen=True)
class ActionNormalizer:
    low: np.ndarray
    high: np.ndarray

    def __post_init__(self) -> None:
        if self.low.shape != self.high.shape or np.any(self.high < self.low):
            raise ValueError("action normaliser needs low <= high of the same shape")
        constant = self.high - self.low < MIN_ACTION_RANGE
        half = np.where(constant, 1.0, (self.high - self.low) / 2.0).astype(np.float32)
        # Cached as tensors: the agent normalises on every replanning step.
        object.__setattr__(self, "_center", torch.from_numpy(((self.high + self.low) / 2.0).astype(np.float32)))
        object.__setattr__(self, "_half", torch.from_numpy(half))
        object.__setattr__(self, "_constant", torch.from_numpy(constant))

    @property
    def dim(self) -> int:
        return int(self.low.shape[0])

    @classmethod
    def fit(cls, actions: np.ndarray) -> ActionNormalizer:
        actions = np.asarray(actions, dtype=np.float32)
        actions = actions.reshape(-1, actions.shape[-1])
        if actions.shape[0] == 0:
            raise ValueError("cannot fit an action normaliser on no actions")
        return cls(low=actions.min(axis=0), high=actions.max(axis=0))

    def normalize(self, actions: torch.Tensor) -> torch.Tensor:
        constant, center, half = self._on(actions.device)
        return torch.where(constant, 0.0, (actions - center) / half)

    def unnormalize(self, normalized: torch.Tensor) -> torch.Tensor:
        constant, center, half = self._on(normalized.device)
        return torch.where(constant, center, normalized * half + center)

    def _on(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The cached tensors on `device` (the same objects on the CPU)."""
        return self._constant.to(device), self._center.to(device), self._half.to(device)

    def to_dict(self) -> dict[str, list[float]]:
        return {"low": self.low.tolist(), "high": self.high.tolist()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ActionNormalizer:
        return cls(low=_vector(data["low"], "low"), high=_vector(data["high"], "high"))
