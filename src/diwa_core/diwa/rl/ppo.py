"""PPO over the denoising MDP (DPPO), the algorithm DiWA fine-tunes with. Read top to bottom.

Two MDPs are nested. Outside, an environment (imagined by the world model, or the simulator) takes
one action chunk per step and pays a reward. Inside, the diffusion policy produces that chunk by
a chain of denoising steps, each a Gaussian policy N(mu_theta(x_k, k, s), sigma_k) whose "action"
is the next, less noisy chunk. Only the last K denoising steps are trained (`ft_denoising_steps`:
DiWA trains 10 of 20), by a trainable copy of the network; the earlier steps keep the frozen
pretrained base. Every fine-tuned denoising step of every chunk is one PPO transition.

    1. clip_schedule / denoising_discounts   per-denoising-step constants
    2. RunningRewardScaler                   rewards divided by the std of the discounted return
    3. generalized_advantages                GAE over chunks (the outer MDP)
    4. clipped_surrogate                     the PPO policy loss of one minibatch
    5. DenoisingPPO.collect                  roll out the current policy in a ChunkEnv
    6. DenoisingPPO.minibatch_loss           the loss of one minibatch of (chunk x denoising step)
                                             transitions, optionally held near the base (base_kl)
       DenoisingPPO.update                   epochs of minibatches, one optimiser step each
    7. DenoisingPPO.iterate                  one iteration = 5 + advantages + 6, with its statistics

The environment side is a `ChunkEnv` (imagination.py, online.py); checkpoints, evaluation and
logging live in finetune.py.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from diwa.policy.network import Critic
from diwa.policy.policy import DiffusionPolicy
from diwa.rl.cached_condition import CachedConditionDenoiser
from diwa.rl.config import PPOConfig


class NonFiniteError(RuntimeError):
    """A NaN or infinity appeared in a rollout, a loss or the weights: the iteration is void."""


# --- the environment interface -------------------------------------------------------------------


@dataclass(frozen=True)
class ChunkStep:
    """What an environment returns for one action chunk of every parallel episode (all (B, ...)).

    `features` is what the policy sees next: a fresh episode's first features where an episode
    ended (environments reset automatically). `final_features` is what each transition ended in,
    the bootstrap state of a truncated episode. `success` marks terminations that count as task
    success; `steps` the primitive steps actually executed (fewer than the chunk on early success).
    """

    features: torch.Tensor
    final_features: torch.Tensor
    reward: torch.Tensor
    terminated: torch.Tensor
    truncated: torch.Tensor
    success: torch.Tensor
    steps: torch.Tensor


class ChunkEnv(Protocol):
    num_envs: int

    def reset(self) -> torch.Tensor:
        """Start a new episode in every slot; returns the (B, D) policy features."""

    def step(self, chunks: torch.Tensor) -> ChunkStep:
        """Execute (B, horizon, action_dim) chunks in action units (within [-1, 1])."""


# --- 1. constants per denoising step -------------------------------------------------------------


def clip_schedule(steps: int, first: float, last: float, rate: float) -> torch.Tensor:
    """PPO clip coefficient of each fine-tuned denoising step, index 0 the noisiest.

    It rises exponentially from `first` to `last`: early, noisy steps barely shape the action and
    their ratios are noisy, so they may move little; the last steps may move most.
    """
    if steps == 1:
        return torch.tensor([last])
    fraction = torch.arange(steps, dtype=torch.float64) / (steps - 1)
    growth = (torch.exp(rate * fraction) - 1.0) / math.expm1(rate)
    return (first + (last - first) * growth).float()


def denoising_discounts(steps: int, gamma_denoising: float) -> torch.Tensor:
    """Weight gamma_denoising^(K - i - 1) of the advantage at fine-tuned denoising step i: the
    chunk's reward arrives after the last denoising step, so earlier steps are further from it."""
    return torch.tensor([gamma_denoising ** (steps - i - 1) for i in range(steps)], dtype=torch.float32)


# --- 2. reward scaling ---------------------------------------------------------------------------


class RunningRewardScaler:
    """Divides rewards by the running standard deviation of the discounted return.

    A sparse success reward gives returns whose scale depends on how often the policy succeeds;
    scaling keeps the critic's targets and the advantages O(1) as the success rate changes. The
    mean is not removed, so the sign of a reward is kept.
    """

    def __init__(self, gamma: float, epsilon: float = 1e-8) -> None:
        self.gamma = gamma
        self.epsilon = epsilon
        self.count = 0
        self.mean = 0.0
        self.var = 1.0

    def __call__(self, rewards: torch.Tensor, done: torch.Tensor) -> torch.Tensor:
        """rewards, done: (T, B) of one rollout whose episodes all start at t = 0. The running
        statistics are kept in double precision on the CPU (not every device has float64)."""
        device, rewards, done = rewards.device, rewards.cpu(), done.cpu()
        running = torch.zeros(rewards.shape[1], dtype=torch.float64)
        returns = torch.empty(rewards.shape, dtype=torch.float64)
        for t in range(rewards.shape[0]):
            running = running * self.gamma + rewards[t].double()
            returns[t] = running
            running = running * (~done[t])
        self._update(returns.flatten())
        return (rewards.double() / math.sqrt(self.var + self.epsilon)).float().to(device)

    def _update(self, values: torch.Tensor) -> None:
        """Merge the batch's mean and variance into the running ones (Chan et al.)."""
        count = values.numel()
        mean, var = float(values.mean()), float(values.var(unbiased=False))
        total = self.count + count
        delta = mean - self.mean
        m2 = self.var * self.count + var * count + delta**2 * self.count * count / total
        self.mean += delta * count / total
        self.var = m2 / total
        self.count = total

    def state_dict(self) -> dict[str, float | int]:
        return {"count": self.count, "mean": self.mean, "var": self.var}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.count, self.mean, self.var = int(state["count"]), float(state["mean"]), float(state["var"])


# --- 3. advantages -------------------------------------------------------------------------------


def generalized_advantages(
    rewards: torch.Tensor,
    values: torch.Tensor,
    next_values: torch.Tensor,
    terminated: torch.Tensor,
    done: torch.Tensor,
    gamma: float,
    lam: float,
) -> torch.Tensor:
    """GAE over chunks; all inputs (T, B).

    next_values[t] is V of the state transition t ended in, so an episode cut short (by the end of
    the rollout) bootstraps from its real last state rather than from the next episode's start. An
    episode marked `terminated` has no future (its next value is dropped); any ended episode
    (`done`) stops the accumulation.
    """
    advantages = torch.zeros_like(rewards)
    running = torch.zeros_like(rewards[0])
    for t in reversed(range(rewards.shape[0])):
        delta = rewards[t] + gamma * next_values[t] * (~terminated[t]) - values[t]
        running = delta + gamma * lam * (~done[t]) * running
        advantages[t] = running
    return advantages


# --- 4. the policy loss --------------------------------------------------------------------------


def clipped_surrogate(
    new_logp: torch.Tensor, old_logp: torch.Tensor, advantages: torch.Tensor, clip: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """PPO's clipped objective as a loss, over (N,) transitions with per-transition clips.

    Returns (loss, approx_kl, clip_fraction): loss = mean(max(-A r, -A clip(r, 1 - c, 1 + c)))
    with r = exp(new - old); approx_kl = mean((r - 1) - log r), the low-variance estimator of
    KL(old || new); clip_fraction = share of transitions whose ratio left [1 - c, 1 + c].
    """
    log_ratio = new_logp - old_logp
    ratio = log_ratio.exp()
    unclipped = -advantages * ratio
    clipped = -advantages * ratio.clamp(1.0 - clip, 1.0 + clip)
    loss = torch.maximum(unclipped, clipped).mean()
    with torch.no_grad():
        approx_kl = ((ratio - 1.0) - log_ratio).mean()
        clip_fraction = ((ratio - 1.0).abs() > clip).float().mean()
    return loss, approx_kl, clip_fraction


# --- 5-7. the algorithm --------------------------------------------------------------------------


@dataclass
class Rollout:
    """One iteration's data, (T, B, ...) with T chunks of B parallel episodes."""

    cond: torch.Tensor  # (T, B, D) normalised policy conditioning
    next_cond: torch.Tensor  # (T, B, D) the same, of the state each transition ended in
    chains: torch.Tensor  # (T, B, K + 1, H, A) the fine-tuned part of each denoising chain
    old_logp: torch.Tensor  # (T, B, K) per-element mean log-probability of each fine-tuned step
    base_means: torch.Tensor  # (T, B, K, H, A) the frozen base's step means at the chains' states
    values: torch.Tensor  # (T, B) critic on cond
    next_values: torch.Tensor  # (T, B) critic on next_cond
    rewards: torch.Tensor  # (T, B) as the environment paid them
    terminated: torch.Tensor  # (T, B) bool
    done: torch.Tensor  # (T, B) bool: terminated or truncated
    episode_returns: list[float]  # episodes that ended within the rollout
    episode_steps: list[int]
    episode_successes: list[bool]
    episode_halts: list[bool]  # ended by the environment without success (the model-error guard)
    primitive_steps: int  # primitive environment (or imagined) steps executed


@dataclass(frozen=True)
class UpdateBatch:
    """A rollout flattened to (T*B, ...) transitions for the update."""

    cond: torch.Tensor
    chains: torch.Tensor
    old_logp: torch.Tensor
    base_means: torch.Tensor
    advantages: torch.Tensor
    returns: torch.Tensor

    @classmethod
    def flatten(cls, rollout: Rollout, advantages: torch.Tensor, returns: torch.Tensor) -> UpdateBatch:
        return cls(
            cond=rollout.cond.flatten(0, 1),
            chains=rollout.chains.flatten(0, 1),
            old_logp=rollout.old_logp.flatten(0, 1),
            base_means=rollout.base_means.flatten(0, 1),
            advantages=advantages.flatten(),
            returns=returns.flatten(),
        )


@dataclass(frozen=True)
class MinibatchLoss:
    """One minibatch's loss and its parts; the actor's parts are None during the critic warm-up."""

    loss: torch.Tensor
    value_loss: torch.Tensor
    policy_loss: torch.Tensor | None = None
    approx_kl: torch.Tensor | None = None
    clip_fraction: torch.Tensor | None = None
    base_kl: torch.Tensor | None = None
    ratio: torch.Tensor | None = None

    def statistics(self) -> dict[str, float | None]:
        names = ("value_loss", "policy_loss", "approx_kl", "clip_fraction", "base_kl", "ratio")
        values = {name: getattr(self, name) for name in names}
        return {name: None if value is None else float(value.detach()) for name, value in values.items()}


class RunningMeans:
    """Means over the update's minibatches of the statistics that were measured (not None)."""

    def __init__(self) -> None:
        self.count = 0
        self._sums: dict[str, float] = {}

    def add(self, values: dict[str, float | None]) -> None:
        self.count += 1
        for name, value in values.items():
            if value is not None:
                self._sums[name] = self._sums.get(name, 0.0) + value

    def result(self) -> dict[str, float]:
        return {name: total / self.count for name, total in self._sums.items()}


class DenoisingPPO:
    """Fine-tunes `policy.finetuned` (the last K denoising steps) and a critic with PPO."""

    def __init__(self, policy: DiffusionPolicy, critic: Critic, config: PPOConfig, seed: int) -> None:
        if policy.finetuned is None or policy.finetuned_steps != config.ft_denoising_steps:
            raise ValueError(
                f"PPO needs a policy with a trainable copy for its last {config.ft_denoising_steps} "
                f"denoising steps (DiffusionPolicy.with_finetuned_copy), got finetuned_steps={policy.finetuned_steps}"
            )
        if critic.body.lift.in_features != policy.feature_dim:
            raise ValueError(f"critic reads {critic.body.lift.in_features}-d features, policy {policy.feature_dim}-d")
        self.device = policy.device
        if next(critic.parameters()).device != self.device:
            raise ValueError(f"the critic is on {next(critic.parameters()).device}, the policy on {self.device}")
        self.policy = policy
        self.actor: nn.Module = policy.finetuned
        self.critic = critic
        self.config = config
        diffusion = policy.config.diffusion
        self.steps = config.ft_denoising_steps
        self.first_position = policy.mdp.num_steps - self.steps
        # DPPO's log-probability is the mean over the chunk's elements, not the sum, so the clip
        # coefficients mean the same whatever the chunk size.
        self.chunk_elements = diffusion.horizon * diffusion.action_dim
        self.clips = clip_schedule(self.steps, config.clip_first, config.clip_last, config.clip_rate).to(self.device)
        self.discounts = denoising_discounts(self.steps, config.gamma_denoising).to(self.device)
        self.actor_optimizer = torch.optim.AdamW(
            self.actor.parameters(), lr=config.actor_lr, weight_decay=config.weight_decay
        )
        self.critic_optimizer = torch.optim.AdamW(
            critic.parameters(), lr=config.critic_lr, weight_decay=config.weight_decay
        )
        self.reward_scaler = RunningRewardScaler(config.gamma) if config.reward_scaling else None
        self.generator = torch.Generator(device=self.device).manual_seed(seed)
        self.iteration = 0

    # 5. ------------------------------------------------------------------------------------------
    def log_prob(
        self, actor: CachedConditionDenoiser, x: torch.Tensor, x_next: torch.Tensor, step: int | torch.Tensor
    ) -> torch.Tensor:
        """Per-element mean log-probability of fine-tuned denoising step `step` (0 = noisiest
        fine-tuned step) under the trainable network, viewed through `actor`; (N,)."""
        position = self.first_position + step
        return self.policy.mdp.log_prob(actor, x, x_next, position, actor.cond) / self.chunk_elements

    @torch.no_grad()
    def collect(self, env: ChunkEnv, chunks: int) -> Rollout:
        """Run `chunks` chunks in every parallel episode of `env`, starting all episodes afresh,
        then score the stored chains (old log-probabilities) and states (values)."""
        rollout = self.play(env, chunks)
        self.score(rollout)
        return rollout

    @torch.no_grad()
    def play(self, env: ChunkEnv, chunks: int) -> Rollout:
        """The rollout itself; log-probabilities and values are left empty for score()."""
        policy, batch = self.policy, env.num_envs
        conds, chains, next_conds, rewards, terminated, done = [], [], [], [], [], []
        episode_returns: list[float] = []
        episode_steps: list[int] = []
        episode_successes: list[bool] = []
        episode_halts: list[bool] = []
        running_return = torch.zeros(batch, device=self.device)
        running_steps = torch.zeros(batch, dtype=torch.long, device=self.device)
        primitive_steps = 0
        # The base runs the first denoising steps, the trainable copy (self.actor) the last K; the
        # weights stay fixed during the rollout, so the chain is prepared once.
        sampler = policy.sampler()
        cond = policy.condition(env.reset())
        for _ in range(chunks):
            sample = sampler.sample(cond, self.generator, return_chain=True)
            actions = policy.action_normalizer.unnormalize(sample.actions).clamp(-1.0, 1.0)
            step = env.step(actions)
            if not (torch.isfinite(step.reward).all() and torch.isfinite(step.final_features).all()):
                raise NonFiniteError("the environment returned a non-finite reward or state")
            ended = step.terminated | step.truncated
            conds.append(cond)
            chains.append(sample.chain[:, self.first_position :])
            next_cond = policy.condition(step.final_features)
            next_conds.append(next_cond)
            rewards.append(step.reward.float())
            terminated.append(step.terminated)
            done.append(ended)
            primitive_steps += int(step.steps.sum())
            running_return += step.reward
            running_steps += step.steps
            for i in torch.nonzero(ended).flatten().tolist():
                episode_returns.append(float(running_return[i]))
                episode_steps.append(int(running_steps[i]))
                episode_successes.append(bool(step.success[i]))
                episode_halts.append(bool(step.terminated[i] and not step.success[i]))
            running_return[ended] = 0.0
            running_steps[ended] = 0
            # Where no episode restarted, an environment may hand back its final features as the
            # next ones: their conditioning is then already computed.
            cond = next_cond if step.features is step.final_features else policy.condition(step.features)
        empty = torch.empty(0, device=self.device)
        return Rollout(
            cond=torch.stack(conds),
            next_cond=torch.stack(next_conds),
            chains=torch.stack(chains),
            old_logp=empty,
            base_means=empty,
            values=empty,
            next_values=empty,
            rewards=torch.stack(rewards),
            terminated=torch.stack(terminated),
            done=torch.stack(done),
            episode_returns=episode_returns,
            episode_steps=episode_steps,
            episode_successes=episode_successes,
            episode_halts=episode_halts,
            primitive_steps=primitive_steps,
        )

    @torch.no_grad()
    def score(self, rollout: Rollout) -> None:
        """Fill in the old log-probabilities (under the network that sampled them), the frozen
        base's step means (fixed for the whole update, so computed once) and the values."""
        chunks, batch = rollout.cond.shape[:2]
        cond = rollout.cond.flatten(0, 1)
        chains = rollout.chains.flatten(0, 1)
        actor = CachedConditionDenoiser(self.actor, cond)
        rollout.old_logp = torch.stack(
            [self.log_prob(actor, chains[:, i], chains[:, i + 1], i) for i in range(self.steps)], dim=1
        ).view(chunks, batch, self.steps)
        base = CachedConditionDenoiser(self.policy.base, cond)
        mdp = self.policy.mdp
        rollout.base_means = torch.stack(
            [mdp.step_gaussian(base, chains[:, i], self.first_position + i, base.cond).mean for i in range(self.steps)],
            dim=1,
        ).view(chunks, batch, self.steps, *chains.shape[-2:])
        rollout.values = self.critic(cond).view(chunks, batch)
        rollout.next_values = self.critic(rollout.next_cond.flatten(0, 1)).view(chunks, batch)
        scored = (rollout.old_logp, rollout.base_means, rollout.values, rollout.next_values)
        if not all(torch.isfinite(x).all() for x in scored):
            raise NonFiniteError("non-finite log-probabilities or values in the rollout")

    def advantages(self, rollout: Rollout) -> tuple[torch.Tensor, torch.Tensor]:
        """(advantages, critic targets), both (T, B), from the (scaled) rewards."""
        rewards = rollout.rewards
        if self.reward_scaler is not None:
            rewards = self.reward_scaler(rewards, rollout.done)
        config = self.config
        # Without bootstrapping, the step limit ends the task: no value is left after it.
        no_future = rollout.terminated if config.bootstrap_truncated else rollout.done
        advantages = generalized_advantages(
            rewards,
            rollout.values,
            rollout.next_values,
            no_future,
            rollout.done,
            config.gamma,
            config.gae_lambda,
        )
        return advantages, advantages + rollout.values

    # 6. ------------------------------------------------------------------------------------------
    def minibatch_loss(self, batch: UpdateBatch, index: torch.Tensor, train_actor: bool) -> MinibatchLoss:
        """The PPO loss of one minibatch of (chunk x fine-tuned denoising step) transitions: the
        critic's value loss, plus, once the actor trains, the clipped surrogate and the KL to the
        frozen base (a penalty when base_kl_coef > 0, otherwise only measured)."""
        config, mdp = self.config, self.policy.mdp
        sample, step = index // self.steps, index % self.steps
        # A chunk recurs with several denoising steps: run each state's share once.
        states, rows = torch.unique(sample, return_inverse=True)
        value_loss = 0.5 * (self.critic(batch.cond[states])[rows] - batch.returns[sample]).square().mean()
        if not train_actor:
            return MinibatchLoss(config.vf_coef * value_loss, value_loss)
        actor = CachedConditionDenoiser(self.actor, batch.cond[states], rows)
        x, position = batch.chains[sample, step], self.first_position + step
        mean = mdp.step_gaussian(actor, x, position, actor.cond).mean
        new_logp = mdp.gaussian_log_prob(mean, batch.chains[sample, step + 1], position) / self.chunk_elements
        advantages = batch.advantages[sample]
        if config.normalize_advantages:
            advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
        advantages = advantages * self.discounts[step]
        old_logp = batch.old_logp[sample, step]
        policy_loss, approx_kl, clip_fraction = clipped_surrogate(new_logp, old_logp, advantages, self.clips[step])
        tuned_mean = mean if config.base_kl_coef > 0 else mean.detach()
        base_kl = mdp.kl(tuned_mean, batch.base_means[sample, step], position).mean() / self.chunk_elements
        loss = config.vf_coef * value_loss + policy_loss + config.base_kl_coef * base_kl
        ratio = (new_logp.detach() - old_logp).exp().mean()
        return MinibatchLoss(loss, value_loss, policy_loss, approx_kl, clip_fraction, base_kl, ratio)

    def update(self, rollout: Rollout, advantages: torch.Tensor, returns: torch.Tensor) -> dict[str, float]:
        """Epochs of minibatches drawn uniformly over (chunk x fine-tuned denoising step); an epoch
        stops early once the approximate KL passes target_kl.

        During the critic warm-up only the critic learns: its first targets come from a critic
        that knows nothing, and actor steps taken on those advantages would be noise.
        """
        config = self.config
        batch = UpdateBatch.flatten(rollout, advantages, returns)
        total = len(batch.cond) * self.steps
        batch_size = min(config.batch_size, total)
        train_actor = self.iteration >= config.critic_warmup_iterations
        means = RunningMeans()
        epochs_done, stopped_early = 0, False
        for _ in range(config.update_epochs):
            order = torch.randperm(total, generator=self.generator, device=self.device)
            for b in range(total // batch_size):
                losses = self.minibatch_loss(batch, order[b * batch_size : (b + 1) * batch_size], train_actor)
                if not torch.isfinite(losses.loss):
                    raise NonFiniteError(f"non-finite loss in update minibatch {means.count}")
                critic_norm, actor_norm = self._step(losses.loss, train_actor)
                means.add(losses.statistics() | {"critic_grad_norm": critic_norm, "actor_grad_norm": actor_norm})
                if train_actor and config.target_kl is not None and float(losses.approx_kl) > config.target_kl:
                    stopped_early = True
                    break
            epochs_done += 1
            if stopped_early:
                break
        for module in (self.actor, self.critic):
            if not all(torch.isfinite(p).all() for p in module.parameters()):
                raise NonFiniteError("the update produced non-finite weights")
        residual = batch.returns - rollout.values.flatten()
        variance = batch.returns.var()
        return means.result() | {
            "explained_variance": float(1.0 - residual.var() / variance) if variance > 0 else 0.0,
            "epochs": float(epochs_done),
            "minibatches": float(means.count),
            "stopped_early": float(stopped_early),
            "actor_updated": float(train_actor),
        }

    def _step(self, loss: torch.Tensor, train_actor: bool) -> tuple[float, float | None]:
        """One optimiser step on both networks (the actor's only once it trains); the gradient norms
        before clipping."""
        self.actor_optimizer.zero_grad(set_to_none=True)
        self.critic_optimizer.zero_grad(set_to_none=True)
        loss.backward()
        critic_norm = float(nn.utils.clip_grad_norm_(self.critic.parameters(), self.config.max_grad_norm))
        self.critic_optimizer.step()
        if not train_actor:
            return critic_norm, None
        actor_norm = float(nn.utils.clip_grad_norm_(self.actor.parameters(), self.config.max_grad_norm))
        self.actor_optimizer.step()
        return critic_norm, actor_norm

    # 7. ------------------------------------------------------------------------------------------
    def iterate(self, env: ChunkEnv, chunks: int) -> dict[str, float]:
        """One PPO iteration; returns its statistics (see finetune.py for what is logged)."""
        started = time.perf_counter()
        rollout = self.collect(env, chunks)
        collected = time.perf_counter()
        advantages, returns = self.advantages(rollout)
        stats = self.update(rollout, advantages, returns)
        self.iteration += 1
        episodes = len(rollout.episode_returns)
        stats |= {
            "episodes": float(episodes),
            "success_rate": float(np.mean(rollout.episode_successes)) if episodes else 0.0,
            "halt_rate": float(np.mean(rollout.episode_halts)) if episodes else 0.0,
            "episode_return": float(np.mean(rollout.episode_returns)) if episodes else 0.0,
            "episode_steps": float(np.mean(rollout.episode_steps)) if episodes else 0.0,
            "reward_per_chunk": float(rollout.rewards.mean()),
            "primitive_steps": float(rollout.primitive_steps),
            "advantage_std": float(advantages.std()),
            "rollout_s": collected - started,
            "update_s": time.perf_counter() - collected,
        }
        if self.reward_scaler is not None:
            stats["reward_scale"] = 1.0 / math.sqrt(self.reward_scaler.var + self.reward_scaler.epsilon)
        return stats

    # --- resume ----------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Everything that evolves during training, for exact resumption (weights included)."""
        return {
            "actor": copy.deepcopy(self.actor.state_dict()),
            "critic": copy.deepcopy(self.critic.state_dict()),
            "actor_optimizer": copy.deepcopy(self.actor_optimizer.state_dict()),
            "critic_optimizer": copy.deepcopy(self.critic_optimizer.state_dict()),
            "reward_scaler": self.reward_scaler.state_dict() if self.reward_scaler is not None else {},
            "generator": self.generator.get_state(),
            "iteration": self.iteration,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.actor.load_state_dict(state["actor"])
        self.critic.load_state_dict(state["critic"])
        self.actor_optimizer.load_state_dict(state["actor_optimizer"])
        self.critic_optimizer.load_state_dict(state["critic_optimizer"])
        if self.reward_scaler is not None:
            self.reward_scaler.load_state_dict(state["reward_scaler"])
        self.generator.set_state(state["generator"])
        self.iteration = int(state["iteration"])
