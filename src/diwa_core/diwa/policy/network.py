"""The networks of a DiWA skill: the epsilon-predicting denoiser and the critic used by PPO.

Both are residual MLPs with Mish activations, the shape DiWA fine-tunes ([512]x3 on the
world-model latent in the paper, smaller in the quick profile), so a policy pretrained here can
be handed to the denoising-MDP fine-tuner unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn


class ResidualBlock(nn.Module):
    """Two pre-activation linear layers around a skip connection."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.first = nn.Linear(width, width)
        self.second = nn.Linear(width, width)
        self.activation = nn.Mish()

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h + self.second(self.activation(self.first(self.activation(h))))


class ResidualMLP(nn.Module):
    """Linear lift to the width, (len(widths) - 1) / 2 residual blocks, then Mish and a linear head."""

    def __init__(self, in_dim: int, widths: Sequence[int], out_dim: int) -> None:
        super().__init__()
        if len(widths) % 2 != 1 or len(set(widths)) != 1:
            raise ValueError(f"a residual MLP needs an odd number of equal widths, got {list(widths)}")
        width = widths[0]
        self.lift = nn.Linear(in_dim, width)
        self.blocks = nn.ModuleList(ResidualBlock(width) for _ in range(len(widths) // 2))
        self.activation = nn.Mish()
        self.head = nn.Linear(width, out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.lift(x)
        for block in self.blocks:
            h = block(h)
        return self.head(self.activation(h))


class SinusoidalEmbedding(nn.Module):
    """Transformer-style sin/cos features of the integer denoising timestep."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        half = dim // 2
        frequencies = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32) / max(half - 1, 1))
        # Not persistent: it is a constant of the architecture, not a learned weight.
        self.register_buffer("frequencies", frequencies, persistent=False)

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        angles = t.to(torch.float32)[:, None] * self.frequencies[None, :]
        return torch.cat([angles.sin(), angles.cos()], dim=-1)


class EpsilonMLP(nn.Module):
    """Predicts the noise in a noisy action chunk x_t given the timestep t and the conditioning.

    Input = flattened chunk (horizon * action_dim) + time embedding + conditioning vector.
    """

    def __init__(self, horizon: int, action_dim: int, cond_dim: int, widths: Sequence[int], time_dim: int = 16) -> None:
        super().__init__()
        self.horizon = horizon
        self.action_dim = action_dim
        self.cond_dim = cond_dim
        self.time_embedding = nn.Sequential(
            SinusoidalEmbedding(time_dim),
            nn.Linear(time_dim, 2 * time_dim),
            nn.Mish(),
            nn.Linear(2 * time_dim, time_dim),
        )
        self.body = ResidualMLP(horizon * action_dim + time_dim + cond_dim, widths, horizon * action_dim)

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """x: (B, horizon, action_dim); t: (B,) integer timesteps; cond: (B, cond_dim)."""
        batch = x.shape[0]
        inputs = torch.cat([x.reshape(batch, -1), self.time_embedding(t), cond], dim=-1)
        return self.body(inputs).view(batch, self.horizon, self.action_dim)


class Critic(nn.Module):
    """State value V(s) on the conditioning vector, for PPO over the denoising MDP."""

    def __init__(self, cond_dim: int, widths: Sequence[int]) -> None:
        super().__init__()
        self.body = ResidualMLP(cond_dim, widths, 1)

    def forward(self, cond: torch.Tensor) -> torch.Tensor:
        return self.body(cond).squeeze(-1)
