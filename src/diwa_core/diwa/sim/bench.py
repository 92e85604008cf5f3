"""`diwa bench sim`: simulator control steps per second, without rendering and with both cameras.

Rates are control steps (8 physics substeps each) per second of this process's CPU time, which is
the single-core rate even on a busy machine (the simulator is single-threaded); wall-clock rates
are reported beside them.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from diwa.sim.config import PAPER_IMAGE_SIZE, SimConfig
from diwa.sim.env import PlayTableEnv


def register_bench(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("sim", help="simulator steps per second (no rendering; both cameras at 64x64)")
    parser.add_argument("--steps", type=int, default=2000, help="control steps without rendering")
    parser.add_argument("--camera-steps", type=int, default=300, help="control steps with cameras")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print the result as JSON on the last line")
    parser.set_defaults(run=run)


def measure(config: SimConfig, steps: int, seed: int) -> tuple[float, float]:
    """(CPU-time rate, wall-clock rate) of `steps` random small relative actions after a reset."""
    if steps < 1:
        raise ValueError(f"steps must be positive, got {steps}")
    env = PlayTableEnv(config)
    rng = np.random.default_rng(seed)
    actions = rng.uniform(-0.5, 0.5, size=(steps, 7)).astype(np.float32)
    env.reset(seed=seed)
    cpu, wall = time.process_time(), time.perf_counter()
    for i, action in enumerate(actions):
        if i % 200 == 199:
            # Keep the arm near the table instead of drifting to the workspace edge.
            env.reset()
        env.step(action)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    env.close()
    return steps / cpu, steps / wall


def run(args: argparse.Namespace) -> int:
    no_render = measure(SimConfig(), args.steps, args.seed)
    cameras = measure(SimConfig.paper_profile(), args.camera_steps, args.seed)
    result = {
        "steps_per_s_no_render": round(no_render[0], 1),
        "steps_per_s_cameras_64": round(cameras[0], 1),
        "wall_steps_per_s_no_render": round(no_render[1], 1),
        "wall_steps_per_s_cameras_64": round(cameras[1], 1),
        "image_size": PAPER_IMAGE_SIZE,
        "steps": args.steps,
        "camera_steps": args.camera_steps,
    }
    print(f"no rendering:        {result['steps_per_s_no_render']:8.1f} steps/s (CPU time)")
    print(f"both cameras 64x64:  {result['steps_per_s_cameras_64']:8.1f} steps/s (CPU time)")
    if args.json:
        print(json.dumps(result))
    return 0
