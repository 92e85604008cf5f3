"""Collect the outcomes of run.sh, released_at_delay.sh and all_skills.sh into outcomes.json and
print the README's tables (paired 95 % intervals, diwa.eval.stats).

    python docs/results/delay_finetune/table.py /work/runs/delay_released /work/runs/delay_all1 \
        /work/runs/delay_ft/open_drawer /work/runs/delay_all0 docs/results/delay_finetune/outcomes.json
    python docs/results/delay_finetune/table.py docs/results/delay_finetune/outcomes.json   # tables only
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from diwa.eval.stats import paired_gain_interval
from diwa.skills import SKILLS

DELAYS = (0, 1, 2)


def episode_outcomes(directory: Path) -> dict[str, list[int]]:
    """Per skill, 1/0 per episode in episode order, from `diwa eval --out`'s episodes.jsonl."""
    rows = [json.loads(line) for line in (directory / "episodes.jsonl").read_text().splitlines() if line]
    return {
        skill: [int(r["success"]) for r in sorted(rows, key=lambda r: r["episode"]) if r["skill"] == skill]
        for skill in dict.fromkeys(r["skill"] for r in rows)
    }


def collect(released: Path, all_skills: Path, grid: Path, here: Path) -> dict:
    document: dict = {"released": {}, "finetuned_at_delay1": {}, "open_drawer_grid": {}, "finetuned_here": {}}
    for policy in ("bc", "finetuned"):
        document["released"][policy] = {str(d): episode_outcomes(released / f"{policy}_at{d}") for d in DELAYS}
    for skill in SKILLS:
        evaluation = json.loads((all_skills / skill / "evaluation.json").read_text())
        if evaluation["action_delay"] != 1:
            raise ValueError(f"{all_skills / skill} was not evaluated with one period of delay")
        document["finetuned_at_delay1"][skill] = {"bc": evaluation["base_outcomes"], "tuned": evaluation["outcomes"]}
        # This CPU's fine-tune without delay (the release's seeds), judged at 0 (its evaluation), 1 and 2.
        evaluation = json.loads((here / skill / "evaluation.json").read_text())
        latency = json.loads((here / skill / "latency.json").read_text())["delays"]
        document["finetuned_here"][skill] = {
            "0": evaluation["outcomes"],
            **{d: latency[d]["outcomes"] for d in ("1", "2")},
        }
    for policy in ("bc", "delay0", "delay1", "delay2"):
        document["open_drawer_grid"][policy] = {
            str(d): episode_outcomes(grid / f"eval_{policy}_at{d}")["open_drawer"] for d in (0, 1, 2, 3)
        }
    return document


def rate(outcomes: list[int]) -> str:
    return f"{100 * sum(outcomes) / len(outcomes):.0f}"


def gain(before: list[int], after: list[int]) -> str:
    mean, low, high = paired_gain_interval(before, after)
    return f"{100 * mean:+.0f} ({100 * low:+.0f}..{100 * high:+.0f})"


def tables(document: dict) -> str:
    bc, tuned = document["released"]["bc"], document["released"]["finetuned"]
    head = "| skill | " + " | ".join(f"delay {d}: BC -> DiWA | gain, 95 %" for d in DELAYS)
    lines = [head + " | fine-tuned at delay 1, judged at delay 1 | gain, 95 % |"]
    lines.append("|---" * (2 + 2 * len(DELAYS) + 1) + "|")
    means = {d: ([], []) for d in DELAYS}
    at1 = document["finetuned_at_delay1"]
    for skill in SKILLS:
        cells = []
        for d in DELAYS:
            b, t = bc[str(d)][skill], tuned[str(d)][skill]
            means[d][0].extend(b)
            means[d][1].extend(t)
            cells += [f"{rate(b)} -> {rate(t)} %", gain(b, t)]
        own = at1[skill]
        cells += [f"{rate(own['bc'])} -> {rate(own['tuned'])} %", gain(own["bc"], own["tuned"])]
        lines.append(f"| {skill} | " + " | ".join(cells) + " |")
    mean_cells = [f"{rate(means[d][0])} -> {rate(means[d][1])} %" for d in DELAYS]
    own_bc = [o for s in SKILLS for o in at1[s]["bc"]]
    own_tuned = [o for s in SKILLS for o in at1[s]["tuned"]]
    lines.append(
        "| **mean** | "
        + " | ".join(
            f"{c} | {100 * (sum(means[d][1]) - sum(means[d][0])) / len(means[d][0]):+.1f}"
            for d, c in zip(DELAYS, mean_cells, strict=True)
        )
        + f" | {rate(own_bc)} -> {rate(own_tuned)} % | {100 * (sum(own_tuned) - sum(own_bc)) / len(own_bc):+.1f} |"
    )
    here, at1 = document["finetuned_here"], document["finetuned_at_delay1"]
    lines += [
        "",
        "| skill | BC at 0 / 1 / 2 | fine-tuned here without delay, at 0 / 1 / 2 | fine-tuned here with 1, at 1 "
        "| at 1: with against without delay in fine-tuning |",
        "|---|---|---|---|---|",
    ]
    pooled: dict[str, list[int]] = {"here1": [], "at1": []}
    for skill in SKILLS:
        b = " / ".join(rate(bc[str(d)][skill]) for d in DELAYS)
        h = " / ".join(rate(here[skill][str(d)]) for d in DELAYS)
        pooled["here1"] += here[skill]["1"]
        pooled["at1"] += at1[skill]["tuned"]
        lines.append(
            f"| {skill} | {b} % | {h} % | {rate(at1[skill]['tuned'])} % "
            f"| {gain(here[skill]['1'], at1[skill]['tuned'])} |"
        )
    lines.append(
        f"| **mean** | | at 1: {rate(pooled['here1'])} % | {rate(pooled['at1'])} % "
        f"| {gain(pooled['here1'], pooled['at1'])} |"
    )
    grid = document["open_drawer_grid"]
    lines += ["", "| open_drawer policy | " + " | ".join(f"judged at delay {d}" for d in (0, 1, 2, 3)) + " |"]
    lines.append("|---" * 5 + "|")
    names = {"bc": "BC (released)", "delay0": "fine-tuned at delay 0", "delay1": "fine-tuned at delay 1"}
    names["delay2"] = "fine-tuned at delay 2"
    for policy, label in names.items():
        lines.append(f"| {label} | " + " | ".join(f"{rate(grid[policy][str(d)])} %" for d in (0, 1, 2, 3)) + " |")
    return "\n".join(lines)


def main(argv: list[str]) -> None:
    if len(argv) == 5:
        document = collect(*(Path(a) for a in argv[:4]))
        Path(argv[4]).write_text(json.dumps(document) + "\n")
    elif len(argv) == 1:
        document = json.loads(Path(argv[0]).read_text())
    else:
        raise SystemExit(__doc__)
    print(tables(document))


if __name__ == "__main__":
    main(sys.argv[1:])
