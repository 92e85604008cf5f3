"""EpisodeRecorder: collects simulator frames into preallocated arrays and builds a Dataset.

Frame t holds the observation before action t and that action (absolute and relative), as in
CALVIN. Camera images can go to memory-mapped files so that long play recordings with images do not
have to fit in RAM.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium
import numpy as np

from diwa.data.dataset import IMAGE_KEYS, Annotation, Dataset


class EpisodeRecorder:
    def __init__(
        self,
        capacity: int,
        image_sizes: dict[str, int] | None = None,
        image_dir: str | Path | None = None,
    ) -> None:
        """capacity: most frames that will be added; image_sizes: e.g. {"rgb_static": 200};
        image_dir: where to memory-map image arrays (None keeps them in memory)."""
        if capacity < 1:
            raise ValueError(f"recorder capacity must be positive, got {capacity}")
        self.capacity = capacity
        self.robot_obs = np.zeros((capacity, 15), dtype=np.float32)
        self.scene_obs = np.zeros((capacity, 24), dtype=np.float32)
        self.actions = np.zeros((capacity, 7), dtype=np.float32)
        self.rel_actions = np.zeros((capacity, 7), dtype=np.float32)
        self.images: dict[str, np.ndarray] = {}
        for key, size in (image_sizes or {}).items():
            if key not in IMAGE_KEYS:
                raise ValueError(f"unknown image key {key!r}; expected one of {IMAGE_KEYS}")
            shape = (capacity, size, size, 3)
            if image_dir is None:
                self.images[key] = np.zeros(shape, dtype=np.uint8)
            else:
                path = Path(image_dir) / f"{key}.npy"
                self.images[key] = np.lib.format.open_memmap(path, mode="w+", dtype=np.uint8, shape=shape)
        self.episodes: list[tuple[int, int]] = []
        self.size = 0
        self._episode_start = 0

    def add(self, obs: dict[str, np.ndarray], abs_action: np.ndarray, rel_action: np.ndarray) -> int:
        """Append one frame; returns its index."""
        if self.size >= self.capacity:
            raise ValueError(f"recorder is full ({self.capacity} frames)")
        i = self.size
        self.robot_obs[i] = obs["robot_obs"]
        self.scene_obs[i] = obs["scene_obs"]
        self.actions[i] = abs_action
        self.rel_actions[i] = rel_action
        for key, array in self.images.items():
            array[i] = obs[key]
        self.size += 1
        return i

    def step(self, env: gymnasium.Env, obs: dict[str, np.ndarray], action: np.ndarray) -> tuple[dict[str, Any], dict]:
        """Apply `action` in `env` and record the frame it was applied in: `obs`, and the action as
        the simulator executed it (absolute and relative). Returns the next observation and info."""
        next_obs, _, _, _, info = env.step(action)
        self.add(obs, info["abs_action"], info["rel_action"])
        return next_obs, info

    @property
    def episode_start(self) -> int:
        return self._episode_start

    def end_episode(self) -> None:
        """Close the running episode (if it has frames) as an inclusive (start, end) pair."""
        if self.size > self._episode_start:
            self.episodes.append((self._episode_start, self.size - 1))
        self._episode_start = self.size

    def discard_episode(self) -> None:
        """Forget the frames of the running episode (a failed demonstration)."""
        self.size = self._episode_start

    def dataset(self, annotations: list[Annotation], provenance: dict[str, Any]) -> Dataset:
        """The recorded frames as a Dataset; the running episode is closed first."""
        self.end_episode()
        n = self.size
        return Dataset(
            robot_obs=self.robot_obs[:n],
            scene_obs=self.scene_obs[:n],
            actions=self.actions[:n],
            rel_actions=self.rel_actions[:n],
            episodes=list(self.episodes),
            annotations=list(annotations),
            images={key: array[:n] for key, array in self.images.items()},
            provenance=provenance,
        )
