"""The DDPM noise schedule and every quantity derived from it, in float64 numpy.

Timestep t runs 0..K-1; x_t is the chunk after t+1 noising steps, so the forward process gives
q(x_t | x_0) = N(sqrt(abar_t) x_0, (1 - abar_t) I), and denoising the chunk at timestep t yields
x_{t-1} (x_{-1} being the clean action chunk). Keeping these tables in one place, in double
precision, lets the tests check them against the textbook formulas and lets the sampler and the
fine-tuner read the same numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

MAX_BETA = 0.999
"""Betas are capped below 1 so that the noisiest step never destroys the signal completely."""


def cosine_betas(steps: int, offset: float = 0.008) -> np.ndarray:
    """Cosine schedule (Nichol & Dhariwal 2021): abar(t) = cos^2(((t/K) + s) / (1 + s) * pi/2).

    It adds noise slowly at both ends, which suits the short chains (20 steps) that DiWA samples.
    """
    if steps < 1:
        raise ValueError(f"a diffusion schedule needs at least one step, got {steps}")
    grid = np.arange(steps + 1, dtype=np.float64) / steps
    abar = np.cos((grid + offset) / (1.0 + offset) * math.pi / 2.0) ** 2
    abar = abar / abar[0]
    return np.clip(1.0 - abar[1:] / abar[:-1], 0.0, MAX_BETA)


@dataclass(frozen=True)
class DDPMSchedule:
    betas: np.ndarray
    alphas: np.ndarray
    alphas_cumprod: np.ndarray
    alphas_cumprod_prev: np.ndarray
    sqrt_alphas_cumprod: np.ndarray
    sqrt_one_minus_alphas_cumprod: np.ndarray
    sqrt_recip_alphas_cumprod: np.ndarray
    sqrt_recipm1_alphas_cumprod: np.ndarray
    posterior_variance: np.ndarray
    posterior_log_variance_clipped: np.ndarray
    posterior_mean_coef1: np.ndarray
    posterior_mean_coef2: np.ndarray

    @property
    def steps(self) -> int:
        return int(self.betas.shape[0])

    @property
    def posterior_std_clipped(self) -> np.ndarray:
        return np.exp(0.5 * self.posterior_log_variance_clipped)

    @classmethod
    def from_betas(cls, betas: np.ndarray) -> DDPMSchedule:
        betas = np.asarray(betas, dtype=np.float64)
        if betas.ndim != 1 or not np.all((betas > 0) & (betas < 1)):
            raise ValueError("betas must be a 1-d array with values in (0, 1)")
        alphas = 1.0 - betas
        abar = np.cumprod(alphas)
        abar_prev = np.concatenate([[1.0], abar[:-1]])
        variance = betas * (1.0 - abar_prev) / (1.0 - abar)
        return cls(
            betas=betas,
            alphas=alphas,
            alphas_cumprod=abar,
            alphas_cumprod_prev=abar_prev,
            sqrt_alphas_cumprod=np.sqrt(abar),
            sqrt_one_minus_alphas_cumprod=np.sqrt(1.0 - abar),
            sqrt_recip_alphas_cumprod=np.sqrt(1.0 / abar),
            sqrt_recipm1_alphas_cumprod=np.sqrt(1.0 / abar - 1.0),
            posterior_variance=variance,
            # The posterior variance of the last step (t = 0) is exactly 0; its log is clipped so
            # that the table stays finite. Sampling floors the std anyway (docs/reference.md §2).
            posterior_log_variance_clipped=np.log(np.maximum(variance, 1e-20)),
            posterior_mean_coef1=betas * np.sqrt(abar_prev) / (1.0 - abar),
            posterior_mean_coef2=(1.0 - abar_prev) * np.sqrt(alphas) / (1.0 - abar),
        )

    @classmethod
    def cosine(cls, steps: int) -> DDPMSchedule:
        return cls.from_betas(cosine_betas(steps))

    def ddim(self, steps: int, eta: float) -> DDIMSubsequence:
        """The DDIM sub-sequence of `steps` evenly spaced timesteps, noisiest first."""
        if not 1 <= steps <= self.steps:
            raise ValueError(f"DDIM needs 1..{self.steps} steps, got {steps}")
        stride = self.steps // steps
        timesteps = np.arange(0, stride * steps, stride)[::-1].copy()
        abar = self.alphas_cumprod[timesteps]
        abar_prev = np.concatenate([abar[1:], [1.0]])
        sigmas = eta * np.sqrt((1.0 - abar_prev) / (1.0 - abar) * (1.0 - abar / abar_prev))
        return DDIMSubsequence(timesteps=timesteps, alphas_cumprod=abar, alphas_cumprod_prev=abar_prev, sigmas=sigmas)


@dataclass(frozen=True)
class DDIMSubsequence:
    """DDIM (Song et al. 2021) over a subset of the DDPM timesteps, noisiest first.

    `alphas_cumprod_prev[i]` is abar at the next (less noisy) timestep of the sub-sequence, 1 after
    the last one; `sigmas` = eta * sqrt((1 - abar_prev)/(1 - abar) * (1 - abar/abar_prev)).
    """

    timesteps: np.ndarray
    alphas_cumprod: np.ndarray
    alphas_cumprod_prev: np.ndarray
    sigmas: np.ndarray
