"""Message definitions for rosbag2 files, resolved without a ROS install.

A bag is only self-describing if every channel carries the full definition of its type (the
`ros2msg` text with all nested types) and the type's RIHS01 hash. rosbags' Jazzy typestore knows
the standard packages; our own interfaces (diwa_msgs) are parsed from the `.msg` files a colcon
build installs under `<prefix>/share/<package>/msg/`, so a bag recorded on any machine can be
decoded on another that has never built the workspace.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from rosbags.typesys.base import TypesysError
from rosbags.typesys.store import Typestore

_TYPE_NAME = re.compile(r"^(?P<package>[A-Za-z]\w*)/msg/(?P<name>[A-Za-z]\w*)$")


@dataclass(frozen=True)
class TypeDefinition:
    """What a bag stores about a message type: the definition text and its RIHS01 hash."""

    name: str
    text: str
    rihs01: str


def split_type_name(type_name: str) -> tuple[str, str]:
    """'pkg/msg/Name' -> ('pkg', 'Name'); anything else is refused with the expected form."""
    match = _TYPE_NAME.match(type_name)
    if not match:
        raise ValueError(f"message type {type_name!r} must read PACKAGE/msg/NAME, e.g. sensor_msgs/msg/Image")
    return match["package"], match["name"]


class MessageTypes:
    """Jazzy's standard types plus whole interface packages loaded from share directories."""

    def __init__(self, share_dirs: Sequence[Path] = ()) -> None:
        self.share_dirs = [Path(d) for d in share_dirs]
        self.store: Typestore = get_typestore(Stores.ROS2_JAZZY)
        self._loaded_packages: set[str] = set()

    def definition(self, type_name: str) -> TypeDefinition:
        package, _ = split_type_name(type_name)
        if type_name not in self.store.fielddefs:
            self._load_package(package, type_name)
        try:
            text, _ = self.store.generate_msgdef(type_name, ros_version=2)
            rihs01 = self.store.hash_rihs01(type_name)
        except (TypesysError, KeyError) as err:
            raise ValueError(f"message type {type_name} depends on a type that is not known: {err}") from err
        return TypeDefinition(type_name, text, rihs01)

    def _load_package(self, package: str, wanted: str) -> None:
        """Register every message of `package` at once, so that types referring to each other resolve."""
        if package in self._loaded_packages:
            raise ValueError(f"message type {wanted} is not defined in package {package} ({self._searched()})")
        for share in self.share_dirs:
            msg_dir = share / package / "msg"
            files = sorted(msg_dir.glob("*.msg"))
            if not files:
                continue
            types: dict[str, Any] = {}
            for path in files:
                name = f"{package}/msg/{path.stem}"
                try:
                    types.update(get_types_from_msg(path.read_text(), name))
                except TypesysError as err:
                    raise ValueError(f"cannot parse message definition {path}: {err}") from err
            self.store.register(types)
            self._loaded_packages.add(package)
            if wanted not in self.store.fielddefs:
                raise ValueError(f"message type {wanted} is not defined in {msg_dir}")
            return
        raise ValueError(
            f"message type {wanted} is neither a standard ROS 2 Jazzy type nor found in {self._searched()}; "
            "build the workspace and `source scripts/env.sh`"
        )

    def _searched(self) -> str:
        return ", ".join(str(d) for d in self.share_dirs) or "no share directory (AMENT_PREFIX_PATH is empty)"


def share_dirs_from_prefixes(prefixes: Iterable[str | Path]) -> list[Path]:
    """The share/ directories of ament prefixes (AMENT_PREFIX_PATH entries), in search order."""
    return [Path(p) / "share" for p in prefixes if str(p)]


@functools.lru_cache(maxsize=16)
def decoding_store(definitions: tuple[tuple[str, str], ...]) -> Typestore:
    """A typestore that decodes exactly what a bag says its messages are: (type, definition) pairs.

    The bag's own definitions win over the standard ones: a bag recorded against an older
    version of a message must still decode as it was written. Stores are cached because building
    one (parsing, then generating the decoders) costs more than reading a small storage file.
    """
    store = get_typestore(Stores.EMPTY)
    for type_name, text in definitions:
        try:
            store.register(get_types_from_msg(text, type_name))
        except TypesysError as err:  # unparsable text, or two different definitions of one type
            raise ValueError(f"the bag's definition of {type_name} is unusable: {err}") from err
    return store
