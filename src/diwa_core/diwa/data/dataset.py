"""The consolidated dataset format that every trainer reads.

Layout of a dataset directory (one array per file, so images can be memory-mapped):

    meta.json            {"format": "diwa-consolidated", "version": 1, "frames": N,
                          "episodes": [[start, end], ...],          # inclusive, like CALVIN
                          "annotations": [[start, end, task], ...], # inclusive frame windows
                          "provenance": {...}}                      # free-form: seed, source, ...
    robot_obs.npy        (N, 15) float32   CALVIN robot_obs layout
    scene_obs.npy        (N, 24) float32   CALVIN scene_obs layout
    actions.npy          (N, 7)  float32   absolute actions (xyz, euler xyz, gripper)
    rel_actions.npy      (N, 7)  float32   relative actions in [-1, 1]
    rgb_static.npy       (N, H, W, 3) uint8  optional
    rgb_gripper.npy      (N, h, w, 3) uint8  optional

Frame t holds the observation *before* action t is applied, as in CALVIN.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from diwa.atomic import write_directory_atomically
from diwa.data.npy_rows import copy_npy
from diwa.sim.scene_bounds import check_physical, first_action_violation, resting_scene

FORMAT = "diwa-consolidated"
VERSION = 1
REQUIRED = {"robot_obs": 15, "scene_obs": 24, "actions": 7, "rel_actions": 7}
IMAGE_KEYS = ("rgb_static", "rgb_gripper")
SCENE_ABSENT = "absent"
"""provenance["scene_state"] of data recorded without the scene's state (see scene_absent)."""


class Annotation(NamedTuple):
    start: int
    end: int
    task: str


@dataclass
class Dataset:
    robot_obs: np.ndarray
    scene_obs: np.ndarray
    actions: np.ndarray
    rel_actions: np.ndarray
    episodes: list[tuple[int, int]]
    annotations: list[Annotation] = field(default_factory=list)
    images: dict[str, np.ndarray] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.validate()

    def __len__(self) -> int:
        return int(self.robot_obs.shape[0])

    def validate(self) -> None:
        """Raise ValueError on inconsistent shapes, bad episode bounds or non-finite values."""
        n = len(self)
        for key, dim in REQUIRED.items():
            arr = getattr(self, key)
            if arr.ndim != 2 or arr.shape != (n, dim):
                raise ValueError(f"dataset field {key} has shape {arr.shape}, expected ({n}, {dim})")
            if not np.isfinite(arr).all():
                raise ValueError(f"dataset field {key} contains NaN or infinite values")
        for key, arr in self.images.items():
            if key not in IMAGE_KEYS:
                raise ValueError(f"unknown image field {key!r}; expected one of {IMAGE_KEYS}")
            if arr.shape[0] != n or arr.ndim != 4 or arr.shape[-1] != 3 or arr.dtype != np.uint8:
                raise ValueError(f"image field {key} has shape {arr.shape} {arr.dtype}, expected ({n}, H, W, 3) uint8")
        previous_end = -1
        for start, end in self.episodes:
            if not (previous_end < start <= end < n):
                raise ValueError(f"episode ({start}, {end}) is out of order or outside 0..{n - 1}")
            previous_end = end
        for ann in self.annotations:
            if not (0 <= ann.start <= ann.end < n):
                raise ValueError(f"annotation {tuple(ann)} lies outside 0..{n - 1}")

    def episode_slices(self) -> list[slice]:
        return [slice(start, end + 1) for start, end in self.episodes]

    def content_hash(self) -> str:
        """SHA-256 over the arrays and the episode/annotation structure: the data provenance
        stored beside every checkpoint trained on this dataset."""
        digest = hashlib.sha256()
        for key in REQUIRED:
            digest.update(np.ascontiguousarray(getattr(self, key), dtype=np.float32).tobytes())
        for key in sorted(self.images):
            # Hashing every pixel of a large image set is slow; a strided sample of frames still
            # changes whenever the images do in practice.
            digest.update(np.ascontiguousarray(self.images[key][:: max(1, len(self) // 256)]).tobytes())
        digest.update(json.dumps([self.episodes, [list(a) for a in self.annotations]]).encode())
        return digest.hexdigest()


def concat_datasets(datasets: list[Dataset]) -> Dataset:
    """One dataset holding `datasets` one after another (play plus recorded rollouts, say). Episode
    and annotation frame indices are shifted; each part's provenance, frame count and content hash
    are kept, so a model trained on the result still names every source."""
    if not datasets:
        raise ValueError("nothing to concatenate")
    image_keys = {tuple(sorted(d.images)) for d in datasets}
    if len(image_keys) > 1:
        raise ValueError(f"cannot concatenate datasets with different cameras: {sorted(image_keys)}")
    offsets = np.cumsum([0] + [len(d) for d in datasets[:-1]])
    return Dataset(
        **{key: np.concatenate([np.asarray(getattr(d, key)) for d in datasets]) for key in REQUIRED},
        episodes=[(s + int(o), e + int(o)) for d, o in zip(datasets, offsets, strict=True) for s, e in d.episodes],
        annotations=[
            Annotation(a.start + int(o), a.end + int(o), a.task)
            for d, o in zip(datasets, offsets, strict=True)
            for a in d.annotations
        ],
        images={key: np.concatenate([np.asarray(d.images[key]) for d in datasets]) for key in datasets[0].images},
        provenance={
            "source": "concatenated",
            "parts": [
                {"frames": len(d), "content_hash": d.content_hash(), "provenance": d.provenance} for d in datasets
            ],
        },
    )


def frames_by_source(dataset: Dataset) -> dict[str, int]:
    """Frames per kind of recording ("scripted_play", "policy_rollouts", ...), through concatenations.
    Every one of them was a step of the simulator or the robot, and reports count them as such."""
    counts: dict[str, int] = {}

    def add(provenance: dict[str, Any], frames: int) -> None:
        if provenance.get("source") == "concatenated":
            for part in provenance["parts"]:
                add(part["provenance"], int(part["frames"]))
        else:
            source = str(provenance.get("source", "unrecorded"))
            counts[source] = counts.get(source, 0) + frames

    add(dataset.provenance, len(dataset))
    return counts


def scene_absent(dataset: Dataset) -> bool:
    """Whether scene_obs holds no measurement (zeros), as in play recorded on a real cell: its
    provenance says so (`"scene_state": "absent"`). Only the camera route can learn from it."""
    return dataset.provenance.get("scene_state") == SCENE_ABSENT


def save_dataset(dataset: Dataset, path: str | os.PathLike[str]) -> Path:
    """Write `dataset` to directory `path` atomically: a crash leaves the old directory or none.

    A frame outside the scene's physical bounds (a block below the floor, a joint past its stop) is
    refused with its location: a world model must not learn from states the cell cannot be in. With
    the scene absent, only the robot's half of that check applies."""
    dataset.validate()
    scene = resting_scene(len(dataset)) if scene_absent(dataset) else dataset.scene_obs
    check_physical(dataset.robot_obs, scene, f"dataset for {path}")
    problem = first_action_violation(dataset.actions, dataset.rel_actions)
    if problem is not None:
        raise ValueError(f"dataset for {path}: {problem} (no robot command)")

    def fill(staging: Path) -> None:
        for key in REQUIRED:
            np.save(staging / f"{key}.npy", np.asarray(getattr(dataset, key), dtype=np.float32))
        for key, arr in dataset.images.items():
            copy_npy(arr, staging / f"{key}.npy")  # a file-backed array is copied file to file
        meta = {
            "format": FORMAT,
            "version": VERSION,
            "frames": len(dataset),
            "episodes": [list(map(int, e)) for e in dataset.episodes],
            "annotations": [[int(a.start), int(a.end), a.task] for a in dataset.annotations],
            "images": sorted(dataset.images),
            "provenance": dataset.provenance,
        }
        (staging / "meta.json").write_text(json.dumps(meta, indent=1))

    return write_directory_atomically(Path(path), fill)


def load_dataset(path: str | os.PathLike[str], *, images: bool = True, mmap: bool = True) -> Dataset:
    """Load a consolidated dataset; images are memory-mapped so large play sets fit in RAM."""
    root = Path(path)
    meta_file = root / "meta.json"
    if not meta_file.is_file():
        raise FileNotFoundError(f"{root} is not a diwa dataset (no meta.json)")
    try:
        meta = json.loads(meta_file.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{meta_file} is not valid JSON: {err}") from err
    if meta.get("format") != FORMAT or meta.get("version") != VERSION:
        raise ValueError(f"{root}: unsupported dataset format {meta.get('format')!r} v{meta.get('version')}")
    mode = "r" if mmap else None
    arrays = {}
    for key in REQUIRED:
        try:
            arrays[key] = np.load(root / f"{key}.npy", mmap_mode=mode)
        except (OSError, ValueError) as err:
            raise ValueError(f"{root}: cannot read {key}.npy ({err}); the dataset is truncated or corrupt") from err
    image_arrays = {}
    if images:
        for key in meta.get("images", []):
            image_arrays[key] = np.load(root / f"{key}.npy", mmap_mode=mode)
    dataset = Dataset(
        **arrays,
        episodes=[(int(s), int(e)) for s, e in meta["episodes"]],
        annotations=[Annotation(int(s), int(e), str(t)) for s, e, t in meta["annotations"]],
        images=image_arrays,
        provenance=meta.get("provenance", {}),
    )
    if len(dataset) != meta["frames"]:
        raise ValueError(f"{root}: meta.json says {meta['frames']} frames but the arrays hold {len(dataset)}")
    return dataset
