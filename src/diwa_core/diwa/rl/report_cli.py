"""`diwa report` (one seed set's table, with the DPPO baseline where run; diwa.rl.report) and
`diwa report-seeds` (claims across independent seed sets; diwa.rl.seed_report)."""

from __future__ import annotations

import argparse
from pathlib import Path

from diwa.eval.charts import finetune_png, seed_sets_png
from diwa.rl import report, seed_report


def register(subparsers: argparse._SubParsersAction) -> None:
    _register_report(subparsers)
    _register_report_seeds(subparsers)


def _register_report(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report",
        help="collect fine-tuning results into docs/results/<name>.{json,md,png}",
        description="Summarise DiWA fine-tuning runs (and optional DPPO baseline runs) per skill: BC and "
        "fine-tuned simulator success, environment steps used for learning, imagined steps, wall-clock time, "
        "and the simulator steps DPPO needed to match DiWA.",
    )
    parser.add_argument("--name", required=True, help="report name (file stem)")
    parser.add_argument("--runs", required=True, nargs="+", type=Path, help="`diwa finetune` output directories")
    parser.add_argument("--online", nargs="*", type=Path, default=[], help="`diwa finetune-online` output directories")
    parser.add_argument(
        "--wm",
        type=Path,
        help="the world model the DiWA runs used: the report then counts the simulator frames it was trained on",
    )
    parser.add_argument("--out-dir", type=Path, default=Path("docs/results"), help="default docs/results")
    parser.set_defaults(run=run_report)


def _register_report_seeds(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report-seeds",
        help="per-skill gains across independent seed sets, with paired 95 %% intervals, into docs/results",
        description="Collect the fine-tuned runs of several independent seed sets (scripts/seed_set.sh) and report, "
        "per skill, each set's BC and fine-tuned success and paired gain, and across sets the mean gain, its spread "
        "and 95 %% interval; with verdict.json files, how the pre-deployment verdict matched the simulator. Writes "
        "<out-dir>/<name>.json, .md and .png.",
    )
    parser.add_argument("--name", required=True, help="report name (file stem)")
    parser.add_argument(
        "--sets", required=True, nargs="+", type=Path, help="one directory of fine-tuned runs (one per skill) per set"
    )
    parser.add_argument("--out-dir", type=Path, default=Path("docs/results"), help="default docs/results")
    parser.set_defaults(run=run_report_seeds)


def run_report(args: argparse.Namespace) -> int:
    document = report.build_report(args.name, args.runs, args.online, args.wm)
    table = report.markdown_table(document["skills"])
    if "world_model_data" in document:
        table += "\n" + report.data_line(document["world_model_data"])
    return report.write_report_files(
        args.out_dir, args.name, document, table, finetune_png(document["skills"], args.name)
    )


def run_report_seeds(args: argparse.Namespace) -> int:
    document = seed_report.build_report(args.name, args.sets)
    return report.write_report_files(
        args.out_dir, args.name, document, seed_report.markdown(document), seed_sets_png(document)
    )
