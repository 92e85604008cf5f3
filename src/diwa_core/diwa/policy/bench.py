"""`diwa bench policy`: latency of one action chunk at batch 1 on one CPU thread.

The policy node replans every 4 control steps at 30 Hz, so a chunk must be predicted well within
one control period; the target is DDPM-20 p95 <= 10 ms with the quick-profile network. The time
covers what the agent does per chunk: normalising features, the whole denoising chain and
unnormalising the actions.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import torch

from diwa.policy.checkpoint import load_policy
from diwa.policy.config import load_policy_config
from diwa.policy.encoder import StateEncoder
from diwa.policy.normalizer import ActionNormalizer, FeatureNormalizer
from diwa.policy.policy import DiffusionPolicy, build_network

TARGET_P95_MS = 10.0


def register_bench(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("policy", help="diffusion-policy chunk latency (DDPM-20 and DDIM-5)")
    parser.add_argument("--checkpoint", type=Path, help="policy to time (default: a fresh quick-profile network)")
    parser.add_argument("--calls", type=int, default=300, help="timed calls per sampler (at least 200)")
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    parser.set_defaults(run=run_policy_bench)


def _fresh_policy(seed: int) -> DiffusionPolicy:
    """A randomly initialised quick-profile policy: latency does not depend on trained weights."""
    config = load_policy_config("quick")
    torch.manual_seed(seed)
    dim = StateEncoder.feature_dim
    features = FeatureNormalizer(mean=np.zeros(dim, np.float32), std=np.ones(dim, np.float32))
    actions = ActionNormalizer(low=-np.ones(7, np.float32), high=np.ones(7, np.float32))
    return DiffusionPolicy(
        config, "open_drawer", StateEncoder().spec(), features, actions, build_network(config, dim).eval()
    )


def _with_sampler(policy: DiffusionPolicy, sampler: str) -> DiffusionPolicy:
    config = dataclasses.replace(policy.config, diffusion=dataclasses.replace(policy.config.diffusion, sampler=sampler))
    return DiffusionPolicy(
        config,
        policy.skill,
        policy.encoder_spec,
        policy.feature_normalizer,
        policy.action_normalizer,
        policy.base,
        policy.finetuned,
        policy.finetuned_steps,
    )


def _latencies_ms(policy: DiffusionPolicy, calls: int, warmup: int, seed: int) -> np.ndarray:
    generator = torch.Generator().manual_seed(seed)
    features = np.random.default_rng(seed).normal(size=policy.feature_dim).astype(np.float32)
    for _ in range(warmup):
        policy.predict_chunk(features, generator)
    times = np.empty(calls)
    for i in range(calls):
        start = time.perf_counter()
        policy.predict_chunk(features, generator)
        times[i] = time.perf_counter() - start
    return times * 1000.0


def run_policy_bench(args: argparse.Namespace) -> int:
    if args.calls < 200:
        raise ValueError(f"--calls must be at least 200 for a stable p95, got {args.calls}")
    torch.set_num_threads(1)
    policy = load_policy(args.checkpoint) if args.checkpoint else _fresh_policy(args.seed)
    results: dict[str, float | int | bool | str | list[int]] = {
        "bench": "policy",
        "network": f"{list(policy.config.network.widths)}",
        "threads": torch.get_num_threads(),
        "calls": args.calls,
    }
    for label, sampler in (("", "ddpm"), ("ddim5_", "ddim")):
        timed = _with_sampler(policy, sampler)
        ms = _latencies_ms(timed, args.calls, args.warmup, args.seed)
        results[f"{label}p50_ms"] = round(float(np.percentile(ms, 50)), 3)
        results[f"{label}p95_ms"] = round(float(np.percentile(ms, 95)), 3)
        results[f"{label}mean_ms"] = round(float(ms.mean()), 3)
        print(
            f"{sampler.upper()}-{timed.mdp.num_steps}: p50 {results[f'{label}p50_ms']} ms, "
            f"p95 {results[f'{label}p95_ms']} ms over {args.calls} chunks"
        )
    results["target_p95_ms"] = TARGET_P95_MS
    results["meets_target"] = bool(results["p95_ms"] <= TARGET_P95_MS)
    if args.json:
        print(json.dumps(results))
    return 0
