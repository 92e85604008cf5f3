"""Time and memory of `diwa data from-bag` on a long recording, and whether the dataset it writes is
the play that was simulated.

    python docs/results/long_recording/measure.py BAG TRUTH WORKDIR OUT.json [--code NAME=SRC ...]

Each --code runs the command with another checkout's diwa first on PYTHONPATH (its src/diwa_core),
so a version before a change can be measured on the same bag. Memory is sampled from
/proc/PID/status every 0.1 s: VmHWM (peak resident set), and the peaks of RssAnon (the process's own
memory) and RssFile (file pages mapped into it, which the kernel can drop and reload at will).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from diwa.data.dataset import load_dataset


def status_kb(pid: int) -> dict[str, int]:
    values = {}
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            key, _, rest = line.partition(":")
            if key in ("VmHWM", "RssAnon", "RssFile"):
                values[key] = int(rest.split()[0])
    return values


def run(bag: Path, out: Path, src: Path | None) -> dict[str, object]:
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = f"{src}{os.pathsep}{env.get('PYTHONPATH', '')}"
    command = [sys.executable, "-m", "diwa", "data", "from-bag", str(bag), "--out", str(out), "--json"]
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peaks = {"VmHWM": 0, "RssAnon": 0, "RssFile": 0}
    while process.poll() is None:
        try:
            for key, value in status_kb(process.pid).items():
                peaks[key] = max(peaks[key], value)
        except (FileNotFoundError, ProcessLookupError):
            break
        time.sleep(0.1)
    stdout, stderr = process.communicate()
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        raise SystemExit(f"from-bag failed ({process.returncode}):\n{stderr[-3000:]}")
    return {
        "seconds": round(seconds, 1),
        "peak_rss_mb": round(peaks["VmHWM"] / 1024),
        "peak_anonymous_mb": round(peaks["RssAnon"] / 1024),
        "peak_file_mapped_mb": round(peaks["RssFile"] / 1024),
        "summary": json.loads(stdout.strip().splitlines()[-1]),
    }


def compare(out: Path, truth: Path) -> dict[str, object]:
    got, want = load_dataset(out), load_dataset(truth)
    inner = np.ones(len(want), dtype=bool)
    inner[[end for _, end in want.episodes]] = False
    same_images = all(
        np.array_equal(got.images[key][i : i + 4096], want.images[key][i : i + 4096])
        for key in want.images
        for i in range(0, len(want), 4096)
    )
    return {
        "frames": [len(got), len(want)],
        "episodes_equal": got.episodes == want.episodes,
        "annotations_equal": [tuple(a) for a in got.annotations] == [tuple(a) for a in want.annotations],
        "robot_obs_equal": bool(np.array_equal(got.robot_obs, want.robot_obs)),
        "scene_obs_equal": bool(np.array_equal(got.scene_obs, want.scene_obs)),
        # An episode's last frame has no successor in a recording, so from-bag holds there.
        "rel_actions_max_abs_diff_within_episodes": float(np.abs(got.rel_actions - want.rel_actions)[inner].max()),
        "images_equal": same_images,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bag", type=Path)
    parser.add_argument("truth", type=Path)
    parser.add_argument("workdir", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--code", action="append", default=[], metavar="NAME=SRC", help="a checkout's src/diwa_core")
    args = parser.parse_args()
    bag_bytes = sum(f.stat().st_size for f in args.bag.glob("*.mcap"))
    results: dict[str, object] = {
        "bag": {"files": len(list(args.bag.glob("*.mcap"))), "mb": round(bag_bytes / 2**20)},
        "machine": f"{os.cpu_count()} CPU cores",
        "runs": {},
    }
    versions = [("current", None)] + [tuple(spec.split("=", 1)) for spec in args.code]
    for name, src in versions:
        out = args.workdir / f"dataset_{name}"
        shutil.rmtree(out, ignore_errors=True)
        measured = run(args.bag, out, Path(src) if src else None)
        measured["against_the_simulated_play"] = compare(out, args.truth)
        results["runs"][name] = measured  # type: ignore[index]
        print(name, json.dumps(measured), flush=True)
        shutil.rmtree(out)
    args.out.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
