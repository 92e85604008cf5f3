"""`diwa bench imagination`: imagined primitive steps per second of a fine-tuning rollout on CPU.

What is timed is what every PPO iteration does before its update: for 50 parallel imagined
episodes, each chunk is sampled by the policy (20 denoising steps, the last 10 by the fine-tuned
copy, chain kept), stepped through the world model's prior (4 steps), scored by the reward
classifier, and ended episodes restart from encoded start frames; then the old log-probabilities
and values of the rollout are computed. Throughput does not depend on trained weights, so fresh
quick-profile networks are timed unless checkpoints are given. Target: 20,000 steps/s.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import torch

from diwa.policy.checkpoint import load_policy
from diwa.policy.config import load_policy_config
from diwa.policy.encoder import FeatureEncoder
from diwa.policy.network import Critic
from diwa.policy.normalizer import ActionNormalizer, FeatureNormalizer
from diwa.policy.policy import DiffusionPolicy, build_network
from diwa.rl.conditioning import imagined_reader
from diwa.rl.config import RolloutConfig, load_finetune_config
from diwa.rl.imagination import ImaginationEnv, StartStates
from diwa.rl.ppo import DenoisingPPO
from diwa.skills import EPISODE_STEP_LIMIT
from diwa.world_model.config import load_world_model_config
from diwa.world_model.model import WorldModel
from diwa.world_model.reward import RewardClassifier, load_reward_classifier, load_reward_config
from diwa.world_model.store import load_world_model

TARGET_STEPS_PER_S = 20_000


def register_bench(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("imagination", help="imagined steps/s of a fine-tuning rollout (policy included)")
    parser.add_argument("--wm", type=Path, help="world-model checkpoint (default: a fresh quick model)")
    parser.add_argument("--policy", type=Path, help="latent policy checkpoint (default: a fresh quick network)")
    parser.add_argument("--reward", type=Path, help="the policy skill's reward classifier (default: a fresh one)")
    parser.add_argument("--envs", type=int, default=50, help="parallel imagined episodes (default 50)")
    parser.add_argument("--chunks", type=int, default=36, help="chunks per timed rollout (default 36)")
    parser.add_argument("--repeats", type=int, default=3, help="timed rollouts; the best is reported (default 3)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    parser.set_defaults(run=run_imagination_bench)


def _fresh_policy(feat_dim: int, seed: int) -> DiffusionPolicy:
    config = load_policy_config("quick")
    torch.manual_seed(seed)
    features = FeatureNormalizer(mean=np.zeros(feat_dim, np.float32), std=np.ones(feat_dim, np.float32))
    actions = ActionNormalizer(low=-np.ones(7, np.float32), high=np.ones(7, np.float32))
    spec = FeatureEncoder(feat_dim).spec()
    return DiffusionPolicy(config, "open_drawer", spec, features, actions, build_network(config, feat_dim).eval())


def run_imagination_bench(args: argparse.Namespace) -> int:
    if min(args.envs, args.chunks, args.repeats, args.threads) < 1:
        raise ValueError("--envs, --chunks, --repeats and --threads must be positive")
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    model = load_world_model(args.wm)[0] if args.wm else WorldModel(load_world_model_config("quick")).eval()
    policy = load_policy(args.policy) if args.policy else _fresh_policy(model.feat_dim, args.seed)
    if policy.feature_dim != model.feat_dim:
        raise ValueError(f"the policy reads {policy.feature_dim}-d features, the world model makes {model.feat_dim}")
    config = load_finetune_config("quick")
    rollout = RolloutConfig(num_envs=args.envs, chunks_per_iteration=args.chunks, max_episode_steps=EPISODE_STEP_LIMIT)
    if args.reward:
        classifier, _ = load_reward_classifier(args.reward, policy.skill)
    else:
        # A fresh classifier judges arbitrarily; biased to "not done", episodes run to the 72-step
        # limit and restart every 18 chunks, which times the restarts as well.
        classifier = RewardClassifier(model.feat_dim, load_reward_config("quick")).eval()
        with torch.no_grad():
            classifier.head[-1].bias.copy_(torch.tensor([1e3, 0.0]))
    generator = torch.Generator().manual_seed(args.seed)
    frames = 256
    starts = StartStates(
        {
            "robot_obs": torch.randn(frames, 15, generator=generator),
            "scene_obs": torch.randn(frames, 24, generator=generator),
        }
    )
    env = ImaginationEnv(
        model, classifier, starts, imagined_reader(policy, model), rollout, config.imagination, args.seed
    )
    tuned = policy.with_finetuned_copy(config.ppo.ft_denoising_steps)
    ppo = DenoisingPPO(tuned, Critic(policy.feature_dim, policy.config.network.critic_widths), config.ppo, args.seed)
    ppo.collect(env, 2)  # warm-up
    best_play, best_score, best_cpu, steps = float("inf"), float("inf"), float("inf"), 0
    for _ in range(args.repeats):
        start, cpu = time.perf_counter(), time.process_time()
        data = ppo.play(env, args.chunks)
        played, cpu_played = time.perf_counter(), time.process_time()
        ppo.score(data)
        best_play = min(best_play, played - start)
        best_cpu = min(best_cpu, cpu_played - cpu)
        best_score = min(best_score, time.perf_counter() - played)
        steps = data.primitive_steps
    rate = steps / best_play
    with_scoring = steps / (best_play + best_score)
    # On a shared machine wall-clock time includes waiting for a core; CPU time does not.
    cpu_rate = steps / best_cpu
    print(
        f"imagination: {args.envs} episodes x {args.chunks} chunks = {steps:,} primitive steps in {best_play:.3f} s "
        f"-> {rate:,.0f} imagined steps/s (target {TARGET_STEPS_PER_S:,}); {with_scoring:,.0f}/s including the "
        f"rollout's log-probabilities and values ({args.threads} thread(s), policy "
        f"{list(policy.config.network.widths)}, world model {model.config.profile})"
    )
    print(f"per CPU second of this process: {cpu_rate:,.0f} imagined steps (load average {os.getloadavg()[0]:.1f})")
    if args.json:
        print(
            json.dumps(
                {
                    "bench": "imagination",
                    "imagined_steps_per_s": rate,
                    "imagined_steps_per_s_with_scoring": with_scoring,
                    "imagined_steps_per_cpu_s": cpu_rate,
                    "load_average": os.getloadavg()[0],
                    "envs": args.envs,
                    "chunks": args.chunks,
                    "primitive_steps": steps,
                    "seconds": best_play,
                    "threads": args.threads,
                    "target_steps_per_s": TARGET_STEPS_PER_S,
                    "meets_target": rate >= TARGET_STEPS_PER_S,
                }
            )
        )
    return 0
