"""Label recorded frames with tasks the way CALVIN's language annotations are made.

For every frame t the oracle compares the state at the start of the window ending at t (at most
`window` frames, never crossing an episode start) with the state at t. A task that appears in
that comparison and did not appear for frame t-1 is a completion at t, annotated as the window
(start, t, task). Lift tasks use the state-only "held by the robot" test, since recordings carry
no contact information.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
from tqdm import tqdm

from diwa.data.dataset import Annotation
from diwa.sim.oracle import TASKS, completed_tasks

CALVIN_WINDOW = 64


def annotate_windows(
    robot_obs: np.ndarray,
    scene_obs: np.ndarray,
    episodes: Sequence[tuple[int, int]],
    window: int = CALVIN_WINDOW,
    tasks: Iterable[str] = TASKS,
    progress: bool = False,
) -> list[Annotation]:
    """Windows (start, end, task) of at most `window` frames ending where the oracle sees a completion."""
    if window < 2:
        raise ValueError(f"annotation window must be at least 2 frames, got {window}")
    wanted = tuple(tasks)
    annotations = []
    total = sum(end - start + 1 for start, end in episodes)
    with tqdm(total=total, desc="annotate", disable=not progress, unit="frame") as bar:
        for start, end in episodes:
            previous: set[str] = set()
            for t in range(start, end + 1):
                first = max(start, t - window + 1)
                now = set(completed_tasks(robot_obs[first], scene_obs[first], robot_obs[t], scene_obs[t], tasks=wanted))
                annotations += [Annotation(first, t, task) for task in TASKS if task in now - previous]
                previous = now
            bar.update(end - start + 1)
    return annotations
