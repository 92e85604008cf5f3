"""Exponential moving average of network weights: the weights a pretrained diffusion policy ships.

Averaging over the last few hundred updates removes the step-to-step jitter of the denoiser,
which shows up as jerky actions. DiWA uses decay 0.995.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class EMA:
    def __init__(self, network: nn.Module, decay: float = 0.995) -> None:
        if not 0 <= decay < 1:
            raise ValueError(f"EMA decay must lie in [0, 1), got {decay}")
        self.decay = decay
        self.updates = 0
        self.network = copy.deepcopy(network).eval()
        self.network.requires_grad_(False)

    def effective_decay(self) -> float:
        """Warm-up: (1 + n) / (10 + n) caps the decay early on, so a short quick-profile run is
        not dominated by the random initial weights (0.995^200 is still 37 %)."""
        return min(self.decay, (1 + self.updates) / (10 + self.updates))

    @torch.no_grad()
    def update(self, network: nn.Module) -> None:
        weight = 1.0 - self.effective_decay()
        for averaged, current in zip(self.network.parameters(), network.parameters(), strict=True):
            averaged.lerp_(current.detach(), weight)
        self.updates += 1
