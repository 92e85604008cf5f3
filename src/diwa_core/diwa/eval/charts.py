"""Every chart the project draws, as PNG bytes for the caller to write (atomically, beside its JSON).

Success rates of `diwa eval`, imagination fidelity of `diwa eval-wm`, BC / DiWA / DPPO per skill of
`diwa report`, and the gains of several seed sets of `diwa report-seeds`.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from diwa.eval.harness import SkillReport


def _png(figure: Any) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    plt.close(figure)
    return buffer.getvalue()


def success_rates_png(reports: Sequence[SkillReport], title: str) -> bytes:
    """Bar chart of success rate per skill with Wilson 95 % intervals as error bars."""
    rates = [r.success_rate for r in reports]
    lows = [r.success_rate - r.interval[0] for r in reports]
    highs = [r.interval[1] - r.success_rate for r in reports]
    figure, axes = plt.subplots(figsize=(max(4.0, 1.1 * len(reports) + 2.0), 4.0))
    positions = range(len(reports))
    axes.bar(positions, rates, yerr=[lows, highs], capsize=4, color="#4c72b0")
    axes.set_xticks(list(positions), [r.skill for r in reports], rotation=30, ha="right")
    axes.set_ylim(0.0, 1.05)
    axes.set_ylabel("success rate (Wilson 95 % CI)")
    axes.set_title(title)
    for x, report in zip(positions, reports, strict=True):
        axes.text(x, 0.02, f"{report.successes}/{report.episodes}", ha="center", color="white", fontsize=8)
    figure.tight_layout()
    return _png(figure)


def agreement_png(summaries: list[dict[str, Any]], title: str, target: float) -> bytes:
    """Bars of imagination-fidelity agreement per skill beside the real and imagined success rates,
    with the `target` agreement as a line."""
    positions = np.arange(len(summaries))
    figure, axes = plt.subplots(figsize=(max(5.0, 1.2 * len(summaries) + 2.0), 4.0))
    for offset, key, label in (
        (-0.27, "agreement", "agreement"),
        (0.0, "real_success_rate", "success (simulator)"),
        (0.27, "imagined_success_rate", "success (imagined)"),
    ):
        axes.bar(positions + offset, [row[key] for row in summaries], width=0.27, label=label)
    for level in summaries[0].get("simulator_replay_agreement", {}) if summaries else ():
        ceiling = [row["simulator_replay_agreement"][level] for row in summaries]
        axes.scatter(positions - 0.27, ceiling, marker="_", s=300, label=f"simulator replay, noise {level}")
    axes.axhline(target, color="black", linestyle="--", linewidth=1, label="target agreement")
    axes.set_xticks(list(positions), [row["skill"] for row in summaries], rotation=30, ha="right")
    axes.set_ylim(0.0, 1.05)
    axes.set_title(title)
    axes.legend(fontsize="small", loc="lower right")
    figure.tight_layout()
    return _png(figure)


def finetune_png(rows: list[dict[str, Any]], title: str) -> bytes:
    figure, axes = plt.subplots(figsize=(max(4.0, 1.4 * len(rows) + 2.0), 4.0))
    positions = list(range(len(rows)))
    series = [("BC", "bc_success", "#8c8c8c"), ("DiWA (imagination)", "finetuned_success", "#4c72b0")]
    if any(r["dppo_final_success"] is not None for r in rows):
        series.append(("DPPO (online, final)", "dppo_final_success", "#dd8452"))
    width = 0.8 / len(series)
    for k, (label, key, color) in enumerate(series):
        values = [r[key] if r[key] is not None else 0.0 for r in rows]
        axes.bar([p + (k - (len(series) - 1) / 2) * width for p in positions], values, width, label=label, color=color)
    axes.set_xticks(positions, [r["skill"] for r in rows], rotation=30, ha="right")
    # The legend sits in a band above 100 %, where no bar reaches.
    axes.set_ylim(0.0, 1.2)
    axes.set_yticks([0.0, 0.2, 0.4, 0.6, 0.8, 1.0])
    axes.set_ylabel("simulator success rate")
    axes.set_title(title)
    axes.legend(loc="upper center", ncol=len(series), fontsize=8, frameon=False)
    figure.tight_layout()
    return _png(figure)


def seed_sets_png(report: dict[str, Any]) -> bytes:
    rows = report["skills"]
    figure, axes = plt.subplots(figsize=(max(5.0, 1.2 * len(rows) + 2.0), 4.0))
    count = len(report["sets"])
    for i, row in enumerate(rows):
        for k, e in enumerate(row["sets"]):
            x = i + (k - (count - 1) / 2) * 0.15
            low, high = e["gain_ci95"]
            color = "#c44e52" if e["significantly_worse"] else "#4c72b0"
            axes.errorbar(x, e["gain"], yerr=[[e["gain"] - low], [high - e["gain"]]], fmt="o", color=color, ms=4)
        axes.hlines(row["mean_gain"], i - 0.35, i + 0.35, color="black", linewidth=2)
    axes.axhline(0.0, color="#8c8c8c", linewidth=1)
    axes.set_xticks(range(len(rows)), [r["skill"] for r in rows], rotation=30, ha="right")
    axes.set_ylabel("gain in simulator success (paired 95 % CI)")
    axes.set_title(f"{report['name']}: {count} seed sets (dots), mean (bar)")
    figure.tight_layout()
    return _png(figure)
