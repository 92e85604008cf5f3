"""Camera verdicts with an independent camera world model (judge.sh) beside the simulator's paired
gain of each run; prints one markdown table per judged run.

    python docs/results/camera_judge/table.py NAME=RUN ...     (e.g. weighted_by_uniform=/work/runs/cam41w)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).parent
SKILLS = (
    "open_drawer", "close_drawer", "move_slider_left", "move_slider_right",
    "turn_on_lightbulb", "turn_off_lightbulb", "turn_on_led", "turn_off_led",
)  # fmt: skip


def interval(gain: float, low: float, high: float, digits: int = 1) -> str:
    return f"{100 * gain:+.{digits}f} ({100 * low:+.{digits}f}..{100 * high:+.{digits}f})"


def table(name: str, run: Path) -> None:
    print(f"\n{name} ({run})\n")
    print(
        "| skill | simulator: BC -> DiWA | gain (95 %) | trusted imagined gain | judge: BC -> DiWA | judge's gain "
        "| verdict |"
    )
    print("|---|---|---|---|---|---|---|")
    calls = {"improved": [], "worse": [], "uncertain": []}
    for skill in SKILLS:
        measured = json.loads((run / "diwa_plain" / skill / "evaluation.json").read_text())
        verdict = json.loads((HERE / name / f"{skill}.json").read_text())
        other = verdict["independent"]
        simulator = interval(measured["gain"], *measured["gain_ci95"], digits=0)
        print(
            f"| {skill} | {measured['base_success_rate']:.0%} -> {measured['success_rate']:.0%} | {simulator} "
            f"| {interval(verdict['trusted_gain'], *verdict['trusted_gain_ci95'])} "
            f"| {other['base_success']:.1%} -> {other['finetuned_success']:.1%} "
            f"| {interval(other['gain'], *other['gain_ci95'])} | {verdict['verdict']} |"
        )
        calls[verdict["verdict"]].append(f"{skill} ({100 * measured['gain']:+.0f})")
    for call, skills in calls.items():
        print(f"\n{call}: {', '.join(skills) or 'none'}", end="")
    print()


def main() -> None:
    for spec in sys.argv[1:]:
        name, run = spec.split("=", 1)
        table(name, Path(run))


if __name__ == "__main__":
    main()
