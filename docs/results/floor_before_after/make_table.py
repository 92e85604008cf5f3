"""Issue 23, item 4: the wide-play world model of seed set 31 before the floor (play falling through
it) and after (clean play of the same seeds): open-loop error, reward F1, and the fine-tuning report.

Usage: python make_table.py BEFORE_DIR AFTER_DIR > table.md
BEFORE_DIR / AFTER_DIR hold play/, wm/, rewards/ and eval_wm.json (`diwa eval-wm --json`); AFTER_DIR
also diwa_plain/ and diwa_guard/ (scripts/seed_set.sh). The before's fine-tuning figures were not
rerun: they are the ones issue 22 reports for the same seeds and code (quoted, marked as such).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from diwa.skills import SKILLS

# Issue 22's table for play 31, demonstrations 7100+i, BC 3, world model 5, reward 5, fine-tuning 4,
# evaluation 8080, 100 paired episodes: (BC, fine-tuned) success, trained on the play without a floor.
ISSUE_22_BEFORE = {
    "open_drawer": (0.57, 0.38),
    "close_drawer": (0.92, 0.78),
    "move_slider_left": (0.60, 0.93),
    "move_slider_right": (0.57, 0.92),
    "turn_on_lightbulb": (0.56, 0.57),
    "turn_off_lightbulb": (0.32, 0.58),
    "turn_on_led": (0.10, 0.63),
    "turn_off_led": (0.18, 0.33),
}


def last_json(path: Path) -> dict:
    return json.loads([line for line in path.read_text().splitlines() if line.startswith("{")][-1])


def open_loop(root: Path) -> dict[str, list[float]]:
    report = last_json(root / "eval_wm.json")
    rows = {}
    for key in ("robot_obs", "scene_obs"):
        for predictor in ("anchored", "baseline"):
            rows[f"{key} {predictor}"] = [report["horizons"][h][predictor][key]["mae"] for h in ("4", "18", "72")]
    return rows


def f1(root: Path) -> list[float | None]:
    scores = []
    for skill in SKILLS:
        meta = json.loads((root / "rewards" / f"reward_{skill}.json").read_text())
        val = meta.get("metrics", {}).get("val")
        scores.append(None if not val else val["f1"])
    return scores


def lowest_block(root: Path) -> float:
    scene = np.load(root / "play" / "scene_obs.npy", mmap_mode="r")
    return float(scene[:, [8, 14, 20]].min())


def main() -> None:
    before, after = Path(sys.argv[1]), Path(sys.argv[2])
    print("| | before (no floor) | after (floor, put-back) |")
    print("|---|---|---|")
    meta = {r: json.loads((r / "play" / "meta.json").read_text()) for r in (before, after)}
    print(f"| lowest block z in play (m) | {lowest_block(before):.2f} | {lowest_block(after):.3f} |")
    print(
        f"| blocks put back / episodes | - / {len(meta[before]['episodes'])} "
        f"| {meta[after]['provenance']['blocks_put_back']} / {len(meta[after]['episodes'])} |"
    )
    for name in ("before", "after"):
        root = before if name == "before" else after
        log = root / "wm_train.json"
        if log.is_file():
            summary = last_json(log)
            val, fit = summary["val"]["loss"], summary.get("train_windows", {}).get("loss")
            fit_text = "not measured" if fit is None else f"{fit:.4g}"
            print(f"| {name}: world-model loss held-out / training windows | {val:.4g} / {fit_text} | |")
    ol_before, ol_after = open_loop(before), open_loop(after)
    for row in ol_before:
        b = " / ".join(f"{v:.4f}" for v in ol_before[row])
        a = " / ".join(f"{v:.4f}" for v in ol_after[row])
        print(f"| open-loop MAE {row} (4 / 18 / 72 steps) | {b} | {a} |")
    for skill, fb, fa in zip(SKILLS, f1(before), f1(after), strict=True):
        print(f"| reward F1 {skill} (held-out) | {fb:.3f} | {fa:.3f} |")
    print()
    print("| skill | BC | fine-tuned before (issue 22) | fine-tuned after, plain | fine-tuned after, guard |")
    print("|---|---|---|---|---|")
    for skill in SKILLS:
        cells = []
        for variant in ("plain", "guard"):
            path = after / f"diwa_{variant}" / skill / "evaluation.json"
            if path.is_file():
                ev = json.loads(path.read_text())
                low, high = ev["gain_ci95"]
                cells.append(f"{ev['success_rate']:.0%} ({ev['gain']:+.0%}, {low:+.0%}..{high:+.0%})")
                bc = ev["base_success_rate"]
            else:
                cells.append("-")
        bc_before, ft_before = ISSUE_22_BEFORE[skill]
        print(f"| {skill} | {bc:.0%} (issue: {bc_before:.0%}) | {ft_before:.0%} | {cells[0]} | {cells[1]} |")


if __name__ == "__main__":
    main()
