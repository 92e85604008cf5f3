"""Re-evaluate seed-set runs with the harness as it is now: the fine-tuned checkpoint as saved and
its BC policy, paired on the run's 100 seeded episodes (fresh simulator, one torch thread), beside
what the run's evaluation.json recorded.

    python docs/results/seed_sets/reevaluate.py OUT.json RUN_DIR [RUN_DIR ...]

RUN_DIR: a `diwa finetune` output (policy.json, evaluation.json). `reevaluated_plain.json` was made
by this script's first version (`git show e3d1be6:docs/results/seed_sets/reevaluate.py`), before
episodes had their own noise seeds, without the BC side (its lamp run appears twice: once first, as
a check, once in turn); `reevaluated_episode_seeds.json` by this one.
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


def run_policy(path: Path, skill: str, episodes: int, seed: int) -> SkillReport:
    return evaluate(ClosedLoopAgent(load_policy(path), None, seed), skill, episodes, seed, progress=False)


def main() -> None:
    torch.set_num_threads(1)
    out = Path(sys.argv[1])
    rows = json.loads(out.read_text()) if out.is_file() else []
    done = {r["run"] for r in rows}
    for run in (Path(p) for p in sys.argv[2:]):
        if str(run) in done:
            continue
        done.add(str(run))
        recorded = json.loads((run / "evaluation.json").read_text())
        skill, episodes, seed = recorded["skill"], recorded["episodes"], recorded["seed"]
        base = run_policy(Path(recorded["base_checkpoint"]), skill, episodes, seed)
        tuned = run_policy(run, skill, episodes, seed)
        base_outcomes = [int(r.success) for r in base.results]
        outcomes = [int(r.success) for r in tuned.results]
        gain, low, high = paired_gain_interval(base_outcomes, outcomes)
        row = {
            "run": str(run), "skill": skill, "seed": seed,
            "recorded_base_success": recorded["base_success_rate"], "recorded_success": recorded["success_rate"],
            "recorded_gain": recorded["gain"], "recorded_gain_ci95": recorded["gain_ci95"],
            "base_success": base.success_rate, "success": tuned.success_rate,
            "gain": gain, "gain_ci95": [low, high], "base_outcomes": base_outcomes, "outcomes": outcomes,
        }  # fmt: skip
        rows.append(row)
        print(f"{run}: recorded {recorded['base_success_rate']:.2f} -> {recorded['success_rate']:.2f}, now "
              f"{base.success_rate:.2f} -> {tuned.success_rate:.2f} gain {gain:+.2f} [{low:+.2f},{high:+.2f}]",
              flush=True)  # fmt: skip
        out.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
