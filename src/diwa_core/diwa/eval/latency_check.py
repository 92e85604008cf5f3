"""The latency check: is a fine-tuned policy still no worse than its base policy in a real-time loop?

Fine-tuning's evaluation runs each action at once. A real-time loop executes it one or two control
periods later, and that lifts most BC policies while the fine-tuned ones stay where they were, so a
gain can vanish or turn into a loss in the loop (docs/results/delay_finetune/: turn_on_lightbulb
+17 points at once, -12 two periods late). `check_latency` replays both policies on the same paired
episodes as the run's evaluation.json with each delay and writes `latency.json` beside it, bound to
both policies' weights; the promotion gate refuses a policy worse than its base at any delay checked.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from diwa.atomic import write_atomically
from diwa.command_delay import check_periods
from diwa.eval.harness import DEFAULT_MAX_STEPS, SkillReport, evaluate
from diwa.eval.stats import paired_gain_interval
from diwa.policy.checkpoint import load_policy
from diwa.policy.closed_loop import ClosedLoopAgent, world_model_of
from diwa.policy.policy import DiffusionPolicy
from diwa.promotion import EVALUATION_FILE, LATENCY_FILE
from diwa.released import resolve


def weights_sha256(checkpoint: Path) -> str:
    return str(json.loads((checkpoint / "policy.json").read_text())["weights"]["sha256"])


def check_latency(run: str | Path, delays: Sequence[int], base: str | Path | None = None) -> dict[str, Any]:
    """Evaluate the fine-tuned policy in `run` and its base policy with each of `delays` control
    periods of command delay, on the episodes of the run's evaluation.json; write latency.json."""
    root = resolve(run)
    delays = sorted({check_periods(d) for d in delays})
    if not delays:
        raise ValueError("name at least one delay to check")
    evaluation_path = root / EVALUATION_FILE
    if not evaluation_path.is_file():
        raise FileNotFoundError(f"{root} has no {EVALUATION_FILE}: the latency check replays its episodes")
    try:
        evaluation = json.loads(evaluation_path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{evaluation_path} is not valid JSON ({err})") from err
    tuned = load_policy(root)
    if tuned.finetuned is None:
        raise ValueError(f"{root} holds no fine-tuned policy")
    try:
        seed, episodes = int(evaluation["seed"]), int(evaluation["episodes"])
        # A release renames the base to its release name in the policy's provenance, not in evaluation.json.
        base = base or tuned.provenance.get("base_checkpoint") or evaluation["base_checkpoint"]
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"{evaluation_path} is malformed (missing or bad {err})") from err
    skill, policy_sha = tuned.skill, weights_sha256(root)
    if evaluation.get("policy_sha256") != policy_sha:
        raise ValueError(f"{evaluation_path} judged other weights than the checkpoint's")
    base_path = resolve(base)
    if not (base_path / "policy.json").is_file():
        raise FileNotFoundError(f"base policy {base_path} does not exist; name it with --base")
    base_sha = weights_sha256(base_path)
    recorded = evaluation.get("base_policy_sha256") or tuned.provenance.get("base_weights_sha256")
    if recorded is not None and recorded != base_sha:
        raise ValueError(f"{base_path} is not the base policy {root} was fine-tuned from (weights differ)")

    # One world model for both, the fine-tuned run's, as fine-tuning's own evaluation has it.
    model = world_model_of(tuned, root)
    base_policy = load_policy(base_path)

    def run_at(policy: DiffusionPolicy, delay: int) -> SkillReport:
        agent = ClosedLoopAgent(policy.on_cpu(), model, seed, delay)
        return evaluate(agent, skill, episodes, seed, DEFAULT_MAX_STEPS, progress=False)

    results: dict[str, Any] = {}
    for delay in delays:
        after, before = run_at(tuned, delay), run_at(base_policy, delay)
        outcomes = [int(r.success) for r in after.results]
        base_outcomes = [int(r.success) for r in before.results]
        gain, low, high = paired_gain_interval(base_outcomes, outcomes)
        results[str(delay)] = {
            "success_rate": after.success_rate,
            "base_success_rate": before.success_rate,
            "gain": gain,
            "gain_ci95": [low, high],
            "outcomes": outcomes,
            "base_outcomes": base_outcomes,
        }
    document = {
        "skill": skill,
        "policy_sha256": policy_sha,
        "base_policy_sha256": base_sha,
        "seed": seed,
        "episodes": episodes,
        "delays": results,
    }
    write_atomically(root / LATENCY_FILE, (json.dumps(document, indent=1) + "\n").encode())
    return document
