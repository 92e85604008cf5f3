"""Does the fine-tuned policy leave the play data's support *in imagination*? Per policy: imagined
success, and the share of imagined episodes whose decoded TCP leaves the play data's 0.1..99.9 %
box by more than 2 cm before they end (the verdict's seeded episodes, deterministic denoising).

    python docs/results/lamp_regression/imagined_support.py RUNS_ROOT SET:SKILL [SET:SKILL ...]

RUNS_ROOT holds scripts/seed_set.sh outputs named s<SET> (plain fine-tuning).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch
from diwa.action_semantics import CommandedTarget
from diwa.policy.checkpoint import load_policy
from diwa.rl.conditioning import imagined_reader
from diwa.rl.config import load_finetune_config
from diwa.rl.imagination import policy_start_states
from diwa.sim.obs_layout import TCP_POS
from diwa.world_model.reward import load_reward_classifier
from diwa.world_model.store import load_world_model

EPISODES, SEED, OUTSIDE_M = 300, 0, 0.02


@torch.no_grad()
def imagine(model, reward, starts, policy, low, high, config) -> dict[str, float]:
    generator, policy_generator = torch.Generator().manual_seed(SEED), torch.Generator().manual_seed(SEED + 1)
    index = torch.randint(len(starts), (EPISODES,), generator=generator)
    state = starts.encode(model, index, generator)
    target = CommandedTarget(starts.robot_obs(index)[:, TCP_POS])
    reader = imagined_reader(policy, model)
    success = torch.zeros(EPISODES, dtype=torch.bool)
    ended = torch.zeros(EPISODES, dtype=torch.bool)
    excursion = torch.zeros(EPISODES)
    steps = 0
    while steps < config.rollout.max_episode_steps and not bool(ended.all()):
        actions = target.effective(torch.from_numpy(policy.predict_chunk(reader(state), policy_generator, True)))
        for t in range(actions.shape[1]):
            state = model.step(state, actions[:, t], generator, config.imagination.temperature)
            tcp = model.decode(state.features())["robot_obs"][:, :3]
            beyond = torch.maximum(low - tcp, tcp - high).clamp(min=0).max(-1).values
            excursion = torch.where(ended, excursion, torch.maximum(excursion, beyond))
        steps += actions.shape[1]
        now = (reward.reward(state.features()) > 0) & ~ended
        success |= now
        ended |= now
    outside = excursion > OUTSIDE_M
    return {"imagined_success": float(success.float().mean()), "left_support": float(outside.float().mean())}


def main() -> None:
    root = Path(sys.argv[1])
    torch.set_num_threads(1)
    config = load_finetune_config("quick")
    for spec in sys.argv[2:]:
        number, skill = spec.split(":")
        run = root / f"s{number}"
        model, info = load_world_model(run / "wm")
        play = np.load(run / "play" / "robot_obs.npy")[:, :3]
        low = torch.tensor(np.percentile(play, 0.1, axis=0), dtype=torch.float32)
        high = torch.tensor(np.percentile(play, 99.9, axis=0), dtype=torch.float32)
        reward, _ = load_reward_classifier(run / "rewards", skill, world_model_sha256=info.weights_sha256)
        base, tuned = load_policy(run / "bc" / "policies" / skill), load_policy(run / "diwa_plain" / skill)
        _, _, starts = policy_start_states(base, model, skill, None, config.imagination)
        truth = json.loads((run / "diwa_plain" / skill / "evaluation.json").read_text())
        result = {
            "set": number, "skill": skill,
            "bc": imagine(model, reward, starts, base, low, high, config),
            "finetuned": imagine(model, reward, starts, tuned, low, high, config),
            "simulator": {"bc": truth["base_success_rate"], "finetuned": truth["success_rate"]},
            "play_box": [low.tolist(), high.tolist()],
        }  # fmt: skip
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
