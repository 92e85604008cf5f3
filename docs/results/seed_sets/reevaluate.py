"""Re-evaluate fine-tuned checkpoints of seed-set runs as saved (fresh process, one torch thread, the
run's evaluation seed, 100 episodes), beside what their evaluation.json measured on the trained copy
in memory: the two differ where that copy differed from the saved weights in the last bit.

    python docs/results/seed_sets/reevaluate.py OUT.json RUN_DIR [RUN_DIR ...]

RUN_DIR: a `diwa finetune` output (policy.json, evaluation.json). Also re-evaluates the base policy
of the first run, which was loaded from disk in both cases and must come out the same.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
from diwa.eval.harness import SkillReport, evaluate
from diwa.eval.stats import paired_gain_interval
from diwa.policy.checkpoint import load_policy
from diwa.policy.closed_loop import ClosedLoopAgent
from diwa.sim.make import make_env


def run_policy(path: Path, skill: str, episodes: int, seed: int, env) -> SkillReport:
    return evaluate(ClosedLoopAgent(load_policy(path), None, seed), skill, episodes, seed, env=env, progress=False)


def main() -> None:
    torch.set_num_threads(1)
    out = Path(sys.argv[1])
    rows = json.loads(out.read_text()) if out.is_file() else []
    done = {r["run"] for r in rows}
    env = make_env()
    for index, run in enumerate(Path(p) for p in sys.argv[2:]):
        if str(run) in done:
            continue
        done.add(str(run))
        recorded = json.loads((run / "evaluation.json").read_text())
        skill, episodes, seed = recorded["skill"], recorded["episodes"], recorded["seed"]
        tuned = run_policy(run, skill, episodes, seed, env)
        outcomes = [int(r.success) for r in tuned.results]
        gain, low, high = paired_gain_interval(recorded["base_outcomes"], outcomes)
        row = {
            "run": str(run), "skill": skill, "seed": seed,
            "recorded_success": recorded["success_rate"], "saved_success": tuned.success_rate,
            "identical": outcomes == recorded["outcomes"],
            "base_success": recorded["base_success_rate"],
            "recorded_gain": recorded["gain"], "recorded_gain_ci95": recorded["gain_ci95"],
            "saved_gain": gain, "saved_gain_ci95": [low, high], "saved_outcomes": outcomes,
        }  # fmt: skip
        if index == 0:
            base = run_policy(Path(recorded["base_checkpoint"]), skill, episodes, seed, env)
            row["base_identical"] = [int(r.success) for r in base.results] == recorded["base_outcomes"]
        rows.append(row)
        print(f"{run}: recorded {recorded['success_rate']:.2f} saved {tuned.success_rate:.2f} "
              f"gain {gain:+.2f} [{low:+.2f},{high:+.2f}]", flush=True)  # fmt: skip
        out.write_text(json.dumps(rows, indent=1) + "\n")
    env.close()


if __name__ == "__main__":
    main()
