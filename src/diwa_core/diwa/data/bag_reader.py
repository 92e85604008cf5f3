"""Reading rosbag2 bags (MCAP storage), including ones whose recorder was killed.

A recorder that dies mid-recording leaves a storage file without summary and footer, possibly
ending inside a record, and a metadata.yaml that may not list the newest file yet. Indexed
readers (rosbags' Reader, `ros2 bag play` with default options) refuse or misread such a file, so
every storage file is read front to back with the mcap library's stream reader: a read that comes
up short can only mean the file was cut off there, and everything before that point is kept.
Anything else that does not parse is a malformed bag and an error. Messages are decoded with
rosbags from the definitions stored in the bag itself (bag_types.decoding_store).
"""

from __future__ import annotations

import re
import struct
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import yaml
from mcap.exceptions import McapError
from mcap.records import Channel, Message, Schema
from mcap.stream_reader import StreamReader
from rosbags.typesys.base import TypesysError
from rosbags.typesys.store import Typestore

from diwa.data.bag_types import decoding_store
from diwa.data.bag_writer import METADATA_FILE, STORAGE_IDENTIFIER

_SPLIT_INDEX = re.compile(r"_(\d+)\.mcap$")


class BagError(ValueError):
    """The bag cannot be read as asked: not a bag, malformed, or missing what is needed."""


@dataclass(frozen=True)
class BagMessage:
    topic: str
    type_name: str
    log_time_ns: int
    message: Any


@dataclass
class FileReport:
    """What reading one storage file found; `truncated` means it ended without its footer."""

    path: Path
    messages: int = 0
    truncated: bool = False


class _CutOffError(Exception):
    """The storage file ends before the record being read does."""


class _ExactReads:
    """File wrapper for the stream reader that turns a short read into _CutOffError.

    mcap's stream reader accepts a short read in the middle of a record and hands out the record
    with its data cut short; for a file that was being appended to, a short read can only mean
    the writer stopped there, so the partial record must be dropped, not decoded.
    """

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream

    def read(self, size: int) -> bytes:
        if size < 0:  # only a corrupt length field can ask for this
            raise ValueError("a record claims a negative length")
        data = self._stream.read(size)
        if len(data) < size:
            raise _CutOffError
        return data


def storage_files(path: str | Path) -> list[Path]:
    """The MCAP files of a bag in recording order.

    metadata.yaml names the files; storage files it does not list yet (the recorder split the bag
    and was killed before rewriting metadata.yaml) follow in split order. A path to a single
    .mcap file is a bag of one file.
    """
    bag = Path(path)
    if not bag.exists():
        raise FileNotFoundError(f"bag {bag} does not exist")
    if bag.is_file():
        return [bag]
    listed: list[Path] = []
    metadata_path = bag / METADATA_FILE
    if metadata_path.is_file():
        info = _read_metadata(metadata_path)
        storage = info.get("storage_identifier")
        if storage != STORAGE_IDENTIFIER:
            raise BagError(f"{bag}: storage {storage!r} is not supported; record with MCAP storage (-s mcap)")
        listed = [bag / Path(str(name)).name for name in info.get("relative_file_paths") or []]
        missing = [p.name for p in listed if not p.is_file()]
        if missing:
            raise BagError(f"{bag}: metadata.yaml lists storage files that are missing: {missing}")
    extra = sorted((p for p in bag.glob("*.mcap") if p not in listed), key=_split_order)
    files = listed + extra
    if not files:
        raise BagError(f"{bag} is not a rosbag2 MCAP bag: no metadata.yaml naming storage files and no .mcap file")
    return files


def _read_metadata(path: Path) -> dict[str, Any]:
    try:
        document = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise BagError(f"{path} is not valid YAML: {err}") from err
    info = document.get("rosbag2_bagfile_information") if isinstance(document, dict) else None
    if not isinstance(info, dict):
        raise BagError(f"{path} has no rosbag2_bagfile_information section")
    return info


def _split_order(path: Path) -> tuple[int, str]:
    match = _SPLIT_INDEX.search(path.name)
    return (int(match.group(1)) if match else -1, path.name)


class BagReader:
    """Iterate over the decoded messages of one bag, file by file, in recording order.

    After (or during) iteration, `reports` says per storage file how many messages were read and
    whether the file was cut off, and `topic_types` maps every topic seen to its type.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.files = storage_files(self.path)
        self.reports: list[FileReport] = []
        self.topic_types: dict[str, str] = {}

    @property
    def truncated(self) -> bool:
        return any(r.truncated for r in self.reports)

    def messages(
        self, topics: Collection[str] | None = None, types: Collection[str] = (), decode: bool = True
    ) -> Iterator[BagMessage]:
        """Messages of `topics` and of the message `types` (every message when neither is given), in
        file order; decoded unless `decode` is False (then `message` is None: timing only)."""
        self.reports = []
        definitions: dict[str, str] = {}
        wanted = None if topics is None and not types else (frozenset(topics or ()), frozenset(types))
        for path in self.files:
            report = FileReport(path)
            self.reports.append(report)
            yield from self._read_file(path, wanted, decode, definitions, report)

    def _read_file(
        self,
        path: Path,
        wanted: tuple[frozenset[str], frozenset[str]] | None,
        decode: bool,
        definitions: dict[str, str],
        report: FileReport,
    ) -> Iterator[BagMessage]:
        schemas: dict[int, str] = {}
        channels: dict[int, tuple[str, str]] = {}
        store: Typestore | None = None
        with path.open("rb") as stream:
            records = StreamReader(_ExactReads(stream)).records
            while True:
                try:
                    record = next(records)
                except StopIteration:
                    return
                except _CutOffError:
                    report.truncated = True
                    return
                except (McapError, ValueError, struct.error) as err:
                    raise BagError(
                        f"{path} is not a readable MCAP file after {report.messages} messages: {err}"
                    ) from err
                if isinstance(record, Schema):
                    schemas[record.id] = record.name
                    text = record.data.decode(errors="replace")
                    if definitions.get(record.name, text) != text:
                        raise BagError(f"{path}: {record.name} is defined differently in two storage files")
                    if record.name not in definitions:
                        definitions[record.name] = text
                        store = None
                elif isinstance(record, Channel):
                    type_name = schemas.get(record.schema_id, "")
                    channels[record.id] = (record.topic, type_name)
                    self.topic_types.setdefault(record.topic, type_name)
                elif isinstance(record, Message):
                    if record.channel_id not in channels:
                        raise BagError(f"{path}: message on unknown channel {record.channel_id}")
                    report.messages += 1
                    topic, type_name = channels[record.channel_id]
                    if wanted is not None and topic not in wanted[0] and type_name not in wanted[1]:
                        continue
                    if not decode:
                        yield BagMessage(topic, type_name, record.log_time, None)
                        continue
                    if store is None:
                        store = decoding_store(tuple(definitions.items()))
                    yield BagMessage(topic, type_name, record.log_time, _decode(store, record, topic, type_name, path))


def _decode(store: Typestore, record: Message, topic: str, type_name: str, path: Path) -> Any:
    if not type_name:
        raise BagError(f"{path}: topic {topic} was recorded without a message definition; cannot decode it")
    try:
        return store.deserialize_cdr(record.data, type_name)
    except (TypesysError, KeyError, ValueError, IndexError, struct.error) as err:
        raise BagError(f"{path}: a message on {topic} cannot be decoded as {type_name}: {err!r}") from err
