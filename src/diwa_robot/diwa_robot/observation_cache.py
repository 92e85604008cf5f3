"""The latest robot observation, with the checks that keep stale or broken data away from the policy.

Python policy nodes commonly act on observations that are too old (a stalled camera, a slow
executor) and predict chunks for a world that has moved on. Every read here states the maximum age
it accepts, and a NaN or infinity is refused at the door, so a robot command is never computed from
invalid data. Camera images are kept beside the state; a read that needs them also refuses images
that are missing, old, or taken too far apart from the state to describe the same moment.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

ROBOT_OBS_DIM = 15
SCENE_OBS_DIM = 24


class ObservationUnavailableError(RuntimeError):
    """No usable observation: none yet, too old, invalid, or its images unusable. The message says which."""


@dataclass(frozen=True)
class TimedObservation:
    robot_obs: np.ndarray
    scene_obs: np.ndarray | None  # None where the cell does not measure the scene (a real robot)
    received_at: float  # monotonic seconds
    images: dict[str, np.ndarray] = field(default_factory=dict)  # (H, W, 3) uint8 per camera

    def as_dict(self) -> dict[str, np.ndarray]:
        """robot_obs, scene_obs where measured (absent, not zeros, where not), and the images."""
        observation = {"robot_obs": self.robot_obs.copy(), **{key: rgb.copy() for key, rgb in self.images.items()}}
        if self.scene_obs is not None:
            observation["scene_obs"] = self.scene_obs.copy()
        return observation


@dataclass(frozen=True)
class _Image:
    rgb: np.ndarray | None  # None: the newest frame was unusable, for `problem`
    received_at: float
    problem: str = ""


class ObservationCache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._latest: TimedObservation | None = None
        self._images: dict[str, _Image] = {}
        self.rejected = 0

    def update(self, robot_obs: np.ndarray, scene_obs: np.ndarray | None, now: float) -> bool:
        """Store an observation (scene_obs None: the scene is not measured); returns False, and
        forgets the previous one, if it is invalid."""
        robot = np.asarray(robot_obs, dtype=np.float32)
        scene = None if scene_obs is None else np.asarray(scene_obs, dtype=np.float32)
        valid = (
            robot.shape == (ROBOT_OBS_DIM,)
            and bool(np.isfinite(robot).all())
            and (scene is None or (scene.shape == (SCENE_OBS_DIM,) and bool(np.isfinite(scene).all())))
        )
        with self._lock:
            if not valid:
                self.rejected += 1
                # An invalid reading also means the last good one no longer describes the robot.
                self._latest = None
                return False
            self._latest = TimedObservation(robot, scene, now)
        return True

    def update_from_scene_state(self, msg: Any, now: float) -> bool:
        """update() from a diwa_msgs/SceneState: its scene_obs only where scene_measured says so."""
        return self.update(np.array(msg.robot_obs), np.array(msg.scene_obs) if msg.scene_measured else None, now)

    def update_image(self, key: str, rgb: np.ndarray, now: float) -> None:
        """Store a camera frame, (H, W, 3) uint8 (image_conversion.image_msg_to_rgb refuses others)."""
        if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
            raise ValueError(f"{key}: expected an (H, W, 3) uint8 image, got {rgb.shape} {rgb.dtype}")
        with self._lock:
            self._images[key] = _Image(rgb, now)

    def reject_image(self, key: str, problem: str, now: float) -> None:
        """The newest frame of `key` could not be used (wrong encoding, truncated): the camera's
        last good frame no longer stands for it, and reads that need it say why."""
        with self._lock:
            self.rejected += 1
            self._images[key] = _Image(None, now, problem)

    def latest(
        self, now: float, max_age_s: float, image_keys: Sequence[str] = (), max_skew_s: float = np.inf
    ) -> TimedObservation:
        """The newest observation if at most `max_age_s` old, with the newest frame of each camera in
        `image_keys`, each also at most `max_age_s` old and received within `max_skew_s` of the state."""
        with self._lock:
            obs = self._latest
            images = {key: self._images.get(key) for key in image_keys}
        if obs is None:
            raise ObservationUnavailableError("no valid observation received (none yet, or the last one had NaN/inf)")
        age = now - obs.received_at
        if age > max_age_s:
            raise ObservationUnavailableError(
                f"observation is stale: {age * 1000:.0f} ms old, limit {max_age_s * 1000:.0f} ms"
            )
        for key, image in images.items():
            if image is None:
                raise ObservationUnavailableError(f"no {key} image received; the policy reads that camera")
            if image.rgb is None:
                raise ObservationUnavailableError(f"the last {key} image was unusable: {image.problem}")
            image_age = now - image.received_at
            if image_age > max_age_s:
                raise ObservationUnavailableError(
                    f"{key} image is stale: {image_age * 1000:.0f} ms old, limit {max_age_s * 1000:.0f} ms"
                )
            skew = abs(image.received_at - obs.received_at)
            if skew > max_skew_s:
                raise ObservationUnavailableError(
                    f"{key} image and robot state are {skew * 1000:.0f} ms apart, limit {max_skew_s * 1000:.0f} ms"
                )
        if not images:
            return obs
        frames = {key: image.rgb for key, image in images.items()}  # each checked present and usable above
        return TimedObservation(obs.robot_obs, obs.scene_obs, obs.received_at, frames)  # type: ignore[arg-type]
