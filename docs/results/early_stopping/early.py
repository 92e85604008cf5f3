"""Would stopping fine-tuning early keep a skill from getting worse, and can an independent world
model tell when? One skill of one seed set is fine-tuned as scripts/seed_set.sh does (same seeds),
but in stages of 10 iterations (`diwa finetune --resume --iterations K`). After each stage the
policy is evaluated on the set's 100 paired simulator episodes and imagined, with its BC policy, in
another seed set's world model and reward classifiers (the verdict's independent check).

    python docs/results/early_stopping/early.py RUNS_ROOT OUT_DIR SET:SKILL:JUDGE_SET [...]

Rows go to OUT_DIR/early.json as they finish; rerunning skips finished stages.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import torch
from diwa.eval.stats import paired_gain_interval
from diwa.policy.checkpoint import load_policy
from diwa.rl.conditioning import imagined_reader
from diwa.rl.config import load_finetune_config
from diwa.rl.imagination import policy_start_states
from diwa.rl.verdict import imagine_episodes
from diwa.world_model.reward import load_reward_classifier
from diwa.world_model.store import load_world_model

STAGES, EPISODES, SEED = (10, 20, 30, 40), 500, 0


def independent_gain(root: Path, judge: str, skill: str, base_path: Path, tuned_path: Path) -> list[float]:
    config = load_finetune_config("quick")
    model, info = load_world_model(root / f"s{judge}" / "wm")
    reward, _ = load_reward_classifier(root / f"s{judge}" / "rewards", skill, world_model_sha256=info.weights_sha256)
    base, tuned = load_policy(base_path), load_policy(tuned_path)
    _, _, starts = policy_start_states(base, model, skill, None, config.imagination)
    steps, temperature = config.rollout.max_episode_steps, config.imagination.temperature
    outcomes = [
        imagine_episodes(
            model, reward, starts, policy, imagined_reader(policy, model), None, EPISODES, SEED, steps, temperature
        )
        for policy in (base, tuned)
    ]
    return list(paired_gain_interval(*(o.success.astype(int).tolist() for o in outcomes)))


def main() -> None:
    root, out = Path(sys.argv[1]), Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    table = out / "early.json"
    rows = json.loads(table.read_text()) if table.is_file() else []
    done = {(r["set"], r["skill"], r["judge_set"], r["iterations"]) for r in rows}
    for spec in sys.argv[3:]:
        number, skill, judge = spec.split(":")
        run = root / f"s{number}"
        base = run / "bc" / "policies" / skill
        work = out / "runs" / f"s{number}_{skill}"
        for stage in STAGES:
            if (number, skill, judge, stage) in done:
                continue
            command = ["diwa", "finetune", "--skill", skill, "--wm", str(run / "wm"), "--policy", str(base)]
            command += ["--reward", str(run / "rewards"), "--out", str(work), "--seed", number]
            command += ["--eval-seed", str(1000 + int(number)), "--iterations", str(stage), "--no-progress"]
            if (work / "finetune.json").is_file():
                command.append("--resume")
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
            snapshot = out / "runs" / f"s{number}_{skill}_it{stage:03d}"
            shutil.rmtree(snapshot, ignore_errors=True)
            shutil.copytree(work, snapshot, ignore=shutil.ignore_patterns("*.state.pt", "tensorboard", "finetune-*"))
            truth = json.loads((work / "evaluation.json").read_text())
            gain, low, high = independent_gain(root, judge, skill, base, snapshot)
            rows.append({
                "set": number, "skill": skill, "judge_set": judge, "iterations": stage,
                "real_base": truth["base_success_rate"], "real_tuned": truth["success_rate"],
                "real_gain": truth["gain"], "real_gain_ci95": truth["gain_ci95"],
                "independent_gain": gain, "independent_gain_ci95": [low, high],
                "policy_sha256": truth["policy_sha256"],
            })  # fmt: skip
            real_low, real_high = truth["gain_ci95"]
            print(
                f"s{number} {skill:20s} it {stage:3d}: "
                f"simulator {truth['gain']:+.2f} [{real_low:+.2f},{real_high:+.2f}] "
                f"independent {gain:+.2f} [{low:+.2f},{high:+.2f}]",
                flush=True,
            )
            table.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
