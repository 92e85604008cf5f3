"""LeRobot datasets (format v3.0): export a DiWA dataset.

The layout and the features written are described in diwa.data.lerobot_format. The cameras are
AV1 (libsvtav1) in yuv420p, as LeRobot records.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from diwa.atomic import write_directory_atomically
from diwa.data.dataset import Dataset, scene_absent
from diwa.data.lerobot_format import (
    ABS_ACTION_NAMES,
    ABSOLUTE_ACTION_KEY,
    ACTION_KEY,
    CAMERA_KEYS,
    CODEBASE_VERSION,
    DATA_PATH,
    ENV_STATE_KEY,
    EPISODES_PATH,
    INFO_PATH,
    PLAY_TASK,
    REL_ACTION_NAMES,
    ROBOT_OBS_NAMES,
    SCENE_OBS_NAMES,
    SIDECAR_FORMAT,
    SIDECAR_PATH,
    STATE_KEY,
    STATS_PATH,
    TASKS_PATH,
    VIDEO_PATH,
    _task_text,
)
from diwa.robot_contract import CONTROL_RATE_HZ

CHUNKS_SIZE = 1000
DATA_FILES_SIZE_IN_MB = 100
VIDEO_FILES_SIZE_IN_MB = 200

# LeRobot's recording defaults: SVT-AV1, 4:2:0 chroma, a key frame every 2 frames (cheap random
# access for training), constant quality 30, SVT's fastest preset.
VIDEO_CODEC = "libsvtav1"
VIDEO_PIX_FMT = "yuv420p"
VIDEO_OPTIONS = {"g": "2", "crf": "30", "preset": "12"}
QUANTILES = (0.01, 0.10, 0.50, 0.90, 0.99)
STATS_FRAMES_PER_EPISODE = 32
"""Camera statistics are over this many frames per episode, evenly spaced, as LeRobot samples them."""


def export_lerobot(
    dataset: Dataset,
    out: str | os.PathLike[str],
    fps: int = int(CONTROL_RATE_HZ),
    robot_type: str = "franka",
    progress: bool = False,
) -> Path:
    """Write `dataset` as a LeRobot v3.0 dataset at `out`, atomically: a failure leaves the old
    directory or none, never a dataset with some of its files."""
    dataset.validate()
    if int(fps) != fps or fps < 1:
        raise ValueError(f"fps must be a positive whole number (LeRobot stores an integer rate), got {fps}")
    fps = int(fps)
    _check_episodes_cover_frames(dataset)
    for key, frames in dataset.images.items():
        if frames.shape[1] % 2 or frames.shape[2] % 2:
            raise ValueError(
                f"{key} frames are {frames.shape[2]}x{frames.shape[1]}; {VIDEO_PIX_FMT} video needs an even width and "
                "height (frames are never resized)"
            )
    scene_known = not scene_absent(dataset)
    task_names, task_of_frame = _frame_tasks(dataset)
    columns = _data_columns(dataset, fps, task_of_frame, scene_known)

    def fill(staging: Path) -> None:
        episode_rows: list[dict[str, Any]] = [
            {"episode_index": e, "tasks": _episode_tasks(task_names, task_of_frame[s : t + 1]), "length": t - s + 1}
            for e, (s, t) in enumerate(dataset.episodes)
        ]
        for row, placement in zip(episode_rows, _write_data_files(staging, columns, dataset.episodes), strict=True):
            row.update(placement)
        features = _numeric_features(columns, scene_known)
        for image_key, video_key in CAMERA_KEYS.items():
            if image_key not in dataset.images:
                continue
            frames = dataset.images[image_key]
            placements = _encode_camera(staging, video_key, frames, dataset.episodes, fps, progress)
            for row, placement in zip(episode_rows, placements, strict=True):
                row.update(placement)
            features[video_key] = _video_feature(staging, video_key, frames.shape[1:], fps)
        stats = {key: _stats(columns[key]) for key in columns}
        for image_key, video_key in CAMERA_KEYS.items():
            if image_key in dataset.images:
                frames = dataset.images[image_key]
                stats[video_key] = _image_stats(frames, _sample_frames(dataset.episodes))
        for row, (start, end) in zip(episode_rows, dataset.episodes, strict=True):
            for key in columns:
                row.update(_flat_stats(key, _stats(columns[key][start : end + 1])))
            for image_key, video_key in CAMERA_KEYS.items():
                if image_key in dataset.images:
                    sample = _sample_frames([(start, end)])
                    row.update(_flat_stats(video_key, _image_stats(dataset.images[image_key], sample)))
        _write_episodes(staging, episode_rows)
        _write_tasks(staging, task_names)
        info = {
            "codebase_version": CODEBASE_VERSION,
            "robot_type": robot_type,
            "total_episodes": len(dataset.episodes),
            "total_frames": len(dataset),
            "total_tasks": len(task_names),
            "chunks_size": CHUNKS_SIZE,
            "data_files_size_in_mb": DATA_FILES_SIZE_IN_MB,
            "video_files_size_in_mb": VIDEO_FILES_SIZE_IN_MB,
            "fps": fps,
            "splits": {"train": f"0:{len(dataset.episodes)}"},
            "data_path": DATA_PATH,
            "video_path": VIDEO_PATH if dataset.images else None,
            "features": features,
        }
        _write_json(staging / INFO_PATH, info)
        _write_json(staging / STATS_PATH, stats)
        sidecar = {
            "format": SIDECAR_FORMAT,
            "version": 1,
            "frames": len(dataset),
            "episodes": [[int(s), int(e)] for s, e in dataset.episodes],
            "annotations": [[int(a.start), int(a.end), a.task] for a in dataset.annotations],
            "content_hash": dataset.content_hash(),
            "provenance": dataset.provenance,
        }
        _write_json(staging / SIDECAR_PATH, sidecar)

    return write_directory_atomically(Path(out), fill)


def _check_episodes_cover_frames(dataset: Dataset) -> None:
    """LeRobot stores frames only inside episodes, numbered consecutively; a frame outside every
    episode would be lost and the annotation windows after it shifted."""
    if not dataset.episodes:
        raise ValueError("the dataset has no episodes; LeRobot stores frames only inside episodes")
    expected = 0
    for start, end in [*dataset.episodes, (len(dataset), len(dataset))]:
        if start != expected:
            raise ValueError(
                f"frames {expected}..{start - 1} belong to no episode; LeRobot stores frames only in episodes"
            )
        expected = end + 1


def lerobot_dir(path: Path) -> str | None:
    """For check_output_dir: None when `path` holds a LeRobot dataset (which export may replace)."""
    return None if (path / INFO_PATH).is_file() else "something other than a LeRobot dataset"


def _frame_tasks(dataset: Dataset) -> tuple[list[str], np.ndarray]:
    """The task text of every frame and the list of distinct tasks (index = task_index).

    LeRobot gives a frame one task. A frame inside an annotation window takes that window's task;
    where windows overlap, the one that ends first (the completion the frame leads to next); any
    other frame is play."""
    labels = [PLAY_TASK] * len(dataset)
    for ann in sorted(dataset.annotations, key=lambda a: (a.end, a.start), reverse=True):
        labels[ann.start : ann.end + 1] = [_task_text(ann.task)] * (ann.end - ann.start + 1)
    names: list[str] = []
    index: dict[str, int] = {}
    task_of_frame = np.empty(len(dataset), dtype=np.int64)
    for i, label in enumerate(labels):
        if label not in index:
            index[label] = len(names)
            names.append(label)
        task_of_frame[i] = index[label]
    return names, task_of_frame


def _episode_tasks(names: list[str], task_indices: np.ndarray) -> list[str]:
    seen = dict.fromkeys(int(i) for i in task_indices)
    return [names[i] for i in seen]


def _data_columns(dataset: Dataset, fps: int, task_of_frame: np.ndarray, scene_known: bool) -> dict[str, np.ndarray]:
    n = len(dataset)
    episode_index = np.empty(n, dtype=np.int64)
    frame_index = np.empty(n, dtype=np.int64)
    for e, (start, end) in enumerate(dataset.episodes):
        episode_index[start : end + 1] = e
        frame_index[start : end + 1] = np.arange(end - start + 1)
    columns = {STATE_KEY: np.asarray(dataset.robot_obs, dtype=np.float32)}
    if scene_known:
        columns[ENV_STATE_KEY] = np.asarray(dataset.scene_obs, dtype=np.float32)
    columns[ACTION_KEY] = np.asarray(dataset.rel_actions, dtype=np.float32)
    columns[ABSOLUTE_ACTION_KEY] = np.asarray(dataset.actions, dtype=np.float32)
    columns["timestamp"] = (frame_index / fps).astype(np.float32)
    columns["frame_index"] = frame_index
    columns["episode_index"] = episode_index
    columns["index"] = np.arange(n, dtype=np.int64)
    columns["task_index"] = task_of_frame
    return columns


def _numeric_features(columns: Mapping[str, np.ndarray], scene_known: bool) -> dict[str, Any]:
    names = {STATE_KEY: ROBOT_OBS_NAMES, ACTION_KEY: REL_ACTION_NAMES, ABSOLUTE_ACTION_KEY: ABS_ACTION_NAMES}
    if scene_known:
        names[ENV_STATE_KEY] = SCENE_OBS_NAMES
    features: dict[str, Any] = {}
    for key, values in columns.items():
        shape = [int(values.shape[1])] if values.ndim == 2 else [1]
        labels = list(names[key]) if key in names else None
        features[key] = {"dtype": str(values.dtype), "shape": shape, "names": labels}
    return features


def _pack(sizes: Sequence[float], limit: float) -> list[tuple[int, int]]:
    """(chunk_index, file_index) of consecutive items filled into files of at most `limit` (a file
    holds at least one item, an item is never split), CHUNKS_SIZE files per chunk."""
    placements = []
    file_number, used = 0, 0.0
    for size in sizes:
        if used > 0 and used + size > limit:
            file_number, used = file_number + 1, 0.0
        used += size
        placements.append(divmod(file_number, CHUNKS_SIZE))
    return placements


def _arrow_column(values: np.ndarray) -> Any:
    import pyarrow as pa

    if values.ndim == 1:
        return pa.array(values)
    flat = pa.array(np.ascontiguousarray(values).reshape(-1))
    return pa.FixedSizeListArray.from_arrays(flat, values.shape[1])


def _write_data_files(
    staging: Path, columns: Mapping[str, np.ndarray], episodes: Sequence[tuple[int, int]]
) -> list[dict[str, Any]]:
    """Write the frame table, whole episodes per file; returns each episode's placement."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    row_bytes = sum(values.itemsize * (values.shape[1] if values.ndim == 2 else 1) for values in columns.values())
    sizes = [(end - start + 1) * row_bytes for start, end in episodes]
    placements = _pack(sizes, DATA_FILES_SIZE_IN_MB * 1024**2)
    result = []
    for chunk_file in sorted(set(placements)):
        members = [e for e, p in enumerate(placements) if p == chunk_file]
        first, last = episodes[members[0]][0], episodes[members[-1]][1]
        table = pa.table({key: _arrow_column(values[first : last + 1]) for key, values in columns.items()})
        path = staging / DATA_PATH.format(chunk_index=chunk_file[0], file_index=chunk_file[1])
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, path, compression="snappy")
    for (chunk, file), (start, end) in zip(placements, episodes, strict=True):
        result.append(
            {
                "data/chunk_index": chunk,
                "data/file_index": file,
                "dataset_from_index": start,
                "dataset_to_index": end + 1,
            }
        )
    return result


def _quiet_svt() -> None:
    """SVT-AV1 prints its configuration to stderr for every file unless told otherwise (1 = errors only)."""
    os.environ.setdefault("SVT_LOG", "1")


@contextmanager
def _own_scheduling() -> Iterator[None]:
    """Give the calling thread back its scheduling policy after encoding. SVT-AV1 switches the
    thread that opens an encoder to real-time SCHED_FIFO; every process started from that thread
    afterwards would inherit it (measured: ROS nodes started by the same process then spun at
    real-time priority and starved the mock robot). Lowering back needs no privilege."""
    policy, param = os.sched_getscheduler(0), os.sched_getparam(0)
    try:
        yield
    finally:
        if (os.sched_getscheduler(0), os.sched_getparam(0)) != (policy, param):
            os.sched_setscheduler(0, policy, param)


def _encode_episode(path: Path, frames: np.ndarray, fps: int) -> None:
    """One episode's frames as a video of its own, starting with a key frame, as LeRobot encodes
    each episode before appending it to the camera's file."""
    with _own_scheduling():
        _write_video(path, frames, fps)


def _write_video(path: Path, frames: np.ndarray, fps: int) -> None:
    import av

    time_base = Fraction(1, fps)
    with av.open(str(path), "w") as container:
        stream = container.add_stream(VIDEO_CODEC, rate=fps, options=dict(VIDEO_OPTIONS))
        stream.pix_fmt = VIDEO_PIX_FMT
        stream.height, stream.width = int(frames.shape[1]), int(frames.shape[2])
        for i, image in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
            frame.pts, frame.time_base = i, time_base
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


@dataclass
class _VideoFile:
    """A camera's file being filled with episodes: how many frames and payload bytes it holds."""

    container: Any
    stream: Any
    frames: int = 0
    bytes: int = 0


def _append_episode(target: Path, video: _VideoFile | None, episode: Path, frames: int, fps: int) -> _VideoFile:
    """Copy an episode's packets to the end of the camera's file without decoding them, shifted in
    time by the frames already there (opening the file on the first episode)."""
    import av

    with av.open(str(episode)) as source:
        stream = source.streams.video[0]
        if video is None:
            target.parent.mkdir(parents=True, exist_ok=True)
            container = av.open(str(target), "w")
            try:
                copy = container.add_stream_from_template(template=stream, opaque=True)
                copy.time_base = stream.time_base
            except BaseException:
                container.close()
                raise
            video = _VideoFile(container, copy)
        offset = round(Fraction(video.frames, fps) / stream.time_base)
        for packet in source.demux(stream):
            if packet.dts is None:  # the demuxer's end-of-stream marker
                continue
            packet.pts, packet.dts = packet.pts + offset, packet.dts + offset
            packet.stream = video.stream
            video.bytes += packet.size
            video.container.mux(packet)
    video.frames += frames
    return video


def _encode_camera(
    staging: Path,
    video_key: str,
    frames: np.ndarray,
    episodes: Sequence[tuple[int, int]],
    fps: int,
    progress: bool,
) -> list[dict[str, Any]]:
    """Encode one camera's episodes one after another into a file until the next episode would take
    it past VIDEO_FILES_SIZE_IN_MB; returns each episode's file and its span of the file's timeline."""
    _quiet_svt()
    limit = VIDEO_FILES_SIZE_IN_MB * 1024**2
    placements: list[dict[str, Any]] = []
    file_number = 0
    video: _VideoFile | None = None
    scratch = Path(tempfile.mkdtemp(prefix=".episodes-", dir=staging))
    try:
        with tqdm(total=len(frames), desc=f"encode {video_key}", unit="frame", disable=not progress) as bar:
            for start, end in episodes:
                episode = scratch / "episode.mp4"
                _encode_episode(episode, frames[start : end + 1], fps)
                if video is not None and video.bytes + episode.stat().st_size >= limit:
                    video.container.close()
                    video, file_number = None, file_number + 1
                chunk, file = divmod(file_number, CHUNKS_SIZE)
                path = staging / VIDEO_PATH.format(video_key=video_key, chunk_index=chunk, file_index=file)
                first = 0 if video is None else video.frames
                video = _append_episode(path, video, episode, end - start + 1, fps)
                bar.update(end - start + 1)
                placements.append(
                    {
                        f"videos/{video_key}/chunk_index": chunk,
                        f"videos/{video_key}/file_index": file,
                        f"videos/{video_key}/from_timestamp": first / fps,
                        f"videos/{video_key}/to_timestamp": video.frames / fps,
                    }
                )
    finally:
        if video is not None:
            video.container.close()
        shutil.rmtree(scratch, ignore_errors=True)
    return placements


def _video_feature(staging: Path, video_key: str, shape: tuple[int, ...], fps: int) -> dict[str, Any]:
    """The feature entry of a camera, its `info` read back from the first file written, as LeRobot does."""
    import av

    path = staging / VIDEO_PATH.format(video_key=video_key, chunk_index=0, file_index=0)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        codec, pix_fmt = stream.codec_context.codec.canonical_name, stream.codec_context.pix_fmt
    height, width, channels = (int(v) for v in shape)
    return {
        "dtype": "video",
        "shape": [height, width, channels],
        "names": ["height", "width", "channels"],
        "info": {
            "video.height": height,
            "video.width": width,
            "video.codec": codec,
            "video.pix_fmt": pix_fmt,
            "video.is_depth_map": False,
            "video.fps": fps,
            "video.channels": channels,
            "has_audio": False,
        },
    }


def _stats(values: np.ndarray) -> dict[str, Any]:
    data = np.asarray(values, dtype=np.float64)
    data = data.reshape(len(data), -1)
    stats: dict[str, Any] = {
        "min": data.min(axis=0).tolist(),
        "max": data.max(axis=0).tolist(),
        "mean": data.mean(axis=0).tolist(),
        "std": data.std(axis=0).tolist(),
        "count": [len(data)],
    }
    for q in QUANTILES:
        stats[f"q{round(q * 100):02d}"] = np.quantile(data, q, axis=0).tolist()
    return stats


def _sample_frames(episodes: Sequence[tuple[int, int]]) -> np.ndarray:
    picks = [
        np.unique(np.linspace(start, end, min(end - start + 1, STATS_FRAMES_PER_EPISODE)).round().astype(np.int64))
        for start, end in episodes
    ]
    return np.concatenate(picks)


def _image_stats(frames: np.ndarray, sample: np.ndarray) -> dict[str, Any]:
    """Per colour channel in [0, 1], each shaped (3, 1, 1) as LeRobot stores image statistics;
    count is the number of frames sampled."""
    pixels = np.asarray(frames[sample], dtype=np.float64).reshape(-1, 3) / 255.0
    flat = _stats(pixels)
    stats = {key: [[[v]] for v in values] for key, values in flat.items() if key != "count"}
    stats["count"] = [len(sample)]
    return stats


def _flat_stats(key: str, stats: Mapping[str, Any]) -> dict[str, Any]:
    return {f"stats/{key}/{name}": value for name, value in stats.items()}


def _write_episodes(staging: Path, rows: list[dict[str, Any]]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    row_bytes = [len(json.dumps(row)) for row in rows]
    placements = _pack(row_bytes, DATA_FILES_SIZE_IN_MB * 1024**2)
    for row, (chunk, file) in zip(rows, placements, strict=True):
        row["meta/episodes/chunk_index"] = chunk
        row["meta/episodes/file_index"] = file
    for chunk_file in sorted(set(placements)):
        members = [row for row, p in zip(rows, placements, strict=True) if p == chunk_file]
        path = staging / EPISODES_PATH.format(chunk_index=chunk_file[0], file_index=chunk_file[1])
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(members), path, compression="snappy")


def _write_tasks(staging: Path, names: list[str]) -> None:
    """LeRobot writes this table with pandas, the task text as the index, and reads it back with
    pandas; writing it the same way keeps the index where LeRobot looks for it."""
    import pandas as pd

    table = pd.DataFrame({"task_index": np.arange(len(names), dtype=np.int64)}, index=pd.Index(names, name="task"))
    table.to_parquet(staging / TASKS_PATH)


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=4, ensure_ascii=False))
