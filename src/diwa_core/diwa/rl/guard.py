"""A guard against exploiting model errors in imagination (our addition: DiWA has none).

PPO maximises the reward the world model and classifier *report*. Where the model is wrong (states
unlike the play data, actions it never saw), the policy can learn to steer into those errors and
"succeed" in imagination only. The guard measures how far an imagined transition is from what the
model was fitted on: an ensemble of small networks, each trained on real transitions (world-model
features of frame t and action t -> the next observation, in the world model's standardised
observation space) with its own initialisation and bootstrap sampling. On familiar transitions
the members agree; where they disagree more than they do on held-out real data, the model is
extrapolating. The imagination environment then ends the episode there (MOReL's "halt") and does
not credit a success reported in that chunk.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from diwa.data.dataset import Dataset, load_dataset
from diwa.rl.config import GuardConfig
from diwa.world_model.checkpoint import load_state_dict_strict, load_weights, read_checkpoint_meta, save_checkpoint
from diwa.world_model.featurize import featurize_dataset
from diwa.world_model.model import ACTION_DIM, WorldModel

NAME = "guard"
FORMAT = "diwa-model-error-guard"
HOLDOUT_SEGMENT = 200
"""Frames per held-out unit: consecutive frames are nearly identical, so the threshold is set on
whole stretches of play the ensemble never saw."""


class EnsembleMLP(nn.Module):
    """`members` independent two-hidden-layer MLPs evaluated together with batched matmuls."""

    def __init__(self, members: int, in_dim: int, hidden: int, out_dim: int) -> None:
        super().__init__()
        sizes = [in_dim, hidden, hidden, out_dim]
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for fan_in, fan_out in itertools.pairwise(sizes):
            bound = 1.0 / math.sqrt(fan_in)
            self.weights.append(nn.Parameter(torch.empty(members, fan_in, fan_out).uniform_(-bound, bound)))
            self.biases.append(nn.Parameter(torch.empty(members, 1, fan_out).uniform_(-bound, bound)))
        self.members = members
        self.activation = nn.SiLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, in) shared by all members, or (members, N, in) -> (members, N, out)."""
        h = x.expand(self.members, *x.shape) if x.ndim == 2 else x
        for i, (weight, bias) in enumerate(zip(self.weights, self.biases, strict=True)):
            h = torch.baddbmm(bias, h, weight)
            if i < len(self.weights) - 1:
                h = self.activation(h)
        return h


class ModelErrorGuard:
    def __init__(self, ensemble: EnsembleMLP, threshold: float, halt_reward: float) -> None:
        self.ensemble = ensemble.eval()
        self.threshold = threshold
        self.halt_reward = halt_reward

    def to(self, device: str | torch.device) -> ModelErrorGuard:
        """Move the ensemble to `device` (where the world model imagines), in place."""
        self.ensemble.to(device)
        return self

    @torch.no_grad()
    def disagreement(self, features: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """(B,) mean over observation dimensions of the members' standard deviation."""
        return self.ensemble(torch.cat([features, actions], dim=-1)).std(dim=0).mean(dim=-1)


def _transitions(
    model: WorldModel, dataset: Dataset, seed: int, progress: bool
) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    """Inputs (features_t, action_t), targets (observation t + 1, standardised) and the frame
    index t of every transition inside an episode."""
    features = torch.from_numpy(featurize_dataset(model, dataset, seed=seed, progress=progress))
    frames = np.concatenate([np.arange(start, end) for start, end in dataset.episodes])
    if len(frames) == 0:
        raise ValueError("the guard needs episodes of at least two frames")
    actions = torch.from_numpy(np.asarray(dataset.rel_actions, dtype=np.float32)[frames])
    with torch.no_grad():
        following = {
            k: torch.from_numpy(np.asarray(getattr(dataset, k)[frames + 1])).to(model.device) for k in model.codec.keys
        }
        targets = model.codec.encode(model.codec.concat(following)).cpu()  # the ensemble is fitted on the CPU
    return torch.cat([features[frames], actions], dim=1), targets, frames


def fit_guard(
    model: WorldModel, dataset: Dataset, config: GuardConfig, seed: int, progress: bool = False
) -> tuple[ModelErrorGuard, dict[str, Any]]:
    """Train the ensemble on real transitions and set the halt threshold on held-out ones."""
    inputs, targets, frames = _transitions(model, dataset, seed, progress)
    segments = frames // HOLDOUT_SEGMENT
    unique = np.unique(segments)
    held = np.random.default_rng(seed).permutation(unique)[: max(1, len(unique) // 10)] if len(unique) > 1 else []
    val_mask = torch.from_numpy(np.isin(segments, held))
    train_x, train_y = inputs[~val_mask], targets[~val_mask]
    val_x, val_y = inputs[val_mask], targets[val_mask]
    if len(val_x) == 0:
        raise ValueError("the guard needs more than one 200-frame stretch of play to hold some out")

    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    ensemble = EnsembleMLP(config.members, inputs.shape[1], config.hidden, targets.shape[1])
    optimizer = torch.optim.Adam(ensemble.parameters(), lr=config.lr)
    steps = max(1, config.epochs * len(train_x) // config.batch_size)
    for _ in tqdm(range(steps), desc="guard ensemble", disable=not progress):
        # Each member draws its own minibatch with replacement: a bootstrap of the data.
        index = torch.randint(len(train_x), (config.members, config.batch_size), generator=generator)
        loss = (ensemble(train_x[index]) - train_y[index]).square().mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    with torch.no_grad():
        predictions = ensemble.eval()(val_x)
        val_disagreement = predictions.std(dim=0).mean(dim=-1)
        val_error = (predictions - val_y).square().mean(dim=(1, 2))
    base = float(torch.quantile(val_disagreement, config.quantile))
    threshold = base * config.scale
    metrics = {
        "train_transitions": len(train_x),
        "val_transitions": len(val_x),
        "val_mse_per_member": [round(float(e), 5) for e in val_error],
        "val_disagreement_median": float(val_disagreement.median()),
        "val_disagreement_quantile": base,
        "threshold": threshold,
    }
    return ModelErrorGuard(ensemble, threshold, config.halt_reward), metrics


def save_guard(
    guard: ModelErrorGuard, directory: str | os.PathLike[str], config: GuardConfig, meta: dict[str, Any]
) -> Path:
    ensemble = guard.ensemble
    shape = {
        "members": ensemble.members,
        "in_dim": int(ensemble.weights[0].shape[1]),
        "hidden": int(ensemble.weights[0].shape[2]),
        "out_dim": int(ensemble.weights[-1].shape[2]),
    }
    document = {"config": dataclasses.asdict(config), "shape": shape, "threshold": guard.threshold, **meta}
    return save_checkpoint(directory, NAME, FORMAT, ensemble.state_dict(), document, "ensemble")


def load_guard(
    path: str | os.PathLike[str], world_model_sha256: str, feat_dim: int, halt_reward: float
) -> tuple[ModelErrorGuard, dict[str, Any]]:
    """Load a saved guard; one fitted on another world model's features is refused."""
    json_path, document = read_checkpoint_meta(path, NAME, FORMAT)
    if document.get("world_model", {}).get("weights_sha256") != world_model_sha256:
        raise ValueError(f"{json_path} was fitted on the features of a different world model")
    shape = document["shape"]
    if shape["in_dim"] != feat_dim + ACTION_DIM:
        raise ValueError(f"{json_path} reads {shape['in_dim'] - ACTION_DIM}-d features, the world model has {feat_dim}")
    ensemble = EnsembleMLP(shape["members"], shape["in_dim"], shape["hidden"], shape["out_dim"])
    load_state_dict_strict(ensemble, load_weights(json_path, document), json_path)
    return ModelErrorGuard(ensemble, float(document["threshold"]), halt_reward), document


def load_or_fit_guard(
    directory: Path, data: Path | None, config: GuardConfig, model: WorldModel, info: Any, seed: int, progress: bool
) -> tuple[ModelErrorGuard, dict[str, Any] | None]:
    """The guard saved in `directory` (a resumed run, or a verdict's cache), or one fitted now on
    `data` (default: the world model's training data) and saved there; the fit's metrics, or None
    when it was loaded."""
    if (directory / f"{NAME}.json").is_file():
        guard, _ = load_guard(directory, info.weights_sha256, model.feat_dim, config.halt_reward)
        return guard, None
    data = data or info.provenance.get("dataset_path")
    if data is None:
        raise ValueError("the world model does not record its training data; name play data with --guard-data")
    guard, metrics = fit_guard(model, load_dataset(data, images=model.uses_images), config, seed, progress=progress)
    meta = {
        "world_model": {"path": str(info.path), "weights_sha256": info.weights_sha256},
        "data": str(Path(data).resolve()),
        "seed": seed,
        "metrics": metrics,
    }
    save_guard(guard, directory, config, meta)
    return guard, metrics
