"""The promotion gate: may this fine-tuned checkpoint drive a real arm?

Evidence is bound to the exact weights it judged. A fine-tuned checkpoint directory carries
`evaluation.json` (the paired simulator evaluation, written by fine-tuning) and may carry
`verdict.json` (the world model's pre-deployment verdict, `diwa verdict`). Either names the sha256
of the weights it judged and of the base policy they were fine-tuned from; weights changed since,
another skill, too few episodes, or malformed or non-finite numbers are refused. The simulator's
evaluation decides when it exists (fine-tuned success no lower than the base policy's on the same
episodes), and so does `latency.json` when `diwa latency-check` wrote one: the same comparison with
the command delay of a real-time loop (eval/latency_check.py); without an evaluation, only an
"improved" verdict promotes. `diwa promote` and the policy node apply this same function.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from diwa.released import resolve

EVALUATION_FILE = "evaluation.json"
LATENCY_FILE = "latency.json"
VERDICT_FILE = "verdict.json"
POLICY_FILE = "policy.json"
DEFAULT_MIN_EPISODES = 100
"""The fine-tuning profiles evaluate on 100 paired episodes; fewer give a 95 % interval wider than
+-10 points, too wide to tell a better skill from a worse one."""


@dataclass(frozen=True)
class PromotionDecision:
    allowed: bool
    reason: str
    evidence: str
    """"simulator", "world_model" or "none"."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class _RefusedError(Exception):
    """Internal: the evidence is unusable, with the reason."""


def judge_checkpoint(checkpoint: str | Path, min_episodes: int = DEFAULT_MIN_EPISODES) -> PromotionDecision:
    """Whether `checkpoint` may drive a real arm, and why."""
    root = resolve(checkpoint)  # a release name or a path
    root = root.parent if root.name == POLICY_FILE else root
    try:
        skill, weights_sha, base_sha = _checkpoint_identity(root)
        evaluation = _read_json(root / EVALUATION_FILE)
        if evaluation is not None:
            decision = _judge_evaluation(evaluation, skill, weights_sha, base_sha, min_episodes)
            latency = _read_json(root / LATENCY_FILE)
            if not decision.allowed or latency is None:
                return decision
            return _judge_latency(latency, skill, weights_sha, base_sha, min_episodes, decision)
        verdict = _read_json(root / VERDICT_FILE)
        if verdict is not None:
            return _judge_verdict(verdict, skill, weights_sha, base_sha)
    except _RefusedError as refusal:
        return PromotionDecision(False, str(refusal), "none")
    return PromotionDecision(
        False,
        f"it was never judged: no simulator evaluation ({EVALUATION_FILE}) and no verdict ({VERDICT_FILE})",
        "none",
    )


def _checkpoint_identity(root: Path) -> tuple[str, str, str | None]:
    """(skill, sha256 of the weights as they are on disk, the base policy's recorded sha256)."""
    meta = _read_json(root / POLICY_FILE)
    if meta is None:
        raise _RefusedError(f"{root} holds no policy checkpoint ({POLICY_FILE})")
    try:
        weights = root / meta["weights"]["file"]
        recorded = meta["weights"]["sha256"]
        skill = meta["skill"]
        finetuned = int(meta["finetuned_steps"]) > 0
    except (KeyError, TypeError, ValueError) as err:
        raise _RefusedError(f"its {POLICY_FILE} is malformed (missing or bad {err})") from err
    if not finetuned:
        raise _RefusedError("it is not a fine-tuned checkpoint (a behaviour-cloned policy has no evaluation to pass)")
    if not weights.is_file():
        raise _RefusedError(f"its weights file {weights.name} is missing")
    actual = hashlib.sha256(weights.read_bytes()).hexdigest()
    if actual != recorded:
        raise _RefusedError(f"its weights do not match the sha256 in its {POLICY_FILE} (changed or corrupt)")
    base = meta.get("provenance", {}).get("base_weights_sha256")
    return str(skill), actual, base if isinstance(base, str) else None


def _read_json(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        document = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise _RefusedError(f"its {path.name} is not valid JSON ({err})") from err
    if not isinstance(document, dict):
        raise _RefusedError(f"its {path.name} is not a JSON object")
    return document


def _bound(document: dict[str, Any], name: str, skill: str, weights_sha: str, base_sha: str | None) -> None:
    """Refuse evidence about another skill or other weights."""
    if document.get("skill") != skill:
        raise _RefusedError(f"its {name} judged skill {document.get('skill')!r}, but the checkpoint is {skill!r}")
    judged = document.get("policy_sha256")
    if judged is None:
        raise _RefusedError(
            f"its {name} does not name the weights it judged (written before evidence was bound to weights)"
        )
    if judged != weights_sha:
        raise _RefusedError(f"its {name} judged other weights ({str(judged)[:12]}), not these ({weights_sha[:12]})")
    judged_base = document.get("base_policy_sha256")
    if base_sha is not None and judged_base != base_sha:
        raise _RefusedError(
            f"its {name} compared against another base policy ({str(judged_base)[:12]}, not {base_sha[:12]})"
        )


def _rate(document: dict[str, Any], key: str, name: str) -> float:
    value = document.get(key)
    # JSON true is a Python int; a string "nan" is no number.
    if not _finite_number(value) or not 0 <= value <= 1:
        raise _RefusedError(f"its {name} has {key} = {value!r}, not a success rate in [0, 1]")
    return float(value)


def _count(document: dict[str, Any], key: str, name: str) -> int:
    value = document.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _RefusedError(f"its {name} has {key} = {value!r}, not a count")
    return value


def _paired_rates(document: dict[str, Any], name: str, episodes: int) -> tuple[float, float]:
    """(fine-tuned, base) success rates of a paired evaluation, checked against its outcomes."""
    success = _rate(document, "success_rate", name)
    base = _rate(document, "base_success_rate", name)
    for key, rate in (("outcomes", success), ("base_outcomes", base)):
        outcomes = document.get(key)
        if outcomes is not None and (
            not isinstance(outcomes, list)
            or len(outcomes) != episodes
            or any(o not in (0, 1) or isinstance(o, bool) for o in outcomes)
            or abs(sum(outcomes) / episodes - rate) > 1e-9
        ):
            raise _RefusedError(f"its {name} has {key} that do not add up to its success rates")
    return success, base


def _episodes(document: dict[str, Any], name: str, min_episodes: int) -> int:
    episodes = _count(document, "episodes", name)
    if episodes < min_episodes:
        raise _RefusedError(f"its {name} has {episodes} episodes, fewer than the {min_episodes} required")
    return episodes


def _judge_evaluation(
    evaluation: dict[str, Any], skill: str, weights_sha: str, base_sha: str | None, min_episodes: int
) -> PromotionDecision:
    _bound(evaluation, EVALUATION_FILE, skill, weights_sha, base_sha)
    episodes = _episodes(evaluation, EVALUATION_FILE, min_episodes)
    success, base = _paired_rates(evaluation, EVALUATION_FILE, episodes)
    seed = evaluation.get("seed")
    if success < base:
        return PromotionDecision(
            False,
            f"its simulator success {success:.1%} is below its base policy's {base:.1%} "
            f"({episodes} paired episodes, seed {seed})",
            "simulator",
        )
    return PromotionDecision(
        True,
        f"simulator success {success:.1%} against its base policy's {base:.1%} "
        f"({episodes} paired episodes, seed {seed})",
        "simulator",
    )


def _judge_latency(
    latency: dict[str, Any],
    skill: str,
    weights_sha: str,
    base_sha: str | None,
    min_episodes: int,
    evaluated: PromotionDecision,
) -> PromotionDecision:
    """`evaluated` (the simulator evaluation passed), unless the policy is below its base policy
    with any delay `diwa latency-check` replayed."""
    _bound(latency, LATENCY_FILE, skill, weights_sha, base_sha)
    episodes = _episodes(latency, LATENCY_FILE, min_episodes)
    delays = latency.get("delays")
    if not isinstance(delays, dict) or not delays or not all(d.isdigit() for d in delays):
        raise _RefusedError(f"its {LATENCY_FILE} names no delays (got {delays!r})")
    checked = []
    for delay, document in sorted(delays.items(), key=lambda item: int(item[0])):
        if not isinstance(document, dict):
            raise _RefusedError(f"its {LATENCY_FILE} has no result for {delay} periods of delay")
        success, base = _paired_rates(document, f"{LATENCY_FILE} (delay {delay})", episodes)
        if success < base:
            return PromotionDecision(
                False,
                f"with {delay} control periods of command delay, as a real-time loop runs it, its simulator success "
                f"{success:.1%} is below its base policy's {base:.1%} ({episodes} paired episodes)",
                "simulator",
            )
        checked.append(f"{delay}: {success:.0%} against {base:.0%}")
    return PromotionDecision(True, f"{evaluated.reason}; with command delay ({'; '.join(checked)})", "simulator")


def _finite_number(value: object) -> bool:
    """A JSON number: not a bool (JSON true is a Python int), not NaN or infinite, not a string."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _finite_pair(value: object) -> bool:
    return isinstance(value, list) and len(value) == 2 and all(_finite_number(x) for x in value)


def _judge_verdict(verdict: dict[str, Any], skill: str, weights_sha: str, base_sha: str | None) -> PromotionDecision:
    _bound(verdict, VERDICT_FILE, skill, weights_sha, base_sha)
    label = verdict.get("verdict")
    interval = verdict.get("trusted_gain_ci95")
    if label not in ("improved", "worse", "uncertain") or not _finite_pair(interval):
        raise _RefusedError(f"its {VERDICT_FILE} is malformed (verdict {label!r}, interval {interval!r})")
    low, high = interval
    text = f"the world model's verdict is {label!r} (trusted imagined gain {low:+.1%} .. {high:+.1%})"
    if label != "improved":
        return PromotionDecision(False, f"it has no simulator evaluation and {text}", "world_model")
    independent = verdict.get("independent")
    if not isinstance(independent, dict):
        # Verdicts written before the independent check: the training model alone called every
        # measured regression "improved" (docs/results/verdict_cross_model).
        return PromotionDecision(
            False,
            f"it has no simulator evaluation and {text} from the training world model alone; rerun `diwa verdict` "
            "with --judge-wm (an independent world model) to confirm it",
            "world_model",
        )
    other, margin = independent.get("gain_ci95"), independent.get("margin")
    if not (_finite_pair(other) and _finite_number(margin) and other[0] > margin):
        raise _RefusedError(f"its {VERDICT_FILE} says 'improved' without an independent gain above its margin")
    return PromotionDecision(
        True, f"no simulator evaluation; {text}, confirmed by an independent world model", "world_model"
    )
