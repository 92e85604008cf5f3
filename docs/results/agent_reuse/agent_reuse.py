"""Why a latent-conditioned BC policy scored 22/50 with one agent reused across episodes and 43/50
with a fresh agent per episode. The two differ only in their random streams: a reused agent keeps
drawing new initial noise x_T (policy) and new posterior samples (latent filter), while a fresh agent
built with the same seed replays the same draws in every episode. So each condition below fixes or
frees each stream and evaluates the same 50 paired start states.

    python agent_reuse.py POLICY_DIR SKILL EPISODES EVAL_SEED OUT.json
"""

from __future__ import annotations

import json
import sys
import time

import torch
from diwa.eval.harness import evaluate
from diwa.policy.closed_loop import ClosedLoopAgent
from diwa.sim.make import make_env


class Reseeding:
    """A ClosedLoopAgent whose random streams restart at the start of every episode: the policy's
    (initial noise) and/or the latent filter's (posterior samples), from `seed(episode)`."""

    def __init__(self, agent: ClosedLoopAgent, policy: bool, tracker: bool, seed) -> None:
        self.agent, self.policy, self.tracker, self.seed, self.episode = agent, policy, tracker, seed, 0

    def reset(self, skill, obs) -> None:
        s = self.seed(self.episode)
        if self.policy:
            self.agent.agent.generator.manual_seed(s)
        if self.tracker:
            self.agent.features.tracker.generator.manual_seed(s)
        self.episode += 1
        self.agent.reset(skill, obs)

    def act(self, obs):
        return self.agent.act(obs)


def main() -> None:
    path, skill, episodes, eval_seed, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    torch.set_num_threads(1)
    conditions = {
        "reused (harness), seed 0": lambda: ClosedLoopAgent.from_checkpoint(path, skill, 0),
        "fresh per episode, seed 0 every time": lambda: Reseeding(
            ClosedLoopAgent.from_checkpoint(path, skill, 0), True, True, lambda i: 0
        ),
        **{
            f"fresh per episode, seed {k} every time": (
                lambda k=k: Reseeding(ClosedLoopAgent.from_checkpoint(path, skill, 0), True, True, lambda i: k)
            )
            for k in (1, 2, 3, 4)
        },
        "fresh per episode, seed 1000 + episode": lambda: Reseeding(
            ClosedLoopAgent.from_checkpoint(path, skill, 0), True, True, lambda i: 1000 + i
        ),
        "reused, only the policy noise replayed (seed 0)": lambda: Reseeding(
            ClosedLoopAgent.from_checkpoint(path, skill, 0), True, False, lambda i: 0
        ),
        "reused, only the posterior samples replayed (seed 0)": lambda: Reseeding(
            ClosedLoopAgent.from_checkpoint(path, skill, 0), False, True, lambda i: 0
        ),
        **{f"reused, seed {k}": (lambda k=k: ClosedLoopAgent.from_checkpoint(path, skill, k)) for k in (1, 2)},
    }
    results = {}
    env = make_env()
    try:
        for name, make in conditions.items():
            start = time.time()
            report = evaluate(make(), skill, episodes, eval_seed, env=env, progress=False)
            results[name] = {
                "successes": report.successes,
                "episodes": report.episodes,
                "outcomes": [int(r.success) for r in report.results],
            }
            print(f"{name}: {report.successes}/{report.episodes} ({time.time() - start:.0f} s)", flush=True)
    finally:
        env.close()
    with open(out, "w") as f:
        json.dump({"policy": path, "skill": skill, "eval_seed": eval_seed, "conditions": results}, f, indent=1)


if __name__ == "__main__":
    main()
