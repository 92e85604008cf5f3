"""The `diwa` command.

Each area of the package contributes its subcommands through a module with a
`register(subparsers)` function, listed in COMMAND_MODULES; this file only assembles them, so
adding a command never means editing another area's code. Installed packages that hold robot code
(which this package must not import) add theirs the same way through the `diwa.commands` entry
point group: diwa_robot's `robot-check`.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from importlib.metadata import entry_points

from diwa import __version__

COMMAND_MODULES: tuple[str, ...] = (
    "diwa.bench",
    "diwa.graph_runner",
    "diwa.policy.cli",
    "diwa.data.cli",
    "diwa.eval.cli",
    "diwa.world_model.cli",
    "diwa.rl.cli",
    "diwa.rl.finetune_skills_cli",
    "diwa.world_model.fidelity_cli",
    "diwa.rl.report_cli",
    "diwa.models_cli",
)

ENTRY_POINT_GROUP = "diwa.commands"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="diwa",
        description="DiWA-ROS: play data -> world model -> diffusion policy -> RL in imagination.",
    )
    parser.add_argument("--version", action="version", version=f"diwa {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    for plugin in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        plugin.load().register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    try:
        return int(args.run(args) or 0)
    except (ValueError, FileNotFoundError) as err:
        # Bad input is the user's to fix: one clear line, no traceback.
        print(f"diwa {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
