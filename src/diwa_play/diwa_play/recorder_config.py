"""The recorder's parameters as one typed, validated value (no ROS imports, so tests need no graph).

Topics are given as "TOPIC:TYPE" strings because the recorder subscribes before any publisher
exists (so that nothing published after start is missed) and so cannot discover the types. Names
without a leading slash are relative to the recorder's namespace (the launch files' `namespace`
argument); the bag holds them fully qualified, as the node resolves them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from diwa.data.bag_types import split_type_name
from diwa.data.bag_writer import SplitPolicy

SCENE_STATE_TYPE = "diwa_msgs/msg/SceneState"

DEFAULT_TOPICS = (
    "joint_states:sensor_msgs/msg/JointState",
    "mock_robot/scene_state:diwa_msgs/msg/SceneState",
    "mock_robot/resets:std_msgs/msg/Header",
    "mock_robot/tcp_pose:geometry_msgs/msg/PoseStamped",
    "servo_node/delta_twist_cmds:geometry_msgs/msg/TwistStamped",
)
DEFAULT_CAMERA_TOPICS = (
    "camera/static/image_raw:sensor_msgs/msg/Image",
    "camera/gripper/image_raw:sensor_msgs/msg/Image",
)

# Every parameter with its default: the node declares exactly these (config/recorder.yaml sets them).
PARAMETER_DEFAULTS: dict[str, Any] = {
    "output": "",
    "max_frames": 0,
    "cameras": False,
    "autostart": False,
    "topics": list(DEFAULT_TOPICS),
    "camera_topics": list(DEFAULT_CAMERA_TOPICS),
    "frame_topic": "mock_robot/scene_state",
    "annotation_topic": "diwa/annotations",
    "qos_depth": 1000,
    "max_file_size_mb": 0.0,
    "max_file_duration_s": 0.0,
    "sync_period_s": 1.0,
}
PARAMETER_DESCRIPTIONS: dict[str, str] = {
    "output": 'bag directory to create (must not exist); "": play_<date>_<time>; later bags OUTPUT_1, ...',
    "max_frames": "close the bag and exit after this many frames (0: until stopped)",
    "cameras": "also record camera_topics",
    "autostart": "record from start-up; otherwise call ~/start",
    "topics": "TOPIC:TYPE entries to record; names without a leading / are in this node's namespace",
    "camera_topics": "TOPIC:TYPE entries recorded when cameras is true",
    "frame_topic": "the SceneState topic whose messages count as frames",
    "annotation_topic": "where ~/annotate stores diwa_msgs/Annotation in the bag",
    "qos_depth": "history of the reliable subscriptions: no loss while the recorder keeps up",
    "max_file_size_mb": "start the next storage file at this size (0: no limit)",
    "max_file_duration_s": "start the next storage file after this long (0: no limit)",
    "sync_period_s": "flush and rewrite metadata.yaml this often: a killed recorder loses at most this much (s)",
}
# Declared with dynamic typing and converted here: on the command line `-p max_file_size_mb:=100`
# is an integer and `-p output:=2024` a number, which a statically typed parameter would refuse.
FLEXIBLE_PARAMETERS = frozenset({"output", "max_file_size_mb", "max_file_duration_s", "sync_period_s"})


@dataclass(frozen=True)
class TopicSpec:
    name: str
    type_name: str


def in_root_namespace(name: str) -> str:
    """A topic name as a node in the root namespace resolves it; the node passes its own resolver."""
    return name if name.startswith("/") else "/" + name


def parse_topic(entry: str, resolve: Callable[[str], str] = in_root_namespace) -> TopicSpec:
    """'joint_states:sensor_msgs/msg/JointState' -> TopicSpec('/joint_states', ...) (topic names
    cannot contain ':')."""
    name, sep, type_name = entry.partition(":")
    name, type_name = name.strip(), type_name.strip()
    if not sep or not name or name.startswith("~"):
        raise ValueError(f"topic entry {entry!r} must read TOPIC:PACKAGE/msg/TYPE (a public topic name)")
    split_type_name(type_name)
    return TopicSpec(resolve(name), type_name)


@dataclass(frozen=True)
class RecorderConfig:
    output: Path
    max_frames: int
    autostart: bool
    topics: tuple[TopicSpec, ...]
    frame_topic: str
    annotation_topic: str
    qos_depth: int
    split: SplitPolicy
    sync_period_s: float

    @classmethod
    def from_parameters(
        cls, values: Mapping[str, Any], resolve: Callable[[str], str] = in_root_namespace
    ) -> RecorderConfig:
        unknown = sorted(set(values) - set(PARAMETER_DEFAULTS))
        if unknown:
            raise ValueError(f"unknown recorder parameter(s) {unknown}")
        v = {**PARAMETER_DEFAULTS, **values}
        entries: Sequence[str] = list(v["topics"]) + (list(v["camera_topics"]) if v["cameras"] else [])
        topics = tuple(parse_topic(str(e), resolve) for e in entries)
        frame_topic, annotation_topic = resolve(str(v["frame_topic"])), resolve(str(v["annotation_topic"]))
        names = [t.name for t in topics]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"topics listed twice: {duplicates}")
        frame = next((t for t in topics if t.name == frame_topic), None)
        if frame is None or frame.type_name != SCENE_STATE_TYPE:
            raise ValueError(f"frame_topic {frame_topic!r} must be one of the recorded {SCENE_STATE_TYPE} topics")
        if annotation_topic in names:
            raise ValueError(f"annotation_topic {annotation_topic} is the recorder's own; do not subscribe to it")
        if int(v["max_frames"]) < 0:
            raise ValueError(f"max_frames must be >= 0 (0 = until stopped), got {v['max_frames']}")
        if int(v["qos_depth"]) < 1:
            raise ValueError(f"qos_depth must be >= 1, got {v['qos_depth']}")
        sync_period_s = _number(v, "sync_period_s")
        if not sync_period_s > 0:
            raise ValueError(f"sync_period_s must be positive, got {sync_period_s}")
        size_mb, duration_s = _number(v, "max_file_size_mb"), _number(v, "max_file_duration_s")
        output = str(v["output"]) or f"play_{time.strftime('%Y%m%d_%H%M%S')}"
        return cls(
            output=Path(output).expanduser(),
            max_frames=int(v["max_frames"]),
            autostart=bool(v["autostart"]),
            topics=topics,
            frame_topic=frame_topic,
            annotation_topic=annotation_topic,
            qos_depth=int(v["qos_depth"]),
            split=SplitPolicy(
                max_file_size_bytes=round(size_mb * 1024 * 1024), max_file_duration_ns=round(duration_s * 1e9)
            ),
            sync_period_s=sync_period_s,
        )


def _number(values: Mapping[str, Any], name: str) -> float:
    try:
        return float(values[name])
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be a number, got {values[name]!r}") from err
