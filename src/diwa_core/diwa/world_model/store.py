"""Saving and loading trained world models (weights + config + data provenance)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from diwa.world_model.checkpoint import (
    CheckpointError,
    load_state_dict_strict,
    load_train_state,
    load_weights,
    read_checkpoint_meta,
    save_checkpoint,
)
from diwa.world_model.config import WorldModelConfig
from diwa.world_model.model import WorldModel

NAME = "world_model"
FORMAT = "diwa-world-model"


@dataclass(frozen=True)
class WorldModelInfo:
    """What a checkpoint says about its model. `weights_sha256` identifies the exact weights:
    reward classifiers and policies trained on this model's features record it."""

    path: Path
    config: WorldModelConfig
    step: int
    seed: int
    provenance: dict[str, Any]
    weights_sha256: str


def save_world_model(
    model: WorldModel,
    directory: str | os.PathLike[str],
    *,
    step: int,
    seed: int,
    provenance: dict[str, Any],
    train_state: dict[str, Any] | None = None,
) -> Path:
    meta = {"config": model.config.to_dict(), "step": step, "seed": seed, "provenance": provenance}
    return save_checkpoint(directory, NAME, FORMAT, model.state_dict(), meta, f"step{step:08d}", train_state)


def read_world_model_info(path: str | os.PathLike[str]) -> tuple[WorldModelInfo, dict[str, Any]]:
    json_path, document = read_checkpoint_meta(path, NAME, FORMAT)
    try:
        config = WorldModelConfig.from_dict(document["config"])
        info = WorldModelInfo(
            path=json_path,
            config=config,
            step=int(document["step"]),
            seed=int(document["seed"]),
            provenance=dict(document["provenance"]),
            weights_sha256=str(document["files"]["weights"]["sha256"]),
        )
    except (KeyError, TypeError, ValueError) as err:
        raise CheckpointError(f"{json_path} is incomplete or invalid: {err}") from err
    return info, document


def load_world_model(
    path: str | os.PathLike[str], device: str | torch.device = "cpu"
) -> tuple[WorldModel, WorldModelInfo]:
    """Rebuild the model from its stored config and load its weights, in eval mode."""
    info, document = read_world_model_info(path)
    model = WorldModel(info.config)
    load_state_dict_strict(model, load_weights(info.path, document), info.path)
    return model.to(device).eval(), info


def load_world_model_train_state(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Optimizer, step and RNG states for resuming training."""
    info, document = read_world_model_info(path)
    return load_train_state(info.path, document)
