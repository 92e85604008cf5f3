"""The recurrent state-space model at the heart of the world model (DreamerV2 style).

A state has a deterministic part h (a GRU state carrying history) and a stochastic part z
(`stoch_vars` categorical variables with `stoch_classes` classes each, as one-hot vectors).
The prior p(z_t | h_t) predicts z from history alone and is what imagination samples; the
posterior q(z_t | h_t, o_t) also sees the observation and is what filtering uses. Samples use
straight-through gradients so the encoder is trained through the discrete latent.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from diwa.world_model.config import RSSMConfig


class RSSMState(NamedTuple):
    """deter (..., deter), logits (..., vars, classes), stoch (..., vars * classes) one-hot."""

    deter: Tensor
    logits: Tensor
    stoch: Tensor

    def features(self) -> Tensor:
        """concat(h, z): the latent the policy, the critic and the reward classifier read."""
        return torch.cat([self.deter, self.stoch], dim=-1)

    def index(self, item: int | slice | Tensor | tuple) -> RSSMState:
        return RSSMState(*(x[item] for x in self))


def stack_states(states: list[RSSMState], dim: int = 1) -> RSSMState:
    return RSSMState(*(torch.stack(parts, dim=dim) for parts in zip(*states, strict=True)))


class LayerNormGRUCell(nn.Module):
    """GRU cell with layer norm on the gate pre-activations; the update gate is biased towards
    keeping the old state (-1), which keeps long rollouts stable early in training."""

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.linear = nn.Linear(input_size + hidden_size, 3 * hidden_size, bias=False)
        self.norm = nn.LayerNorm(3 * hidden_size)

    def forward(self, x: Tensor, h: Tensor) -> Tensor:
        # Functional calls of the submodules: see Dense.
        norm = self.norm
        gates = F.layer_norm(
            F.linear(torch.cat([x, h], dim=-1), self.linear.weight),
            norm.normalized_shape,
            norm.weight,
            norm.bias,
            norm.eps,
        )
        reset, candidate, update = gates.chunk(3, dim=-1)
        reset = torch.sigmoid(reset)
        candidate = torch.tanh(reset * candidate)
        update = torch.sigmoid(update - 1.0)
        return update * candidate + (1.0 - update) * h


class Dense(nn.Sequential):
    """Linear (no bias), LayerNorm, ELU: DreamerV2's hidden layer.

    It stays a Sequential, so its parameters keep their checkpoint names, but forward applies the
    three as functions: calling them as modules costs a few per cent of an imagination step on CPU.
    """

    def __init__(self, inputs: int, outputs: int) -> None:
        super().__init__(nn.Linear(inputs, outputs, bias=False), nn.LayerNorm(outputs), nn.ELU())

    def forward(self, x: Tensor) -> Tensor:
        linear, norm, activation = self
        normed = F.layer_norm(F.linear(x, linear.weight), norm.normalized_shape, norm.weight, norm.bias, norm.eps)
        return F.elu(normed, activation.alpha)


class RSSM(nn.Module):
    def __init__(self, config: RSSMConfig, embed_dim: int, action_dim: int = 7) -> None:
        super().__init__()
        self.config = config
        self.action_dim = action_dim
        self.img_in = Dense(config.stoch + action_dim, config.hidden)
        self.gru = LayerNormGRUCell(config.hidden, config.deter)
        self.prior_net = nn.Sequential(Dense(config.deter, config.hidden), nn.Linear(config.hidden, config.stoch))
        self.post_net = nn.Sequential(
            Dense(config.deter + embed_dim, config.hidden), nn.Linear(config.hidden, config.stoch)
        )
        self.start_net = nn.Sequential(nn.Linear(embed_dim, config.deter), nn.Tanh()) if config.learned_start else None

    def start_prior(self, embed: Tensor, generator: torch.Generator | None = None) -> RSSMState:
        """Prior of the first step of an episode (or training window), before its posterior.

        DreamerV2 starts from the all-zero state with a zero action, so the first observation
        reaches the state only through the categorical z. With `learned_start`, the deterministic
        state is instead computed from the first observation's embedding, so a state encoded from
        a single observation (every imagined rollout starts from one) is as precise as a state
        filtered over many steps.
        """
        if self.start_net is not None:
            deter = self.start_net(embed)
            logits, probs = self._distribution(self.prior_net(deter))
            return RSSMState(deter, logits, self._sample(logits, generator, probs=probs))
        c = self.config
        batch = embed.shape[:-1]
        zero = RSSMState(
            embed.new_zeros(*batch, c.deter),
            embed.new_zeros(*batch, c.stoch_vars, c.stoch_classes),
            embed.new_zeros(*batch, c.stoch),
        )
        return self.img_step(zero, embed.new_zeros(*batch, self.action_dim), generator)

    def _distribution(self, raw: Tensor) -> tuple[Tensor, Tensor]:
        """(logits, probabilities) of the (optionally uniform-mixed) categoricals."""
        logits = raw.reshape(*raw.shape[:-1], self.config.stoch_vars, self.config.stoch_classes)
        probs = F.softmax(logits, dim=-1)
        if self.config.unimix > 0:
            probs = (1.0 - self.config.unimix) * probs + self.config.unimix / self.config.stoch_classes
            logits = torch.log(probs)
        return logits, probs

    def _sample(
        self,
        logits: Tensor,
        generator: torch.Generator | None,
        temperature: float = 1.0,
        probs: Tensor | None = None,
    ) -> Tensor:
        """One-hot sample with straight-through gradient (forward: the sample; backward: the
        probabilities).

        Sampled by inverting the cumulative distribution with one uniform number per variable:
        per-class random numbers (Gumbel-max) made random-number generation the most expensive
        part of an imagination step on CPU. `probs`, the probabilities `_distribution` returned
        with the logits, spare recomputing softmax(logits) at temperature 1: the same distribution
        (they differ by float rounding only, where the mix is taken before the log).
        """
        if temperature <= 0:
            raise ValueError(f"sampling temperature must be positive, got {temperature}")
        if probs is None or temperature != 1.0:
            probs = F.softmax(logits if temperature == 1.0 else logits / temperature, dim=-1)
        uniform = torch.rand((*logits.shape[:-1], 1), generator=generator, device=logits.device)
        index = (probs.cumsum(-1) <= uniform).sum(-1, keepdim=True).clamp_max(self.config.stoch_classes - 1)
        sample = torch.zeros_like(logits).scatter_(-1, index, 1.0)
        if logits.requires_grad:
            sample = sample + probs - probs.detach()
        return sample.reshape(*sample.shape[:-2], self.config.stoch)

    def img_step(
        self,
        state: RSSMState,
        action: Tensor,
        generator: torch.Generator | None = None,
        temperature: float = 1.0,
    ) -> RSSMState:
        """Prior transition: advance h with the previous z and the action, then sample z from
        the prior. Temperature 1 samples the prior as learned (DiWA's imagination setting);
        lower values sharpen it."""
        deter = self.gru(self.img_in(torch.cat([state.stoch, action], dim=-1)), state.deter)
        logits, probs = self._distribution(self.prior_net(deter))
        return RSSMState(deter, logits, self._sample(logits, generator, temperature, probs))

    def obs_step(
        self,
        state: RSSMState | None,
        action: Tensor,
        embed: Tensor,
        generator: torch.Generator | None = None,
    ) -> tuple[RSSMState, RSSMState]:
        """(posterior, prior) after taking `action` in `state` and then observing `embed`;
        state None marks the first step of an episode (the action is then ignored)."""
        prior = self.start_prior(embed, generator) if state is None else self.img_step(state, action, generator)
        logits, probs = self._distribution(self.post_net(torch.cat([prior.deter, embed], dim=-1)))
        post = RSSMState(prior.deter, logits, self._sample(logits, generator, probs=probs))
        return post, prior

    def observe(
        self,
        embeds: Tensor,
        prev_actions: Tensor,
        state: RSSMState | None,
        generator: torch.Generator | None = None,
    ) -> tuple[RSSMState, RSSMState]:
        """Filter (B, T, E) embeddings; prev_actions[:, t] is the action that led into step t.
        With state None the sequence starts an episode. Returns posterior and prior states with
        leading dims (B, T)."""
        posts, priors = [], []
        for t in range(embeds.shape[1]):
            post, prior = self.obs_step(state, prev_actions[:, t], embeds[:, t], generator)
            state = post
            posts.append(post)
            priors.append(prior)
        return stack_states(posts), stack_states(priors)

    def imagine(
        self,
        state: RSSMState,
        actions: Tensor,
        generator: torch.Generator | None = None,
        temperature: float = 1.0,
    ) -> RSSMState:
        """Roll the prior forward through (B, T, 7) actions; returns the T prior states (B, T)."""
        states = []
        for t in range(actions.shape[1]):
            state = self.img_step(state, actions[:, t], generator, temperature)
            states.append(state)
        return stack_states(states)


def categorical_kl(lhs_logits: Tensor, rhs_logits: Tensor) -> Tensor:
    """KL(lhs || rhs) of independent categoricals, summed over the variables."""
    lhs_log = F.log_softmax(lhs_logits, dim=-1)
    rhs_log = F.log_softmax(rhs_logits, dim=-1)
    return (lhs_log.exp() * (lhs_log - rhs_log)).sum(dim=(-2, -1))


def balanced_kl(post_logits: Tensor, prior_logits: Tensor, balance: float) -> tuple[Tensor, Tensor]:
    """KL balancing: balance x KL(sg(post) || prior) + (1 - balance) x KL(post || sg(prior)).

    With balance 0.8 the prior moves towards the posterior faster than the posterior is pulled
    towards a still-poor prior. Returns (loss term, plain KL value for logging), both per step.
    """
    prior_term = categorical_kl(post_logits.detach(), prior_logits)
    post_term = categorical_kl(post_logits, prior_logits.detach())
    return balance * prior_term + (1.0 - balance) * post_term, categorical_kl(post_logits, prior_logits).detach()
