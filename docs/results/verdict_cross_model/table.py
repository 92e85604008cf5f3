"""Markdown table and flag counts from cross.py's rows: the verdict's two checks against the simulator.

python docs/results/verdict_cross_model/table.py cross.json [VARIANT ...]   (default: plain trust)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from diwa.rl.verdict import INDEPENDENT_MARGIN


def verdict(row: dict) -> str:
    """The rule of diwa.rl.verdict.judge on this row's two intervals."""
    own_low, own_high = row["own_gain_ci95"]
    low, high = row["cross_gain_ci95"]
    if own_high < 0 or high < 0:
        return "worse"
    return "improved" if own_low > 0 and low > INDEPENDENT_MARGIN else "uncertain"


def main() -> None:
    rows = json.loads(Path(sys.argv[1]).read_text())
    variants = sys.argv[2:] or ["plain", "trust"]
    rows = [r for r in rows if r["variant"] in variants]
    columns = ["set", "variant", "skill", "judged in", "own imagined gain", "independent gain (95 %)"]
    columns += ["simulator gain (95 %)", "verdict"]
    print("| " + " | ".join(columns) + " |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        lo, hi = r["cross_gain_ci95"]
        rlo, rhi = r["real_gain_ci95"]
        real = f"{r['real_gain']:+.2f} ({rlo:+.2f}..{rhi:+.2f})"
        if rhi < 0:
            real = f"**{real}**"
        print(
            f"| {r['set']} | {r['variant']} | {r['skill']} | {r['judge_set']} | {r['own_gain']:+.2f} | "
            f"{r['cross_gain']:+.2f} ({lo:+.2f}..{hi:+.2f}) | {real} | {verdict(r)} |"
        )
    worse = [r for r in rows if r["real_gain"] < 0]
    better = [r for r in rows if r["real_gain"] >= 0]
    significant = [r for r in rows if r["real_gain_ci95"][0] > 0]
    flagged = lambda group: sum(verdict(r) != "improved" for r in group)  # noqa: E731
    print()
    print(f"- runs that got worse in the simulator: {len(worse)}, flagged (not 'improved'): {flagged(worse)}")
    print(f"- runs that did not get worse: {len(better)}, flagged: {flagged(better)}")
    print(f"- runs significantly better: {len(significant)}, flagged: {flagged(significant)}")


if __name__ == "__main__":
    main()
