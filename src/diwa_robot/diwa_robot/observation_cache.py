"""The latest robot observation, with the checks that keep stale or broken data away from the policy.

Python policy nodes commonly act on observations that are too old (a stalled camera, a slow
executor) and predict chunks for a world that has moved on. Every read here states the maximum age
it accepts, and a NaN or infinity is refused at the door, so a robot command is never computed from
invalid data.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

ROBOT_OBS_DIM = 15
SCENE_OBS_DIM = 24


class ObservationUnavailableError(RuntimeError):
    """No usable observation: none yet, too old, or invalid. The message says which."""


@dataclass(frozen=True)
class TimedObservation:
    robot_obs: np.ndarray
    scene_obs: np.ndarray
    received_at: float  # monotonic seconds

    def as_dict(self) -> dict[str, np.ndarray]:
        return {"robot_obs": self.robot_obs.copy(), "scene_obs": self.scene_obs.copy()}


class ObservationCache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._latest: TimedObservation | None = None
        self.rejected = 0

    def update(self, robot_obs: np.ndarray, scene_obs: np.ndarray, now: float) -> bool:
        """Store an observation; returns False (and keeps the previous one) if it is invalid."""
        robot = np.asarray(robot_obs, dtype=np.float32)
        scene = np.asarray(scene_obs, dtype=np.float32)
        valid = (
            robot.shape == (ROBOT_OBS_DIM,)
            and scene.shape == (SCENE_OBS_DIM,)
            and bool(np.isfinite(robot).all())
            and bool(np.isfinite(scene).all())
        )
        with self._lock:
            if not valid:
                self.rejected += 1
                # An invalid reading also means the last good one no longer describes the robot.
                self._latest = None
                return False
            self._latest = TimedObservation(robot, scene, now)
        return True

    def latest(self, now: float, max_age_s: float) -> TimedObservation:
        with self._lock:
            obs = self._latest
        if obs is None:
            raise ObservationUnavailableError("no valid observation received (none yet, or the last one had NaN/inf)")
        age = now - obs.received_at
        if age > max_age_s:
            raise ObservationUnavailableError(
                f"observation is stale: {age * 1000:.0f} ms old, limit {max_age_s * 1000:.0f} ms"
            )
        return obs
