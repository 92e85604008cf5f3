"""CALVIN's on-disk dataset layout, read and written, with conversion to and from a Dataset.

Layout of a CALVIN split directory:

    episode_XXXXXXX.npz            one frame each: actions (7), rel_actions (7), robot_obs (15),
                                   scene_obs (24), optional rgb_static / rgb_gripper (H, W, 3 uint8)
    ep_start_end_ids.npy           (E, 2) inclusive frame-id ranges of contiguous recordings
    lang_annotations/auto_lang_ann.npy
                                   pickled dict {"info": {"indx": [(start, end), ...]},
                                                 "language": {"task": [...], "ann": [...]}}

Frame ids need not start at 0 (CALVIN's validation split does not); reading renumbers the frames
of the listed episodes consecutively. The annotation file is a pickle, as in CALVIN; it is read with
an unpickler that builds only numpy arrays, scalars and plain containers, so a crafted file cannot
run code.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import zipfile
from pathlib import Path

import numpy as np
from tqdm import tqdm

from diwa.atomic import write_directory_atomically
from diwa.data.dataset import IMAGE_KEYS, REQUIRED, Annotation, Dataset

EPISODE_IDS = "ep_start_end_ids.npy"
LANG_FILE = Path("lang_annotations") / "auto_lang_ann.npy"
PROVENANCE_FILE = "diwa_provenance.json"


def frame_file(root: Path, frame_id: int) -> Path:
    return root / f"episode_{frame_id:07d}.npz"


def instruction(task: str) -> str:
    """A plain-English instruction for a task name, stored as CALVIN's "ann" text."""
    words = task.split("_")
    if words[0] in ("push", "rotate") and words[-1] in ("left", "right"):
        return f"{words[0]} the {words[1]} block to the {words[-1]}"
    if words[0] == "lift":
        return f"lift the {words[1]} block from the {words[-1]}"
    if words[0] == "move" and words[1] == "slider":
        return f"slide the door to the {words[-1]}"
    if words[0] == "turn":
        return f"turn {words[1]} the {' '.join(words[2:])}"
    return f"{words[0]} the {' '.join(words[1:])}"


def write_calvin(dataset: Dataset, path: str | os.PathLike[str], progress: bool = True) -> Path:
    """Write `dataset` in CALVIN's layout, atomically: a crash leaves the old directory or none."""
    dataset.validate()

    def fill(staging: Path) -> None:
        for i in tqdm(range(len(dataset)), desc="write calvin", unit="frame", disable=not progress):
            frame = {key: np.asarray(getattr(dataset, key)[i], dtype=np.float32) for key in REQUIRED}
            frame.update({key: np.asarray(images[i]) for key, images in dataset.images.items()})
            np.savez(frame_file(staging, i), **frame)
        np.save(staging / EPISODE_IDS, np.asarray(dataset.episodes, dtype=np.int64).reshape(-1, 2))
        (staging / LANG_FILE.parent).mkdir()
        language = {
            "info": {"indx": [(int(a.start), int(a.end)) for a in dataset.annotations]},
            "language": {
                "task": [a.task for a in dataset.annotations],
                "ann": [instruction(a.task) for a in dataset.annotations],
            },
        }
        np.save(staging / LANG_FILE, np.asarray(language, dtype=object), allow_pickle=True)
        (staging / PROVENANCE_FILE).write_text(json.dumps(dataset.provenance, indent=1))

    return write_directory_atomically(Path(path), fill)


def read_calvin(path: str | os.PathLike[str], images: bool = True, progress: bool = True) -> Dataset:
    """Read a CALVIN-layout directory into a Dataset (frames renumbered from 0)."""
    root = Path(path)
    ids_file = root / EPISODE_IDS
    if not ids_file.is_file():
        raise FileNotFoundError(f"{root} is not a CALVIN dataset directory (no {EPISODE_IDS})")
    id_ranges = _load_episode_ids(ids_file)
    frame_ids = [i for start, end in id_ranges for i in range(start, end + 1)]
    index_of = {frame_id: i for i, frame_id in enumerate(frame_ids)}
    columns: dict[str, list[np.ndarray]] = {key: [] for key in REQUIRED}
    image_columns: dict[str, list[np.ndarray]] = {}
    for n, frame_id in enumerate(tqdm(frame_ids, desc="read calvin", unit="frame", disable=not progress)):
        frame = _load_frame(frame_file(root, frame_id))
        for key in REQUIRED:
            columns[key].append(frame[key])
        keys = [key for key in IMAGE_KEYS if images and key in frame]
        if n == 0:
            image_columns = {key: [] for key in keys}
        elif sorted(keys) != sorted(image_columns):
            raise ValueError(f"{frame_file(root, frame_id)} has images {keys}, earlier frames {sorted(image_columns)}")
        for key in keys:
            image_columns[key].append(frame[key])
    episodes, start = [], 0
    for first, last in id_ranges:
        episodes.append((start, start + last - first))
        start += last - first + 1
    provenance_file = root / PROVENANCE_FILE
    provenance = json.loads(provenance_file.read_text()) if provenance_file.is_file() else {"source": str(root)}
    return Dataset(
        **{key: np.stack(values).astype(np.float32) for key, values in columns.items()},
        episodes=episodes,
        annotations=_load_annotations(root / LANG_FILE, index_of),
        images={key: np.stack(values).astype(np.uint8) for key, values in image_columns.items()},
        provenance=provenance,
    )


def _load_episode_ids(path: Path) -> list[tuple[int, int]]:
    try:
        ids = np.load(path)
    except (OSError, ValueError, EOFError) as err:
        raise ValueError(f"{path}: cannot read episode ranges ({err}); the file is truncated or corrupt") from err
    if ids.ndim != 2 or ids.shape[1] != 2 or not np.issubdtype(ids.dtype, np.integer):
        raise ValueError(
            f"{path}: expected an (E, 2) integer array of inclusive frame ranges, got {ids.shape} {ids.dtype}"
        )
    ranges = [(int(s), int(e)) for s, e in ids]
    for start, end in ranges:
        if not 0 <= start <= end:
            raise ValueError(f"{path}: bad episode range ({start}, {end})")
    return ranges


def _load_frame(path: Path) -> dict[str, np.ndarray]:
    if not path.is_file():
        raise FileNotFoundError(f"missing episode frame file {path}")
    try:
        with np.load(path) as data:
            frame = {key: data[key] for key in data.files}
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as err:
        raise ValueError(f"{path}: truncated or corrupt episode file ({err})") from err
    for key, dim in REQUIRED.items():
        if key not in frame:
            raise ValueError(f"{path}: episode file lacks {key!r} (has {sorted(frame)})")
        if frame[key].shape != (dim,):
            raise ValueError(f"{path}: {key} has shape {frame[key].shape}, expected ({dim},)")
    return frame


class _ArrayUnpickler(pickle.Unpickler):
    """Builds numpy arrays, dtypes and scalars besides pickle's own containers and nothing else:
    every other global a pickle names (os.system, say) is refused before anything runs."""

    ALLOWED = frozenset(
        (module, name)
        for module in ("numpy.core.multiarray", "numpy._core.multiarray")
        for name in ("_reconstruct", "scalar")
    ) | {("numpy", "ndarray"), ("numpy", "dtype")}

    def find_class(self, module: str, name: str) -> object:
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}: only numpy arrays and plain data")
        return super().find_class(module, name)


def load_object_npy(path: Path) -> object:
    """The object saved in a pickled .npy file (np.save of a dict), unpickled safely."""
    with open(path, "rb") as handle:
        version = np.lib.format.read_magic(handle)
        if version == (1, 0):
            _, _, dtype = np.lib.format.read_array_header_1_0(handle)
        elif version == (2, 0):
            _, _, dtype = np.lib.format.read_array_header_2_0(handle)
        else:
            raise ValueError(f"unsupported .npy format version {version}")
        if not dtype.hasobject:
            raise ValueError("expected a pickled object array")
        array = _ArrayUnpickler(io.BytesIO(handle.read())).load()
    if not isinstance(array, np.ndarray) or array.shape != ():
        raise ValueError("expected a single pickled object")
    return array.item()


def _load_annotations(path: Path, index_of: dict[int, int]) -> list[Annotation]:
    if not path.is_file():
        return []
    try:
        content = load_object_npy(path)
        spans, tasks = content["info"]["indx"], content["language"]["task"]
    except (OSError, ValueError, EOFError, KeyError, TypeError, AttributeError, pickle.UnpicklingError) as err:
        raise ValueError(f"{path}: not a CALVIN language annotation file ({err})") from err
    if len(spans) != len(tasks):
        raise ValueError(f"{path}: {len(spans)} index windows but {len(tasks)} tasks")
    annotations = []
    for (start, end), task in zip(spans, tasks, strict=True):
        if int(start) not in index_of or int(end) not in index_of:
            raise ValueError(f"{path}: annotation ({start}, {end}, {task}) refers to frames outside the episodes")
        annotations.append(Annotation(index_of[int(start)], index_of[int(end)], str(task)))
    return annotations
