"""Typed configuration of a simulator instance, loadable from YAML or keyword arguments."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import yaml

from diwa.sim.oracle import TASKS

BACKENDS = ("pybullet", "calvin")
ACTION_MODES = ("relative", "absolute")
CAMERAS = ("static", "gripper")
PAPER_IMAGE_SIZE = 64


@dataclass(frozen=True)
class SimConfig:
    """Everything that changes what a simulator instance computes.

    cameras: which RGB cameras to render into observations ("static", "gripper"); rendering costs far
        more than physics, so state-only runs (the quick profile) leave this empty.
    depth: also return metric depth images of the enabled cameras.
    max_episode_steps: truncate episodes after this many steps (None: never).
    task: an oracle task name; when set, the reward is 1 and the episode terminates on its completion.
    calvin_dataset_path: for backend "calvin", a CALVIN dataset split holding .hydra/merged_config.yaml.
    """

    backend: str = "pybullet"
    action_mode: str = "relative"
    cameras: tuple[str, ...] = ()
    static_size: int = 200
    gripper_size: int = 84
    depth: bool = False
    max_episode_steps: int | None = None
    task: str | None = None
    seed: int | None = None
    calvin_dataset_path: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "cameras", tuple(self.cameras))
        if self.backend not in BACKENDS:
            raise ValueError(f"unknown simulator backend {self.backend!r}; expected one of {BACKENDS}")
        if self.action_mode not in ACTION_MODES:
            raise ValueError(f"unknown action_mode {self.action_mode!r}; expected one of {ACTION_MODES}")
        unknown = [c for c in self.cameras if c not in CAMERAS]
        if unknown or len(set(self.cameras)) != len(self.cameras):
            raise ValueError(f"cameras must be distinct names from {CAMERAS}, got {self.cameras}")
        for name in ("static_size", "gripper_size"):
            if not 8 <= getattr(self, name) <= 1024:
                raise ValueError(f"{name} must be between 8 and 1024 pixels, got {getattr(self, name)}")
        if self.max_episode_steps is not None and self.max_episode_steps < 1:
            raise ValueError(f"max_episode_steps must be positive or None, got {self.max_episode_steps}")
        if self.task is not None and self.task not in TASKS:
            raise ValueError(f"unknown task {self.task!r}; known tasks: {', '.join(TASKS)}")

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> SimConfig:
        """Build from a mapping; unknown keys raise ValueError instead of being ignored."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ValueError(f"unknown simulator options: {', '.join(unknown)}; known: {', '.join(sorted(names))}")
        return cls(**values)

    @classmethod
    def from_yaml(cls, path: str | os.PathLike[str]) -> SimConfig:
        if not os.path.isfile(path):
            raise FileNotFoundError(f"simulator config {path} does not exist")
        with open(path) as handle:
            values = yaml.safe_load(handle) or {}
        if not isinstance(values, dict):
            raise ValueError(f"{path}: expected a mapping of simulator options, got {type(values).__name__}")
        return cls.from_dict(values)

    @classmethod
    def rendering(cls, observation_keys: Iterable[str]) -> SimConfig:
        """A simulator for a reader of `observation_keys`: its cameras ("rgb_static", ...) at 64x64,
        the size DiWA uses, the camera profile trains at and the mock robot publishes; none for a
        state reader (rendering costs far more than physics)."""
        cameras = tuple(key.removeprefix("rgb_") for key in observation_keys if key.startswith("rgb_"))
        return cls.paper_profile(cameras=cameras) if cameras else cls()

    @classmethod
    def paper_profile(cls, **overrides: Any) -> SimConfig:
        """DiWA's observation setup: both cameras at 64x64 beside the state vectors."""
        values: dict[str, Any] = {
            "cameras": CAMERAS,
            "static_size": PAPER_IMAGE_SIZE,
            "gripper_size": PAPER_IMAGE_SIZE,
        }
        values.update(overrides)
        return cls.from_dict(values)
