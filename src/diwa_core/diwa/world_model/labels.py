"""Per-frame success labels for training a skill's reward classifier.

In imagination only the last latent of each 4-step action chunk is scored and an imagined episode
ends at the first positive reward, so a positive must mean "the task is done in this state", and
frames on the way to completion must be negative. Labels are -1 (unlabelled: not used), 0 or 1.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from diwa.data.dataset import Dataset
from diwa.skills import check_skill

UNLABELLED, NEGATIVE, POSITIVE = -1, 0, 1

Oracle = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], bool]
"""(start_robot_obs, start_scene_obs, robot_obs, scene_obs) -> has the skill been achieved."""


def annotation_labels(dataset: Dataset, skill: str, positive_frames: int) -> np.ndarray:
    """Labels from annotation windows, which end at the frame where their task is first achieved
    (CALVIN's convention, and that of `diwa data collect-play`).

    The end frame of each window of `skill` and the next `positive_frames` - 1 frames of its episode
    are positive (just completed); the window's earlier frames and every frame of another task's
    window are negative. Frames outside all windows are unlabelled: play between annotations may or
    may not have the skill's effect.
    """
    check_skill(skill)
    if positive_frames < 1:
        raise ValueError(f"positive_frames must be positive, got {positive_frames}")
    own = [a for a in dataset.annotations if a.task == skill]
    if not own:
        tasks = sorted({a.task for a in dataset.annotations})
        raise ValueError(f"the dataset has no annotation of {skill!r} (annotated tasks: {tasks or 'none'})")
    labels = np.full(len(dataset), UNLABELLED, dtype=np.int8)
    for ann in dataset.annotations:
        labels[ann.start : ann.end + 1] = NEGATIVE
    episode_ends = np.array([end for _, end in dataset.episodes])
    for ann in own:
        # The episode holding the window bounds how long the state is known to stay "done".
        index = int(np.searchsorted(episode_ends, ann.end))
        last = int(episode_ends[index]) if index < episode_ends.size else ann.end
        labels[ann.end : min(ann.end + positive_frames, last + 1)] = POSITIVE
    return labels


def reference_starts(dataset: Dataset, skill: str, count: int, seed: int) -> list[int]:
    """Up to `count` frames the skill starts from, for oracle_labels: the first frames of the
    skill's annotation windows (states in which the skill was feasible), or random frames when the
    dataset has no annotation of the skill."""
    check_skill(skill)
    if count < 1:
        raise ValueError(f"count must be positive, got {count}")
    candidates = np.array(sorted({a.start for a in dataset.annotations if a.task == skill}), dtype=np.int64)
    if candidates.size == 0:
        candidates = np.arange(len(dataset))
    chosen = np.random.default_rng(seed).choice(candidates, size=min(count, candidates.size), replace=False)
    return sorted(int(i) for i in chosen)


def oracle_labels(dataset: Dataset, oracle: Oracle, references: list[int]) -> np.ndarray:
    """Labels from a task oracle, as DiWA labels its data: every frame t is positive if
    oracle(reference, t) holds for at least one reference start, else negative.

    A classifier of single latent states cannot know where an imagined rollout began, so a state
    is "done" if it completes the skill from some state the skill starts from (for open_drawer:
    drawer more than 0.12 open). Comparing each frame with a fixed recent frame instead (e.g. 72
    frames earlier) labels a drawer opened long ago as not done, which is label noise here.
    """
    if not references:
        raise ValueError("oracle labelling needs at least one reference start frame")
    if min(references) < 0 or max(references) >= len(dataset):
        raise ValueError(f"reference frames must lie in 0..{len(dataset) - 1}")
    robot = np.asarray(dataset.robot_obs, dtype=np.float32)
    scene = np.asarray(dataset.scene_obs, dtype=np.float32)
    labels = np.full(len(dataset), NEGATIVE, dtype=np.int8)
    for t in range(len(dataset)):
        if any(oracle(robot[r], scene[r], robot[t], scene[t]) for r in references):
            labels[t] = POSITIVE
    return labels
