"""`diwa bench ...`: speed and memory targets live here, never in unit tests.

Each area contributes benchmarks through a module with `register_bench(subparsers)` listed in
BENCH_MODULES. Every benchmark prints human-readable lines and, with --json, ends its output
with one JSON object on the last stdout line so scripts and CI can parse it.
"""

from __future__ import annotations

import argparse
import importlib

BENCH_MODULES: tuple[str, ...] = (
    "diwa.policy.bench",
    "diwa.policy.camera_bench",
    "diwa.sim.bench",
    "diwa.world_model.bench",
    "diwa.rl.bench",
)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("bench", help="speed benchmarks (JSON on the last line with --json)")
    benches = parser.add_subparsers(dest="bench", metavar="BENCH", required=True)
    for name in BENCH_MODULES:
        importlib.import_module(name).register_bench(benches)
