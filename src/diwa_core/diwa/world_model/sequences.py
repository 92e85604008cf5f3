"""Held-out splits and random training windows over a play dataset.

Validation data must be temporally separate from training data (neighbouring frames are nearly
identical), so whole stretches of play are held out: each episode is cut into segments of at
most `segment_frames` frames and whole segments go to validation. With many short episodes this
is exactly "held-out episodes"; a single long recording still yields a held-out part.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from diwa.data.dataset import Dataset

Range = tuple[int, int]
"""Inclusive (start, end) frame indices inside one episode."""


def split_segments(
    episodes: list[tuple[int, int]], segment_frames: int, val_fraction: float, seed: int, min_frames: int = 1
) -> tuple[list[Range], list[Range]]:
    """(train, validation) segments, each list sorted by start frame. Episodes shorter than
    `min_frames` (a training window) are left out: recordings cut by pauses produce such scraps, and
    a validation set made of them would hold no window at all."""
    if segment_frames < 1:
        raise ValueError(f"segment_frames must be positive, got {segment_frames}")
    segments: list[Range] = []
    for start, end in episodes:
        length = end - start + 1
        if length < min_frames:
            continue
        pieces = math.ceil(length / segment_frames)
        bounds = np.linspace(start, end + 1, pieces + 1).round().astype(int)
        segments += [(int(a), int(b) - 1) for a, b in itertools.pairwise(bounds)]
    if len(segments) < 2:
        raise ValueError(f"cannot hold out data: the dataset has {len(segments)} segment(s) of play; need 2 or more")
    order = np.random.default_rng(seed).permutation(len(segments))
    n_val = min(len(segments) - 1, max(1, round(val_fraction * len(segments))))
    val = sorted(segments[i] for i in order[:n_val])
    train = sorted(segments[i] for i in order[n_val:])
    return train, val


def window_starts(ranges: list[Range], length: int) -> np.ndarray:
    """Every start frame of a `length`-frame window that fits inside one of `ranges`."""
    starts = [np.arange(s, e - length + 2) for s, e in ranges if e - s + 1 >= length]
    return np.concatenate(starts) if starts else np.zeros(0, dtype=np.int64)


class SequenceSampler:
    """Uniformly random windows of `seq_len` consecutive frames inside `ranges`.

    A batch holds observations (B, T, ...) and prev_actions (B, T, 7) where prev_actions[:, t] led
    into frame t. Every window is filtered as the start of an episode (its first action entry is
    zero), so encoding a single observation, as imagination starts do, is exactly what the first
    step of each training window learns.
    """

    def __init__(
        self,
        dataset: Dataset,
        ranges: list[Range],
        seq_len: int,
        keys: tuple[str, ...],
        extra: dict[str, np.ndarray] | None = None,
    ) -> None:
        """`extra`: more per-frame arrays to draw `keys` from (a frozen image encoder's codes)."""
        self.starts = window_starts(ranges, seq_len)
        if self.starts.size == 0:
            longest = max((e - s + 1 for s, e in ranges), default=0)
            raise ValueError(f"no window of {seq_len} frames fits in the data (longest stretch: {longest} frames)")
        self.seq_len = seq_len
        self.keys = keys
        self.rel_actions = np.asarray(dataset.rel_actions, dtype=np.float32)
        arrays = {"robot_obs": dataset.robot_obs, "scene_obs": dataset.scene_obs, **dataset.images, **(extra or {})}
        missing = [k for k in keys if k not in arrays]
        if missing:
            raise ValueError(f"the dataset lacks {missing}, which this world model reads")
        # Vectors are small: keep them in memory. Images stay memory-mapped.
        self.arrays = {k: arrays[k] if k in dataset.images else np.asarray(arrays[k], np.float32) for k in keys}

    def gather(self, starts: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray]:
        index = starts[:, None] + np.arange(self.seq_len)[None, :]
        obs = {k: np.asarray(v[index.ravel()]).reshape(*index.shape, *v.shape[1:]) for k, v in self.arrays.items()}
        prev_actions = np.zeros((*index.shape, 7), dtype=np.float32)
        prev_actions[:, 1:] = self.rel_actions[index[:, :-1]]
        return obs, prev_actions

    def sample(
        self, rng: np.random.Generator, batch: int, part: slice | None = None
    ) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """`batch` random windows, or `part` of them: every data-parallel process draws the same
        global batch from the same generator and gathers only its own slice (diwa.distributed)."""
        starts = self.starts[rng.integers(0, self.starts.size, size=batch)]
        return self.gather(starts if part is None else starts[part])
