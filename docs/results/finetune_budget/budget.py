"""Fine-tuning for 20 PPO iterations instead of the profile's 40, per skill of each seed set: the
same command as scripts/seed_set.sh (same seeds, world model, rewards, BC policy), evaluated on the
set's 100 paired simulator episodes. docs/results/early_stopping suggested that the skills that got
worse did so in the second half while the others had most of their gain by iteration 20.

    python docs/results/finetune_budget/budget.py RUNS_ROOT OUT_DIR SET [SET ...]

Writes OUT_DIR/runs/s<SET>_<skill>/ (the fine-tuned checkpoint and its evaluation.json) and
OUT_DIR/budget.json (one row per run, added as runs finish; rerunning skips finished runs).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from diwa.skills import SKILLS

ITERATIONS = 20


def main() -> None:
    root, out = Path(sys.argv[1]), Path(sys.argv[2])
    table = out / "budget.json"
    rows = json.loads(table.read_text()) if table.is_file() else []
    done = {(r["set"], r["skill"]) for r in rows}
    for number in sys.argv[3:]:
        run = root / f"s{number}"
        for skill in SKILLS:
            if (number, skill) in done:
                continue
            target = out / "runs" / f"s{number}_{skill}"
            command = ["diwa", "finetune", "--skill", skill, "--wm", str(run / "wm"), "--reward", str(run / "rewards")]
            command += ["--policy", str(run / "bc" / "policies" / skill), "--out", str(target), "--seed", number]
            command += ["--eval-seed", str(1000 + int(number)), "--iterations", str(ITERATIONS), "--no-progress"]
            if (target / "finetune.json").is_file():
                command.append("--resume")
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
            evaluation = json.loads((target / "evaluation.json").read_text())
            rows.append({
                "set": number, "skill": skill, "iterations": ITERATIONS,
                "base_success": evaluation["base_success_rate"], "success": evaluation["success_rate"],
                "gain": evaluation["gain"], "gain_ci95": evaluation["gain_ci95"],
                "base_outcomes": evaluation["base_outcomes"], "outcomes": evaluation["outcomes"],
            })  # fmt: skip
            low, high = evaluation["gain_ci95"]
            print(f"s{number} {skill:20s} {evaluation['base_success_rate']:.2f} -> {evaluation['success_rate']:.2f} "
                  f"gain {evaluation['gain']:+.2f} [{low:+.2f},{high:+.2f}]", flush=True)  # fmt: skip
            table.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
