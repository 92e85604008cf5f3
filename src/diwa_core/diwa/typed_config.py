"""Typed configuration: dataclasses built from plain YAML/JSON data, strictly.

Unknown and missing keys and values of the wrong type are errors rather than silent defaults, so a
typo or a forgotten line in a YAML file cannot quietly change a training run: the YAML profiles are
the single source of values. A dataclass default is used only for a field declared with
`optional(...)`, which says why the key may be left out. Every config of the package (policy, world
model, reward, fine-tuning, demo) is built through `build_dataclass`, and the three trained-model
configs load their shipped profiles through `ProfileConfig.load`.
"""

from __future__ import annotations

import dataclasses
import typing
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import yaml

T = TypeVar("T")
P = TypeVar("P", bound="ProfileConfig")


def optional(default: Any, why: str) -> Any:
    """A dataclass field whose key may be absent from the YAML; `why` documents the exception."""
    return dataclasses.field(default=default, metadata={"optional": why})


def build_dataclass(cls: type[T], data: Any, where: str) -> T:
    """Construct dataclass `cls` from plain YAML/JSON data, refusing unknown and missing keys."""
    if not isinstance(data, dict):
        raise ValueError(f"{where}: expected a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = set(data) - names
    if unknown:
        raise ValueError(f"{where}: unknown keys {sorted(unknown)}; allowed: {sorted(names)}")
    missing = [f.name for f in dataclasses.fields(cls) if f.name not in data and "optional" not in f.metadata]  # type: ignore[arg-type]
    if missing:
        raise ValueError(f"{where}: missing keys {missing}")
    values: dict[str, Any] = {}
    for name, value in data.items():
        hint = hints[name]
        if dataclasses.is_dataclass(hint):
            values[name] = build_dataclass(hint, value, f"{where}.{name}")  # type: ignore[arg-type]
        elif typing.get_origin(hint) is tuple:
            if not isinstance(value, list | tuple):
                raise ValueError(f"{where}.{name} must be a list, got {value!r}")
            item_type = typing.get_args(hint)[0]
            values[name] = tuple(item_type(v) for v in value)
        elif hint is bool:
            if not isinstance(value, bool):
                raise ValueError(f"{where}.{name} must be true or false, got {value!r}")
            values[name] = value
        elif hint is float:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"{where}.{name} must be a number, got {value!r}")
            values[name] = float(value)
        elif hint is int:
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"{where}.{name} must be an integer, got {value!r}")
            values[name] = value
        else:
            values[name] = value
    try:
        return cls(**values)
    except TypeError as err:
        raise ValueError(f"{where}: {err}") from err


def parse_yaml(text: str, where: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ValueError(f"{where}: invalid YAML ({err})") from err


def packaged_yaml(filename: str) -> Any:
    """Plain data of a YAML file shipped in diwa/configs."""
    return parse_yaml(resources.files("diwa").joinpath("configs", filename).read_text(), filename)


def yaml_file(path: str | Path) -> Any:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no config file {path}")
    return parse_yaml(path.read_text(), str(path))


class ProfileConfig:
    """Base of a top-level config stored beside every checkpoint and shipped as YAML profiles
    `diwa/configs/<FILE_PREFIX>_<profile>.yaml`; a subclass is a frozen dataclass naming both."""

    FILE_PREFIX: ClassVar[str]
    PROFILES: ClassVar[tuple[str, ...]]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls: type[P], data: Any, where: str | None = None) -> P:
        return build_dataclass(cls, data, where or cls.FILE_PREFIX)

    @classmethod
    def load(cls: type[P], profile_or_path: str | Path) -> P:
        """A shipped profile by name, or a YAML file by path."""
        if str(profile_or_path) in cls.PROFILES:
            name = f"{cls.FILE_PREFIX}_{profile_or_path}.yaml"
            return cls.from_dict(packaged_yaml(name), name)
        if not Path(profile_or_path).is_file():
            raise FileNotFoundError(
                f"no {cls.FILE_PREFIX} profile {str(profile_or_path)!r}: not one of {cls.PROFILES} nor a file"
            )
        return cls.from_dict(yaml_file(profile_or_path), str(profile_or_path))
