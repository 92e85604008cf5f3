"""Does a second, independently trained world model see the gains the first one promised?

Each fine-tuned policy of one seed set (and its BC base) is imagined in the *other* set's world
model and reward classifiers (trained on other play data, other seeds), with the verdict's paired
episodes, and the paired gain is set beside the training model's verdict and the simulator's truth.

    python docs/results/verdict_cross_model/cross.py RUNS_ROOT OUT.json SET:OTHER [SET:OTHER ...]

RUNS_ROOT holds scripts/seed_set.sh outputs named s<SET>.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
from diwa.eval.stats import paired_gain_interval
from diwa.policy.checkpoint import load_policy
from diwa.rl.conditioning import check_policy, imagined_reader
from diwa.rl.config import load_finetune_config
from diwa.rl.guard import load_or_fit_guard
from diwa.rl.imagination import policy_start_states
from diwa.rl.verdict import imagine_episodes
from diwa.world_model.reward import load_reward_classifier
from diwa.world_model.store import load_world_model

EPISODES, SEED = 500, 0


def main() -> None:
    root, out = Path(sys.argv[1]), Path(sys.argv[2])
    torch.set_num_threads(1)
    config = load_finetune_config("quick")
    rows = json.loads(out.read_text()) if out.is_file() else []
    done = {(r["set"], r["variant"], r["skill"], r["judge_set"]) for r in rows}
    for pair in sys.argv[3:]:
        source, other = pair.split(":")
        model, info = load_world_model(root / f"s{other}" / "wm")
        guard, _ = load_or_fit_guard(root / f"s{other}" / "verdict_guard", None, config.guard, model, info, SEED, False)
        for run in sorted((root / f"s{source}").glob("diwa_*/*/evaluation.json")):
            run = run.parent
            variant, skill = run.parent.name.removeprefix("diwa_"), run.name
            if (source, variant, skill, other) in done or not (run / "verdict.json").is_file():
                continue  # judged before, or no verdict of its own to set beside
            tuned, base = load_policy(run), load_policy(root / f"s{source}" / "bc" / "policies" / skill)
            for policy in (tuned, base):
                check_policy(policy, skill, model, info)
            rewards = root / f"s{other}" / "rewards"
            reward, _ = load_reward_classifier(rewards, skill, world_model_sha256=info.weights_sha256)
            _, _, starts = policy_start_states(base, model, skill, None, config.imagination)
            outcomes = [
                imagine_episodes(
                    model,
                    reward,
                    starts,
                    policy,
                    imagined_reader(policy, model),
                    guard,
                    EPISODES,
                    SEED,
                    config.rollout.max_episode_steps,
                    config.imagination.temperature,
                )
                for policy in (base, tuned)
            ]
            gain, low, high = paired_gain_interval(
                outcomes[0].success.astype(int).tolist(), outcomes[1].success.astype(int).tolist()
            )
            own = json.loads((run / "verdict.json").read_text())
            truth = json.loads((run / "evaluation.json").read_text())
            rows.append(
                {
                    "set": source,
                    "variant": variant,
                    "skill": skill,
                    "judge_set": other,
                    "cross_base": float(outcomes[0].success.mean()),
                    "cross_tuned": float(outcomes[1].success.mean()),
                    "cross_gain": gain,
                    "cross_gain_ci95": [low, high],
                    "own_base": own["base"]["imagined_success"],
                    "own_tuned": own["finetuned"]["imagined_success"],
                    "own_gain": own["trusted_gain"],
                    "own_gain_ci95": own["trusted_gain_ci95"],
                    "real_base": truth["base_success_rate"],
                    "real_tuned": truth["success_rate"],
                    "real_gain": truth["gain"],
                    "real_gain_ci95": truth["gain_ci95"],
                }
            )
            print(
                f"{source}->{other} {variant:6s} {skill:20s} own {rows[-1]['own_gain']:+.2f} cross {gain:+.2f} "
                f"[{low:+.2f},{high:+.2f}] real {truth['gain']:+.2f}",
                flush=True,
            )
            out.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
