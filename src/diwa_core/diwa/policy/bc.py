"""Behaviour cloning of a diffusion policy from a skill's demonstrations (DiWA's pretraining).

Each frame t of a demonstration gives one training pair: the conditioning features at t and the
chunk of relative actions t..t+horizon-1, where steps past the episode's end repeat its last
action (the policy learns to keep doing what ended the demo rather than to stop mid-air).
The denoiser learns to predict the noise added to a chunk at a uniformly drawn timestep; the
weights that ship are the EMA of the trained ones. Readable top to bottom, like a CleanRL script.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F
from torch.nn.parallel import DistributedDataParallel
from torch.utils.tensorboard import SummaryWriter
from tqdm import tqdm

from diwa.data.dataset import Dataset
from diwa.distributed import Ranks, split
from diwa.policy.config import PolicyConfig
from diwa.policy.ema import EMA
from diwa.policy.network import EpsilonMLP
from diwa.policy.normalizer import ActionNormalizer, FeatureNormalizer
from diwa.policy.policy import DiffusionPolicy, build_network
from diwa.policy.schedule import DDPMSchedule
from diwa.skills import check_skill


@dataclass(frozen=True)
class ChunkPairs:
    features: np.ndarray  # (M, D) conditioning features at frame t
    chunks: np.ndarray  # (M, horizon, action_dim) actions t..t+horizon-1, padded with the last action


@dataclass
class BCResult:
    policy: DiffusionPolicy
    history: list[dict[str, float]]  # one entry per epoch: epoch, lr, train_loss[, val_loss]
    summary: dict[str, Any]


def skill_episodes(dataset: Dataset, skill: str) -> list[tuple[int, int]]:
    """The episodes that hold an annotation of `skill` (one demonstration per episode)."""
    check_skill(skill)
    annotated = [(a.start, a.end) for a in dataset.annotations if a.task == skill]
    return [(s, e) for s, e in dataset.episodes if any(s <= a_start and a_end <= e for a_start, a_end in annotated)]


def chunk_pairs(features: np.ndarray, actions: np.ndarray, episodes: list[tuple[int, int]], horizon: int) -> ChunkPairs:
    frames, chunks = [], []
    offsets = np.arange(horizon)
    for start, end in episodes:
        t = np.arange(start, end + 1)
        frames.append(t)
        chunks.append(actions[np.minimum(t[:, None] + offsets[None, :], end)])
    if not frames:
        raise ValueError("no episodes to build training pairs from")
    index = np.concatenate(frames)
    return ChunkPairs(
        features=np.asarray(features[index], dtype=np.float32),
        chunks=np.concatenate(chunks).astype(np.float32),
    )


def split_episodes(
    episodes: list[tuple[int, int]], val_fraction: float, seed: int
) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Hold out whole episodes (frames of one demo are strongly correlated); at least one
    validation episode whenever val_fraction > 0 and there are two or more episodes."""
    count = len(episodes)
    val_count = 0 if count < 2 or val_fraction == 0 else max(1, round(val_fraction * count))
    order = np.random.default_rng(seed).permutation(count)
    val = sorted(episodes[i] for i in order[:val_count])
    train = sorted(episodes[i] for i in order[val_count:])
    return train, val


class ForwardProcess:
    """q(x_t | x_0) = N(sqrt(abar_t) x_0, (1 - abar_t) I), the noising that the denoiser learns to undo."""

    def __init__(self, schedule: DDPMSchedule, device: torch.device | str = "cpu") -> None:
        self.signal = torch.as_tensor(schedule.sqrt_alphas_cumprod, dtype=torch.float32, device=device)
        self.spread = torch.as_tensor(schedule.sqrt_one_minus_alphas_cumprod, dtype=torch.float32, device=device)

    def denoising_loss(
        self, network: EpsilonMLP, clean: torch.Tensor, cond: torch.Tensor, t: torch.Tensor, noise: torch.Tensor
    ) -> torch.Tensor:
        """Epsilon prediction (DDPM, DPPO): the sampler rebuilds x0 and the step mean from it."""
        return F.mse_loss(network(self._noisy(clean, t, noise), t, cond), noise)

    def squared_error_sum(
        self, network: torch.nn.Module, clean: torch.Tensor, cond: torch.Tensor, t: torch.Tensor, noise: torch.Tensor
    ) -> torch.Tensor:
        """The same error summed: a data-parallel process's slice of a batch (possibly empty)
        contributes its share of the whole batch's mean."""
        return (network(self._noisy(clean, t, noise), t, cond) - noise).square().sum()

    def _noisy(self, clean: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        return self.signal[t][:, None, None] * clean + self.spread[t][:, None, None] * noise


def train_bc(
    config: PolicyConfig,
    skill: str,
    features: np.ndarray,
    actions: np.ndarray,
    episodes: list[tuple[int, int]],
    *,
    encoder_spec: dict[str, Any],
    seed: int,
    provenance: dict[str, Any] | None = None,
    log_dir: str | Path | None = None,
    progress: bool = True,
    ranks: Ranks | None = None,
    device: str = "cpu",
) -> BCResult:
    """Train a policy for `skill` on per-frame `features` (N, D) and relative `actions` (N, A)
    of the given demonstration `episodes` (inclusive frame ranges). Under torchrun (`ranks`) each
    process trains on its slice of every batch, drawn with the same noise as one process would draw
    (diwa.distributed): the result is the single-process one up to float rounding. On any `device`
    the random draws are made on the CPU, so a seed gives the same batches everywhere, and the
    policy is returned on the CPU, where every robot PC can load it."""
    ranks = ranks or Ranks()
    on = torch.device(device)
    check_skill(skill)
    diffusion, train = config.diffusion, config.train
    if features.ndim != 2 or features.shape[0] != actions.shape[0] or actions.shape[1:] != (diffusion.action_dim,):
        raise ValueError(
            f"features {features.shape} and actions {actions.shape} do not form (N, D) and (N, {diffusion.action_dim})"
        )
    if features.shape[1] != encoder_spec.get("feature_dim"):
        expected = encoder_spec.get("feature_dim")
        raise ValueError(f"features are {features.shape[1]}-d but the encoder produces {expected}")
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)

    train_episodes, val_episodes = split_episodes(episodes, train.val_fraction, seed)
    train_pairs = chunk_pairs(features, actions, train_episodes, diffusion.horizon)
    feature_normalizer = FeatureNormalizer.fit(train_pairs.features)
    action_normalizer = ActionNormalizer.fit(train_pairs.chunks)
    cond = feature_normalizer.normalize(torch.from_numpy(train_pairs.features)).to(on)
    clean = action_normalizer.normalize(torch.from_numpy(train_pairs.chunks)).to(on)

    # Validation uses fixed timesteps and noise, so its curve moves only when the weights do.
    val_data = None
    if val_episodes:
        val_pairs = chunk_pairs(features, actions, val_episodes, diffusion.horizon)
        val_generator = torch.Generator().manual_seed(seed + 1)
        val_clean = action_normalizer.normalize(torch.from_numpy(val_pairs.chunks))
        val_data = (
            feature_normalizer.normalize(torch.from_numpy(val_pairs.features)).to(on),
            val_clean.to(on),
            torch.randint(0, diffusion.steps, (len(val_clean),), generator=val_generator).to(on),
            torch.randn(val_clean.shape, generator=val_generator).to(on),
        )

    forward_process = ForwardProcess(DDPMSchedule.cosine(diffusion.steps), on)
    network = build_network(config, features.shape[1]).to(on)
    ema = EMA(network, train.ema_decay)
    model: torch.nn.Module = network
    if ranks.distributed:
        model = DistributedDataParallel(network, device_ids=[on.index] if on.type == "cuda" else None)
    optimizer = torch.optim.AdamW(network.parameters(), lr=train.lr, weight_decay=train.weight_decay)
    lr_schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=train.epochs, eta_min=train.final_lr)
    writer = SummaryWriter(str(log_dir)) if log_dir is not None and ranks.is_main else None
    pair_count = len(clean)
    batches_per_epoch = math.ceil(pair_count / train.batch_size)
    history: list[dict[str, float]] = []
    started = time.perf_counter()
    bar = tqdm(range(train.epochs), desc=f"bc {skill}", unit="epoch", disable=not (progress and ranks.is_main))
    for epoch in bar:
        network.train()
        order = torch.randperm(pair_count, generator=generator)
        epoch_loss = 0.0
        for batch in range(batches_per_epoch):
            index = order[batch * train.batch_size : (batch + 1) * train.batch_size]
            t = torch.randint(0, diffusion.steps, (len(index),), generator=generator).to(on)
            noise = torch.randn(clean[index].shape, generator=generator).to(on)
            if ranks.distributed:
                part = split(len(index), ranks)
                mine = index[part]
                error = forward_process.squared_error_sum(model, clean[mine], cond[mine], t[part], noise[part])
                # DDP averages over processes: times their number, each share adds up to the batch mean.
                loss = error * ranks.world_size / noise.numel()
            else:
                loss = forward_process.denoising_loss(network, clean[index], cond[index], t, noise)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            ema.update(network)
            if ranks.distributed:
                loss = loss.detach() / ranks.world_size
                torch.distributed.all_reduce(loss)  # the batch mean, for the log
            epoch_loss += loss.item() * len(index)
        record = {"epoch": epoch + 1, "lr": optimizer.param_groups[0]["lr"], "train_loss": epoch_loss / pair_count}
        lr_schedule.step()
        if val_data is not None and ((epoch + 1) % train.val_every == 0 or epoch + 1 == train.epochs):
            with torch.no_grad():
                val_cond, val_clean, val_t, val_noise = val_data
                val_loss = forward_process.denoising_loss(ema.network, val_clean, val_cond, val_t, val_noise)
                record["val_loss"] = val_loss.item()
        history.append(record)
        if writer is not None:
            for key, value in record.items():
                if key != "epoch":
                    writer.add_scalar(f"{key.replace('_', '/', 1)}", value, epoch + 1)
        bar.set_postfix({k: f"{v:.4f}" for k, v in record.items() if k.endswith("loss")})
    if writer is not None:
        writer.close()
    seconds = time.perf_counter() - started

    val_losses = [r["val_loss"] for r in history if "val_loss" in r]
    summary = {
        "epochs": train.epochs,
        "seconds": round(seconds, 2),
        "train_episodes": len(train_episodes),
        "val_episodes": len(val_episodes),
        "train_pairs": pair_count,
        "final_train_loss": history[-1]["train_loss"],
        "final_val_loss": val_losses[-1] if val_losses else None,
    }
    policy = DiffusionPolicy(
        config,
        skill,
        encoder_spec,
        feature_normalizer,
        action_normalizer,
        ema.network.to("cpu"),
        provenance={**(provenance or {}), "seed": seed},
    )
    return BCResult(policy=policy, history=history, summary=summary)
