"""The model-error guard on and off, per skill and seed set: both fine-tuned policies of a skill are
evaluated on the same seeded start states, so guard minus plain is a paired difference.

    python ablation_guard.py SET_DIR [SET_DIR ...] > ablation_guard.md

SET_DIR is a scripts/seed_set.sh output with diwa_plain/ and diwa_guard/ runs; skills run in only
one variant are skipped.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from diwa.eval.stats import paired_gain_interval, stratified_gain_interval
from diwa.skills import SKILLS


def outcomes(run: Path) -> dict:
    return json.loads((run / "evaluation.json").read_text())


def main(sets: list[Path]) -> None:
    print("| seed set | skill | BC | plain | guard | guard - plain (95 % interval) |")
    print("|---|---|---|---|---|---|")
    strata = []
    for directory in sets:
        for skill in SKILLS:
            plain, guard = directory / "diwa_plain" / skill, directory / "diwa_guard" / skill
            if not ((plain / "evaluation.json").is_file() and (guard / "evaluation.json").is_file()):
                continue
            p, g = outcomes(plain), outcomes(guard)
            if p["seed"] != g["seed"] or p["base_outcomes"] != g["base_outcomes"]:
                raise ValueError(f"{directory}/{skill}: the variants were not evaluated on the same episodes")
            diff, low, high = paired_gain_interval(p["outcomes"], g["outcomes"])
            strata.append([b - a for a, b in zip(p["outcomes"], g["outcomes"], strict=True)])
            print(
                f"| {directory.name} | {skill} | {p['base_success_rate']:.0%} | {p['success_rate']:.0%} | "
                f"{g['success_rate']:.0%} | {diff:+.0%} ({low:+.0%} .. {high:+.0%}) |"
            )
    mean, low, high = stratified_gain_interval(strata)
    print(
        f"\nAll {len(strata)} (set, skill) pairs, equally weighted: guard - plain {mean:+.1%} "
        f"({low:+.1%} .. {high:+.1%})."
    )


if __name__ == "__main__":
    main([Path(p) for p in sys.argv[1:]])
