"""Copy what the camera route's README reports from a scripts/camera_set.sh run into runs.json:
per skill the paired outcomes, the imagined success per PPO iteration, the reward classifier's
held-out scores and the BC training summary.

    python docs/results/camera_route/collect.py RUN_DIR [OUT]   (default OUT: runs.json beside this script)
"""

from __future__ import annotations

import glob
import json
import sys
from pathlib import Path

from diwa.skills import SKILLS
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator


def imagined_success(run: Path) -> list[float]:
    values: list[float] = []
    for path in glob.glob(str(run / "tensorboard" / "**" / "events*"), recursive=True):
        events = EventAccumulator(path)
        events.Reload()
        if "rollout/success_rate" in events.Tags()["scalars"]:
            values += [round(e.value, 4) for e in events.Scalars("rollout/success_rate")]
    return values


def main() -> None:
    root = Path(sys.argv[1])
    out: dict[str, object] = {"run": str(root), "seeds": (root / "seeds.txt").read_text().strip(), "skills": {}}
    for skill in SKILLS:
        evaluation = json.loads((root / "diwa_plain" / skill / "evaluation.json").read_text())
        reward = json.loads((root / "rewards" / f"reward_{skill}.json").read_text())
        out["skills"][skill] = {  # type: ignore[index]
            "bc_success": evaluation["base_success_rate"],
            "finetuned_success": evaluation["success_rate"],
            "gain": evaluation["gain"],
            "gain_ci95": evaluation["gain_ci95"],
            "episodes": evaluation["episodes"],
            "eval_seed": evaluation["seed"],
            "outcomes": evaluation["outcomes"],
            "base_outcomes": evaluation["base_outcomes"],
            "imagined_success_per_iteration": imagined_success(root / "diwa_plain" / skill),
            "reward_val": reward["metrics"]["val"],
        }
    target = Path(sys.argv[2]) if len(sys.argv) > 2 else Path(__file__).with_name("runs.json")
    target.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
