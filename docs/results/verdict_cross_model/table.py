"""Markdown table and flag counts from cross.py's rows: the verdict's two checks against the simulator.

python docs/results/verdict_cross_model/table.py cross.json [VARIANT ...]   (default: plain trust)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from diwa.rl.verdict import INDEPENDENT_MARGIN


def verdict(row: dict) -> str:
    """The rule of diwa.rl.verdict.judge on this row's two intervals."""
    own_low, own_high = row["own_gain_ci95"]
    low, high = row["cross_gain_ci95"]
    if own_high < 0 or high < 0:
        return "worse"
    return "improved" if own_low > 0 and low > INDEPENDENT_MARGIN else "uncertain"


def ranks(values: list[float]) -> np.ndarray:
    """Ranks with ties averaged (for Spearman's rho)."""
    values = np.asarray(values, float)
    order = values.argsort()
    ranked = np.empty(len(values))
    ranked[order] = np.arange(len(values))
    for value in np.unique(values):
        ranked[values == value] = ranked[values == value].mean()
    return ranked


def spearman(a: list[float], b: list[float]) -> float:
    return float(np.corrcoef(ranks(a), ranks(b))[0, 1])


def main() -> None:
    rows = json.loads(Path(sys.argv[1]).read_text())
    sets, variants = sys.argv[2].split(","), sys.argv[3:] or ["plain", "trust"]
    rows = [r for r in rows if r["variant"] in variants and r["set"] in sets]
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
    real = [r["real_gain"] for r in rows]
    own, other = spearman([r["own_gain"] for r in rows], real), spearman([r["cross_gain"] for r in rows], real)
    print(f"- Spearman rank correlation with the simulator gain: own model {own:.2f}, independent model {other:.2f}")
    means = {key: np.mean([r[key] for r in rows]) for key in ("own_gain", "cross_gain", "real_gain")}
    text = "own model {own_gain:+.3f}, independent model {cross_gain:+.3f}, simulator {real_gain:+.3f}"
    print("- mean gain: " + text.format(**means))


if __name__ == "__main__":
    main()
