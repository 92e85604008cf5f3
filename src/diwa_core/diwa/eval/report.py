"""Evaluation artefacts: per-episode JSONL log, summary JSON, bar charts, GIF videos."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import imageio.v2 as imageio
import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from diwa.atomic import write_file_atomically
from diwa.eval.harness import SkillReport


def write_episode_log(reports: Sequence[SkillReport], path: Path, policy: str) -> None:
    """One JSON object per episode: skill, episode index, success, steps, policy, seed."""
    lines = [
        json.dumps(
            {
                "skill": r.skill,
                "episode": e.index,
                "success": e.success,
                "steps": e.steps,
                "policy": policy,
                "seed": r.seed,
            }
        )
        for r in reports
        for e in r.results
    ]
    write_file_atomically(path, lambda tmp: tmp.write_text("\n".join(lines) + "\n"))


def write_json(data: dict[str, Any], path: Path) -> None:
    write_file_atomically(path, lambda tmp: tmp.write_text(json.dumps(data, indent=1) + "\n"))


def plot_success_rates(reports: Sequence[SkillReport], path: Path, title: str) -> None:
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
    write_file_atomically(path, lambda tmp: figure.savefig(tmp, format="png", dpi=100))
    plt.close(figure)


def write_gif(frames: Sequence[Any], path: Path, fps: int = 15) -> None:
    write_file_atomically(
        path, lambda tmp: imageio.mimsave(tmp, list(frames), format="GIF", duration=1000 / fps, loop=0)
    )


def plot_agreement(summaries: list[dict[str, Any]], path: Path, title: str, target: float) -> None:
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
    write_file_atomically(path, lambda tmp: figure.savefig(tmp, format="png", dpi=100))
    plt.close(figure)
