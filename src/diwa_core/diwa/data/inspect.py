"""What a recording or a dataset holds, before hours of training are spent on it.

For a bag: every topic's message count, rate and longest silence, pauses that will split episodes,
storage files cut off by a killed recorder, and annotations. For a bag or a dataset: frames,
episodes, duration, cameras, the frames' sources, and the tasks the oracle sees completed where
the scene state exists (a real cell records none), beside the tasks annotated by hand.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from diwa.data.annotate import annotate_windows
from diwa.data.bag_reader import BagError, BagReader, storage_files
from diwa.data.dataset import Dataset, frames_by_source, load_dataset
from diwa.data.rosbag import ConversionConfig, bags_to_dataset
from diwa.robot_contract import CONTROL_RATE_HZ

PREVIEW_FPS = 10


def is_bag(path: Path) -> bool:
    """A rosbag2 directory or one of its .mcap files (a dataset is a directory without them)."""
    try:
        return bool(storage_files(path))
    except (BagError, FileNotFoundError, NotADirectoryError):
        return False


def topic_statistics(path: Path, max_gap_s: float) -> dict[str, Any]:
    """Per topic: type, messages, rate over its own span, the longest gap between two messages, and
    for streams how many gaps exceed `max_gap_s`; from log times, whatever the messages' stamps say."""
    reader = BagReader(path)
    times: dict[str, list[int]] = {}
    for item in reader.messages(decode=False):  # timing only: images are not decoded
        times.setdefault(item.topic, []).append(item.log_time_ns)
    topics = {}
    for topic, stamps in sorted(times.items()):
        seconds = np.asarray(stamps, np.int64) / 1e9
        gaps = np.diff(np.sort(seconds)) if len(seconds) > 1 else np.zeros(0)
        span = float(seconds.max() - seconds.min())
        topics[topic] = {
            "type": reader.topic_types.get(topic, "?"),
            "messages": len(stamps),
            "rate_hz": (len(stamps) - 1) / span if span > 0 else None,
            "longest_gap_s": float(gaps.max()) if len(gaps) else None,
            # Pauses are counted on streams only: an event topic (resets, annotations) is silent by nature.
            "gaps_over_max": int((gaps > max_gap_s).sum()) if len(gaps) and np.median(gaps) < max_gap_s else None,
        }
    everything = [t for stamps in times.values() for t in stamps]
    return {
        "storage_files": [str(r.path.name) for r in reader.reports],
        "truncated_files": [str(r.path.name) for r in reader.reports if r.truncated],
        "duration_s": (max(everything) - min(everything)) / 1e9 if everything else 0.0,
        "topics": topics,
    }


def dataset_summary(dataset: Dataset, rate_hz: float = CONTROL_RATE_HZ) -> dict[str, Any]:
    lengths = [end - start + 1 for start, end in dataset.episodes]
    annotated = Counter(a.task for a in dataset.annotations)
    # A bag inspected without its pixels: the camera sizes the conversion found.
    recorded_cameras = next((bag.get("cameras") for bag in dataset.provenance.get("bags", [])), None) or {}
    oracle = Counter(a.task for a in annotate_windows(dataset.robot_obs, dataset.scene_obs, dataset.episodes))
    return {
        "frames": len(dataset),
        "episodes": len(dataset.episodes),
        "episode_frames": {"min": min(lengths), "median": float(np.median(lengths)), "max": max(lengths)},
        "duration_s": len(dataset) / rate_hz,
        "cameras": {key: list(images.shape[1:]) for key, images in dataset.images.items()} or recorded_cameras,
        "sources": frames_by_source(dataset),
        "annotations": dict(sorted(annotated.items())),
        "oracle_tasks": dict(sorted(oracle.items())),
    }


def inspect_path(path: Path, max_gap_s: float, image_dir: Path | None = None) -> tuple[dict[str, Any], Dataset | None]:
    """The report of a bag or a dataset, and the dataset itself (a bag converted; None where a bag
    has no scene state to convert). A bag's camera images are converted only when given a scratch
    `image_dir` to memory-map them in."""
    if is_bag(path):
        report: dict[str, Any] = {"kind": "bag", "path": str(path), **topic_statistics(path, max_gap_s)}
        try:
            config = ConversionConfig(max_gap_s=max_gap_s)
            dataset = bags_to_dataset([path], config, image_dir=image_dir, pixels=image_dir is not None)
        except BagError as err:
            report["dataset"] = None
            report["not_convertible"] = str(err)
            return report, None
        report["dataset"] = dataset_summary(dataset)
        return report, dataset
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: neither a rosbag2 bag nor a dataset directory")
    dataset = load_dataset(path)  # images memory-mapped: read only where a preview asks for them
    return {"kind": "dataset", "path": str(path), "dataset": dataset_summary(dataset)}, dataset


def write_preview(dataset: Dataset, out: Path, every: int, max_frames: int) -> int:
    """Every `every`-th frame of the cameras side by side (a shorter one padded below), as an
    animated GIF; the number of frames written."""
    import imageio.v2 as imageio

    if not dataset.images:
        raise ValueError("the recording has no camera images to preview")
    cameras = [dataset.images[key] for key in sorted(dataset.images)]
    height = max(images.shape[1] for images in cameras)

    def padded(image: np.ndarray) -> np.ndarray:
        return np.pad(image, ((0, height - image.shape[0]), (0, 0), (0, 0)))

    indices = range(0, len(dataset), every)[:max_frames]
    frames = [np.concatenate([padded(images[i]) for images in cameras], axis=1) for i in indices]
    out.parent.mkdir(parents=True, exist_ok=True)
    imageio.mimsave(out, frames, duration=1000 / PREVIEW_FPS, loop=0)
    return len(frames)


def format_report(report: dict[str, Any]) -> str:
    lines = [f"{report['kind']} {report['path']}"]
    if report["kind"] == "bag":
        lines.append(f"  {report['duration_s']:.1f} s in {len(report['storage_files'])} storage file(s)")
        if report["truncated_files"]:
            lines.append(f"  cut off by a killed recorder (read up to the cut): {', '.join(report['truncated_files'])}")
        for topic, stats in report["topics"].items():
            rate = f"{stats['rate_hz']:.1f} Hz" if stats["rate_hz"] else "-"
            gap = f"{stats['longest_gap_s']:.2f} s" if stats["longest_gap_s"] is not None else "-"
            pauses = f", {stats['gaps_over_max']} pause(s)" if stats["gaps_over_max"] else ""
            lines.append(f"  {topic:<34} {stats['messages']:>7} msgs  {rate:>9}  longest gap {gap}{pauses}")
        if report["dataset"] is None:
            lines.append(f"  no dataset: {report['not_convertible']}")
            return "\n".join(lines)
    data = report["dataset"]
    lengths = data["episode_frames"]
    lines.append(
        f"  {data['frames']} frames ({data['duration_s'] / 60:.1f} min at the control rate) in {data['episodes']} "
        f"episodes of {lengths['min']}-{lengths['max']} frames (median {lengths['median']:.0f})"
    )
    cameras = ", ".join(f"{k} {'x'.join(map(str, v))}" for k, v in data["cameras"].items()) or "none"
    lines.append(f"  cameras: {cameras}")
    lines.append(f"  sources: {', '.join(f'{k} {v}' for k, v in data['sources'].items())}")
    lines.append(f"  annotated tasks: {_counts(data['annotations'])}")
    lines.append(f"  tasks the oracle sees completed: {_counts(data['oracle_tasks'])}")
    return "\n".join(lines)


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{task} {n}" for task, n in counts.items()) or "none"
