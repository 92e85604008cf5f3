"""`diwa robot-check`: registered into the `diwa` command by this package's `diwa.commands` entry
point, so that diwa_core stays free of robot code (see robot_check.py for what it does)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from diwa.sim.geometry import ROBOT_BASE_POS

BACKENDS = ("franky",)
DYNAMICS_FACTOR = 0.3
"""The smallest factor whose limits (Panda: 1.7 m/s, 13 m/s^2, scaled) still exceed the Franka safety
profile's 0.25 m/s and 2.5 m/s^2, so the filter, not franky, shapes the motion (docs/deploy.md)."""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "robot-check",
        help="check a new cell before the first skill: state, a small square, gripper, e-stop",
        description="Connect to the arm, read its state, drive the TCP around a small square through the "
        "safety filter and back, open and close the gripper, and latch the e-stop mid-motion. Prints what "
        "it measured; exit 0 only if every step met its limit.",
    )
    parser.add_argument("--backend", required=True, choices=BACKENDS, help="how to reach the arm")
    parser.add_argument("--robot-ip", required=True, help="the robot's (or franky-sim's) address")
    parser.add_argument("--safety-file", type=Path, help="safety profiles (default: diwa_bringup's safety.yaml)")
    parser.add_argument("--profile", default="franka", help="safety profile (default franka)")
    parser.add_argument(
        "--base-in-scene",
        type=float,
        nargs=3,
        default=ROBOT_BASE_POS,
        metavar=("X", "Y", "Z"),
        help="the robot base's position in the scene frame the safety box is in (default CALVIN's)",
    )
    parser.add_argument(
        "--move-to-start", action="store_true", help="first move the TCP in a straight line to the start position"
    )
    parser.add_argument("--side", type=float, default=0.05, help="edge of the square, m (default 0.05)")
    parser.add_argument(
        "--dynamics-factor",
        type=float,
        default=DYNAMICS_FACTOR,
        help=f"franky's relative dynamics factor (default {DYNAMICS_FACTOR})",
    )
    parser.add_argument(
        "--no-realtime", action="store_true", help="do not require a realtime kernel (franky-sim, a laptop)"
    )
    parser.add_argument("--json", action="store_true", help="print the result as one JSON line")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from diwa_robot.franka_config import FrankaConfig
    from diwa_robot.franky_arm import ArmError, FrankyArm
    from diwa_robot.robot_check import RobotCheck, RobotCheckConfig, RobotCheckResult
    from diwa_robot.safety import load_safety_limits, safety_file_or_installed

    limits = load_safety_limits(safety_file_or_installed(args.safety_file), args.profile)
    config = RobotCheckConfig(side_m=args.side)
    base = tuple(float(v) for v in args.base_in_scene)
    start = np.array(FrankaConfig().start_position) + np.array(base) if args.move_to_start else None
    try:
        arm = FrankyArm(args.robot_ip, base, args.dynamics_factor, realtime=not args.no_realtime)
    except ArmError as err:
        result = RobotCheckResult(problems=[str(err)])
    else:
        result = RobotCheck(arm, limits, config).run(start)
    document = result.to_dict()
    if args.json:
        print(json.dumps(document))
    else:
        for key, value in document.items():
            print(f"{key:22s} {value}")
    return 0 if result.ok else 1
