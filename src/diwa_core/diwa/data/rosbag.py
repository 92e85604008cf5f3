"""Recorded play (rosbag2 MCAP bags) -> the consolidated training dataset.

What each dataset field is made of:
  robot_obs, scene_obs   one frame per SceneState message, in recording order (the recorder numbers
                         frames the same way, so annotation windows keep their meaning); a bag
                         from a real cell, whose SceneState says the scene is not measured, gives
                         zeros and the provenance's "scene_state": "absent" (only the camera route
                         learns from it)
  rel_actions[k]         what moved the robot from frame k to frame k+1: the newest twist command
                         received by frame k+1's time, if it was still fresh (the mock robot ignores
                         commands older than its command timeout and holds still), turned back into a
                         CALVIN action by robot_contract.twist_to_action; the gripper channel is
                         robot_obs[k+1][14], the gripper action the robot applied
  actions[k]             the absolute action: frame k+1's TCP pose (xyz, euler) and gripper action
  images                 the camera image whose header stamp is nearest the frame's (the mock robot
                         stamps a tick's state and images alike), within half a control period;
                         read in a second pass over the bag and written where the frame goes, so
                         pixels are never collected in memory (an hour at 64x64 is 2.6 GB)
  episodes               split where the frame stream pauses longer than max_gap_s, and per bag
  annotations            the Annotation messages' frame windows, shifted by the frames of earlier bags

The last frame of an episode has no successor; its actions hold the pose and the gripper.
A command is timed by when the recorder received it. A frame is timed by its header stamp, which
says when the robot took the step (and, stamped at the start of its tick, when it sampled the
command): a command that arrives while the robot is still computing a step (rendering cameras
takes a good part of a control period) belongs to the next step, which the frame's receive time
cannot tell. Where the stamps run on another clock than the recorder (simulated time, say), the
frames' receive times are used instead; the provenance says which. A storage file cut off by a
killed recorder converts up to the cut; frames at the end of a bag whose images were not recorded
are dropped; the provenance lists both.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from diwa.data.bag_reader import BagError, BagReader
from diwa.data.dataset import SCENE_ABSENT, Annotation, Dataset
from diwa.data.npy_rows import NpyRowWriter
from diwa.robot_contract import CONTROL_RATE_HZ, Twist, twist_to_action

SCENE_STATE_TYPE = "diwa_msgs/msg/SceneState"
TWIST_TYPE = "geometry_msgs/msg/TwistStamped"
IMAGE_TYPE = "sensor_msgs/msg/Image"
ANNOTATION_TYPE = "diwa_msgs/msg/Annotation"
RESET_TYPE = "std_msgs/msg/Header"
# Stamps this close to the recorder's receive times are taken to run on the recorder's clock.
CLOCK_AGREEMENT_S = 0.5


@dataclass(frozen=True)
class BagTopics:
    """Where the recorder put each stream (the defaults of config/recorder.yaml)."""

    scene_state: str = "/mock_robot/scene_state"
    twist: str = "/servo_node/delta_twist_cmds"
    annotations: str = "/diwa/annotations"
    resets: str = "/mock_robot/resets"  # the robot was reset (teleported): a new episode starts
    images: dict[str, str] = field(
        default_factory=lambda: {"rgb_static": "/camera/static/image_raw", "rgb_gripper": "/camera/gripper/image_raw"}
    )

    def in_namespace(self, namespace: str) -> BagTopics:
        """These topics as a recorder in `namespace` (the launch files' argument) resolved them."""
        prefix = "/" + namespace.strip("/") if namespace.strip("/") else ""
        streams = ("scene_state", "twist", "annotations", "resets")
        images = {key: prefix + topic for key, topic in self.images.items()}
        return BagTopics(**{key: prefix + getattr(self, key) for key in streams}, images=images)

    def renamed(self, names: dict[str, str]) -> BagTopics:
        """These topics with some streams recorded under other names: {"scene_state": "/x", "rgb_static": "/y"}."""
        streams = ("scene_state", "twist", "annotations", "resets")
        unknown = sorted(set(names) - {*streams, *self.images})
        if unknown:
            raise ValueError(f"unknown streams {unknown}; known: {[*streams, *self.images]}")
        if not all(topic.startswith("/") for topic in names.values()):
            raise ValueError(f"topic names must be absolute (start with /): {names}")
        images = {key: names.get(key, topic) for key, topic in self.images.items()}
        return BagTopics(**{key: names.get(key, getattr(self, key)) for key in streams}, images=images)


@dataclass(frozen=True)
class ConversionConfig:
    rate_hz: float = CONTROL_RATE_HZ
    command_timeout_s: float = 0.2  # the mock robot's: older commands are not applied
    max_gap_s: float = 0.5  # a longer pause between frames starts a new episode
    images: bool = True
    topics: BagTopics = field(default_factory=BagTopics)

    def __post_init__(self) -> None:
        if not (np.isfinite(self.rate_hz) and self.rate_hz > 0):
            raise ValueError(f"rate must be a positive number of Hz, got {self.rate_hz}")
        if not self.command_timeout_s > 0:
            raise ValueError(f"command timeout must be positive, got {self.command_timeout_s}")
        if not self.max_gap_s > 1.0 / self.rate_hz:
            raise ValueError(f"max gap {self.max_gap_s} s must exceed one control period ({1.0 / self.rate_hz:.4f} s)")
        streams = [self.topics.scene_state, self.topics.twist, self.topics.annotations, *self.topics.images.values()]
        if len(set(streams)) != len(streams):
            raise ValueError(f"one topic for two streams in {self.topics}")


@dataclass
class _Frames:
    """The SceneState messages of one topic, packed: an hour is 108,000 of them."""

    log_ns: array = field(default_factory=lambda: array("q"))
    stamp_ns: array = field(default_factory=lambda: array("q"))
    robot_obs: array = field(default_factory=lambda: array("d"))  # 15 per frame
    scene_obs: array = field(default_factory=lambda: array("d"))  # 24 per frame
    measured: array = field(default_factory=lambda: array("b"))

    def add(self, log_ns: int, msg: Any) -> None:
        self.log_ns.append(log_ns)
        self.stamp_ns.append(_stamp_ns(msg.header.stamp) or log_ns)
        self.robot_obs.extend(np.asarray(msg.robot_obs, dtype=np.float64).tolist())
        self.scene_obs.extend(np.asarray(msg.scene_obs, dtype=np.float64).tolist())
        # Bags recorded before the flag existed came from the simulator, which measures the scene.
        self.measured.append(int(bool(getattr(msg, "scene_measured", True))))


@dataclass
class _Streams:
    """One bag's messages, reduced to packed arrays (the pixels are read in a second pass)."""

    frames: _Frames = field(default_factory=_Frames)
    twist_log_ns: array = field(default_factory=lambda: array("q"))
    twists: array = field(default_factory=lambda: array("d"))  # 6 per command
    images: dict[str, tuple[array, set[tuple[int, int]]]] = field(default_factory=dict)  # stamps, sizes
    annotations: list[Annotation] = field(default_factory=list)
    reset_stamp_ns: list[int] = field(default_factory=list)
    scene_topic: str = ""  # where the frames were found


@dataclass
class _BagPart:
    """One bag converted: arrays of its frames plus what was dropped on the way."""

    robot_obs: np.ndarray
    scene_obs: np.ndarray
    actions: np.ndarray
    rel_actions: np.ndarray
    episodes: list[tuple[int, int]]
    annotations: list[Annotation]
    images: dict[str, tuple[np.ndarray, tuple[int, int]]]  # per camera: chosen message per frame, size
    report: dict[str, Any]
    path: Path


def bags_to_dataset(
    bags: Sequence[str | Path],
    config: ConversionConfig | None = None,
    image_dir: Path | None = None,
    pixels: bool = True,
) -> Dataset:
    """Convert bags, in the given order, into one dataset (each bag starts a new episode).

    Camera images are written to .npy files in `image_dir` (a scratch directory on the output's
    disk) when given, a row at a time (diwa.data.npy_rows), else into memory; either way a bag is
    read twice: first everything but the pixels, then the images the frames chose. With `pixels`
    False the second pass is skipped: frames are still matched to images (and dropped or refused
    alike), the dataset holds none, and each bag's report lists the cameras' sizes (inspection)."""
    config = config or ConversionConfig()
    if not bags:
        raise ValueError("no bag given")
    parts = [_convert_bag(Path(bag), config) for bag in bags]
    image_keys = {tuple(sorted(p.images)) for p in parts}
    if len(image_keys) > 1:
        raise BagError(f"the bags do not all hold the same camera streams ({sorted(image_keys)}); convert them apart")
    measured = {p.report["scene_measured"] for p in parts}
    if len(measured) > 1:
        raise BagError("some bags measure the scene state (the simulator) and some do not (a real cell); convert apart")
    offset = 0
    episodes: list[tuple[int, int]] = []
    annotations: list[Annotation] = []
    for part in parts:
        episodes += [(s + offset, e + offset) for s, e in part.episodes]
        annotations += [Annotation(a.start + offset, a.end + offset, a.task) for a in part.annotations]
        offset += len(part.robot_obs)
    images: dict[str, np.ndarray] = {}
    files: dict[str, NpyRowWriter] = {}
    for key in parts[0].images if pixels else ():
        sizes = {p.images[key][1] for p in parts}
        if len(sizes) > 1:
            raise BagError(f"{key} images differ in size between bags: {sorted(sizes)}")
        shape = (offset, *sizes.pop(), 3)
        if image_dir is None:
            images[key] = np.empty(shape, dtype=np.uint8)
        else:
            files[key] = NpyRowWriter(image_dir / f"{key}.npy", shape, np.uint8)

    def write(key: str, rows: np.ndarray, image: np.ndarray) -> None:
        if key in files:
            for row in rows.tolist():
                files[key].write(row, image)
        else:
            images[key][rows] = image

    start = 0
    for part in parts:
        if parts[0].images and pixels:
            _read_images(part, config, start, write)
        start += len(part.robot_obs)
    images.update({key: writer.close() for key, writer in files.items()})
    return Dataset(
        robot_obs=np.concatenate([p.robot_obs for p in parts]).astype(np.float32),
        scene_obs=np.concatenate([p.scene_obs for p in parts]).astype(np.float32),
        actions=np.concatenate([p.actions for p in parts]).astype(np.float32),
        rel_actions=np.concatenate([p.rel_actions for p in parts]).astype(np.float32),
        episodes=episodes,
        annotations=annotations,
        images=images,
        provenance={
            "source": "rosbag2",
            "rate_hz": config.rate_hz,
            "command_timeout_s": config.command_timeout_s,
            "max_gap_s": config.max_gap_s,
            "bags": [p.report for p in parts],
            **({} if measured.pop() else {"scene_state": SCENE_ABSENT}),
        },
    )


def _convert_bag(path: Path, config: ConversionConfig) -> _BagPart:
    reader = BagReader(path)
    streams = _read_streams(reader, config)
    report: dict[str, Any] = {
        "bag": str(path.resolve()),
        "truncated_files": [r.path.name for r in reader.reports if r.truncated],
        "messages": sum(r.messages for r in reader.reports),
    }
    topics = config.topics
    if not streams.frames.log_ns:
        raise BagError(
            f"{path} holds no {SCENE_STATE_TYPE} frames; topics recorded: {sorted(reader.topic_types) or 'none'} "
            "(give other topic names with --topic KEY=TOPIC)"
        )
    report["frame_topic"] = streams.scene_topic
    if topics.twist not in reader.topic_types:
        raise BagError(
            f"{path} has no twist commands ({topics.twist}), so its actions cannot be recovered; "
            f"topics recorded: {sorted(reader.topic_types)}"
        )
    frames = streams.frames
    robot_obs = np.frombuffer(frames.robot_obs, dtype=np.float64).reshape(-1, 15).copy()
    scene_obs = np.frombuffer(frames.scene_obs, dtype=np.float64).reshape(-1, 24).copy()
    invalid = np.flatnonzero(~(np.isfinite(robot_obs).all(axis=1) & np.isfinite(scene_obs).all(axis=1)))
    if invalid.size:
        raise BagError(f"{path}: frame {invalid[0]} holds NaN or infinite values")
    measured = np.frombuffer(frames.measured, dtype=np.int8).astype(bool)
    if measured.min() != measured.max():
        first = int(np.flatnonzero(measured != measured[0])[0])
        raise BagError(f"{path}: the scene state is measured in some frames and not in others (from frame {first})")
    report["scene_measured"] = bool(measured[0])
    if not report["scene_measured"]:
        scene_obs = np.zeros_like(scene_obs)
    frame_log_ns = np.frombuffer(frames.log_ns, dtype=np.int64).copy()
    frame_stamp_ns = np.frombuffer(frames.stamp_ns, dtype=np.int64).copy()

    episodes = _split_episodes(frame_stamp_ns, config.max_gap_s, np.asarray(streams.reset_stamp_ns, dtype=np.int64))
    frame_clock_ns, report["frame_clock"] = _frame_clock(frame_stamp_ns, frame_log_ns)
    rel_actions, actions, commanded = _actions(robot_obs, frame_clock_ns, episodes, streams, config)
    # Frames at either end without images go; the last one kept still acts towards its real successor.
    images, kept = _match_images(streams, frame_stamp_ns, config, path)
    report["cameras"] = {key: [*size, 3] for key, (_, size) in images.items()}
    report["frames_recorded"] = len(robot_obs)
    report["frames_dropped_without_images"] = len(robot_obs) - (kept.stop - kept.start)
    report["frames_without_fresh_command"] = int((kept.stop - kept.start) - commanded[kept].sum())
    robot_obs, scene_obs, rel_actions, actions = robot_obs[kept], scene_obs[kept], rel_actions[kept], actions[kept]
    # Frame numbers (episodes, the recorder's annotation windows) now count from the first frame kept.
    shift, last = kept.start, kept.stop - 1
    episodes = [(max(s, shift) - shift, min(e, last) - shift) for s, e in episodes if e >= shift and s <= last]
    annotations = [
        Annotation(a.start - shift, a.end - shift, a.task)
        for a in streams.annotations
        if shift <= a.start and a.end <= last
    ]
    report["annotations_dropped"] = [list(a) for a in streams.annotations if not (shift <= a.start and a.end <= last)]
    return _BagPart(robot_obs, scene_obs, actions, rel_actions, episodes, annotations, images, report, path)


def _read_streams(reader: BagReader, config: ConversionConfig) -> _Streams:
    topics = config.topics
    image_topics = {topic: key for key, topic in topics.images.items()} if config.images else {}
    expected = {
        topics.scene_state: SCENE_STATE_TYPE,
        topics.twist: TWIST_TYPE,
        topics.annotations: ANNOTATION_TYPE,
        topics.resets: RESET_TYPE,
    }
    expected.update(dict.fromkeys(image_topics, IMAGE_TYPE))
    streams = _Streams()
    # SceneState on any topic: a bag recorded on a real cell has its frames on robot_state's topic.
    frames: dict[str, _Frames] = {}
    for item in reader.messages(topics=set(expected), types={SCENE_STATE_TYPE}):
        if item.topic in expected and item.type_name != expected[item.topic]:
            raise BagError(f"{reader.path}: topic {item.topic} holds {item.type_name}, expected {expected[item.topic]}")
        msg = item.message
        if item.type_name == SCENE_STATE_TYPE:
            frames.setdefault(item.topic, _Frames()).add(item.log_time_ns, msg)
        elif item.topic == topics.twist:
            lin, ang = msg.twist.linear, msg.twist.angular
            values = np.array([lin.x, lin.y, lin.z, ang.x, ang.y, ang.z])
            if np.isfinite(values).all():  # the robot drops non-finite commands, so they moved nothing
                streams.twist_log_ns.append(item.log_time_ns)
                streams.twists.extend(values.tolist())
        elif item.topic == topics.resets:
            streams.reset_stamp_ns.append(_stamp_ns(msg.stamp) or item.log_time_ns)
        elif item.topic == topics.annotations:
            if not (0 <= msg.start_frame <= msg.end_frame) or not msg.task:
                raise BagError(f"{reader.path}: malformed annotation {msg.start_frame}..{msg.end_frame} {msg.task!r}")
            streams.annotations.append(Annotation(int(msg.start_frame), int(msg.end_frame), str(msg.task)))
        else:
            _check_encoding(msg, item.topic, reader.path)
            stamps, sizes = streams.images.setdefault(image_topics[item.topic], (array("q"), set()))
            stamps.append(_stamp_ns(msg.header.stamp) or item.log_time_ns)
            sizes.add((int(msg.height), int(msg.width)))
    streams.scene_topic = _frame_topic(frames, topics.scene_state, reader.path)
    streams.frames = frames.get(streams.scene_topic, _Frames())
    return streams


def _frame_topic(frames: dict[str, _Frames], configured: str, path: Path) -> str:
    """The configured SceneState topic if it has frames, else the bag's only SceneState topic."""
    if configured in frames:
        return configured
    others = sorted(frames)
    if len(others) > 1:
        raise BagError(f"{path}: SceneState frames on several topics {others}; name one: --topic scene_state=TOPIC")
    return others[0] if others else configured


def _read_images(
    part: _BagPart, config: ConversionConfig, start: int, write: Callable[[str, np.ndarray, np.ndarray], None]
) -> None:
    """The second pass: each camera message some frames chose, decoded and written to those frames'
    rows (`start` + the frame's index in the bag); messages are counted per topic in reading order,
    as the first pass counted them."""
    topics = {config.topics.images[key]: key for key in part.images}
    wanted: dict[str, dict[int, np.ndarray]] = {}
    for key, (chosen, _) in part.images.items():
        order = np.argsort(chosen, kind="stable")
        messages, starts = np.unique(chosen[order], return_index=True)
        wanted[key] = dict(zip(messages.tolist(), np.split(order, starts[1:]), strict=True))
    seen = dict.fromkeys(part.images, 0)
    for item in BagReader(part.path).messages(topics=set(topics)):
        key = topics[item.topic]
        frames = wanted[key].pop(seen[key], None)
        seen[key] += 1
        if frames is not None:
            write(key, start + frames, _image_to_rgb(item.message, item.topic, part.path))
    unread = {key: len(left) for key, left in wanted.items() if left}
    if unread:  # the first pass counted messages that the second did not find
        raise BagError(f"{part.path} changed while it was converted: images not found again {unread}")


def _stamp_ns(stamp: Any) -> int:
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


def _check_encoding(msg: Any, topic: str, path: Path) -> None:
    if msg.encoding not in ("rgb8", "bgr8"):
        raise BagError(f"{path}: {topic} has image encoding {msg.encoding!r}; expected rgb8 or bgr8")


def _image_to_rgb(msg: Any, topic: str, path: Path) -> np.ndarray:
    """rgb8 / bgr8 sensor_msgs/Image -> (H, W, 3) uint8; other encodings are refused."""
    _check_encoding(msg, topic, path)
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    data = np.asarray(msg.data, dtype=np.uint8)
    if step < width * 3 or data.size < step * height:
        raise BagError(f"{path}: {topic} image data too short: {data.size} bytes for {height}x{width}, step {step}")
    rgb = data[: step * height].reshape(height, step)[:, : width * 3].reshape(height, width, 3)
    return rgb[..., ::-1].copy() if msg.encoding == "bgr8" else rgb.copy()


def _match_images(
    streams: _Streams, frame_stamp_ns: np.ndarray, config: ConversionConfig, path: Path
) -> tuple[dict[str, tuple[np.ndarray, tuple[int, int]]], slice]:
    """Per camera, the message (its number in reading order) nearest each frame in stamp, and the
    image size; with the frames kept: those with an image from every camera. A recording can start
    between a tick's images and its state, or stop between a tick's state and its images, so frames
    without one at either end go; a frame without one anywhere else is an error: images were lost."""
    tolerance = 0.5e9 / config.rate_hz
    first, end = 0, len(frame_stamp_ns)
    chosen: dict[str, tuple[np.ndarray, tuple[int, int]]] = {}
    for key, (stamps_list, sizes) in streams.images.items():
        if len(sizes) > 1:
            raise BagError(f"{path}: {key} images change size during the recording: {sorted(sizes)}")
        stamps = np.asarray(stamps_list, dtype=np.int64)
        order = np.argsort(stamps, kind="stable")
        sorted_stamps = stamps[order]
        right = np.clip(np.searchsorted(sorted_stamps, frame_stamp_ns), 0, len(stamps) - 1)
        left = np.clip(right - 1, 0, len(stamps) - 1)
        closer_left = np.abs(sorted_stamps[left] - frame_stamp_ns) <= np.abs(sorted_stamps[right] - frame_stamp_ns)
        nearest = np.where(closer_left, left, right)
        matched = np.abs(sorted_stamps[nearest] - frame_stamp_ns) <= tolerance
        present = np.flatnonzero(matched)
        if present.size == 0:
            raise BagError(f"{path}: no frame has a {key} image within {tolerance / 1e6:.1f} ms")
        inside = ~matched[present[0] : present[-1] + 1]
        if inside.any():
            raise BagError(
                f"{path}: {int(inside.sum())} frames have no {key} image within {tolerance / 1e6:.1f} ms "
                f"(first: frame {present[0] + int(np.argmax(inside))}); images were lost during the recording"
            )
        first, end = max(first, int(present[0])), min(end, int(present[-1]) + 1)
        chosen[key] = (order[nearest], sizes.pop())
    if first >= end:
        raise BagError(f"{path}: no frame has an image from every camera")
    kept = slice(first, end)
    return {key: (index[kept], size) for key, (index, size) in chosen.items()}, kept


def _frame_clock(frame_stamp_ns: np.ndarray, frame_log_ns: np.ndarray) -> tuple[np.ndarray, str]:
    """Frame times to compare with command receive times: the header stamps when they run on the
    recorder's clock (within CLOCK_AGREEMENT_S of the receive times), else the receive times."""
    if np.median(np.abs(frame_log_ns - frame_stamp_ns)) <= CLOCK_AGREEMENT_S * 1e9:
        return frame_stamp_ns, "header stamps"
    return frame_log_ns, "receive times"


def _split_episodes(frame_stamp_ns: np.ndarray, max_gap_s: float, reset_stamp_ns: np.ndarray) -> list[tuple[int, int]]:
    """Episodes end at pauses in the frame stream and at robot resets (the first frame stamped
    after a reset starts a new episode: the state jumped, and no action explains the jump)."""
    boundaries = set((np.flatnonzero(np.diff(frame_stamp_ns) > max_gap_s * 1e9) + 1).tolist())
    boundaries |= set(np.searchsorted(frame_stamp_ns, reset_stamp_ns, side="right").tolist())
    starts = sorted(b for b in boundaries if 0 < b < len(frame_stamp_ns))
    return list(zip([0, *starts], [*(b - 1 for b in starts), len(frame_stamp_ns) - 1], strict=True))


def _actions(
    robot_obs: np.ndarray,
    frame_ns: np.ndarray,
    episodes: list[tuple[int, int]],
    streams: _Streams,
    config: ConversionConfig,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Relative and absolute action of every frame, and which frames had a fresh command."""
    n = len(robot_obs)
    logged_ns = np.frombuffer(streams.twist_log_ns, dtype=np.int64)
    order = np.argsort(logged_ns, kind="stable")
    twist_ns = logged_ns[order]
    twists = np.frombuffer(streams.twists, dtype=np.float64).reshape(-1, 6)[order]
    timeout_ns = config.command_timeout_s * 1e9
    # The successor of each frame; an episode's last frame is its own successor (hold).
    successor = np.arange(n) + 1
    for _, end in episodes:
        successor[end] = end
    rel_actions = np.zeros((n, 7))
    commanded = np.zeros(n, dtype=bool)
    for k in range(n):
        nxt = successor[k]
        gripper_open = bool(robot_obs[nxt, 14] > 0)
        rel_actions[k, 6] = 1.0 if gripper_open else -1.0
        if nxt == k:
            continue
        newest = int(np.searchsorted(twist_ns, frame_ns[nxt], side="right")) - 1
        if newest < 0 or frame_ns[nxt] - twist_ns[newest] > timeout_ns:
            continue
        twist = Twist(linear=twists[newest, :3], angular=twists[newest, 3:])
        rel_actions[k] = twist_to_action(twist, gripper_open, config.rate_hz)
        commanded[k] = True
    actions = np.concatenate([robot_obs[successor, :6], rel_actions[:, 6:7]], axis=1)
    return rel_actions, actions, commanded
