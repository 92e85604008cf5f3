"""A tiny DenoisingPPO for four iterations: a hash of the final weights and of every iteration's
statistics, to compare two versions of the code (run with PYTHONPATH pointing at each).

    python ppo_identity.py TEST_DIR     (TEST_DIR: the version's src/diwa_core/test, for rl_tiny)
"""

import hashlib
import json
import sys

import torch

sys.path.insert(0, sys.argv[1])
import rl_tiny

CASES = {"plain": {}, "kl": {"base_kl_coef": 0.1, "target_kl": 1e-9}}  # the second stops epochs early


def rounded(stats: dict[str, float]) -> dict[str, float]:
    """The statistics without wall-clock timings."""
    return {k: round(v, 12) for k, v in sorted(stats.items()) if not k.endswith("_s")}


def main() -> None:
    torch.set_num_threads(1)
    out = {}
    for label, overrides in CASES.items():
        run = rl_tiny.config()
        if overrides:
            run = run.replace("ppo", **overrides)
        model = rl_tiny.world_model()
        agent = rl_tiny.ppo(rl_tiny.policy(model.feat_dim), run)
        env = rl_tiny.imagination(model, agent.policy, run, reward=rl_tiny.random_reward(model.feat_dim))
        stats = [rounded(agent.iterate(env, run.rollout.chunks_per_iteration)) for _ in range(4)]
        digest = hashlib.sha256()
        for module in (agent.actor, agent.critic):
            for name, tensor in sorted(module.state_dict().items()):
                digest.update(name.encode())
                digest.update(tensor.detach().numpy().tobytes())
        out[label] = {
            "weights": digest.hexdigest()[:16],
            "stats": hashlib.sha256(json.dumps(stats).encode()).hexdigest()[:16],
            "last": stats[-1],
        }
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
