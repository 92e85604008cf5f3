"""Typed configuration of the world model, loaded from `diwa/configs/world_model_<profile>.yaml`.

The whole config is stored in every checkpoint so a model is always rebuilt exactly as trained.
Loading is strict: an unknown or missing key raises, so a typo in a YAML file fails at once
instead of silently training a different model for hours.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from diwa.typed_config import ProfileConfig, optional

PROFILES: tuple[str, ...] = ("quick", "camera", "paper")
OBSERVATIONS: tuple[str, ...] = ("state", "image", "frozen_image")
IMAGE_KINDS: tuple[str, ...] = ("image", "frozen_image")
PIXEL_WEIGHTINGS: tuple[str, ...] = ("uniform", "variation")
STATE_KEYS: tuple[str, ...] = ("robot_obs", "scene_obs")
IMAGE_KEYS: tuple[str, ...] = ("rgb_static", "rgb_gripper")


# Bounds checked before anything is allocated: well beyond DiWA's paper profile (a 2048-d GRU, 32 x 32
# latents, depth-48 CNN), close enough that a corrupt or crafted checkpoint cannot exhaust memory.
MAX_UNITS = 16384
MAX_LAYERS = 16
MAX_CNN_DEPTH = 512


@dataclass(frozen=True)
class RSSMConfig:
    """Sizes of the recurrent state-space model. Features fed to the policy are
    concat(deter, stoch_vars * stoch_classes)."""

    deter: int
    stoch_vars: int
    stoch_classes: int
    hidden: int
    unimix: float = 0.0
    learned_start: bool = False

    def __post_init__(self) -> None:
        if min(self.deter, self.stoch_vars, self.stoch_classes, self.hidden) < 1:
            raise ValueError("rssm sizes must be positive")
        sizes = {"deter": self.deter, "hidden": self.hidden, "stoch_vars * stoch_classes": self.stoch}
        for name, size in sizes.items():
            if size > MAX_UNITS:
                raise ValueError(f"rssm.{name} = {size} is beyond {MAX_UNITS} (DiWA's paper size is 2048)")
        if not 0.0 <= self.unimix < 1.0:
            raise ValueError(f"rssm.unimix must lie in [0, 1), got {self.unimix}")

    @property
    def stoch(self) -> int:
        return self.stoch_vars * self.stoch_classes

    @property
    def feat_dim(self) -> int:
        return self.deter + self.stoch


IMAGE_ONLY = "read only by image observations (kind: image or frozen_image); a state profile leaves it out"
FROZEN_ONLY = "read only by the frozen image encoder (kind: frozen_image); other profiles leave it out"
ADDED_LATER = "absent from checkpoints written before it existed; the default is how those were trained"


@dataclass(frozen=True)
class ObservationConfig:
    """What the model sees and reconstructs.

    `state`: robot_obs + scene_obs vectors through MLPs (quick profile). `image`: the two cameras
    through CNNs plus the vectors in `state_keys` concatenated to the embedding (paper profile).
    `frozen_image`: the two cameras through an autoencoder trained first on the play frames and then
    frozen (`image_code`-d code per camera, `encoder_*` settings); the RSSM reads and reconstructs
    the codes instead of pixels (camera profile, for CPUs; world_model/image_codes.py).
    The vectors in `state_keys` are always reconstructed so prediction error can be measured in
    observation units.

    `change_head` adds a second state decoder that reads (imagined features, start features) and
    predicts how the state vectors changed since the start observation; open-loop predictions are
    then the observed start plus that change. It is trained on the prior's open-loop rollouts with
    the latent detached, so it reads the model without shaping what the policy sees. Why: the
    latent reconstructs a block pose, which never changes in play, only to about a centimetre, so
    the decoded state loses to "no change" over a few steps even where the dynamics are right.
    """

    kind: str
    state_keys: tuple[str, ...]
    mlp_layers: int = 2
    mlp_units: int = 256
    image_size: int = optional(64, IMAGE_ONLY)
    cnn_depth: int = optional(48, IMAGE_ONLY)
    encoder_kernels: tuple[int, ...] = optional((4, 4, 4, 4), IMAGE_ONLY)
    decoder_kernels: tuple[int, ...] = optional((5, 5, 6, 6), IMAGE_ONLY)
    change_head: bool = optional(False, ADDED_LATER)
    image_code: int = optional(64, FROZEN_ONLY)
    encoder_steps: int = optional(3000, FROZEN_ONLY)
    encoder_batch_size: int = optional(64, FROZEN_ONLY)
    encoder_lr: float = optional(1e-3, FROZEN_ONLY)
    encoder_pixel_weighting: str = optional("uniform", FROZEN_ONLY)

    def __post_init__(self) -> None:
        if self.kind not in OBSERVATIONS:
            raise ValueError(f"observation.kind must be one of {OBSERVATIONS}, got {self.kind!r}")
        if not self.state_keys or set(self.state_keys) - set(STATE_KEYS):
            raise ValueError(f"observation.state_keys must be a non-empty subset of {STATE_KEYS}")
        if self.mlp_layers < 1 or self.mlp_units < 1 or self.cnn_depth < 1:
            raise ValueError("observation.mlp_layers, mlp_units and cnn_depth must be positive")
        if self.mlp_layers > MAX_LAYERS or self.mlp_units > MAX_UNITS or self.cnn_depth > MAX_CNN_DEPTH:
            raise ValueError(
                f"observation sizes beyond the bounds: mlp_layers {self.mlp_layers} (<= {MAX_LAYERS}), mlp_units "
                f"{self.mlp_units} (<= {MAX_UNITS}), cnn_depth {self.cnn_depth} (<= {MAX_CNN_DEPTH})"
            )
        if min(self.image_code, self.encoder_steps, self.encoder_batch_size) < 1 or self.encoder_lr <= 0:
            raise ValueError("observation.image_code, encoder_steps, encoder_batch_size, encoder_lr must be positive")
        if self.encoder_pixel_weighting not in PIXEL_WEIGHTINGS:
            raise ValueError(
                f"observation.encoder_pixel_weighting must be one of {PIXEL_WEIGHTINGS}, "
                f"got {self.encoder_pixel_weighting!r}"
            )
        if self.image_code > MAX_UNITS:
            raise ValueError(f"observation.image_code = {self.image_code} is beyond {MAX_UNITS}")
        if self.kind in IMAGE_KINDS and (self.image_size, self.encoder_kernels, self.decoder_kernels) != (
            64,
            (4, 4, 4, 4),
            (5, 5, 6, 6),
        ):
            # The deconvolution stack maps 1x1 to exactly 64x64 only with these kernels.
            raise ValueError("image observations need image_size 64, encoder kernels [4,4,4,4], decoder [5,5,6,6]")


@dataclass(frozen=True)
class LossConfig:
    """DreamerV2 loss: reconstruction (0.5 x squared error summed over dimensions) plus
    kl_weight x balanced KL between posterior and prior.

    `open_loop_kl_weight` adds KL(sg(posterior_t) || open-loop prior_t): the prior rolled forward
    from each window's first posterior through the window's actions alone, as imagination runs it.
    The one-step KL only ever asks the prior for the next step from a posterior that knows the true
    state; imagination chains 72 prior steps (PlaNet's latent overshooting, from one start).
    The quick profile sets 0.3 (measured there); the paper profile keeps DiWA's loss. The default 0
    is what checkpoints written before this term existed were trained with."""

    kl_balance: float = 0.8
    kl_weight: float = 0.3
    image_weight: float = 1.0
    state_weight: float = 1.0
    open_loop_kl_weight: float = optional(0.0, ADDED_LATER)

    def __post_init__(self) -> None:
        if not 0.0 <= self.kl_balance <= 1.0:
            raise ValueError(f"loss.kl_balance must lie in [0, 1], got {self.kl_balance}")
        if min(self.kl_weight, self.image_weight, self.state_weight, self.open_loop_kl_weight) < 0:
            raise ValueError("loss weights must be non-negative")


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation of the world model on random windows of play (DiWA: 50 x 50, AdamW 3e-4)."""

    steps: int
    batch_size: int
    seq_len: int
    lr: float = 3e-4
    weight_decay: float = 0.05
    eps: float = 1e-5
    grad_clip: float = 100.0
    val_fraction: float = 0.1
    val_batches: int = 4
    log_every: int = 50
    eval_every: int = 500
    checkpoint_every: int = 500

    def __post_init__(self) -> None:
        if min(self.steps, self.batch_size, self.val_batches, self.log_every, self.eval_every) < 1:
            raise ValueError("train.steps, batch_size, val_batches, log_every and eval_every must be positive")
        if self.seq_len < 2:
            raise ValueError(f"train.seq_len must be at least 2 (one transition), got {self.seq_len}")
        if self.checkpoint_every < 1:
            raise ValueError("train.checkpoint_every must be positive")
        if self.lr <= 0 or self.weight_decay < 0 or self.eps <= 0 or self.grad_clip <= 0:
            raise ValueError("train.lr, eps and grad_clip must be positive and weight_decay non-negative")
        if not 0.0 < self.val_fraction < 1.0:
            raise ValueError(f"train.val_fraction must lie in (0, 1), got {self.val_fraction}")


@dataclass(frozen=True)
class WorldModelConfig(ProfileConfig):
    FILE_PREFIX: ClassVar[str] = "world_model"
    PROFILES: ClassVar[tuple[str, ...]] = PROFILES

    profile: str
    rssm: RSSMConfig
    observation: ObservationConfig
    loss: LossConfig
    train: TrainConfig

    def with_train(self, **changes: Any) -> WorldModelConfig:
        """A copy with some training settings changed (command-line overrides such as --steps)."""
        return dataclasses.replace(self, train=dataclasses.replace(self.train, **changes))


def load_world_model_config(profile_or_path: str | Path) -> WorldModelConfig:
    """A shipped profile ('quick', 'camera', 'paper') or a YAML file by path."""
    return WorldModelConfig.load(profile_or_path)
