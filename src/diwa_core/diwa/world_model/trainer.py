"""World-model training on play data: random windows, AdamW, TensorBoard, resumable checkpoints.

Resuming restores weights, optimizer moments, the step, and the states of both random
generators (window sampling and latent sampling), so an interrupted run continued with
--resume ends with the same weights as a run that was never interrupted. Under torchrun the
trainer is data-parallel by the rules of diwa.distributed (same effective batch, rank 0 writes).
"""

from __future__ import annotations

import dataclasses
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.tensorboard import SummaryWriter
from tqdm import tqdm

from diwa import progress
from diwa.data.dataset import Dataset
from diwa.distributed import Ranks, rank_seed, shard
from diwa.world_model.checkpoint import CheckpointError, data_provenance, resolve_checkpoint
from diwa.world_model.config import IMAGE_KEYS, WorldModelConfig
from diwa.world_model.image_codes import encode_images, train_autoencoder
from diwa.world_model.mixed_precision import AMP_DTYPE, check_amp
from diwa.world_model.model import WorldModel
from diwa.world_model.sequences import SequenceSampler, split_segments
from diwa.world_model.store import load_world_model, load_world_model_train_state, save_world_model

SEGMENT_FRAMES = 2000
"""Held-out unit (see sequences.py): long enough for the 72-step open-loop evaluation."""


@dataclass
class TrainResult:
    step: int
    train: dict[str, float]
    val: dict[str, float]
    fit: dict[str, float]
    """The held-out metrics' counterpart on fixed training windows, computed the same way (eval mode,
    same number of windows), so the two losses are comparable; `train` is the last batch's."""
    samples_per_s: float
    wall_s: float
    checkpoint: Path


def to_device(
    obs: dict[str, np.ndarray], prev_actions: np.ndarray, device: torch.device
) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    return {k: torch.from_numpy(v).to(device) for k, v in obs.items()}, torch.from_numpy(prev_actions).to(device)


class WorldModelTrainer:
    def __init__(
        self,
        dataset: Dataset,
        out: str | os.PathLike[str],
        config: WorldModelConfig,
        seed: int,
        *,
        data_path: str | os.PathLike[str] | None = None,
        resume: bool = False,
        device: str | torch.device = "cpu",
        progress: bool = True,
        ranks: Ranks | None = None,
        mixed_precision: bool = False,
    ) -> None:
        self.out = Path(out)
        self.ranks = ranks = ranks or Ranks()
        self.part = shard(config.train.batch_size, ranks) if ranks.distributed else None
        self.config = config
        self.seed = seed
        self.progress = progress and ranks.is_main
        self.device = torch.device(device)
        self.provenance = data_provenance(dataset, data_path)
        train_ranges, val_ranges = split_segments(
            dataset.episodes, SEGMENT_FRAMES, config.train.val_fraction, seed, min_frames=config.train.seq_len
        )
        self.provenance["split"] = {"segment_frames": SEGMENT_FRAMES, "train": train_ranges, "val": val_ranges}
        exists = (self.out / "world_model.json").is_file()
        if exists and not resume:
            raise ValueError(
                f"{self.out} already holds a world model; pass --resume to continue it or choose another --out"
            )
        if resume and not exists:
            raise FileNotFoundError(f"nothing to resume: no world model checkpoint in {self.out}")

        torch.manual_seed(seed)
        self.model = WorldModel(config)
        self.model.to(self.device)
        self.mixed_precision = self.model.mixed_precision = mixed_precision
        if mixed_precision:
            check_amp(self.device, self.model.uses_images, config.profile)
            self.provenance["mixed_precision"] = str(AMP_DTYPE).removeprefix("torch.")
        self._trained = [p for p in self.model.parameters() if p.requires_grad]  # not a frozen image encoder
        self.optimizer = torch.optim.AdamW(
            self._trained,
            lr=config.train.lr,
            weight_decay=config.train.weight_decay,
            eps=config.train.eps,
        )
        self.rng = np.random.default_rng(seed)
        self.generator = torch.Generator(device=self.device).manual_seed(rank_seed(seed + 1, ranks))
        self.step = 0
        frames = np.concatenate([np.arange(s, e + 1) for s, e in train_ranges])
        if resume:
            self._restore()
        else:
            self.model.codec.fit({k: np.asarray(getattr(dataset, k))[frames] for k in config.observation.state_keys})
        codes = self._image_codes(dataset, frames, val_ranges, fit=not resume) if self.model.frozen_encoder else None
        keys = self.model.training_keys
        self.train_sampler = SequenceSampler(dataset, train_ranges, config.train.seq_len, keys, codes)
        self.val_sampler = SequenceSampler(dataset, val_ranges, config.train.seq_len, keys, codes)
        self.loss_module: torch.nn.Module = _Loss(self.model)
        if ranks.distributed:
            self.loss_module = torch.nn.parallel.DistributedDataParallel(self.loss_module)
        self._val_batches = self._fixed_batches(self.val_sampler, self.seed + 2) if ranks.is_main else []

    def _image_codes(
        self, dataset: Dataset, train_frames: np.ndarray, val_ranges: list[tuple[int, int]], fit: bool
    ) -> dict[str, np.ndarray]:
        """The frozen image encoder's codes of every frame; on a fresh run, the encoder is trained
        first on the training frames and the codes' statistics are fitted on them."""
        check_camera_images(dataset, self.config.observation.image_size)
        autoencoder = self.model.autoencoder
        if fit:
            val_frames = np.concatenate([np.arange(s, e + 1) for s, e in val_ranges])
            writer = SummaryWriter(str(self.out / "tensorboard"))
            autoencoder.requires_grad_(True)
            try:
                result = train_autoencoder(
                    autoencoder,
                    dataset.images,
                    train_frames,
                    val_frames,
                    self.config.observation,
                    self.seed,
                    writer,
                    self.progress,
                    self.mixed_precision,
                )
            finally:
                autoencoder.requires_grad_(False)
                writer.close()
            self.provenance["image_encoder"] = dataclasses.asdict(result)
        codes = encode_images(autoencoder, dataset.images, self.progress)
        if fit:
            self.model.fit_code_statistics({k: v[train_frames] for k, v in codes.items()})
        return codes

    def _fixed_batches(self, sampler: SequenceSampler, seed: int) -> list[tuple[dict[str, torch.Tensor], torch.Tensor]]:
        """The same windows at every evaluation, so validation curves are comparable."""
        rng = np.random.default_rng(seed)
        return [
            to_device(*sampler.sample(rng, self.config.train.batch_size), self.device)
            for _ in range(self.config.train.val_batches)
        ]

    def _restore(self) -> None:
        model, info = load_world_model(self.out, self.device)
        if info.provenance.get("dataset_hash") != self.provenance["dataset_hash"]:
            raise CheckpointError(f"{self.out} was trained on different data (dataset hash differs); cannot resume")
        if info.seed != self.seed:
            raise CheckpointError(f"{self.out} was trained with seed {info.seed}, not {self.seed}; cannot resume")
        if info.config.with_train(steps=self.config.train.steps) != self.config:
            raise CheckpointError(f"{self.out} was trained with a different config; resume needs the same one")
        self.model.load_state_dict(model.state_dict())
        if "image_encoder" in info.provenance:  # the encoder's training is not repeated on resume
            self.provenance["image_encoder"] = info.provenance["image_encoder"]
        state = load_world_model_train_state(self.out)
        self.optimizer.load_state_dict(state["optimizer"])
        self.rng.bit_generator.state = state["numpy_rng"]
        self.step = int(state["step"])
        if self.ranks.is_main:
            try:
                self.generator.set_state(state["torch_rng"])
            except RuntimeError as err:  # a CUDA generator's state is not a CPU one's
                raise CheckpointError(
                    f"{self.out} was trained on another kind of device; resume it on the same kind ({err})"
                ) from err
        else:  # the other processes' generators are not saved: a fresh one per rank and step
            self.generator.manual_seed(rank_seed(self.seed + 1, self.ranks, self.step))

    def _train_state(self) -> dict[str, Any]:
        return {
            "optimizer": self.optimizer.state_dict(),
            "numpy_rng": self.rng.bit_generator.state,
            "torch_rng": self.generator.get_state(),
            "step": self.step,
        }

    def save(self) -> Path:
        return save_world_model(
            self.model,
            self.out,
            step=self.step,
            seed=self.seed,
            provenance=self.provenance,
            train_state=self._train_state(),
        )

    def validate(self) -> dict[str, float]:
        return self._evaluate(self._val_batches)

    @torch.no_grad()
    def _evaluate(self, batches: list[tuple[dict[str, torch.Tensor], torch.Tensor]]) -> dict[str, float]:
        """Mean metrics over `batches`, in float32 whatever training runs in: as the model is deployed."""
        self.model.eval()
        self.model.mixed_precision = False
        generator = torch.Generator(device=self.device).manual_seed(self.seed + 3)
        totals: dict[str, float] = {}
        for obs, prev in batches:
            _, metrics = self.model.loss(obs, prev, generator)
            for k, v in metrics.items():
                totals[k] = totals.get(k, 0.0) + float(v) / len(batches)
        self.model.mixed_precision = self.mixed_precision
        self.model.train()
        return totals

    def train_step(self) -> dict[str, float]:
        """One step on the global batch (this process's slice of it under torchrun). The metrics
        are this process's slice's."""
        batch = self.train_sampler.sample(self.rng, self.config.train.batch_size, self.part)
        obs, prev = to_device(*batch, self.device)
        loss, metrics = self.loss_module(obs, prev, self.generator)
        finite = torch.isfinite(loss.detach()).float()
        if self.ranks.distributed:  # all processes stop together, none waits for a gradient forever
            torch.distributed.all_reduce(finite, op=torch.distributed.ReduceOp.MIN)
        if not finite:
            raise FloatingPointError(
                f"world-model loss became non-finite at step {self.step} (here {float(loss)}); lower the learning rate"
            )
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(self._trained, self.config.train.grad_clip)
        self.optimizer.step()
        self.step += 1
        return {**{k: float(v) for k, v in metrics.items()}, "grad_norm": float(grad_norm)}

    def train(self) -> TrainResult | None:
        """Train to the configured step; the result on rank 0, None on the other processes."""
        if not self.ranks.is_main:
            self.model.train()
            while self.step < self.config.train.steps:
                self.train_step()
            return None
        cfg = self.config.train
        self.model.train()
        writer = SummaryWriter(str(self.out / "tensorboard"), purge_step=self.step)
        samples = cfg.batch_size * cfg.seq_len
        started = time.perf_counter()
        first_step = self.step
        metrics: dict[str, float] = {}
        val: dict[str, float] = {}
        checkpoint = self.out / "world_model.json"
        with tqdm(total=cfg.steps, initial=self.step, desc="world model", disable=not self.progress) as bar:
            while self.step < cfg.steps:
                metrics = self.train_step()
                bar.update(1)
                if self.step % cfg.log_every == 0:
                    rate = samples * (self.step - first_step) / max(time.perf_counter() - started, 1e-9)
                    for k, v in metrics.items():
                        writer.add_scalar(f"train/{k}", v, self.step)
                    writer.add_scalar("train/samples_per_s", rate, self.step)
                    progress.report("train_wm", step=self.step, **metrics)
                    bar.set_postfix(loss=f"{metrics['loss']:.2f}", kl=f"{metrics['kl']:.2f}")
                if self.step % cfg.eval_every == 0 or self.step == cfg.steps:
                    val = self.validate()
                    for k, v in val.items():
                        writer.add_scalar(f"val/{k}", v, self.step)
                if self.step % cfg.checkpoint_every == 0 or self.step == cfg.steps:
                    checkpoint = self.save()
        writer.close()
        if not val:
            val = self.validate()
        wall = time.perf_counter() - started
        rate = samples * (self.step - first_step) / max(wall, 1e-9)
        fit = self._evaluate(self._fixed_batches(self.train_sampler, self.seed + 4))
        progress.report("train_wm_metrics", **{f"val_{k}": v for k, v in val.items()})
        return TrainResult(self.step, metrics, val, fit, rate, wall, resolve_checkpoint(checkpoint, "world_model"))


def check_camera_images(dataset: Dataset, size: int) -> None:
    """The camera profile learns from both cameras at the size it is evaluated and deployed at: the
    simulator and the mock robot render `size` x `size`, and a resized recording looks different."""
    for key in IMAGE_KEYS:
        if key not in dataset.images:
            raise ValueError(f"the dataset has no {key} images; record play with both cameras (--cameras)")
        shape = tuple(dataset.images[key].shape[1:])
        if shape != (size, size, 3):
            raise ValueError(
                f"{key} images are {shape[0]}x{shape[1]}; the camera profile needs {size}x{size} "
                f"(record with --static-size {size} --gripper-size {size})"
            )


class _Loss(torch.nn.Module):
    """The world model's loss as a module's forward: DistributedDataParallel synchronises the
    gradients of what runs through forward."""

    def __init__(self, model: WorldModel) -> None:
        super().__init__()
        self.model = model

    def forward(
        self, obs: dict[str, torch.Tensor], prev_actions: torch.Tensor, generator: torch.Generator
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        return self.model.loss(obs, prev_actions, generator)
