"""LeRobot datasets (format v3.0): import a LeRobot dataset as play.

A dataset DiWA exported (the features in diwa.data.lerobot_format) is read back unchanged (the
annotation windows from meta/diwa.json while it matches the frames, else runs of one task within an
episode, play excepted).

Import of a dataset recorded on a Franka (any other state layout is refused, naming what is missing):

    observation.state   7 arm joint angles (rad), then the gripper: an 8th value, its opening width
                        (m), or an 8th and 9th, the two finger positions (m, summed); with 7 values
                        the width comes from the one other observation.*gripper* feature of 1 or 2 values
    robot_obs[0:6]      TCP pose by the Franka's forward kinematics (diwa.data.franka_kinematics), with
                        CALVIN's TCP, in the scene frame of a base at `base_in_scene`
    robot_obs[14]       the gripper action applied on the way to the frame, inferred from the width:
                        closing is -1, opening +1, at rest the last one (before any motion, the opposite
                        of the first motion, or open when the width is at least half of 0.08 m)
    rel_actions, actions  recomputed from the recorded motion, never read from the dataset's `action`
                        (joint targets, velocities or end-effector deltas in units that vary between
                        datasets): rel_actions[t] is the TCP displacement to frame t+1 in CALVIN's units
                        (0.02 m, 0.05 rad per unit, clipped to [-1, 1]) and the gripper action applied to
                        reach t+1; actions[t] is frame t+1's TCP pose and that gripper action. An
                        episode's last frame holds its pose and gripper, as in diwa.data.rosbag.
    scene_obs           zeros: a real cell has no simulator state. The provenance says
                        "scene_state": "absent"; the camera world-model profile does not read scene_obs.
    cameras             decoded at their native size (never resized); both are required when the scene
                        state is absent, since then the cameras are all a world model can learn the scene from.

The dataset must run at DiWA's control rate: a relative action is one 1/30 s control step, and
resampling another rate would invent or drop motion.
"""

from __future__ import annotations

import bisect
import json
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from diwa.data.dataset import SCENE_ABSENT, Annotation, Dataset
from diwa.data.franka_kinematics import tcp_pose
from diwa.data.lerobot_format import (
    ABS_ACTION_NAMES,
    ABSOLUTE_ACTION_KEY,
    ACTION_KEY,
    CAMERA_KEYS,
    CODEBASE_VERSION,
    ENV_STATE_KEY,
    EPISODES_DIR,
    INFO_PATH,
    PLAY_TASK,
    REL_ACTION_NAMES,
    ROBOT_OBS_NAMES,
    SCENE_OBS_NAMES,
    SIDECAR_FORMAT,
    SIDECAR_PATH,
    STATE_KEY,
    TASKS_PATH,
    _task_text,
)
from diwa.franka_state import GRIPPER_MOTION_M
from diwa.robot_contract import CONTROL_RATE_HZ, GRIPPER_OPEN_WIDTH_M
from diwa.sim import geometry as g
from diwa.sim.oracle import TASKS
from diwa.sim.rotations import wrap_angle
from diwa.sim.scene_bounds import GRIPPER_WIDTH_MAX, GRIPPER_WIDTH_MIN

FRANKA_STATE_DIMS = (7, 8, 9)
CARTESIAN_NAME_WORDS = frozenset(
    {"x", "y", "z", "roll", "pitch", "yaw", "quat", "qx", "qy", "qz", "qw", "ee", "eef", "tcp", "cartesian"}
)


@dataclass(frozen=True)
class _Plan:
    """Which features make which of our arrays, decided from info.json before any data is read."""

    state: str  # "diwa" or "franka"
    state_dim: int
    gripper_key: str | None  # the separate gripper feature of a 7-value Franka state
    rel_from_action: bool
    abs_from_feature: bool
    scene_from_feature: bool
    cameras: dict[str, str]  # our image key -> video feature

    def columns(self) -> list[str]:
        wanted = [STATE_KEY, "episode_index", "frame_index", "task_index"]
        if self.gripper_key:
            wanted.append(self.gripper_key)
        if self.rel_from_action:
            wanted.append(ACTION_KEY)
        if self.abs_from_feature:
            wanted.append(ABSOLUTE_ACTION_KEY)
        if self.scene_from_feature:
            wanted.append(ENV_STATE_KEY)
        return wanted


def import_lerobot(
    path: str | os.PathLike[str],
    cameras: Mapping[str, str] | None = None,
    fps: float = CONTROL_RATE_HZ,
    base_in_scene: Sequence[float] = g.ROBOT_BASE_POS,
    scratch: str | os.PathLike[str] | None = None,
    progress: bool = False,
) -> Dataset:
    """Read the LeRobot v3.0 dataset at `path` as a DiWA dataset (mapping in the module docstring).

    cameras: our image key ("rgb_static", "rgb_gripper") -> the dataset's video feature, for datasets
    whose camera names do not say which is which; scratch: a directory for memory-mapped frames, so
    that long recordings need not fit in memory."""
    root = Path(path)
    info = _read_info(root)
    features = info["features"]
    if abs(float(info["fps"]) - fps) > 1e-6:
        raise ValueError(
            f"{root} is recorded at {info['fps']} fps; DiWA's relative actions are steps of its {fps:g} Hz control "
            "rate, and frames are not resampled"
        )
    plan = _plan(root, features, cameras)
    episodes = _read_episodes(root, plan)
    lengths = [int(row["length"]) for row in episodes]
    bounds = np.cumsum([0, *lengths])
    spans = [(int(bounds[i]), int(bounds[i + 1]) - 1) for i in range(len(lengths))]
    columns = _read_frames(root, info, episodes, plan, progress)
    robot_obs, state_note = _robot_obs(plan, columns, spans, base_in_scene)
    if plan.rel_from_action:
        rel_actions = columns[ACTION_KEY]
        clipped = 0
    else:
        rel_actions, clipped = _derived_rel_actions(robot_obs, spans)
    actions = columns[ABSOLUTE_ACTION_KEY] if plan.abs_from_feature else _derived_actions(robot_obs, rel_actions, spans)
    scene_obs = columns[ENV_STATE_KEY] if plan.scene_from_feature else np.zeros((len(robot_obs), 24), np.float32)
    images = {
        image_key: _decode_camera(root, info, video_key, episodes, spans, scratch, progress)
        for image_key, video_key in plan.cameras.items()
    }
    sidecar = _read_sidecar(root, len(robot_obs), spans)
    if sidecar is not None:
        annotations = [Annotation(int(s), int(e), str(t)) for s, e, t in sidecar["annotations"]]
    else:
        annotations = _annotations_from_tasks(_read_tasks(root), columns["task_index"], spans)
    provenance: dict[str, Any] = {
        "source": "lerobot",
        "lerobot": {
            "path": str(root.resolve()),
            "codebase_version": info["codebase_version"],
            "robot_type": info.get("robot_type"),
            "fps": info["fps"],
            "episodes": len(spans),
            "robot_obs": state_note,
            "rel_actions": f"read from {ACTION_KEY}"
            if plan.rel_from_action
            else f"derived from the recorded TCP motion ({clipped} frames clipped to [-1, 1])",
            "actions": f"read from {ABSOLUTE_ACTION_KEY}" if plan.abs_from_feature else "the next frame's TCP pose",
            "cameras": dict(plan.cameras),
            "annotations": "meta/diwa.json" if sidecar is not None else "runs of the frames' tasks",
        },
        "scene_state": f"read from {ENV_STATE_KEY}" if plan.scene_from_feature else SCENE_ABSENT,
    }
    if sidecar is not None:
        provenance["exported_from"] = sidecar.get("provenance", {})
    return Dataset(
        robot_obs=np.asarray(robot_obs, dtype=np.float32),
        scene_obs=np.asarray(scene_obs, dtype=np.float32),
        actions=np.asarray(actions, dtype=np.float32),
        rel_actions=np.asarray(rel_actions, dtype=np.float32),
        episodes=spans,
        annotations=annotations,
        images=images,
        provenance=provenance,
    )


def _read_info(root: Path) -> dict[str, Any]:
    if not root.is_dir():
        raise FileNotFoundError(f"{root} is not a directory")
    path = root / INFO_PATH
    if not path.is_file():
        raise FileNotFoundError(f"{root} is not a LeRobot dataset (no {INFO_PATH})")
    try:
        info = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path} is not valid JSON: {err}") from err
    if not isinstance(info, dict):
        raise ValueError(f"{path} does not hold a JSON object")
    version = info.get("codebase_version")
    if version != CODEBASE_VERSION:
        raise ValueError(
            f"{root}: unsupported LeRobot codebase_version {version!r}; this reader reads {CODEBASE_VERSION} "
            "(lerobot converts v2.1 datasets with lerobot.datasets.v30.convert_dataset_v21_to_v30)"
        )
    for key in ("fps", "features", "data_path"):
        if key not in info:
            raise ValueError(f"{path} lacks {key!r}")
    if not isinstance(info["features"], dict) or not all(isinstance(f, dict) for f in info["features"].values()):
        raise ValueError(f"{path}: 'features' is not an object of feature objects")
    if isinstance(info["fps"], bool) or not isinstance(info["fps"], int | float) or info["fps"] <= 0:
        raise ValueError(f"{path}: fps {info['fps']!r} is not a positive number")
    return info


def _names(feature: Mapping[str, Any]) -> list[str] | None:
    """A feature's names as a list: LeRobot writes a list, older datasets a {"motors": [...]} object."""
    names = feature.get("names")
    if isinstance(names, dict) and len(names) == 1:
        names = next(iter(names.values()))
    return [str(n) for n in names] if isinstance(names, list) else None


def _shape(feature: Mapping[str, Any]) -> tuple[int, ...]:
    return tuple(int(v) for v in feature.get("shape", ()))


def _is_vector(feature: Mapping[str, Any]) -> bool:
    return feature.get("dtype") in ("float32", "float64") and len(_shape(feature)) == 1


def _has_names(features: Mapping[str, Any], key: str, names: Sequence[str]) -> bool:
    feature = features.get(key)
    return feature is not None and _is_vector(feature) and _names(feature) == list(names)


def _plan(root: Path, features: Mapping[str, Any], cameras: Mapping[str, str] | None) -> _Plan:
    state = features.get(STATE_KEY)
    if state is None or not _is_vector(state):
        raise ValueError(
            f"{root}: no float vector feature {STATE_KEY!r}; the world model needs the robot's proprioception "
            "(DiWA's robot_obs, or a Franka's 7 joint angles and gripper width)"
        )
    gripper_key = None
    if _has_names(features, STATE_KEY, ROBOT_OBS_NAMES):
        kind = "diwa"
    else:
        kind = "franka"
        dim, names = _shape(state)[0], _names(state)
        if dim not in FRANKA_STATE_DIMS:
            raise ValueError(
                f"{root}: {STATE_KEY} has {dim} values named {names}; DiWA reads its own robot_obs (15 values named "
                f"{list(ROBOT_OBS_NAMES[:3])}...) or a Franka's 7 arm joint angles followed by the gripper width "
                "(8 values) or the two finger positions (9 values)"
            )
        if names is not None and not any("joint" in n.lower() for n in names[:7]):
            cartesian = [n for n in names[:7] if CARTESIAN_NAME_WORDS & set(re.split(r"[\W_]+", n.lower()))]
            if cartesian:
                raise ValueError(
                    f"{root}: {STATE_KEY} looks like an end-effector pose ({cartesian}), not the 7 arm joint angles "
                    "that the TCP pose is computed from"
                )
        if dim == 7:
            gripper_key = _gripper_feature(root, features)
    cameras = _choose_cameras(root, features, cameras)
    scene = _has_names(features, ENV_STATE_KEY, SCENE_OBS_NAMES)
    if not scene:
        missing = [f"{CAMERA_KEYS[k]} ({k})" for k in CAMERA_KEYS if k not in cameras]
        if missing:
            videos = [k for k, f in features.items() if f.get("dtype") == "video"]
            raise ValueError(
                f"{root}: without a scene state ({ENV_STATE_KEY} with DiWA's 24 values) the world model learns the "
                f"scene from both cameras, and this dataset has no {', '.join(missing)}; its videos are {videos} "
                "(name them with --static-camera / --wrist-camera)"
            )
    return _Plan(
        state=kind,
        state_dim=_shape(state)[0],
        gripper_key=gripper_key,
        rel_from_action=_has_names(features, ACTION_KEY, REL_ACTION_NAMES),
        abs_from_feature=_has_names(features, ABSOLUTE_ACTION_KEY, ABS_ACTION_NAMES),
        scene_from_feature=scene,
        cameras=cameras,
    )


def _gripper_feature(root: Path, features: Mapping[str, Any]) -> str:
    candidates = [
        key
        for key, feature in features.items()
        if key != STATE_KEY
        and key.startswith("observation.")
        and "gripper" in key.lower()
        and _is_vector(feature)
        and _shape(feature)[0] in (1, 2)
    ]
    if len(candidates) != 1:
        raise ValueError(
            f"{root}: {STATE_KEY} holds the 7 arm joints only, and the gripper width (robot_obs[6], which the world "
            "model reads) must come from one observation.*gripper* feature of 1 value (width, m) or 2 (finger "
            "positions, m); "
            f"found {candidates or 'none'}"
        )
    return candidates[0]


def _choose_cameras(root: Path, features: Mapping[str, Any], given: Mapping[str, str] | None) -> dict[str, str]:
    videos = [key for key, feature in features.items() if feature.get("dtype") == "video"]
    if given:
        for image_key, video_key in given.items():
            if image_key not in CAMERA_KEYS:
                raise ValueError(f"unknown camera {image_key!r}; expected one of {sorted(CAMERA_KEYS)}")
            if video_key not in videos:
                dtype = features.get(video_key, {}).get("dtype")
                held = f"a feature of dtype {dtype!r}" if dtype else "no such feature"
                raise ValueError(f"{root}: {video_key!r} is {held}; the dataset's videos are {videos}")
        return dict(given)
    # Our own names first; then a camera named for the wrist (hand, gripper) is the wrist camera and
    # the one remaining camera the static one. Anything less clear is left to the caller to name.
    chosen = {image_key: key for image_key, key in CAMERA_KEYS.items() if key in videos}
    wrist = [k for k in videos if any(w in k.lower() for w in ("wrist", "hand", "gripper"))]
    if "rgb_gripper" not in chosen and len(wrist) == 1:
        chosen["rgb_gripper"] = wrist[0]
    others = [k for k in videos if k not in wrist and k not in chosen.values()]
    if "rgb_static" not in chosen and len(others) == 1:
        chosen["rgb_static"] = others[0]
    return chosen


def _read_table(path: Path, columns: Sequence[str] | None = None) -> Any:
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not path.is_file():
        raise FileNotFoundError(f"missing {path}")
    try:
        return pq.read_table(path, columns=list(columns) if columns is not None else None)
    except (pa.ArrowException, OSError) as err:
        raise ValueError(f"{path}: cannot read the Parquet file ({err}); it is truncated or corrupt") from err


def _read_episodes(root: Path, plan: _Plan) -> list[dict[str, Any]]:
    files = sorted((root / EPISODES_DIR).glob("chunk-*/file-*.parquet"))
    if not files:
        raise FileNotFoundError(f"{root} has no episode metadata ({EPISODES_DIR}/chunk-*/file-*.parquet)")
    wanted = ["episode_index", "length", "data/chunk_index", "data/file_index"]
    for video_key in plan.cameras.values():
        wanted += [f"videos/{video_key}/{k}" for k in ("chunk_index", "file_index", "from_timestamp", "to_timestamp")]
    rows: list[dict[str, Any]] = []
    for path in files:
        table = _read_table(path)
        missing = [c for c in wanted if c not in table.column_names]
        if missing:
            raise ValueError(f"{path}: episode metadata lacks {missing}")
        rows += table.select(wanted).to_pylist()
    if not rows:
        raise ValueError(f"{root}: the episode metadata lists no episodes")
    rows.sort(key=lambda row: row["episode_index"])
    indices = [row["episode_index"] for row in rows]
    if len(set(indices)) != len(indices):
        raise ValueError(f"{root}: episode metadata lists an episode more than once")
    for row in rows:
        if any(row[c] is None for c in wanted) or int(row["length"]) < 1:
            raise ValueError(f"{root}: episode {row['episode_index']} has missing or empty metadata")
    return rows


def _matrix(table: Any, key: str, path: Path) -> np.ndarray:
    """A column as (rows, dim): fixed-size or variable lists of numbers, or plain numbers (dim 1)."""
    import pyarrow as pa

    column = table.column(key).combine_chunks()
    if column.null_count:
        raise ValueError(f"{path}: column {key!r} has missing values")
    if pa.types.is_list(column.type) or pa.types.is_large_list(column.type) or pa.types.is_fixed_size_list(column.type):
        values = column.flatten().to_numpy(zero_copy_only=False)
        if len(column) and len(values) % len(column):
            raise ValueError(f"{path}: column {key!r} holds lists of different lengths")
        return values.reshape(len(column), -1) if len(column) else values.reshape(0, 0)
    return column.to_numpy(zero_copy_only=False).reshape(-1, 1)


def _read_frames(
    root: Path, info: Mapping[str, Any], episodes: list[dict[str, Any]], plan: _Plan, progress: bool
) -> dict[str, np.ndarray]:
    """The wanted columns of every episode's frames, episodes in order, frames in frame_index order."""
    by_file: dict[tuple[int, int], list[int]] = {}
    for position, row in enumerate(episodes):
        by_file.setdefault((int(row["data/chunk_index"]), int(row["data/file_index"])), []).append(position)
    parts: dict[int, dict[str, np.ndarray]] = {}
    for (chunk, file), positions in tqdm(by_file.items(), desc="read data", unit="file", disable=not progress):
        path = root / _format_path(info["data_path"], chunk_index=chunk, file_index=file)
        table = _read_table(path)
        missing = [c for c in plan.columns() if c not in table.column_names]
        if missing:
            raise ValueError(f"{path}: the frame table lacks {missing}")
        data = {key: _matrix(table, key, path) for key in plan.columns()}
        episode_of_row = data["episode_index"][:, 0].astype(np.int64)
        for position in positions:
            row = episodes[position]
            rows = np.flatnonzero(episode_of_row == int(row["episode_index"]))
            order = rows[np.argsort(data["frame_index"][rows, 0], kind="stable")]
            if len(order) != int(row["length"]) or not np.array_equal(
                data["frame_index"][order, 0], np.arange(len(order))
            ):
                raise ValueError(
                    f"{path}: episode {row['episode_index']} has {len(order)} frames with frame_index "
                    f"not 0..{int(row['length']) - 1}, but its metadata says {row['length']} frames"
                )
            parts[position] = {key: values[order] for key, values in data.items()}
    columns = {key: np.concatenate([parts[p][key] for p in range(len(episodes))]) for key in plan.columns()}
    expected = {STATE_KEY: int(plan.state_dim), ACTION_KEY: 7, ABSOLUTE_ACTION_KEY: 7, ENV_STATE_KEY: 24}
    for key, dim in expected.items():
        if key in columns and columns[key].shape[1] != dim:
            raise ValueError(f"{root}: {key} has {columns[key].shape[1]} values per frame, expected {dim}")
    columns["task_index"] = columns["task_index"][:, 0].astype(np.int64)
    return columns


def _format_path(template: str, **fields: Any) -> str:
    try:
        return template.format(**fields)
    except (KeyError, IndexError, ValueError) as err:
        raise ValueError(f"cannot fill the path template {template!r} ({err!r})") from err


def _robot_obs(
    plan: _Plan, columns: Mapping[str, np.ndarray], spans: Sequence[tuple[int, int]], base_in_scene: Sequence[float]
) -> tuple[np.ndarray, str]:
    state = np.asarray(columns[STATE_KEY], dtype=np.float64)
    if plan.state == "diwa":
        if state.shape[1] != 15:
            raise ValueError(f"{STATE_KEY} is named as DiWA's robot_obs but holds {state.shape[1]} values")
        return state, f"read from {STATE_KEY}"
    joints = state[:, :7]
    if plan.gripper_key is not None:
        gripper = np.asarray(columns[plan.gripper_key], dtype=np.float64)
        source = plan.gripper_key
    else:
        gripper = state[:, 7:]
        source = f"{STATE_KEY}[7:]"
    width = gripper.sum(axis=1) if gripper.shape[1] == 2 else gripper[:, 0]
    bad = np.flatnonzero((width < GRIPPER_WIDTH_MIN) | (width > GRIPPER_WIDTH_MAX))
    if len(bad):
        raise ValueError(
            f"the gripper width from {source} is {width[bad[0]]:.4g} at frame {bad[0]}, outside "
            f"{GRIPPER_WIDTH_MIN:g}..{GRIPPER_WIDTH_MAX:g} m: is it in metres (not normalised, not millimetres)?"
        )
    position, euler = tcp_pose(joints, base_in_scene)
    robot = np.zeros((len(state), 15))
    robot[:, 0:3], robot[:, 3:6], robot[:, 6], robot[:, 7:14] = position, euler, width, joints
    robot[:, 14] = _applied_gripper_actions(width, spans)
    gripper_layout = {1: "width (m)", 2: "finger positions (m, summed)"}[gripper.shape[1]]
    note = (
        f"Franka: joints from {STATE_KEY}[0:7], gripper {gripper_layout} from {source}, TCP pose by forward "
        f"kinematics with the base at {[float(v) for v in base_in_scene]}, gripper action inferred from the width"
    )
    return robot, note


def _applied_gripper_actions(width: np.ndarray, spans: Sequence[tuple[int, int]]) -> np.ndarray:
    """CALVIN's robot_obs[14] (the gripper action applied on the way to each frame), from the width alone."""
    applied = np.empty(len(width))
    for start, end in spans:
        w = width[start : end + 1]
        commands: list[float | None] = []
        current: float | None = None
        reference = w[0]
        for t in range(len(w) - 1):
            change = w[t + 1] - reference
            if abs(change) > GRIPPER_MOTION_M:
                current, reference = (1.0 if change > 0 else -1.0), w[t + 1]
            commands.append(current)
        first = next((c for c in commands if c is not None), None)
        resting = 1.0 if w[0] >= GRIPPER_OPEN_WIDTH_M / 2 else -1.0
        initial = resting if first is None else -first
        applied[start] = initial
        applied[start + 1 : end + 1] = [initial if c is None else c for c in commands]
    return applied


def _successors(n: int, spans: Sequence[tuple[int, int]]) -> np.ndarray:
    """The next frame of every frame; an episode's last frame is its own successor (it holds)."""
    successor = np.arange(n) + 1
    for _, end in spans:
        successor[end] = end
    return successor


def _derived_rel_actions(robot_obs: np.ndarray, spans: Sequence[tuple[int, int]]) -> tuple[np.ndarray, int]:
    nxt = _successors(len(robot_obs), spans)
    rel = np.zeros((len(robot_obs), 7))
    rel[:, 0:3] = (robot_obs[nxt, 0:3] - robot_obs[:, 0:3]) / g.REL_POS_SCALE
    rel[:, 3:6] = wrap_angle(robot_obs[nxt, 3:6] - robot_obs[:, 3:6]) / g.REL_ORN_SCALE
    clipped = int((np.abs(rel[:, :6]) > 1.0).any(axis=1).sum())
    rel[:, :6] = np.clip(rel[:, :6], -1.0, 1.0)
    rel[:, 6] = robot_obs[nxt, 14]
    return rel, clipped


def _derived_actions(robot_obs: np.ndarray, rel_actions: np.ndarray, spans: Sequence[tuple[int, int]]) -> np.ndarray:
    nxt = _successors(len(robot_obs), spans)
    return np.concatenate([robot_obs[nxt, 0:6], np.asarray(rel_actions)[:, 6:7]], axis=1)


def _decode_camera(
    root: Path,
    info: Mapping[str, Any],
    video_key: str,
    episodes: list[dict[str, Any]],
    spans: Sequence[tuple[int, int]],
    scratch: str | os.PathLike[str] | None,
    progress: bool,
) -> np.ndarray:
    """Every frame of one camera at its native size, placed by its time in the file's timeline."""
    fps = float(info["fps"])
    template = info.get("video_path")
    if not template:
        raise ValueError(f"{root}: {INFO_PATH} has video features but no video_path")
    n = spans[-1][1] + 1
    by_file: dict[tuple[int, int], list[int]] = {}
    for position, row in enumerate(episodes):
        key = (int(row[f"videos/{video_key}/chunk_index"]), int(row[f"videos/{video_key}/file_index"]))
        by_file.setdefault(key, []).append(position)
    frames: np.ndarray | None = None
    filled = np.zeros(n, dtype=bool)

    def allocate(height: int, width: int) -> np.ndarray:
        shape = (n, height, width, 3)
        if scratch is None:
            return np.zeros(shape, dtype=np.uint8)
        target = Path(scratch) / f"{video_key}.npy"
        return np.lib.format.open_memmap(target, mode="w+", dtype=np.uint8, shape=shape)

    with tqdm(total=n, desc=f"decode {video_key}", unit="frame", disable=not progress) as bar:
        for (chunk, file), positions in by_file.items():
            path = root / _format_path(template, video_key=video_key, chunk_index=chunk, file_index=file)
            if not path.is_file():
                raise FileNotFoundError(f"missing video {path}")
            starts = sorted((float(episodes[p][f"videos/{video_key}/from_timestamp"]), p) for p in positions)
            begins = [s for s, _ in starts]
            for time, image in _video_frames(path):
                slot = bisect.bisect_right(begins, time + 0.5 / fps) - 1
                if slot < 0:
                    continue
                begin, position = starts[slot]
                k = round((time - begin) * fps)
                start, end = spans[position]
                if not 0 <= k <= end - start:
                    continue
                if frames is None:
                    frames = allocate(image.shape[0], image.shape[1])
                if image.shape != frames.shape[1:]:
                    raise ValueError(f"{path}: a frame of {image.shape} among frames of {frames.shape[1:]}")
                if filled[start + k]:
                    episode = episodes[position]["episode_index"]
                    raise ValueError(f"{path}: two frames at {time:.4f} s in episode {episode}")
                frames[start + k] = image
                filled[start + k] = True
                bar.update(1)
            for position in positions:
                start, end = spans[position]
                got = int(filled[start : end + 1].sum())
                if got != end - start + 1:
                    raise ValueError(
                        f"{path} holds {got} of the {end - start + 1} frames of episode "
                        f"{episodes[position]['episode_index']} ({video_key}); the video is truncated or does not "
                        "match the episode metadata"
                    )
    assert frames is not None  # every episode has a frame, and every frame was found
    return frames


def _video_frames(path: Path) -> Iterator[tuple[float, np.ndarray]]:
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise ValueError(f"{path} has no video stream")
            for frame in container.decode(video=0):
                if frame.time is None:
                    raise ValueError(f"{path}: a frame without a timestamp")
                yield float(frame.time), frame.to_ndarray(format="rgb24")
    except av.FFmpegError as err:
        raise ValueError(f"{path}: cannot decode the video ({err}); it is truncated or corrupt") from err


def _read_tasks(root: Path) -> list[str]:
    """Task text by task_index. LeRobot stores the text as the table's pandas index: a column named
    "task" (lerobot >= 0.5) or "__index_level_0__" (0.4)."""
    path = root / TASKS_PATH
    table = _read_table(path)
    text_column = next((c for c in ("task", "__index_level_0__") if c in table.column_names), None)
    if text_column is None or "task_index" not in table.column_names:
        raise ValueError(f"{path}: expected columns task_index and the task text, found {table.column_names}")
    by_index = dict(zip(table.column("task_index").to_pylist(), table.column(text_column).to_pylist(), strict=True))
    if sorted(by_index) != list(range(len(by_index))):
        raise ValueError(f"{path}: task_index is not 0..{len(by_index) - 1}")
    return [str(by_index[i]) for i in range(len(by_index))]


def _annotations_from_tasks(
    tasks: list[str], task_index: np.ndarray, spans: Sequence[tuple[int, int]]
) -> list[Annotation]:
    """Each run of frames with the same task inside an episode is an annotation window, except play;
    CALVIN instructions of DiWA's tasks map back to the task names."""
    if len(task_index) and (task_index.min() < 0 or task_index.max() >= len(tasks)):
        raise ValueError(f"task_index {int(task_index.max())} has no entry in {TASKS_PATH}")
    names = {_task_text(t): t for t in TASKS}
    annotations = []
    for start, end in spans:
        run_start = start
        for t in range(start, end + 1):
            if t == end or task_index[t + 1] != task_index[t]:
                text = tasks[int(task_index[t])]
                if text != PLAY_TASK:
                    annotations.append(Annotation(run_start, t, names.get(text, text)))
                run_start = t + 1
    return annotations


def _read_sidecar(root: Path, frames: int, spans: Sequence[tuple[int, int]]) -> dict[str, Any] | None:
    """Our own annotation windows and provenance, if this dataset is one we exported and its frames
    and episodes are still the ones we wrote (a dataset edited by other tools falls back to tasks)."""
    path = root / SIDECAR_PATH
    if not path.is_file():
        return None
    try:
        sidecar = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    if not isinstance(sidecar, dict) or sidecar.get("format") != SIDECAR_FORMAT:
        return None
    if sidecar.get("frames") != frames or sidecar.get("episodes") != [list(s) for s in spans]:
        return None
    return sidecar
