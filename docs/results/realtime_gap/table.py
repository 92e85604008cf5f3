"""The before/after table of README.md from measure.py's JSON files.

python docs/results/realtime_gap/table.py docs/results/realtime_gap/open_drawer_{before,after}.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np


def row(path: Path) -> str:
    d = json.loads(path.read_text())
    cells = []
    for name in ("bc", "diwa"):
        s = d[f"{name}_summary"]
        gaps = np.concatenate([e["policy_gaps_ms"] for e in d["episodes_detail"][name]])
        cells.append(
            f"{s['success']:.0%} | {s['policy_commands'] / s['active_s']:.1f} | "
            f"{s['arbiter_twists'] / s['ticks']:.2f} | {s['repeats']:.1f} | {np.percentile(gaps, 95):.0f}"
        )
    low, high = d["gain_ci95"]
    return f"| {path.stem} | {' | '.join(cells)} | {low:+.0%} .. {high:+.0%} |"


if __name__ == "__main__":
    print(
        "| run | BC success | BC policy Hz | BC arbiter twists per tick | BC repeats | BC gap p95 ms | "
        "DiWA success | DiWA policy Hz | DiWA arbiter twists per tick | DiWA repeats | DiWA gap p95 ms | gain 95 % |"
    )
    print("|---" * 12 + "|")
    for p in sys.argv[1:]:
        print(row(Path(p)))
    d = json.loads(Path(sys.argv[-1]).read_text())
    print(f"\nOffline on the same start states: BC {d['offline_bc_success']:.0%}, DiWA {d['offline_diwa_success']:.0%}")
