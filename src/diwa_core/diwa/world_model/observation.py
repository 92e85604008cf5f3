"""How raw CALVIN observations become network inputs and back.

Euler angles wrap at +-pi (the TCP roll of CALVIN's robot sits near pi and flips sign), so they are
represented by their sine and cosine: a wrap would otherwise look like a 2 pi jump to the model and
dominate the reconstruction loss. Everything is then standardised with statistics of the training
data, stored as buffers so a checkpoint carries them.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

STATE_DIMS: dict[str, int] = {"robot_obs": 15, "scene_obs": 24}
ANGLE_DIMS: dict[str, tuple[int, ...]] = {
    # tcp euler xyz; the euler angles of the red, blue and pink blocks (docs/reference.md §3).
    "robot_obs": (3, 4, 5),
    "scene_obs": (9, 10, 11, 15, 16, 17, 21, 22, 23),
}
TWO_VALUED_DIMS: dict[str, tuple[tuple[int, float, float], ...]] = {
    # (index, one value, the other): the last gripper action (-1 close, +1 open); lightbulb and LED
    # (0 off, 1 on) (docs/reference.md §3).
    "robot_obs": ((14, -1.0, 1.0),),
    "scene_obs": ((4, 0.0, 1.0), (5, 0.0, 1.0)),
}
"""Decoded to the nearer of their two values: a lamp predicted 0.3 on is no state the robot can be
in, and a policy that reads decoded states in imagination has only seen 0 and 1 there."""
MIN_STD = 1e-2
"""Floor of the standardising scale: dimensions that barely move in play (a block never touched)
must not turn numerical noise into large inputs."""


# The central 98 % of a Gaussian spans 4.65 standard deviations.
CENTRAL_98_IN_STD = 4.65
OUTLIER_STD_RATIO = 10.0


def wrap_angle(x: Tensor) -> Tensor:
    return torch.remainder(x + torch.pi, 2 * torch.pi) - torch.pi


def state_difference(a: Tensor, b: Tensor, key: str) -> Tensor:
    """a - b for one CALVIN vector, with angle components wrapped to [-pi, pi)."""
    diff = a - b
    angles = list(ANGLE_DIMS[key])
    diff[..., angles] = wrap_angle(diff[..., angles])
    return diff


def check_state(name: str, value: Tensor, dim: int) -> None:
    if value.shape[-1:] != (dim,):
        raise ValueError(f"{name} must have last dimension {dim}, got shape {tuple(value.shape)}")
    if not torch.isfinite(value).all():
        raise ValueError(f"{name} contains NaN or infinite values")


class StateCodec(nn.Module):
    """Maps the concatenation of `keys` (e.g. robot_obs + scene_obs, 39-d) to a standardised
    representation with angles as (sin, cos), and back."""

    def __init__(self, keys: tuple[str, ...]) -> None:
        super().__init__()
        self.keys = keys
        offsets = np.cumsum([0] + [STATE_DIMS[k] for k in keys])
        angles = [int(offsets[i] + d) for i, k in enumerate(keys) for d in ANGLE_DIMS[k]]
        self.raw_dim = int(offsets[-1])
        self.linear_idx = [d for d in range(self.raw_dim) if d not in set(angles)]
        self.angle_idx = angles
        self.rep_dim = len(self.linear_idx) + 2 * len(angles)
        self.two_valued = [
            (int(offsets[i] + d), low, high) for i, k in enumerate(keys) for d, low, high in TWO_VALUED_DIMS[k]
        ]
        self.register_buffer("mean", torch.zeros(self.rep_dim))
        self.register_buffer("std", torch.ones(self.rep_dim))

    def concat(self, obs: dict[str, Tensor]) -> Tensor:
        missing = [k for k in self.keys if k not in obs]
        if missing:
            raise ValueError(f"observation lacks {missing}; the world model needs {list(self.keys)}")
        for key in self.keys:
            check_state(key, obs[key], STATE_DIMS[key])
        return torch.cat([obs[k].float() for k in self.keys], dim=-1)

    def split(self, raw: Tensor) -> dict[str, Tensor]:
        sizes = [STATE_DIMS[k] for k in self.keys]
        return dict(zip(self.keys, torch.split(raw, sizes, dim=-1), strict=True))

    def _represent(self, raw: Tensor) -> Tensor:
        angles = raw[..., self.angle_idx]
        return torch.cat([raw[..., self.linear_idx], torch.sin(angles), torch.cos(angles)], dim=-1)

    @torch.no_grad()
    def fit(self, frames: dict[str, np.ndarray]) -> None:
        """Set the standardising statistics from training frames ({key: (N, dim)}); refuses frames whose
        spread is dominated by a few outliers, which would make every other state look constant."""
        for key, values in frames.items():
            check_outliers(key, np.asarray(values))
        rep = self._represent(self.concat({k: torch.from_numpy(np.asarray(v, np.float32)) for k, v in frames.items()}))
        self.mean.copy_(rep.mean(dim=0))
        self.std.copy_(rep.std(dim=0, unbiased=False).clamp_min(MIN_STD))

    def encode(self, raw: Tensor) -> Tensor:
        return (self._represent(raw) - self.mean) / self.std

    def decode(self, rep: Tensor) -> Tensor:
        values = rep * self.std + self.mean
        n_lin, n_ang = len(self.linear_idx), len(self.angle_idx)
        raw = values.new_empty((*values.shape[:-1], self.raw_dim))
        raw[..., self.linear_idx] = values[..., :n_lin]
        sin, cos = values[..., n_lin : n_lin + n_ang], values[..., n_lin + n_ang :]
        raw[..., self.angle_idx] = torch.atan2(sin, cos)
        for index, low, high in self.two_valued:
            raw[..., index] = torch.where(raw[..., index] >= (low + high) / 2, high, low)
        return raw


def check_outliers(key: str, values: np.ndarray) -> None:
    """Raise ValueError when a column's standard deviation is far beyond the spread of its central
    98 % (a Gaussian's ratio is 1, a uniform's 1.4): then a few frames (a block falling through the
    floor, say) set the scale that standardises all the others. The spread is floored at MIN_STD,
    the scale the codec itself never goes below, so a block that rests in 98 % of the frames and is
    lifted in the rest passes. Angles (bounded, and read through their sine and cosine) and two-valued
    columns (lamps, gripper command) have no outliers to find."""
    bounded = [index for index, _, _ in TWO_VALUED_DIMS.get(key, ())] + list(ANGLE_DIMS.get(key, ()))
    low, high = np.quantile(values, [0.01, 0.99], axis=0)
    central = np.maximum((high - low) / CENTRAL_98_IN_STD, MIN_STD)
    std = values.std(axis=0)
    ratio = std / central
    ratio[bounded] = 0.0
    for col in np.flatnonzero(ratio > OUTLIER_STD_RATIO):
        worst = int(np.argmax(np.abs(values[:, col] - np.median(values[:, col]))))
        raise ValueError(
            f"{key}[{col}]: its standard deviation {std[col]:.4g} is {ratio[col]:.0f}x the spread "
            f"of its central 98 % ({central[col]:.4g}); frame {worst} of the training frames holds "
            f"{values[worst, col]:.6g}. A few outlying frames would dominate the world model's statistics and "
            "loss: remove them from the data"
        )


def prepare_image(name: str, image: Tensor, size: int) -> Tensor:
    """uint8 (..., H, W, 3) -> float (..., 3, size, size) in [-0.5, 0.5], resized with antialiasing
    (CALVIN's static camera is 200x200 and its gripper camera 84x84; DiWA uses 64x64)."""
    if image.dtype != torch.uint8 or image.ndim < 3 or image.shape[-1] != 3:
        raise ValueError(f"{name} must be uint8 (..., H, W, 3), got {image.dtype} {tuple(image.shape)}")
    lead = image.shape[:-3]
    x = image.reshape(-1, *image.shape[-3:]).permute(0, 3, 1, 2).float() / 255.0
    if x.shape[-2:] != (size, size):
        x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return (x - 0.5).reshape(*lead, 3, size, size)
