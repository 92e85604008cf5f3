"""The promotion gate: a checkpoint reaches a real arm only if the simulator says it is no worse
than the policy it was fine-tuned from.

A fine-tuned checkpoint directory carries `evaluation.json`, written by the fine-tuning pipeline
after its paired simulator evaluation:
    {"skill": ..., "success_rate": 0.83, "base_success_rate": 0.61, "episodes": 100, ...}
A checkpoint without it has never been judged, which is treated like a failed gate.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

EVALUATION_FILE = "evaluation.json"


class PromotionRefusedError(ValueError):
    """The checkpoint did not pass the gate and no override was given."""


def check_promotion(checkpoint: Path, allow_unpromoted: bool, warn: Callable[[str], object]) -> None:
    """Return if `checkpoint` may drive the robot; raise PromotionRefusedError otherwise. With
    `allow_unpromoted` a failed gate only logs a warning."""
    problem = _gate_problem(checkpoint)
    if problem is None:
        return
    if allow_unpromoted:
        warn(f"deploying {checkpoint} although {problem} (allow_unpromoted is set)")
        return
    raise PromotionRefusedError(f"{checkpoint}: {problem}; set allow_unpromoted:=true to deploy it anyway")


def _gate_problem(checkpoint: Path) -> str | None:
    path = checkpoint / EVALUATION_FILE
    if not path.is_file():
        return f"it carries no simulator evaluation ({EVALUATION_FILE})"
    try:
        evaluation = json.loads(path.read_text())
        success, base = float(evaluation["success_rate"]), float(evaluation["base_success_rate"])
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
        return f"its {EVALUATION_FILE} is unreadable ({err!r})"
    if success < base:
        return f"its simulator success {success:.1%} is below its base policy's {base:.1%}"
    return None
