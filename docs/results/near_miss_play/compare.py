"""Near-miss play on and off, per skill and seed set: the fine-tuned policies of run.sh (play without
near misses) against the same set's plain 20-iteration runs with near-miss play, whose per-episode
outcomes ../finetune_budget/budget.json keeps. Both start from the same BC policy and are evaluated
on the same seeded episodes (seed 1000 + S), so off minus on is a paired difference.

    python docs/results/near_miss_play/compare.py /work/runs/nonm41 41 /work/runs/nonm53 53 > ablation_near_miss.md
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from diwa.eval.stats import paired_gain_interval, stratified_gain_interval

BUDGET = Path(__file__).resolve().parents[1] / "finetune_budget" / "budget.json"


def with_near_misses(seed_set: str, skill: str) -> dict:
    for row in json.loads(BUDGET.read_text()):
        if row["set"] == seed_set and row["skill"] == skill and row["iterations"] == 20:
            return row
    raise KeyError(f"no 20-iteration run of {skill} on set {seed_set} in {BUDGET}")


def main(runs: list[tuple[Path, str]]) -> None:
    print("| set | skill | BC | with near misses | without | without - with (95 % interval) | BC outcomes differing |")
    print("|---|---|---|---|---|---|---|")
    strata = []
    for directory, seed_set in runs:
        for evaluation in sorted(directory.glob("diwa_plain/*/evaluation.json")):
            off = json.loads(evaluation.read_text())
            on = with_near_misses(seed_set, off["skill"])
            if off["seed"] != 1000 + int(seed_set):
                raise ValueError(f"{evaluation}: evaluated with seed {off['seed']}, not {1000 + int(seed_set)}")
            # The BC policies are the set's (weights equal up to float rounding); a differing BC outcome
            # would say the episodes or the policy are not the same.
            differ = sum(a != b for a, b in zip(on["base_outcomes"], off["base_outcomes"], strict=True))
            diff, low, high = paired_gain_interval(on["outcomes"], off["outcomes"])
            strata.append([b - a for a, b in zip(on["outcomes"], off["outcomes"], strict=True)])
            print(
                f"| {seed_set} | {off['skill']} | {on['base_success']:.0%} | {on['success']:.0%} | "
                f"{off['success_rate']:.0%} | {diff:+.0%} ({low:+.0%} .. {high:+.0%}) | {differ} |"
            )
    mean, low, high = stratified_gain_interval(strata)
    print(
        f"\nAll {len(strata)} (set, skill) pairs, equally weighted: without - with near misses {mean:+.1%} "
        f"({low:+.1%} .. {high:+.1%})."
    )


if __name__ == "__main__":
    args = sys.argv[1:]
    main([(Path(args[i]), args[i + 1]) for i in range(0, len(args), 2)])
