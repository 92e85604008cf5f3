"""`diwa bench camera-policy`: one control step of a camera policy at batch 1 on one CPU thread.

On the camera route every 30 Hz control step preprocesses both 64x64 camera frames, encodes them
with the world model's CNNs (the camera profile's frozen encoder by default, DiWA's with --profile
paper), filters the posterior one step, and every 4 steps (a chunk) samples the diffusion policy on
the latent. The step must fit well within one control period; the target
is p95 <= 15 ms. Latency does not depend on trained weights, so fresh models are timed unless a
checkpoint is given.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from diwa.policy.closed_loop import ClosedLoopAgent
from diwa.policy.config import load_policy_config
from diwa.policy.encoder import FeatureEncoder
from diwa.policy.normalizer import ActionNormalizer, FeatureNormalizer
from diwa.policy.policy import DiffusionPolicy, build_network
from diwa.world_model.config import IMAGE_KEYS, IMAGE_KINDS, load_world_model_config
from diwa.world_model.model import WorldModel

TARGET_P95_MS = 15.0
SKILL = "open_drawer"


def register_bench(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("camera-policy", help="camera policy control-step latency (images to action)")
    parser.add_argument(
        "--profile", default="camera", help="world-model profile of the fresh model: camera (default) or paper"
    )
    parser.add_argument("--checkpoint", type=Path, help="a camera policy to time (default: fresh models)")
    parser.add_argument("--steps", type=int, default=400, help="timed control steps (at least 200)")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--image-size", type=int, default=64, help="camera frames as published (default 64)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    parser.set_defaults(run=run_camera_policy_bench)


def fresh_agent(profile: str, seed: int) -> ClosedLoopAgent:
    config = load_world_model_config(profile)
    if config.observation.kind not in IMAGE_KINDS:
        raise ValueError(f"world-model profile {profile!r} reads no cameras")
    torch.manual_seed(seed)
    model = WorldModel(config).eval()
    policy_config = load_policy_config("quick")
    dim = model.feat_dim
    policy = DiffusionPolicy(
        policy_config,
        SKILL,
        FeatureEncoder(dim).spec(),
        FeatureNormalizer(mean=np.zeros(dim, np.float32), std=np.ones(dim, np.float32)),
        ActionNormalizer(low=-np.ones(7, np.float32), high=np.ones(7, np.float32)),
        build_network(policy_config, dim).eval(),
    )
    return ClosedLoopAgent(policy, model, seed)


def step_latencies_ms(agent: ClosedLoopAgent, steps: int, warmup: int, size: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)

    def observation() -> dict[str, np.ndarray]:
        obs = {key: rng.integers(0, 256, (size, size, 3), dtype=np.uint8) for key in IMAGE_KEYS}
        robot = rng.normal(scale=0.05, size=15).astype(np.float32)
        robot[:3] = (0.03, -0.23, 0.57)
        return {**obs, "robot_obs": robot}

    agent.reset(SKILL, observation())
    times = np.empty(steps)
    for i in range(warmup + steps):
        obs = observation()
        start = time.perf_counter()
        agent.act(obs)
        if i >= warmup:
            times[i - warmup] = time.perf_counter() - start
    return times * 1000.0


def run_camera_policy_bench(args: argparse.Namespace) -> int:
    if args.steps < 200:
        raise ValueError(f"--steps must be at least 200 for a stable p95, got {args.steps}")
    torch.set_num_threads(1)
    agent = ClosedLoopAgent.from_checkpoint(args.checkpoint, SKILL, args.seed) if args.checkpoint else None
    agent = agent or fresh_agent(args.profile, args.seed)
    with torch.inference_mode():
        ms = step_latencies_ms(agent, args.steps, args.warmup, args.image_size, args.seed)
    results = {
        "bench": "camera_policy",
        "world_model": "checkpoint" if args.checkpoint else args.profile,
        "image_size": args.image_size,
        "threads": torch.get_num_threads(),
        "steps": args.steps,
        "p50_ms": round(float(np.percentile(ms, 50)), 3),
        "p95_ms": round(float(np.percentile(ms, 95)), 3),
        "mean_ms": round(float(ms.mean()), 3),
        "target_p95_ms": TARGET_P95_MS,
    }
    results["meets_target"] = bool(results["p95_ms"] <= TARGET_P95_MS)
    print(
        f"camera policy step ({results['world_model']} world model, two {args.image_size}x{args.image_size} "
        f"cameras): p50 {results['p50_ms']} ms, p95 {results['p95_ms']} ms over {args.steps} steps"
    )
    if args.json:
        print(json.dumps(results))
    return 0
