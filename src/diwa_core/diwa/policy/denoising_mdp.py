"""The denoising chain as an MDP: every denoising step is a Gaussian policy N(mu, sigma).

This is the file to read for the log-probability that PPO over the denoising chain (DPPO, DiWA)
optimises. Steps are addressed by their *position* in the chain: position 0 is the noisiest step
and maps chain[0] = x_K (pure noise) to chain[1]; the last position maps to chain[-1], the action
chunk. A fine-tuner

  (a) runs the first positions with a frozen base network and the last `finetuned_steps` with a
      trainable copy (`sample(..., finetuned=copy, finetuned_steps=10)`),
  (b) keeps the chain that `sample(..., return_chain=True)` returns, and
  (c) recomputes `log_prob(copy, chain[:, i], chain[:, i + 1], i, cond)` for stored transitions
      under the network being trained, and may measure how far a step has moved from the frozen
      base with `kl(mean, base_mean, i)`.

All chunks live in normalised action space ([-1, 1] per dimension); see normalizer.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch
from torch import nn

from diwa.policy.config import DiffusionConfig
from diwa.policy.network import EpsilonMLP, SamplingEpsilon
from diwa.policy.schedule import DDPMSchedule

_LOG_SQRT_2PI = 0.5 * float(np.log(2.0 * np.pi))


@dataclass(frozen=True)
class StepGaussian:
    """The distribution of the next chunk at one denoising step, and the clean chunk it aims at."""

    mean: torch.Tensor
    std: torch.Tensor
    x0: torch.Tensor


@dataclass(frozen=True)
class ChainSample:
    """Result of running the chain. `actions` is chain[:, -1] (normalised, clipped to the final clip).

    With return_chain: `chain` (B, n+1, H, A) from x_K to the action chunk, `means` (B, n, H, A) the
    Gaussian mean of every step and `stds` (n,) the std actually used to sample each step.
    """

    actions: torch.Tensor
    chain: torch.Tensor | None = None
    means: torch.Tensor | None = None
    stds: torch.Tensor | None = None


class DenoisingMDP:
    """Per-step Gaussians, sampling and log-probabilities of a DDPM or DDIM denoising chain.

    Every step has the form  x0_hat = clip(a * x - b * eps),  mean = c1 * x0_hat + c2 * x, so DDPM
    and DDIM share one code path and differ only in the per-position coefficient table:

    - DDPM (timestep t): a = 1/sqrt(abar_t), b = sqrt(1/abar_t - 1); (c1, c2) are the posterior mean
      coefficients of q(x_{t-1} | x_t, x0); the std is the clipped posterior std.
    - DDIM: the predicted x0 is clipped, eps is re-derived from it, and
      mean = sqrt(abar_prev) x0_hat + sqrt(1 - abar_prev - sigma^2) eps, which expands to the same
      form; the std is the eta-based sigma.
    """

    def __init__(self, config: DiffusionConfig) -> None:
        self.config = config
        schedule = DDPMSchedule.cosine(config.steps)
        self.schedule = schedule
        if config.sampler == "ddpm":
            timesteps = np.arange(config.steps)[::-1].copy()
            a = schedule.sqrt_recip_alphas_cumprod[timesteps]
            b = schedule.sqrt_recipm1_alphas_cumprod[timesteps]
            c1 = schedule.posterior_mean_coef1[timesteps]
            c2 = schedule.posterior_mean_coef2[timesteps]
            std = schedule.posterior_std_clipped[timesteps]
        else:
            ddim = schedule.ddim(config.ddim_steps, config.ddim_eta)
            timesteps = ddim.timesteps
            abar, abar_prev, std = ddim.alphas_cumprod, ddim.alphas_cumprod_prev, ddim.sigmas
            a = 1.0 / np.sqrt(abar)
            b = np.sqrt(1.0 / abar - 1.0)
            direction = np.sqrt(np.maximum(1.0 - abar_prev - std**2, 0.0))
            c2 = direction / np.sqrt(1.0 - abar)
            c1 = np.sqrt(abar_prev) - c2 * np.sqrt(abar)
        self.timesteps = torch.as_tensor(timesteps, dtype=torch.long)
        # (n, 4): a, b, c1, c2 per position, gathered in one indexing op per step.
        self._coefficients = torch.as_tensor(np.stack([a, b, c1, c2], axis=1), dtype=torch.float32)
        self.step_stds = torch.as_tensor(std, dtype=torch.float32)
        self._sampling_stds = self.step_stds.clamp(min=config.min_sampling_std)
        self._logprob_stds = self.step_stds.clamp(min=config.min_logprob_std)
        self._eval_stds = self._evaluation_stds()
        self._index_positions()

    def _index_positions(self) -> None:
        # The coefficients as 0-d tensors per position, for the sampler's loop: no indexing per step.
        self._position_coefficients = [tuple(row.unbind(0)) for row in self._coefficients]

    def to(self, device: str | torch.device) -> DenoisingMDP:
        """Move the coefficient tables to `device` (where the networks run), in place."""
        for name in ("timesteps", "_coefficients", "step_stds", "_sampling_stds", "_logprob_stds", "_eval_stds"):
            setattr(self, name, getattr(self, name).to(device))
        self._index_positions()
        return self

    @property
    def num_steps(self) -> int:
        return int(self.timesteps.shape[0])

    def _evaluation_stds(self) -> torch.Tensor:
        """DiWA's evaluation (docs/reference.md §1 'std 0 at the last step', as in DPPO): DDPM keeps sampling
        the earlier steps with their own posterior std (floored at eval_min_std) and takes the mean
        at the last step; DDIM takes the mean at every step. DDPM evaluation is therefore still
        random (seeded), and only its last step is noise-free."""
        if self.config.sampler == "ddim":
            return torch.zeros_like(self.step_stds)
        stds = self.step_stds.clamp(min=self.config.eval_min_std)
        stds[-1] = 0.0
        return stds

    def sampling_stds(self, deterministic: bool) -> torch.Tensor:
        """The std each position samples with: exploration floor, or DiWA's evaluation setting."""
        return self._eval_stds if deterministic else self._sampling_stds

    def step_gaussian(
        self, network: nn.Module, x: torch.Tensor, position: int | torch.Tensor, cond: torch.Tensor
    ) -> StepGaussian:
        """The Gaussian of chain[position + 1] given x = chain[position]; `position` is an int or a
        (B,) tensor of positions (a minibatch of stored transitions from different steps).

        `std` is the step's own (unfloored) std; samplers and log_prob apply their floors to it.
        """
        batch = x.shape[0]
        if isinstance(position, int):
            if not 0 <= position < self.num_steps:
                raise ValueError(f"denoising position {position} outside 0..{self.num_steps - 1}")
            a, b, c1, c2 = self._coefficients[position]
            t = self.timesteps[position].expand(batch)
            std = self.step_stds[position]
        else:
            if position.shape != (batch,):
                raise ValueError(f"positions must have shape ({batch},), got {tuple(position.shape)}")
            coefficients = self._coefficients[position][:, :, None, None]
            a, b, c1, c2 = coefficients.unbind(1)
            t = self.timesteps[position]
            std = self.step_stds[position][:, None, None]
        x0, mean = self._denoise(x, network(x, t, cond), a, b, c1, c2)
        return StepGaussian(mean=mean, std=std, x0=x0)

    def _denoise(
        self, x: torch.Tensor, eps: torch.Tensor, a: torch.Tensor, b: torch.Tensor, c1: torch.Tensor, c2: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(x0_hat, mean) of one step: x0_hat = clip(a x - b eps), mean = c1 x0_hat + c2 x."""
        clip = self.config.x0_clip
        x0 = (a * x - b * eps).clamp(-clip, clip)
        return x0, c1 * x0 + c2 * x

    def log_prob(
        self,
        network: nn.Module,
        x: torch.Tensor,
        x_next: torch.Tensor,
        position: int | torch.Tensor,
        cond: torch.Tensor,
    ) -> torch.Tensor:
        """log N(x_next; mu(x, position, cond), max(std, min_logprob_std)), clamped per element to
        [logprob_min, logprob_max] and summed over the chunk: shape (B,). Differentiable w.r.t.
        the network's parameters."""
        return self.gaussian_log_prob(self.step_gaussian(network, x, position, cond).mean, x_next, position)

    def gaussian_log_prob(self, mean: torch.Tensor, x_next: torch.Tensor, position: int | torch.Tensor) -> torch.Tensor:
        """log_prob for a step mean already computed (a caller that needs the mean too)."""
        std = self._logprob_std(position)
        z = (x_next - mean) / std
        per_element = -0.5 * z**2 - torch.log(std) - _LOG_SQRT_2PI
        per_element = per_element.clamp(self.config.logprob_min, self.config.logprob_max)
        return per_element.sum(dim=(-2, -1))

    def kl(self, mean: torch.Tensor, reference_mean: torch.Tensor, position: int | torch.Tensor) -> torch.Tensor:
        """KL(N(mean, s) || N(reference_mean, s)) of one step, summed over the chunk: (B,).

        s is the std log_prob uses, so this measures the same Gaussians PPO's ratios compare; with
        equal stds the divergence is symmetric, 0.5 ((mean - reference_mean) / s)^2 per element.
        """
        z = (mean - reference_mean) / self._logprob_std(position)
        return 0.5 * z.square().sum(dim=(-2, -1))

    def _logprob_std(self, position: int | torch.Tensor) -> torch.Tensor:
        std = self._logprob_stds[position]
        return std if isinstance(position, int) else std[:, None, None]

    def sample(
        self,
        network: nn.Module,
        cond: torch.Tensor,
        generator: torch.Generator | None = None,
        *,
        deterministic: bool = False,
        return_chain: bool = False,
        finetuned: nn.Module | None = None,
        finetuned_steps: int = 0,
    ) -> ChainSample:
        """Run the chain from x_K ~ N(0, I) (unclipped) for a batch of conditioning vectors.

        Each step draws noise clipped to [-noise_clip, noise_clip]; the last step's output is
        clipped to [-final_action_clip, final_action_clip]. The last `finetuned_steps` positions use
        `finetuned` instead of `network`. No gradients are tracked. To sample many batches with
        the same networks, prepare a ChainSampler once instead.
        """
        sampler = ChainSampler(self, network, finetuned, finetuned_steps)
        return sampler.sample(cond, generator, deterministic=deterministic, return_chain=return_chain)


class NoisePredictor(Protocol):
    """A noise-prediction network prepared for a chain's timesteps (see ChainSampler)."""

    def condition(self, cond: torch.Tensor) -> torch.Tensor:
        """Whatever the predictor keeps of a conditioning batch."""

    def __call__(self, x: torch.Tensor, k: int, conditioned: torch.Tensor, /) -> torch.Tensor:
        """eps for x at the k-th prepared timestep, given what `condition` kept."""


class _CalledNetwork:
    """Any noise-prediction module, called as network(x, t, cond) at every step."""

    def __init__(self, network: nn.Module, timesteps: torch.Tensor) -> None:
        self.network = network
        self.timesteps = timesteps

    def condition(self, cond: torch.Tensor) -> torch.Tensor:
        return cond

    def __call__(self, x: torch.Tensor, k: int, conditioned: torch.Tensor) -> torch.Tensor:
        return self.network(x, self.timesteps[k].expand(x.shape[0]), conditioned)


class ChainSampler:
    """The denoising chain of a base network and its fine-tuned copy, prepared once and then
    sampled for any number of conditioning batches.

    Preparing computes what does not depend on the conditioning: an EpsilonMLP becomes a
    SamplingEpsilon (each step's time embedding computed once); other modules are called as they
    are. The preparation holds while the networks' weights do not change, e.g. for one rollout.
    """

    def __init__(
        self, mdp: DenoisingMDP, network: nn.Module, finetuned: nn.Module | None = None, finetuned_steps: int = 0
    ) -> None:
        if not 0 <= finetuned_steps <= mdp.num_steps or (finetuned_steps > 0 and finetuned is None):
            raise ValueError(f"finetuned_steps must lie in 0..{mdp.num_steps} and needs a finetuned network")
        self.mdp = mdp
        first_finetuned = mdp.num_steps - finetuned_steps
        # (prepared network, its positions): the base runs the first positions, the copy the rest.
        self._segments: list[tuple[NoisePredictor, range]] = []
        for segment_network, positions in (
            (network, range(first_finetuned)),
            (finetuned, range(first_finetuned, mdp.num_steps)),
        ):
            if positions:
                timesteps = mdp.timesteps[positions.start : positions.stop]
                prepared = (
                    SamplingEpsilon(segment_network, timesteps)
                    if isinstance(segment_network, EpsilonMLP)
                    else _CalledNetwork(segment_network, timesteps)
                )
                self._segments.append((prepared, positions))

    def sample(
        self,
        cond: torch.Tensor,
        generator: torch.Generator | None = None,
        *,
        deterministic: bool = False,
        return_chain: bool = False,
    ) -> ChainSample:
        """DenoisingMDP.sample with the prepared networks.

        The chain runs in inference mode (no autograd bookkeeping per operation); what is returned
        is built outside it, so callers get ordinary tensors.
        """
        mdp, config = self.mdp, self.mdp.config
        shape = (cond.shape[0], config.horizon, config.action_dim)
        stds = mdp.sampling_stds(deterministic)
        step_stds, noisy = stds.unbind(0), (stds > 0).tolist()
        last = mdp.num_steps - 1
        with torch.inference_mode():
            x = torch.randn(shape, generator=generator, device=cond.device)
            chain, means = [x], []
            for predict, positions in self._segments:
                conditioned = predict.condition(cond)
                for k, position in enumerate(positions):
                    eps = predict(x, k, conditioned)
                    _, mean = mdp._denoise(x, eps, *mdp._position_coefficients[position])
                    if noisy[position]:
                        noise = torch.randn(shape, generator=generator, device=cond.device)
                        noise.clamp_(-config.noise_clip, config.noise_clip)
                        x = mean + step_stds[position] * noise
                    else:
                        x = mean
                    if position == last:
                        x = x.clamp(-config.final_action_clip, config.final_action_clip)
                    if return_chain:
                        chain.append(x)
                        means.append(mean)
        if not return_chain:
            return ChainSample(actions=x.clone())
        return ChainSample(
            actions=x.clone(), chain=torch.stack(chain, dim=1), means=torch.stack(means, dim=1), stds=stds.clone()
        )
