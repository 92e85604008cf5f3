"""The promotion gate in the policy node: diwa.promotion's decision, refused or warned about.

The decision itself (evidence bound to the weights, skill and base policy) is diwa/promotion.py's,
the same that `diwa promote` prints, so a user can check a checkpoint before deploying it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from diwa.promotion import DEFAULT_MIN_EPISODES, judge_checkpoint


class PromotionRefusedError(ValueError):
    """The checkpoint did not pass the gate and no override was given."""


def check_promotion(
    checkpoint: Path,
    allow_unpromoted: bool,
    warn: Callable[[str], object],
    min_episodes: int = DEFAULT_MIN_EPISODES,
) -> None:
    """Return if `checkpoint` may drive the robot; raise PromotionRefusedError otherwise. With
    `allow_unpromoted` a failed gate only logs a warning."""
    decision = judge_checkpoint(checkpoint, min_episodes)
    if decision.allowed:
        return
    if allow_unpromoted:
        warn(f"deploying {checkpoint} although {decision.reason} (allow_unpromoted is set)")
        return
    raise PromotionRefusedError(f"{checkpoint}: {decision.reason}; set allow_unpromoted:=true to deploy it anyway")
