"""Typed configuration of a diffusion policy, loaded from the YAML profiles in `diwa/configs/`.

The whole config is stored beside every checkpoint, so a policy can always be rebuilt exactly as it
was trained; loading is strict (unknown or missing keys raise) so a typo in a YAML file is caught
before hours of training rather than silently replaced by a default.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from diwa.typed_config import ProfileConfig

PROFILES: tuple[str, ...] = ("quick", "paper")
SAMPLERS: tuple[str, ...] = ("ddpm", "ddim")


# Bounds checked before anything is allocated: far beyond DiWA's sizes (1024-wide networks, 20
# denoising steps, 4-action chunks), close enough that a corrupt or crafted checkpoint cannot exhaust memory.
MAX_WIDTH = 8192
MAX_LAYERS = 33
MAX_DIFFUSION_STEPS = 1000
MAX_HORIZON = 256


@dataclass(frozen=True)
class NetworkConfig:
    """Residual-MLP widths. All widths are equal and their count odd: one input layer, then
    residual blocks of two layers each."""

    widths: tuple[int, ...]
    time_dim: int = 16
    critic_widths: tuple[int, ...] = (256, 256, 256)

    def __post_init__(self) -> None:
        for name in ("widths", "critic_widths"):
            widths = getattr(self, name)
            if len(widths) % 2 != 1 or len(set(widths)) != 1 or widths[0] <= 0:
                raise ValueError(f"network.{name} must be an odd number of equal positive widths, got {list(widths)}")
            if widths[0] > MAX_WIDTH or len(widths) > MAX_LAYERS:
                raise ValueError(
                    f"network.{name} {list(widths)[:4]}... exceeds {MAX_LAYERS} layers of at most {MAX_WIDTH} units"
                )
        if self.time_dim <= 0 or self.time_dim % 2 or self.time_dim > MAX_WIDTH:
            raise ValueError(f"network.time_dim must be a positive even number, got {self.time_dim}")


@dataclass(frozen=True)
class DiffusionConfig:
    """The denoising chain and the Gaussian of each of its steps (docs/reference.md §1-2 give the values)."""

    steps: int = 20
    horizon: int = 4
    action_dim: int = 7
    sampler: str = "ddpm"
    ddim_steps: int = 5
    ddim_eta: float = 1.0
    min_sampling_std: float = 0.1
    min_logprob_std: float = 0.1
    eval_min_std: float = 1e-3
    noise_clip: float = 3.0
    x0_clip: float = 1.0
    final_action_clip: float = 1.0
    logprob_min: float = -5.0
    logprob_max: float = 2.0

    def __post_init__(self) -> None:
        if self.sampler not in SAMPLERS:
            raise ValueError(f"diffusion.sampler must be one of {SAMPLERS}, got {self.sampler!r}")
        if self.steps < 1 or self.horizon < 1 or self.action_dim < 1:
            raise ValueError("diffusion.steps, horizon and action_dim must be positive")
        if self.steps > MAX_DIFFUSION_STEPS or self.horizon > MAX_HORIZON or self.action_dim > MAX_HORIZON:
            raise ValueError(
                f"diffusion.steps {self.steps}, horizon {self.horizon} or action_dim {self.action_dim} is beyond "
                f"the bounds ({MAX_DIFFUSION_STEPS} steps, {MAX_HORIZON} for the others)"
            )
        if not 1 <= self.ddim_steps <= self.steps:
            raise ValueError(f"diffusion.ddim_steps must lie in 1..{self.steps}, got {self.ddim_steps}")
        if self.ddim_eta < 0 or min(self.min_sampling_std, self.min_logprob_std, self.eval_min_std) < 0:
            raise ValueError("diffusion.ddim_eta and the std floors must be non-negative")
        if min(self.noise_clip, self.x0_clip, self.final_action_clip) <= 0:
            raise ValueError("diffusion clip values must be positive")
        if self.logprob_min >= self.logprob_max:
            raise ValueError("diffusion.logprob_min must be below logprob_max")


@dataclass(frozen=True)
class TrainConfig:
    """Behaviour-cloning hyperparameters (DiWA pretraining: AdamW, cosine lr 1e-4 -> 1e-5, EMA)."""

    epochs: int
    batch_size: int = 256
    lr: float = 1e-4
    final_lr: float = 1e-5
    weight_decay: float = 1e-6
    ema_decay: float = 0.995
    val_fraction: float = 0.1
    val_every: int = 10

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1 or self.val_every < 1:
            raise ValueError("train.epochs, batch_size and val_every must be positive")
        if not 0 < self.final_lr <= self.lr:
            raise ValueError("train.final_lr must lie in (0, lr]")
        if not 0 <= self.ema_decay < 1 or not 0 <= self.val_fraction < 1:
            raise ValueError("train.ema_decay and train.val_fraction must lie in [0, 1)")


@dataclass(frozen=True)
class PolicyConfig(ProfileConfig):
    FILE_PREFIX: ClassVar[str] = "policy"
    PROFILES: ClassVar[tuple[str, ...]] = PROFILES

    profile: str
    network: NetworkConfig
    diffusion: DiffusionConfig
    train: TrainConfig


def load_policy_config(profile_or_path: str | Path) -> PolicyConfig:
    """A shipped profile ('quick', 'paper') or a YAML file by path."""
    return PolicyConfig.load(profile_or_path)
