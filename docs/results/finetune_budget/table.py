"""20 against 40 PPO iterations per skill and seed set, both evaluated with per-episode noise seeds:
budget.json (20) beside ../seed_sets/reevaluated_episode_seeds.json (the seed sets' 40-iteration runs).

    python docs/results/finetune_budget/table.py
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent


def interval(row: dict) -> str:
    low, high = row["gain_ci95"]
    text = f"{100 * row['gain']:+.0f} ({100 * low:+.0f}..{100 * high:+.0f})"
    return f"**{text}**" if high < 0 else text


def main() -> None:
    twenty = {(r["set"], r["skill"]): r for r in json.loads((HERE / "budget.json").read_text())}
    forty = {}
    for r in json.loads((HERE.parent / "seed_sets" / "reevaluated_episode_seeds.json").read_text()):
        forty[(Path(r["run"]).parent.parent.name.removeprefix("s"), r["skill"])] = r
    print("| set | skill | BC | 20 iterations | gain (95 %) | 40 iterations | gain (95 %) |")
    print("|---|---|---|---|---|---|---|")
    for key in sorted(twenty):
        a, b = twenty[key], forty.get(key)
        if b is None:
            continue
        assert a["base_outcomes"] == b["base_outcomes"], f"{key}: the BC episodes differ"
        print(
            f"| {key[0]} | {key[1]} | {100 * a['base_success']:.0f} % | {100 * a['success']:.0f} % | {interval(a)} | "
            f"{100 * b['success']:.0f} % | {interval(b)} |"
        )
    print()
    for number in sorted({k[0] for k in twenty}):
        for name, table in (("20", twenty), ("40", forty)):
            rows = [table[k] for k in table if k[0] == number and k in twenty and k in forty]
            mean_gain = sum(r["gain"] for r in rows) / len(rows)
            better = sum(r["gain"] > 0 for r in rows)
            worse = sum(r["gain_ci95"][1] < 0 for r in rows)
            bc = sum(r["base_success"] for r in rows) / len(rows)
            print(
                f"- set {number}, {name} iterations: BC {100 * bc:.1f} % -> {100 * (bc + mean_gain):.1f} %, "
                f"mean gain {100 * mean_gain:+.1f} points, {better} of {len(rows)} better, {worse} significantly worse"
            )


if __name__ == "__main__":
    main()
