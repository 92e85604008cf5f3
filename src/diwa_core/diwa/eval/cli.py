"""`diwa eval`: success rates of a policy in the simulator, per skill, with reports; `diwa
latency-check`: a fine-tuned run's evaluation replayed with command delay (eval/latency_check.py);
and `diwa promote`: whether a fine-tuned checkpoint may drive a real arm (diwa/promotion.py)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from diwa.eval.harness import DEFAULT_MAX_STEPS, evaluate_skills, summary
from diwa.promotion import DEFAULT_MIN_EPISODES, judge_checkpoint
from diwa.skills import check_skill, parse_skill_list


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("eval", help="evaluate a policy's success rate in the simulator")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--skill", help="one skill")
    which.add_argument("--skills", help="'all' or a comma-separated list of skills")
    parser.add_argument("--policy", default="scripted", help="'scripted' or a policy checkpoint path")
    parser.add_argument("--episodes", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-steps", type=int, default=DEFAULT_MAX_STEPS)
    parser.add_argument(
        "--action-delay",
        type=int,
        default=0,
        metavar="PERIODS",
        help="apply each action this many control periods after its observation, as a real-time robot loop "
        "does (1-2 on the ROS graph; default 0: at once)",
    )
    parser.add_argument("--out", help="directory for episodes.jsonl, report.json, success_rates.png, videos/")
    parser.add_argument("--video", type=int, default=0, metavar="K", help="GIFs of the first K episodes (needs --out)")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch CPU threads (default 1: one-observation inference gains nothing from more, and a thread "
        "per core spinning beside other work slowed evaluation 20-fold)",
    )
    parser.add_argument("--json", action="store_true", help="print the summary as JSON on the last line")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.set_defaults(run=run)

    latency = subparsers.add_parser(
        "latency-check",
        help="replay a fine-tuned run's paired evaluation with command delay, as a real-time loop runs it",
        description="Evaluates the fine-tuned checkpoint and its base policy on the episodes of its evaluation.json "
        "with each delay and writes latency.json beside it; the promotion gate then refuses the checkpoint if it is "
        "below its base policy at any of them (docs/results/delay_finetune).",
    )
    latency.add_argument("checkpoint", help="fine-tuned checkpoint directory or release name")
    latency.add_argument(
        "--delays", default="1,2", help="control periods, comma-separated (default 1,2: what the ROS graph measured)"
    )
    latency.add_argument("--base", help="the base policy (default: the one evaluation.json names)")
    latency.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    latency.add_argument("--json", action="store_true", help="print latency.json's summary as JSON on the last line")
    latency.set_defaults(run=run_latency_check)

    promote = subparsers.add_parser(
        "promote",
        help="say whether a fine-tuned checkpoint may drive a real arm, and why (exit 0: yes, 1: no)",
        description="The promotion gate the policy node applies on a real arm: the checkpoint's simulator evaluation "
        "(or, without one, its world-model verdict) must be bound to these exact weights, this skill and its base "
        "policy, cover enough episodes, and show no loss against the base policy.",
    )
    promote.add_argument("checkpoint", type=Path, help="fine-tuned checkpoint directory")
    promote.add_argument(
        "--min-episodes",
        type=int,
        default=DEFAULT_MIN_EPISODES,
        help=f"fewest evaluation episodes accepted (default {DEFAULT_MIN_EPISODES})",
    )
    promote.add_argument("--json", action="store_true", help="print the decision as JSON")
    promote.set_defaults(run=run_promote)


def parse_skills(args: argparse.Namespace) -> list[str]:
    if args.skill is not None:
        return [check_skill(args.skill)]
    return parse_skill_list(args.skills)


def run(args: argparse.Namespace) -> int:
    from diwa.atomic import write_atomically
    from diwa.eval.agents import load_agent
    from diwa.eval.charts import success_rates_png
    from diwa.eval.report import write_episode_log, write_gif, write_json

    skills = parse_skills(args)
    if args.video and not args.out:
        raise ValueError("--video needs --out to know where to write the GIFs")
    if args.video < 0:
        raise ValueError(f"--video must be non-negative, got {args.video}")
    if args.action_delay < 0:
        raise ValueError(f"--action-delay must be non-negative, got {args.action_delay}")
    if args.threads < 1:
        raise ValueError(f"--threads must be positive, got {args.threads}")
    torch.set_num_threads(args.threads)
    reports = evaluate_skills(
        lambda skill: load_agent(args.policy, skill, args.seed, args.action_delay),
        skills,
        args.episodes,
        args.seed,
        args.max_steps,
        video_episodes=args.video,
        progress=not args.quiet,
    )
    result = summary(reports)
    result["policy"] = args.policy
    result["action_delay"] = args.action_delay
    for report in reports:
        low, high = report.interval
        print(
            f"{report.skill:20s} {report.successes:4d}/{report.episodes:<4d} = {100 * report.success_rate:5.1f} % "
            f"(95 % CI {100 * low:.1f}-{100 * high:.1f})"
        )
    if len(reports) > 1:
        print(f"{'mean':20s} {100 * result['mean_success_rate']:5.1f} %")
    if args.out:
        out = Path(args.out)
        write_episode_log(reports, out / "episodes.jsonl", args.policy)
        write_json(result, out / "report.json")
        title = f"{args.policy}: {args.episodes} episodes per skill"
        write_atomically(out / "success_rates.png", success_rates_png(reports, title))
        for report in reports:
            for index, frames in report.videos.items():
                write_gif(frames, out / "videos" / f"{report.skill}_ep{index:03d}.gif")
        print(f"wrote evaluation report to {out}")
    if args.json:
        print(json.dumps(result))
    return 0


def run_latency_check(args: argparse.Namespace) -> int:
    from diwa.eval.latency_check import check_latency

    try:
        delays = [int(d) for d in args.delays.split(",")]
    except ValueError as err:
        raise ValueError(f"--delays must be comma-separated integers, got {args.delays!r}") from err
    if args.threads < 1:
        raise ValueError(f"--threads must be positive, got {args.threads}")
    torch.set_num_threads(args.threads)
    document = check_latency(args.checkpoint, delays, args.base)
    for delay, result in document["delays"].items():
        low, high = result["gain_ci95"]
        print(
            f"{document['skill']} with {delay} periods of delay: base {result['base_success_rate']:.0%} -> "
            f"fine-tuned {result['success_rate']:.0%} ({document['episodes']} paired episodes, gain "
            f"{100 * low:+.0f} .. {100 * high:+.0f})"
        )
    decision = judge_checkpoint(args.checkpoint)
    print(f"promotion gate: {'passes' if decision.allowed else 'refuses'}: {decision.reason}")
    if args.json:
        summary = {d: {k: v for k, v in r.items() if "outcomes" not in k} for d, r in document["delays"].items()}
        print(json.dumps({"skill": document["skill"], "delays": summary, "promoted": decision.allowed}))
    return 0


def run_promote(args: argparse.Namespace) -> int:
    if args.min_episodes < 1:
        raise ValueError(f"--min-episodes must be positive, got {args.min_episodes}")
    decision = judge_checkpoint(args.checkpoint, args.min_episodes)
    if args.json:
        print(json.dumps({"checkpoint": str(args.checkpoint), **decision.to_dict()}))
    else:
        print(f"{args.checkpoint}: {'may' if decision.allowed else 'may NOT'} drive a real arm: {decision.reason}")
    return 0 if decision.allowed else 1
