"""`diwa models` (what is released, with its measured success) and `diwa release` (make a release
from a seed-set run). The release format is diwa/released.py's."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from diwa.promotion import judge_checkpoint
from diwa.released import PREFIX, ROUTES, list_releases, make_release, models_root


def register(subparsers: argparse._SubParsersAction) -> None:
    models = subparsers.add_parser(
        "models",
        help="the released models (released:<route>/...) and their measured success",
        description="List the models shipped with diwa, by route, with the paired evaluation each skill's "
        "fine-tuned policy was released with. Use them by name wherever a checkpoint is accepted, e.g. "
        "--policy released:state/open_drawer, --wm released:state/world_model, --reward released:state/reward.",
    )
    models.add_argument("--json", action="store_true", help="print the release documents as JSON")
    models.set_defaults(run=run_models)

    release = subparsers.add_parser(
        "release",
        help="make a release from a full seed-set run (scripts/seed_set.sh)",
        description="Copy a seed-set run's world model, reward classifiers, BC and fine-tuned policies (with "
        "their evaluations and verdicts) into diwa/models/<route>, replacing the route's release as a whole.",
    )
    release.add_argument(
        "--run", dest="run_dir", type=Path, required=True, help="the seed-set directory (scripts/seed_set.sh OUT)"
    )
    release.add_argument("--variant", default="plain", help="which fine-tuning variant to release (default plain)")
    release.add_argument("--route", choices=ROUTES, default="state")
    release.add_argument("--out", type=Path, help="release directory (default: diwa/models/<route>)")
    release.set_defaults(run=run_release)


def run_models(args: argparse.Namespace) -> int:
    releases = list_releases()
    if args.json:
        print(json.dumps(releases, indent=1))
        return 0
    if not releases:
        print(f"no released models in {models_root()}")
        return 0
    for release in releases:
        route = release["route"]
        seeds = " ".join(f"{k} {v}" for k, v in (release["seeds"] or {}).items())
        print(f"{PREFIX}{route}  (from {release['source_run']}, {release['variant']}; seeds: {seeds or '?'})")
        print(f"  {'skill':<20} {'BC':>6} {'fine-tuned':>11} {'gain 95 % interval':>22}  {'verdict':<10} real arm")
        refused = []
        for skill, m in release["skills"].items():
            low, high = m["gain_ci95"] or (float("nan"), float("nan"))
            decision = judge_checkpoint(f"{PREFIX}{route}/{skill}")
            print(
                f"  {skill:<20} {m['bc_success']:>6.0%} {m['finetuned_success']:>11.0%} "
                f"{low:>+10.0%} .. {high:>+7.0%}   {m['verdict'] or '-':<10} {'yes' if decision.allowed else 'no'}"
            )
            if not decision.allowed:
                refused.append(f"  {skill}: {decision.reason}")
        print(f"  ({next(iter(release['skills'].values()))['episodes']} paired episodes per skill)")
        if refused:
            print("  the promotion gate keeps these from a real arm (`diwa promote`):", *refused, sep="\n")
    return 0


def run_release(args: argparse.Namespace) -> int:
    destination = args.out or models_root() / args.route
    command = shlex.join(["diwa", *sys.argv[1:]])
    path = make_release(args.run_dir, args.variant, args.route, destination, command)
    print(f"released {args.run_dir} ({args.variant}) as {PREFIX}{args.route}: {path}")
    return 0
