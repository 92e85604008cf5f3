"""What more processes buy on this machine (issue 30): world-model training on 1 and 2 processes
(torchrun, gloo), four skills fine-tuned with `diwa finetune-skills --workers 1` and `2`, and the
DPPO baseline's simulators on 1 and 2 worker processes. Run on an otherwise idle machine:

    python docs/results/scaling/measure.py SET_DIR SCRATCH > docs/results/scaling/scaling.json

SET_DIR is a scripts/seed_set.sh output (play/, wm/, bc/policies/, rewards/); SCRATCH is emptied.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

WM_STEPS = 300
SKILLS = "open_drawer,close_drawer,move_slider_left,turn_on_led"
FT_ITERATIONS = 3


def run(argv: list[str]) -> tuple[float, dict]:
    """Wall seconds of a command and the JSON on its last output line."""
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return wall, json.loads(done.stdout.strip().splitlines()[-1])


def main(set_dir: Path, scratch: Path) -> None:
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    diwa = [sys.executable, "-m", "diwa"]
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "diwa"]
    results: dict = {"machine": f"{os.cpu_count()} CPU cores, {platform.processor() or platform.machine()}"}

    world_model = {}
    train = ["train-wm", "--data", str(set_dir / "play"), "--profile", "quick", "--steps", str(WM_STEPS)]
    train += ["--seed", "0", "--no-progress", "--json"]
    for name, launcher, threads in (("1 process, 1 thread", diwa, 1), ("1 process, 2 threads", diwa, 2),
                                    ("2 processes (torchrun, gloo), 1 thread each", torchrun, 1)):  # fmt: skip
        out = scratch / f"wm_{len(world_model)}"
        wall, summary = run([*launcher, *train, "--out", str(out), "--threads", str(threads)])
        world_model[name] = {
            "samples_per_s": round(summary["samples_per_s"], 1),
            "wall_s": round(wall, 1),
            "val_loss": round(summary["val"]["loss"], 3),
        }
    results["world_model_quick"] = {"steps": WM_STEPS, "runs": world_model}

    finetune = {}
    for workers in (1, 2):
        argv = [*diwa, "finetune-skills", "--skills", SKILLS, "--policies", str(set_dir / "bc" / "policies")]
        argv += [
            "--wm",
            str(set_dir / "wm"),
            "--reward",
            str(set_dir / "rewards"),
            "--out",
            str(scratch / f"ft{workers}"),
        ]
        argv += ["--workers", str(workers), "--iterations", str(FT_ITERATIONS), "--eval-episodes", "0"]
        wall, summary = run([*argv, "--no-progress", "--json"])
        finetune[f"{workers} worker(s)"] = {
            "wall_s": round(wall, 1),
            "ok": all(r["ok"] for r in summary["skills"].values()),
        }
    results["finetune_skills"] = {"skills": SKILLS.split(","), "iterations": FT_ITERATIONS, "runs": finetune}

    online = {}
    policy = set_dir / "bc" / "policies" / "open_drawer"
    for workers in (1, 2):
        argv = [*diwa, "finetune-online", "--skill", "open_drawer", "--policy", str(policy)]
        argv += ["--out", str(scratch / f"online{workers}"), "--iterations", "1", "--eval-episodes", "0"]
        wall, summary = run([*argv, "--envs", "10", "--sim-workers", str(workers), "--no-progress", "--json"])
        online[f"{workers} simulator worker(s)"] = {
            "env_steps": summary["env_steps"],
            "wall_s": round(wall, 1),
            "env_steps_per_s_in_iterations": round(summary["env_steps"] / summary["wall_s"], 1),
        }
    results["finetune_online"] = {"skill": "open_drawer", "envs": 10, "iterations": 1, "runs": online}
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
