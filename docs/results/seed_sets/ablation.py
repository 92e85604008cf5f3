"""A remedy on and off, per skill and seed set: the fine-tuned policies of a skill with and without it
are evaluated on the same seeded start states, so variant minus plain is a paired difference.

    python ablation.py VARIANT SET_DIR [SET_DIR ...] > ablation_VARIANT.md     (VARIANT: guard, trust)

SET_DIR is a scripts/seed_set.sh output with diwa_plain/ and diwa_VARIANT/ runs; skills run in only
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


def main(variant: str, sets: list[Path]) -> None:
    print(f"| seed set | skill | BC | plain | {variant} | {variant} - plain (95 % interval) |")
    print("|---|---|---|---|---|---|")
    strata = []
    for directory in sets:
        for skill in SKILLS:
            plain, tried = directory / "diwa_plain" / skill, directory / f"diwa_{variant}" / skill
            if not ((plain / "evaluation.json").is_file() and (tried / "evaluation.json").is_file()):
                continue
            p, g = outcomes(plain), outcomes(tried)
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
        f"\nAll {len(strata)} (set, skill) pairs, equally weighted: {variant} - plain {mean:+.1%} "
        f"({low:+.1%} .. {high:+.1%})."
    )


if __name__ == "__main__":
    main(sys.argv[1], [Path(p) for p in sys.argv[2:]])
