"""The camera profile's image encoder: learned once on the play frames, then frozen.

Training DreamerV2's CNN encoder and decoder end to end with the RSSM costs every step a pass of
two cameras through both (about 200 frames/s per CPU core at depth 16, see docs/camera_profile.md),
far too slow for a world model on 2 cores. Here a small autoencoder per camera learns a compact code
of the play frames first; the RSSM then reads and reconstructs those codes, which are computed once
for the whole dataset, so it trains at the speed of the state profile. Online (evaluation, the policy
node) the frozen encoder runs on every frame, and the decoder turns imagined codes back into images
for inspection.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.tensorboard import SummaryWriter
from tqdm import tqdm

from diwa import progress as progress_report
from diwa.world_model.config import IMAGE_KEYS, ObservationConfig
from diwa.world_model.mixed_precision import image_precision
from diwa.world_model.networks import ConvDecoder, ConvEncoder
from diwa.world_model.observation import prepare_image

CODE_PREFIX = "code_"
ENCODE_BATCH = 512
"""Frames encoded at once when coding a dataset: bounds memory (512 x 2 x 64 x 64 x 3 floats ~ 50 MB)."""
WEIGHT_FRAMES = 2048
"""Training frames the pixel-variation weights are measured on."""
WEIGHT_FLOOR = 0.1
"""Share of the weight every pixel keeps, however still it is in play."""


def code_key(image_key: str) -> str:
    """The observation entry holding a camera's precomputed code (`code_rgb_static`)."""
    return CODE_PREFIX + image_key


class ImageAutoencoder(nn.Module):
    """Per camera: DreamerV2's CNN encoder and a linear map to a `code`-d vector, and back through a
    linear map and DreamerV2's transposed-convolution decoder."""

    def __init__(self, config: ObservationConfig) -> None:
        super().__init__()
        self.size = config.image_size
        self.code_dim = config.image_code
        encoders = {}
        for key in IMAGE_KEYS:
            conv = ConvEncoder(config.cnn_depth, config.encoder_kernels)
            encoders[key] = nn.Sequential(conv, nn.Linear(conv.out_dim, config.image_code))
        self.encoders = nn.ModuleDict(encoders)
        self.decoders = nn.ModuleDict(
            {k: ConvDecoder(config.image_code, config.cnn_depth, config.decoder_kernels) for k in IMAGE_KEYS}
        )

    def encode(self, key: str, image: Tensor) -> Tensor:
        """uint8 (..., size, size, 3) -> (..., code). Other sizes are refused rather than resized:
        the encoder learnt from frames rendered at its size, and a resized frame looks different."""
        if tuple(image.shape[-3:-1]) != (self.size, self.size):
            raise ValueError(
                f"{key} frames are {'x'.join(map(str, image.shape[-3:-1]))}; this world model's image encoder "
                f"learnt from {self.size}x{self.size} frames: publish or record the camera at that size"
            )
        x = prepare_image(key, image, self.size)
        lead = x.shape[:-3]
        return self.encoders[key](x.reshape(-1, *x.shape[-3:])).reshape(*lead, self.code_dim)

    def decode(self, key: str, code: Tensor) -> Tensor:
        """(..., code) -> (..., 3, size, size) in the [-0.5, 0.5] pixel scale."""
        return self.decoders[key](code)

    def loss(
        self, images: Mapping[str, Tensor], weights: Mapping[str, Tensor] | None = None
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """0.5 x squared pixel error summed over each image (DreamerV2's image term), both cameras;
        with `weights` ((size, size) per camera, mean 1) each pixel's error is scaled by its weight.
        The metrics are the unweighted errors, comparable across weightings."""
        errors, trained = {}, {}
        for key in IMAGE_KEYS:
            target = prepare_image(key, images[key], self.size)
            squared = (self.decode(key, self.encode(key, images[key])) - target).square()
            errors[key] = 0.5 * squared.sum((-3, -2, -1))
            trained[key] = errors[key] if weights is None else 0.5 * (squared * weights[key]).sum((-3, -2, -1))
        total = sum(error.mean() for error in trained.values())
        metrics = {f"{key}_recon": error.mean().detach() for key, error in errors.items()}
        metrics["loss"] = total.detach()
        return total, metrics


def variation_weights(
    images: Mapping[str, np.ndarray], frames: np.ndarray, size: int, rng: np.random.Generator
) -> dict[str, Tensor]:
    """Per camera, a (size, size) map of how much each pixel varies over the play frames (standard
    deviation over frames, mean over colours), mixed with a floor (WEIGHT_FLOOR) and scaled to mean 1.

    Why: with a small code, a squared-error autoencoder spends it on what covers many pixels. The
    static camera is mostly still background, and the LED, which play switches, changes 12 of its
    4,096 pixels: the 64-d codes lost it (docs/results/camera_route/). Weighting by variation moves
    the error budget from what never changes to what play changes."""
    chosen = np.sort(rng.choice(frames, min(len(frames), WEIGHT_FRAMES), replace=False))
    weights = {}
    for key in IMAGE_KEYS:
        pixels = prepare_image(key, torch.from_numpy(np.asarray(images[key][chosen])), size)
        spread = pixels.std(dim=0).mean(dim=0)
        mixed = WEIGHT_FLOOR + (1.0 - WEIGHT_FLOOR) * spread / spread.mean().clamp_min(1e-8)
        weights[key] = mixed / mixed.mean()  # a camera that never changes keeps uniform weights
    return weights


@dataclass(frozen=True)
class AutoencoderResult:
    steps: int
    frames_per_s: float
    """Frames of each camera through encoder and decoder per second of training."""
    wall_s: float
    train: dict[str, float]
    val: dict[str, float]


def _batch(images: Mapping[str, np.ndarray], frames: np.ndarray, device: torch.device) -> dict[str, Tensor]:
    order = np.sort(frames)  # sorted reads of a memory-mapped array are much faster
    return {k: torch.from_numpy(np.asarray(images[k][order])).to(device) for k in IMAGE_KEYS}


def train_autoencoder(
    autoencoder: ImageAutoencoder,
    images: Mapping[str, np.ndarray],
    train_frames: np.ndarray,
    val_frames: np.ndarray,
    config: ObservationConfig,
    seed: int,
    writer: SummaryWriter,
    progress: bool = True,
    mixed_precision: bool = False,
) -> AutoencoderResult:
    """Fit the autoencoder on random frames of `train_frames` (Adam, config.encoder_* settings);
    with `mixed_precision` its training steps run the CNNs in bfloat16 (mixed_precision.py)."""
    missing = [k for k in IMAGE_KEYS if k not in images]
    if missing:
        raise ValueError(f"the dataset lacks the camera images {missing}; record play with --cameras")
    device = next(autoencoder.parameters()).device
    rng = np.random.default_rng(seed)
    optimizer = torch.optim.Adam(autoencoder.parameters(), lr=config.encoder_lr)
    val_rng = np.random.default_rng(seed + 1)
    val_batch = _batch(images, val_rng.choice(val_frames, min(len(val_frames), 256), replace=False), device)
    weights = None
    if config.encoder_pixel_weighting == "variation":
        measured = variation_weights(images, train_frames, config.image_size, np.random.default_rng(seed + 2))
        weights = {k: w.to(device) for k, w in measured.items()}
    autoencoder.train()
    started = time.perf_counter()
    metrics: dict[str, float] = {}
    with tqdm(total=config.encoder_steps, desc="image encoder", disable=not progress) as bar:
        for step in range(1, config.encoder_steps + 1):
            batch = _batch(images, rng.choice(train_frames, config.encoder_batch_size), device)
            with image_precision(device, mixed_precision):
                loss, batch_metrics = autoencoder.loss(batch, weights)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"image-encoder loss became non-finite at step {step}; lower encoder_lr")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            bar.update(1)
            if step % 50 == 0 or step == config.encoder_steps:
                metrics = {k: float(v) for k, v in batch_metrics.items()}
                for k, v in metrics.items():
                    writer.add_scalar(f"image_encoder/train_{k}", v, step)
                bar.set_postfix(loss=f"{metrics['loss']:.1f}")
                progress_report.report("train_image_encoder", step=step, **metrics)
    wall = time.perf_counter() - started
    # The last step's gradients would otherwise stay on the frozen weights and count in the world
    # model's gradient-norm clipping.
    optimizer.zero_grad(set_to_none=True)
    autoencoder.eval()
    with torch.no_grad():
        _, val_metrics = autoencoder.loss(val_batch, weights)
    val = {k: float(v) for k, v in val_metrics.items()}
    for k, v in val.items():
        writer.add_scalar(f"image_encoder/val_{k}", v, config.encoder_steps)
    rate = config.encoder_steps * config.encoder_batch_size / max(wall, 1e-9)
    return AutoencoderResult(config.encoder_steps, rate, wall, metrics, val)


@torch.no_grad()
def encode_images(
    autoencoder: ImageAutoencoder, images: Mapping[str, np.ndarray], progress: bool = False
) -> dict[str, np.ndarray]:
    """{code_<camera>: (N, code) float32} for every frame of both cameras, in batches."""
    device = next(autoencoder.parameters()).device
    count = len(images[IMAGE_KEYS[0]])
    codes = {code_key(k): np.zeros((count, autoencoder.code_dim), np.float32) for k in IMAGE_KEYS}
    for start in tqdm(range(0, count, ENCODE_BATCH), desc="image codes", unit="batch", disable=not progress):
        stop = min(start + ENCODE_BATCH, count)
        for key in IMAGE_KEYS:
            # A copy: slices of a read-only memory map cannot back a tensor.
            frames = torch.from_numpy(np.array(images[key][start:stop])).to(device)
            codes[code_key(key)][start:stop] = autoencoder.encode(key, frames).cpu().numpy()
    return codes
