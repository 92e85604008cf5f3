"""A verdict on a fine-tuned skill from world models alone: did it improve, before any robot runs it?

Imagined success cannot say: PPO maximised it, and where the model is wrong (fingers that miss the
drawer handle while the model opens the drawer anyway) the fine-tuned policy is rewarded for
failing. Two checks therefore have to agree.

- In the model the policy was fine-tuned in, the base (BC) and the fine-tuned policy run the same
  seeded imagined episodes (same start frames, same latent noise), and only successes that the
  model error guard trusts count: an episode whose transitions the guard's ensemble disagrees on
  beyond its threshold before the classifier's success counts as a failure.
- An independent world model (trained on other play, or with another seed) and its own reward
  classifier run the same pairing. PPO never saw this model, so errors it exploited in the first
  are not paid again here; its gain must clear INDEPENDENT_MARGIN with 95 % confidence. A policy
  conditioned on its own model's latent reads there what its model filters from the independent
  model's imagined observations, as on the robot (conditioning.FilteredReader).

    improved   the trusted gain's interval lies above zero and the independent gain's above the margin
    worse      either interval lies below zero
    uncertain  otherwise, and always without an independent model: the training model's verdict
               alone called every regression measured "improved" (docs/results/verdict_cross_model)

How often it agrees with the simulator is measured, not assumed: docs/results/verdict_cross_model.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from diwa.action_semantics import CommandedTarget
from diwa.atomic import write_atomically
from diwa.command_delay import CommandDelay, hold_actions
from diwa.eval.stats import paired_gain_interval
from diwa.policy.policy import DiffusionPolicy
from diwa.rl.conditioning import FilteredReader
from diwa.rl.guard import ModelErrorGuard
from diwa.rl.imagination import PolicyReader, StartStates
from diwa.sim.obs_layout import TCP_POS
from diwa.world_model.model import WorldModel
from diwa.world_model.reward import RewardClassifier

VERDICT_FILE = "verdict.json"
VERDICTS = ("improved", "worse", "uncertain")
INDEPENDENT_MARGIN = 0.05
"""Gain the independent model must see with 95 % confidence; fixed on seed sets 41 and 53 before
set 67 tested it (docs/results/verdict_cross_model)."""


@dataclass(frozen=True)
class ImaginedOutcomes:
    """Per imagined episode: the classifier's success, whether the guard distrusted the episode
    before that success (or at all, for a failure), and the largest disagreement met."""

    success: np.ndarray
    distrusted: np.ndarray
    disagreement: np.ndarray

    @property
    def trusted_success(self) -> np.ndarray:
        return self.success & ~self.distrusted

    def summary(self) -> dict[str, float]:
        return {
            "imagined_success": float(self.success.mean()),
            "trusted_success": float(self.trusted_success.mean()),
            "distrusted": float(self.distrusted.mean()),
            "disagreement_median": float(np.median(self.disagreement)),
        }


@torch.no_grad()
def imagine_episodes(
    model: WorldModel,
    reward: RewardClassifier,
    starts: StartStates,
    policy: DiffusionPolicy,
    reader: PolicyReader | FilteredReader,
    guard: ModelErrorGuard | None,
    episodes: int,
    seed: int,
    max_steps: int,
    temperature: float = 1.0,
    action_delay: int = 0,
) -> ImaginedOutcomes:
    """`episodes` imagined episodes of `policy` run side by side to success or `max_steps`, seeded so
    that two policies meet the same start frames and the same latent noise. The policy acts as on the
    robot: deterministic denoising, each action `action_delay` control periods late. Without a guard
    no episode is distrusted. A FilteredReader (a latent policy in another model) is kept in step."""
    if episodes < 2:
        raise ValueError(f"a verdict needs at least 2 imagined episodes, got {episodes}")
    model, reward = model.eval(), reward.eval()
    generator = torch.Generator().manual_seed(seed)
    policy_generator = torch.Generator().manual_seed(seed + 1)
    index = torch.randint(len(starts), (episodes,), generator=generator)
    state = starts.encode(model, index, generator)
    filtered = reader if isinstance(reader, FilteredReader) else None
    if filtered is not None:
        filtered.begin(index, seed + 2)
    robot_obs = starts.robot_obs(index)
    target = CommandedTarget(robot_obs[:, TCP_POS])
    delay = CommandDelay(action_delay, hold_actions(robot_obs))
    success = torch.zeros(episodes, dtype=torch.bool)
    distrusted = torch.zeros(episodes, dtype=torch.bool)
    worst = torch.zeros(episodes)
    ended = torch.zeros(episodes, dtype=torch.bool)
    steps = 0
    while steps < max_steps and not bool(ended.all()):
        chunk = torch.from_numpy(policy.predict_chunk(reader(state), policy_generator, deterministic=True))
        actions = target.effective(delay.delay(chunk))
        for t in range(actions.shape[1]):
            if guard is not None:
                level = guard.disagreement(state.features(), actions[:, t])
                worst = torch.where(ended, worst, torch.maximum(worst, level))
                distrusted |= ~ended & (level > guard.threshold)
            state = model.step(state, actions[:, t], generator, temperature)
            if filtered is not None:
                filtered.observe(state, actions[:, t])
        steps += actions.shape[1]
        now = (reward.reward(state.features()) > 0) & ~ended
        success |= now
        ended |= now
    return ImaginedOutcomes(success.numpy(), distrusted.numpy(), worst.numpy())


def _paired(base: np.ndarray, tuned: np.ndarray) -> tuple[float, float, float]:
    return paired_gain_interval(base.astype(int).tolist(), tuned.astype(int).tolist())


def judge(
    base: ImaginedOutcomes,
    tuned: ImaginedOutcomes,
    independent: tuple[ImaginedOutcomes, ImaginedOutcomes] | None = None,
) -> dict[str, Any]:
    """The verdict and its evidence from paired imagined outcomes of the base and fine-tuned policy
    in the training model, and (base, fine-tuned) in an independent model when there is one."""
    gain, low, high = _paired(base.trusted_success, tuned.trusted_success)
    document: dict[str, Any] = {
        "trusted_gain": gain,
        "trusted_gain_ci95": [low, high],
        "episodes": len(base.success),
        "base": base.summary(),
        "finetuned": tuned.summary(),
        "independent": None,
    }
    worse = high < 0
    confirmed = False
    if independent is not None:
        other_gain, other_low, other_high = _paired(independent[0].success, independent[1].success)
        document["independent"] = {
            "gain": other_gain,
            "gain_ci95": [other_low, other_high],
            "margin": INDEPENDENT_MARGIN,
            "base_success": float(independent[0].success.mean()),
            "finetuned_success": float(independent[1].success.mean()),
        }
        worse = worse or other_high < 0
        confirmed = other_low > INDEPENDENT_MARGIN
    document["verdict"] = "worse" if worse else "improved" if low > 0 and confirmed else "uncertain"
    return document


def write_verdict(directory: Path, document: dict[str, Any]) -> Path:
    path = directory / VERDICT_FILE
    write_atomically(path, (json.dumps(document, indent=1) + "\n").encode())
    return path


def read_verdict(directory: Path) -> dict[str, Any] | None:
    """The verdict stored beside a fine-tuned checkpoint, or None when it has none."""
    path = Path(directory) / VERDICT_FILE
    if not path.is_file():
        return None
    document = json.loads(path.read_text())
    if document.get("verdict") not in VERDICTS:
        raise ValueError(f"{path}: verdict must be one of {VERDICTS}, got {document.get('verdict')!r}")
    return document
