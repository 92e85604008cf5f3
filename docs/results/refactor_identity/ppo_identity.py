"""A tiny DenoisingPPO for a few iterations: a hash of the final weights and the statistics, to
compare two versions of the code (run with PYTHONPATH pointing at each)."""
import hashlib, json, sys
import torch
sys.path.insert(0, sys.argv[1])  # the test dir holding rl_tiny
import rl_tiny
torch.set_num_threads(1)
out = {}
for label, overrides in [("plain", {}), ("kl", {"base_kl_coef": 0.1, "target_kl": 1e-9})]:
    run = rl_tiny.config()
    if overrides:
        run = run.replace("ppo", **overrides)
    model = rl_tiny.world_model()
    base = rl_tiny.policy(model.feat_dim)
    agent = rl_tiny.ppo(base, run)
    env = rl_tiny.imagination(model, agent.policy, run, reward=rl_tiny.random_reward(model.feat_dim))
    stats = [agent.iterate(env, run.rollout.chunks_per_iteration) for _ in range(4)]
    digest = hashlib.sha256()
    for module in (agent.actor, agent.critic):
        for k, v in sorted(module.state_dict().items()):
            digest.update(k.encode()); digest.update(v.detach().numpy().tobytes())
    keep = lambda s: {k: round(v, 12) for k, v in sorted(s.items()) if not k.endswith("_s")}
    out[label] = {"weights": digest.hexdigest()[:16], "stats": hashlib.sha256(json.dumps([keep(s) for s in stats]).encode()).hexdigest()[:16], "last": keep(stats[-1])}
print(json.dumps(out, indent=1))
