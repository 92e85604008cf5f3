"""`diwa eval-fidelity`: imagined against simulated success, per skill (see diwa.world_model.fidelity)."""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from diwa.eval.agents import load_agent
from diwa.eval.cli import parse_skills
from diwa.eval.harness import DEFAULT_MAX_STEPS
from diwa.world_model.fidelity import TARGET_AGREEMENT, measure_skill
from diwa.world_model.reward import load_reward_classifier
from diwa.world_model.store import load_world_model


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "eval-fidelity",
        help="agreement between imagined and simulated success, per skill",
        description="Run an agent in the simulator, replay its actions in the world model, and compare the "
        "reward classifier's verdict with the oracle's; also its verdict on the latents filtered from the "
        "episode's real observations (right there but wrong in imagination: the dynamics are at fault).",
    )
    parser.add_argument("--wm", type=Path, required=True, help="world-model checkpoint")
    parser.add_argument("--reward", type=Path, required=True, help="reward classifiers: DIR or DIR/<skill>")
    parser.add_argument("--agent", default="scripted", help="'scripted' or a policy checkpoint / DIR with DIR/<skill>")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--skill", help="one skill")
    which.add_argument("--skills", help="'all' or a comma-separated list of skills")
    parser.add_argument("--episodes", type=int, default=50)
    parser.add_argument("--samples", type=int, default=5, help="imagined rollouts per episode")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--temperature", type=float, default=1.0, help="prior sampling temperature (fine-tuning's; DiWA: 1.0)"
    )
    parser.add_argument(
        "--replay-noise",
        type=float,
        nargs="+",
        default=[],
        metavar="STD",
        help="also replay each episode open-loop in the simulator --samples times with Gaussian noise of each STD "
        "(action units; 0.05 = 1 mm per step) on the motion: the ceiling for an imagination that imprecise",
    )
    parser.add_argument("--out", type=Path, help="directory for fidelity.json (per episode) and fidelity.png")
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    parser.set_defaults(run=run_eval_fidelity)


def run_eval_fidelity(args: argparse.Namespace) -> int:
    if min(args.episodes, args.samples) < 1:
        raise ValueError(f"--episodes and --samples must be positive, got {args.episodes} and {args.samples}")
    if not args.temperature > 0:
        raise ValueError(f"--temperature must be positive, got {args.temperature}")
    if not all(np.isfinite(noise) and noise >= 0 for noise in args.replay_noise):
        raise ValueError(f"--replay-noise takes non-negative numbers, got {args.replay_noise}")
    skills = parse_skills(args)
    started = time.perf_counter()
    model, info = load_world_model(args.wm)
    model.eval()
    results = []
    for skill in skills:
        # One directory of classifiers, or one per skill (DIR/<skill>, as the README lays them out).
        reward_dir = args.reward / skill if (args.reward / skill).is_dir() else args.reward
        classifier, _ = load_reward_classifier(reward_dir, skill, info.weights_sha256)
        agent = load_agent(args.agent, skill, args.seed)
        results.append(
            measure_skill(
                model,
                classifier.eval(),
                agent,
                args.agent,
                skill,
                args.episodes,
                args.seed,
                args.samples,
                temperature=args.temperature,
                replay_noise=tuple(args.replay_noise),
            )
        )
    summaries = [r.summary() for r in results]
    document = {
        "world_model": {"path": str(args.wm), "weights_sha256": info.weights_sha256},
        "reward": str(args.reward),
        "agent": args.agent,
        "seed": args.seed,
        "temperature": args.temperature,
        "replay_noise": args.replay_noise,
        "max_steps": DEFAULT_MAX_STEPS,
        "target_agreement": TARGET_AGREEMENT,
        "skills": summaries,
        "wall_s": time.perf_counter() - started,
    }
    levels = [str(noise) for noise in args.replay_noise]
    print(
        f"{'skill':<20} {'real':>6} {'imagined':>9} {'agreement':>10} {'false+':>7} {'missed':>7} {'filtered':>9}"
        + "".join(f" {'sim ' + level:>10}" for level in levels)
    )
    for row in summaries:
        print(
            f"{row['skill']:<20} {row['real_success_rate']:>6.2f} {row['imagined_success_rate']:>9.2f} "
            f"{row['agreement']:>10.3f} {row['false_imagined_success']:>7} {row['missed_real_success']:>7}"
            f" {row['filtered_agreement']:>9.3f}"
            + "".join(f" {row['simulator_replay_agreement'][level]:>10.3f}" for level in levels)
        )
    if args.out:
        from diwa.atomic import write_atomically
        from diwa.eval.charts import agreement_png
        from diwa.eval.report import write_json

        args.out.mkdir(parents=True, exist_ok=True)
        write_json(
            {**document, "episodes": {r.skill: [asdict(e) for e in r.episodes] for r in results}},
            args.out / "fidelity.json",
        )
        title = f"imagination fidelity: {args.agent}"
        write_atomically(args.out / "fidelity.png", agreement_png(summaries, title, TARGET_AGREEMENT))
    if args.json:
        print(json.dumps(document))
    return 0
