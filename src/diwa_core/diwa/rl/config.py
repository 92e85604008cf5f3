"""Typed configuration of RL fine-tuning, loaded from `diwa/configs/finetune_<profile>.yaml`.

One config drives both fine-tuners: DiWA in imagination (`diwa finetune`) and the model-free DPPO
baseline in the simulator (`diwa finetune-online`); they share the PPO and rollout sections so the
two differ only in where the transitions come from. Loading is strict (unknown or missing keys
raise) and the whole config is stored in every fine-tuning checkpoint, so a resumed run can refuse
to continue under different settings.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from diwa.command_delay import check_periods
from diwa.skills import EPISODE_STEP_LIMIT
from diwa.typed_config import ProfileConfig, optional

PROFILES: tuple[str, ...] = ("quick", "paper")


@dataclass(frozen=True)
class PPOConfig:
    """PPO over the denoising MDP; DiWA's values in docs/reference.md §1 (DPPO's algorithm, docs/reference.md §2).

    `batch_size` counts (env step x denoising step) transitions. `target_kl` None disables the
    early stop. `max_grad_norm` clips the actor's and the critic's gradients separately.

    `base_kl_coef` is our addition (0 = DiWA as published): it adds that multiple of the KL from
    each fine-tuned denoising step to the frozen base's (per chunk element) to the actor's loss, a
    trust region around the behaviour-cloned policy. PPO's clip only bounds each iteration's step;
    in imagination the steps add up until the policy leaves the states the world model knows.

    `bootstrap_truncated` true values an episode cut by the step limit with the critic's value of
    its last state, as if it went on. The default, false, treats the limit as the end of the task:
    success within 72 steps is what evaluation counts. With gamma 0.999 per chunk, bootstrapping
    makes a truncated episode worth almost a success (with 45 % of episodes succeeding the critic
    settles near 0.98 of the success reward everywhere), which left PPO nearly nothing but noise to
    follow (docs/results/finetune_stability_quick_wm50k_nearmiss/).
    """

    ft_denoising_steps: int = 10
    gamma: float = 0.999
    gae_lambda: float = 0.95
    gamma_denoising: float = 0.99
    clip_first: float = 0.001
    clip_last: float = 0.01
    clip_rate: float = 3.0
    actor_lr: float = 1e-5
    critic_lr: float = 1e-3
    weight_decay: float = 0.0
    update_epochs: int = 10
    batch_size: int = 7500
    vf_coef: float = 0.5
    target_kl: float | None = 1.0
    max_grad_norm: float = 1.0
    critic_warmup_iterations: int = 2
    normalize_advantages: bool = True
    reward_scaling: bool = True
    base_kl_coef: float = 0.0
    bootstrap_truncated: bool = False

    def __post_init__(self) -> None:
        if self.ft_denoising_steps < 1 or self.update_epochs < 1 or self.batch_size < 2:
            raise ValueError("ppo.ft_denoising_steps and update_epochs must be positive, batch_size at least 2")
        for name in ("gamma", "gae_lambda", "gamma_denoising"):
            if not 0.0 < getattr(self, name) <= 1.0:
                raise ValueError(f"ppo.{name} must lie in (0, 1], got {getattr(self, name)}")
        if not 0.0 < self.clip_first <= self.clip_last < 1.0:
            raise ValueError("ppo clip coefficients need 0 < clip_first <= clip_last < 1")
        if self.clip_rate <= 0:
            raise ValueError(f"ppo.clip_rate must be positive, got {self.clip_rate}")
        if min(self.actor_lr, self.critic_lr, self.max_grad_norm) <= 0 or self.weight_decay < 0:
            raise ValueError("ppo learning rates and max_grad_norm must be positive, weight_decay non-negative")
        if self.vf_coef <= 0 or self.critic_warmup_iterations < 0:
            raise ValueError("ppo.vf_coef must be positive and critic_warmup_iterations non-negative")
        if self.target_kl is not None and (isinstance(self.target_kl, bool) or self.target_kl <= 0):
            raise ValueError(f"ppo.target_kl must be positive or null, got {self.target_kl!r}")
        if not 0.0 <= self.base_kl_coef < math.inf:
            raise ValueError(f"ppo.base_kl_coef must be finite and non-negative, got {self.base_kl_coef}")


@dataclass(frozen=True)
class RolloutConfig:
    """Parallel episodes and chunks collected per PPO iteration (DiWA: 50 x 36 chunks of 4 actions);
    an episode is truncated after `max_episode_steps` primitive steps (72 = 18 chunks).

    `action_delay` (our addition; DiWA has none) is the control periods between an observation and
    the arm executing the action computed from it, as in a real-time loop
    (docs/results/execute_vs_offline/): the rollouts and the simulator evaluations of a run apply it.
    """

    num_envs: int = 50
    chunks_per_iteration: int = 36
    max_episode_steps: int = EPISODE_STEP_LIMIT
    action_delay: int = optional(0, "runs before the delay existed stored no key; 0 is what they did")

    def __post_init__(self) -> None:
        if min(self.num_envs, self.chunks_per_iteration, self.max_episode_steps) < 1:
            raise ValueError("rollout.num_envs, chunks_per_iteration and max_episode_steps must be positive")
        check_periods(self.action_delay)


@dataclass(frozen=True)
class ImaginationConfig:
    """World-model rollouts: prior temperature (DiWA: 1.0) and the start frames taken from each
    recorded episode (its first `start_frames` frames)."""

    temperature: float = 1.0
    start_frames: int = 1

    def __post_init__(self) -> None:
        if self.temperature <= 0 or self.start_frames < 1:
            raise ValueError("imagination.temperature and start_frames must be positive")


@dataclass(frozen=True)
class GuardConfig:
    """The model-error guard (our addition; DiWA has none), see guard.py.

    An ensemble of `members` one-step predictors of the next observation is fitted on real
    transitions; where they disagree more than the `quantile` of their disagreement on held-out
    real data times `scale`, imagination is judged unreliable: the rollout ends there with reward
    `halt_reward`, and a success the classifier reports in that chunk is not credited.
    """

    enabled: bool = False
    members: int = 5
    hidden: int = 256
    epochs: int = 10
    batch_size: int = 256
    lr: float = 1e-3
    quantile: float = 0.99
    scale: float = 1.5
    halt_reward: float = 0.0

    def __post_init__(self) -> None:
        if self.members < 2:
            raise ValueError(f"guard.members must be at least 2 to measure disagreement, got {self.members}")
        if min(self.hidden, self.epochs, self.batch_size) < 1 or self.lr <= 0:
            raise ValueError("guard.hidden, epochs, batch_size and lr must be positive")
        if not 0.5 <= self.quantile < 1.0 or self.scale <= 0:
            raise ValueError("guard.quantile must lie in [0.5, 1) and guard.scale be positive")
        if self.halt_reward > 0:
            raise ValueError(f"guard.halt_reward must not be positive (it must not pay), got {self.halt_reward}")


@dataclass(frozen=True)
class RunConfig:
    """Length of a run and its side activities: checkpoints and simulator evaluations (the latter
    every `eval_every` iterations, 0 = only before and after; `eval_episodes` paired episodes)."""

    iterations: int = 800
    checkpoint_every: int = 25
    eval_every: int = 0
    eval_episodes: int = 100

    def __post_init__(self) -> None:
        if min(self.iterations, self.checkpoint_every) < 1 or self.eval_every < 0 or self.eval_episodes < 0:
            raise ValueError("run.iterations and checkpoint_every must be positive, eval settings non-negative")


@dataclass(frozen=True)
class FinetuneConfig(ProfileConfig):
    FILE_PREFIX: ClassVar[str] = "finetune"
    PROFILES: ClassVar[tuple[str, ...]] = PROFILES

    profile: str
    ppo: PPOConfig
    rollout: RolloutConfig
    imagination: ImaginationConfig
    guard: GuardConfig
    run: RunConfig

    def replace(self, section: str, **changes: Any) -> FinetuneConfig:
        """A copy with some fields of one section changed (command-line overrides)."""
        return dataclasses.replace(self, **{section: dataclasses.replace(getattr(self, section), **changes)})


def load_finetune_config(profile_or_path: str | Path) -> FinetuneConfig:
    """A shipped profile ('quick', 'paper') or a YAML file by path."""
    return FinetuneConfig.load(profile_or_path)
