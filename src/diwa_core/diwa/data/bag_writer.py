"""A rosbag2 bag writer (MCAP storage) that bounds what a crash can lose.

Layout written (what `ros2 bag record -s mcap` produces, readable by `ros2 bag info/play`, rosbags
and the mcap tools):

    BAG/metadata.yaml        rosbag2 metadata, format version 9, rewritten atomically by sync()
    BAG/BAG_0.mcap           storage files, named and split as rosbag2 names and splits them
    BAG/BAG_1.mcap           (a new file once the current one reaches the size or duration limit)

Why not rosbags' own Writer: it keeps the open chunk (up to 1 MiB) in memory and writes
metadata.yaml only when the bag is closed, so a killed recorder at play-data rates loses tens of
seconds and leaves a bag no tool can list; it also cannot split. Here every storage file is an
unchunked MCAP file -- the layout of rosbag2's own `fastwrite` storage preset -- so a record reaches
the file as soon as the buffered stream is flushed, and sync() (called about once a second) flushes
the stream and rewrites metadata.yaml. A kill -9 therefore loses at most what arrived since the
last sync; the cut-off storage file has no summary or footer, which bag_reader tolerates.
rosbags still supplies every message definition and type hash (bag_types).

Not thread-safe: one thread (the recorder's executor) owns a writer.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

import yaml
from mcap.writer import CompressionType, Writer

from diwa.data.bag_types import TypeDefinition

ROSBAG2_VERSION = 9
STORAGE_IDENTIFIER = "mcap"
MCAP_PROFILE = "ros2"
SCHEMA_ENCODING = "ros2msg"
MESSAGE_ENCODING = "cdr"
METADATA_FILE = "metadata.yaml"


@dataclass(frozen=True)
class SplitPolicy:
    """When to start the next storage file; 0 disables a limit (rosbag2's --max-bag-size/-duration)."""

    max_file_size_bytes: int = 0
    max_file_duration_ns: int = 0

    def __post_init__(self) -> None:
        if self.max_file_size_bytes < 0 or self.max_file_duration_ns < 0:
            raise ValueError(f"split limits must be >= 0 (0 = no limit), got {self}")


@dataclass(frozen=True)
class Topic:
    """A recorded topic: its name, type definition and the QoS profiles its publishers offered
    (in rosbag2's v9 YAML form), which `ros2 bag play` uses to publish it again alike."""

    name: str
    definition: TypeDefinition
    offered_qos_profiles: tuple[dict[str, Any], ...] = ()


@dataclass
class _StorageFile:
    path: Path
    stream: IO[bytes]
    mcap: Writer
    channels: dict[str, int] = field(default_factory=dict)
    schemas: dict[str, int] = field(default_factory=dict)
    start_ns: int | None = None
    end_ns: int = 0
    count: int = 0


@dataclass(frozen=True)
class _FileSummary:
    path: str
    start_ns: int | None
    end_ns: int
    count: int


class BagWriter:
    """Create a new rosbag2 directory at `path` and write serialized (CDR) messages into it."""

    def __init__(self, path: str | os.PathLike[str], split: SplitPolicy | None = None, library: str = "diwa") -> None:
        self.path = Path(path)
        if self.path.exists():
            raise FileExistsError(f"{self.path} exists already; a recording never overwrites a bag")
        self.split = split or SplitPolicy()
        self.library = library
        self.path.mkdir(parents=True)
        self.topics: dict[str, Topic] = {}
        self.counts: dict[str, int] = {}
        self.custom_data: dict[str, str] = {}
        self._closed_files: list[_FileSummary] = []
        self._last_ns = 0
        self._file: _StorageFile | None = self._open_file(0)
        self._write_metadata()

    # --- topics and messages -----------------------------------------------------------------------
    def add_topic(self, topic: Topic) -> None:
        known = self.topics.get(topic.name)
        if known is not None:
            if known.definition.name != topic.definition.name:
                raise ValueError(
                    f"topic {topic.name} is recorded as {known.definition.name}, cannot add it as "
                    f"{topic.definition.name}"
                )
            return
        self.topics[topic.name] = topic
        self.counts[topic.name] = 0
        self._register(self._current(), topic)

    def write(self, topic_name: str, timestamp_ns: int, data: bytes | memoryview) -> None:
        """Append one message. Timestamps are clamped to be non-decreasing: an unindexed file is
        read in file order, and readers such as rosbags refuse one whose times go backwards
        (which a ROS clock jump would otherwise cause)."""
        if topic_name not in self.topics:
            raise ValueError(f"topic {topic_name} was not added to the bag; known topics: {sorted(self.topics)}")
        log_ns = max(int(timestamp_ns), self._last_ns)
        storage = self._current()
        if storage.count and self._file_is_full(storage, log_ns):
            storage = self._roll_over()
        storage.mcap.add_message(storage.channels[topic_name], log_ns, bytes(data), log_ns)
        if storage.start_ns is None:
            storage.start_ns = log_ns
        storage.end_ns = log_ns
        storage.count += 1
        self.counts[topic_name] += 1
        self._last_ns = log_ns

    def set_custom_data(self, key: str, value: str) -> None:
        """rosbag2's free-form string map in metadata.yaml (the recorder keeps its accounting there)."""
        if not isinstance(key, str) or not isinstance(value, str):
            raise TypeError(f"custom data is a map of strings, got {key!r}: {value!r}")
        self.custom_data[key] = value

    # --- durability ------------------------------------------------------------------------------------
    def sync(self) -> None:
        """Push everything written so far to the file and describe it in metadata.yaml."""
        storage = self._current()
        storage.stream.flush()
        self._write_metadata()

    def close(self) -> None:
        """Finish the open storage file (summary and footer) and write the final metadata.yaml."""
        if self._file is None:
            return
        self._finish(self._file)
        self._file = None
        self._write_metadata(durable=True)

    @property
    def file_paths(self) -> list[Path]:
        return [self.path / f.path for f in self._summaries()]

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # --- storage files -------------------------------------------------------------------------------
    def _current(self) -> _StorageFile:
        if self._file is None:
            raise ValueError(f"bag {self.path} is closed")
        return self._file

    def _file_is_full(self, storage: _StorageFile, next_ns: int) -> bool:
        size_limit, duration_limit = self.split.max_file_size_bytes, self.split.max_file_duration_ns
        if size_limit and storage.stream.tell() >= size_limit:
            return True
        return bool(duration_limit and storage.start_ns is not None and next_ns - storage.start_ns >= duration_limit)

    def _open_file(self, index: int) -> _StorageFile:
        path = self.path / f"{self.path.name}_{index}.mcap"
        stream = path.open("xb")
        writer = Writer(stream, use_chunking=False, compression=CompressionType.NONE)
        writer.start(profile=MCAP_PROFILE, library=self.library)
        storage = _StorageFile(path=path, stream=stream, mcap=writer)
        for topic in self.topics.values():
            self._register(storage, topic)
        return storage

    def _register(self, storage: _StorageFile, topic: Topic) -> None:
        definition = topic.definition
        if definition.name not in storage.schemas:
            storage.schemas[definition.name] = storage.mcap.register_schema(
                definition.name, SCHEMA_ENCODING, definition.text.encode()
            )
        storage.channels[topic.name] = storage.mcap.register_channel(
            topic.name,
            MESSAGE_ENCODING,
            storage.schemas[definition.name],
            {
                "offered_qos_profiles": _qos_text(topic.offered_qos_profiles),
                "topic_type_hash": definition.rihs01,
            },
        )

    def _roll_over(self) -> _StorageFile:
        previous = self._current()
        self._finish(previous)
        self._file = self._open_file(len(self._closed_files))
        self._write_metadata()
        return self._file

    def _finish(self, storage: _StorageFile) -> None:
        summary = _FileSummary(storage.path.name, storage.start_ns, storage.end_ns, storage.count)
        self._closed_files.append(summary)
        # rosbag2 keeps a copy of the bag's metadata inside each file, for `ros2 bag reindex`.
        info = self._information(self._closed_files)
        storage.mcap.add_metadata("rosbag2", {"serialized_metadata": yaml.safe_dump(info, sort_keys=False)})
        storage.mcap.finish()
        storage.stream.flush()
        os.fsync(storage.stream.fileno())
        storage.stream.close()

    # --- metadata.yaml ---------------------------------------------------------------------------------
    def _summaries(self) -> list[_FileSummary]:
        files = list(self._closed_files)
        if self._file is not None:
            f = self._file
            files.append(_FileSummary(f.path.name, f.start_ns, f.end_ns, f.count))
        return files

    def _information(self, files: list[_FileSummary]) -> dict[str, Any]:
        starts = [f.start_ns for f in files if f.start_ns is not None]
        start = min(starts) if starts else 0
        end = max((f.end_ns for f in files if f.start_ns is not None), default=0)
        return {
            "version": ROSBAG2_VERSION,
            "storage_identifier": STORAGE_IDENTIFIER,
            "duration": {"nanoseconds": max(0, end - start)},
            "starting_time": {"nanoseconds_since_epoch": start},
            "message_count": sum(f.count for f in files),
            "topics_with_message_count": [
                {
                    "topic_metadata": {
                        "name": topic.name,
                        "type": topic.definition.name,
                        "serialization_format": MESSAGE_ENCODING,
                        "offered_qos_profiles": [dict(q) for q in topic.offered_qos_profiles],
                        "type_description_hash": topic.definition.rihs01,
                    },
                    "message_count": self.counts[topic.name],
                }
                for topic in self.topics.values()
            ],
            "compression_format": "",
            "compression_mode": "",
            "relative_file_paths": [f.path for f in files],
            "files": [
                {
                    "path": f.path,
                    "starting_time": {"nanoseconds_since_epoch": f.start_ns or 0},
                    "duration": {"nanoseconds": f.end_ns - f.start_ns if f.start_ns is not None else 0},
                    "message_count": f.count,
                }
                for f in files
            ],
            "custom_data": dict(self.custom_data),
            "ros_distro": "jazzy",
        }

    def _write_metadata(self, durable: bool = False) -> None:
        """Replace metadata.yaml atomically: a reader (or a crash) sees the old or the new file, never half."""
        text = yaml.safe_dump({"rosbag2_bagfile_information": self._information(self._summaries())}, sort_keys=False)
        target = self.path / METADATA_FILE
        staging = target.with_name(f".{METADATA_FILE}.tmp")
        with staging.open("w") as stream:
            stream.write(text)
            if durable:
                stream.flush()
                os.fsync(stream.fileno())
        os.replace(staging, target)


def _qos_text(profiles: tuple[dict[str, Any], ...]) -> str:
    """Channel metadata holds the offered QoS profiles as YAML text, as rosbag2 writes it."""
    return yaml.safe_dump([dict(q) for q in profiles], sort_keys=False).strip() if profiles else ""
