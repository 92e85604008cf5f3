"""Evaluation artefacts: per-episode JSONL log, summary JSON, GIF videos (charts: charts.py)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import imageio.v2 as imageio

from diwa.atomic import write_file_atomically
from diwa.eval.harness import SkillReport


def write_episode_log(reports: Sequence[SkillReport], path: Path, policy: str) -> None:
    """One JSON object per episode: skill, episode index, success, steps, policy, seed."""
    lines = [
        json.dumps(
            {
                "skill": r.skill,
                "episode": e.index,
                "success": e.success,
                "steps": e.steps,
                "policy": policy,
                "seed": r.seed,
            }
        )
        for r in reports
        for e in r.results
    ]
    write_file_atomically(path, lambda tmp: tmp.write_text("\n".join(lines) + "\n"))


def write_json(data: dict[str, Any], path: Path) -> None:
    write_file_atomically(path, lambda tmp: tmp.write_text(json.dumps(data, indent=1) + "\n"))


def write_gif(frames: Sequence[Any], path: Path, fps: int = 15) -> None:
    write_file_atomically(
        path, lambda tmp: imageio.mimsave(tmp, list(frames), format="GIF", duration=1000 / fps, loop=0)
    )
