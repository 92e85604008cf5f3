"""A camera run against the first camera run's (camera_route/: uniformly weighted pixels), skill by
skill: BC and DiWA success on the same 100 paired evaluation episodes (seed 1041), the gain with its
paired 95 % interval, the imagined success at the first and last PPO iteration, and the reward
classifier's held-out F1; then what the frozen codes hold (probe.py) for both.

    python docs/results/camera_sharp_code/compare.py [RESULTS_DIR]
        (reads runs.json and probe.json in ../camera_route/ and in RESULTS_DIR, by default the
        directory of this script; prints markdown tables)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).parent
SHIPPED = HERE.parent / "camera_route"


def load(directory: Path) -> tuple[dict, dict]:
    return json.loads((directory / "runs.json").read_text()), json.loads((directory / "probe.json").read_text())


def row(skill: str, run: dict) -> str:
    s = run["skills"][skill]
    low, high = s["gain_ci95"]
    imagined = s["imagined_success_per_iteration"]
    first_last = f"{imagined[0]:.2f} / {imagined[-1]:.2f}" if imagined else "-"
    return (
        f"{s['bc_success']:.0%} -> {s['finetuned_success']:.0%} | {100 * s['gain']:+.0f} "
        f"({100 * low:+.0f}..{100 * high:+.0f}) | {first_last} | {s['reward_val']['f1']:.2f}"
    )


def main() -> None:
    other = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE
    (shipped, shipped_probe), (sharp, sharp_probe) = load(SHIPPED), load(other)
    print(
        "| skill | uniform: BC -> DiWA | gain, 95 % | imagined first / last | reward F1 "
        f"| {other.name}: BC -> DiWA | gain, 95 % | imagined first / last | reward F1 |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    means = {"uniform": [0.0, 0.0], other.name: [0.0, 0.0]}
    for skill in shipped["skills"]:
        print(f"| {skill} | {row(skill, shipped)} | {row(skill, sharp)} |")
        for name, run in (("uniform", shipped), (other.name, sharp)):
            means[name][0] += run["skills"][skill]["bc_success"] / len(shipped["skills"])
            means[name][1] += run["skills"][skill]["finetuned_success"] / len(shipped["skills"])
    for name, (bc, tuned) in means.items():
        print(f"\n{name}: BC {bc:.1%} -> DiWA {tuned:.1%} ({100 * (tuned - bc):+.1f} points)")
    print(f"\n| probe (held out) | uniform | {other.name} |\n|---|---|---|")
    for name, key in (("LED accuracy", "led"), ("lightbulb accuracy", "lightbulb")):
        print(
            f"| {name} | {shipped_probe[key]['held_out_accuracy']:.2f} "
            f"(majority {shipped_probe[key]['majority_class']:.2f}) | {sharp_probe[key]['held_out_accuracy']:.2f} "
            f"(majority {sharp_probe[key]['majority_class']:.2f}) |"
        )
    for name, key in (("drawer R^2", "drawer"), ("slider R^2", "slider")):
        print(f"| {name} | {shipped_probe[key]['held_out_r2']:.2f} | {sharp_probe[key]['held_out_r2']:.2f} |")


if __name__ == "__main__":
    main()
