"""Simulator evaluation during fine-tuning, and the `evaluation.json` the promotion gate reads.

Evaluation runs the policy closed loop in the simulator with the shared harness (paired, seeded
start states; deterministic policy; 72-step limit; the run's action delay). Its simulator steps are
counted separately from anything used for learning: DiWA's claim is that fine-tuning itself needs
none.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from diwa.atomic import write_atomically
from diwa.eval.harness import DEFAULT_MAX_STEPS, SkillReport, evaluate
from diwa.eval.stats import paired_gain_interval
from diwa.policy.closed_loop import ClosedLoopAgent
from diwa.policy.policy import DiffusionPolicy
from diwa.world_model.model import WorldModel

EVALUATION_FILE = "evaluation.json"


class SimulatorEvaluator:
    """Success rate of a policy on `episodes` seeded episodes of `skill`, its actions `action_delay`
    control periods late.

    Each evaluation gets a fresh simulator, as `diwa eval` does: one reused across evaluations
    carries physics state from earlier episodes into later ones (docs/results/seed_sets/README.md).
    """

    def __init__(self, skill: str, episodes: int, seed: int, model: WorldModel | None, action_delay: int) -> None:
        if episodes < 1:
            raise ValueError(f"evaluation needs at least one episode, got {episodes}")
        self.skill, self.episodes, self.seed, self.model = skill, episodes, seed, model
        self.action_delay = action_delay

    def __call__(self, policy: DiffusionPolicy) -> SkillReport:
        agent = ClosedLoopAgent(policy.on_cpu(), self.model, self.seed, self.action_delay)
        return evaluate(agent, self.skill, self.episodes, self.seed, DEFAULT_MAX_STEPS, progress=False)


def write_evaluation(
    directory: Path, skill: str, final: SkillReport, base: SkillReport, base_checkpoint: str, extra: dict[str, Any]
) -> Path:
    """Write the paired before/after result beside the fine-tuned checkpoint saved in `directory`
    (atomically), bound to its weights by their sha256: the promotion gate refuses an evaluation of
    other weights."""
    if (final.seed, final.episodes) != (base.seed, base.episodes):
        raise ValueError("base and fine-tuned evaluations must use the same seed and episodes to be paired")
    outcomes = [int(r.success) for r in final.results]
    base_outcomes = [int(r.success) for r in base.results]
    gain, low, high = paired_gain_interval(base_outcomes, outcomes)
    weights = json.loads((directory / "policy.json").read_text())["weights"]["sha256"]
    document = {
        "skill": skill,
        "policy_sha256": weights,
        "success_rate": final.success_rate,
        "base_success_rate": base.success_rate,
        "episodes": final.episodes,
        "seed": final.seed,
        "base_checkpoint": base_checkpoint,
        "ci95": list(final.interval),
        "base_ci95": list(base.interval),
        "gain": gain,
        "gain_ci95": [low, high],
        # Per episode, 1 for a success: what a paired comparison across runs and seed sets needs.
        "outcomes": outcomes,
        "base_outcomes": base_outcomes,
        **extra,
    }
    path = directory / EVALUATION_FILE
    write_atomically(path, (json.dumps(document, indent=1) + "\n").encode())
    return path
