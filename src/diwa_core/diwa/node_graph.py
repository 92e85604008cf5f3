"""diwa_bringup's launch files (ROS 2 YAML launch files) read without the ROS launch system.

The graphs are standard `launch/NAME.launch.yaml` files: `ros2 launch diwa_bringup deploy.launch.yaml`
runs them where the launch system is installed. The PyPI-wheel ROS has no `ros2 launch`, so
`diwa launch deploy arg:=value` reads the same file here and starts the same processes with the
command lines launch_ros builds. One definition: the graph the tests run is the graph users launch.

The part of the format understood (launch and launch_ros, Jazzy); anything else is refused by
name, never skipped:

    launch:
    - arg: {name: robot, default: sim, description: ..., choice: [{value: sim}, {value: franka}]}
    - node:
        pkg: diwa_robot
        exec: command_arbiter
        name: command_arbiter
        namespace: $(var namespace)
        param:
        - {from: $(find-pkg-share diwa_bringup)/config/arbiter.yaml}   # a parameter file
        - {name: backend, value: $(var robot)}                         # one parameter, after the files
        remap: [{from: /a, to: /b}]
        args: -d $(find-pkg-share diwa_bringup)/rviz/diwa.rviz         # before --ros-args
        ros_args: --log-level $(var log_level)
        output: screen
        on_exit: shutdown                                              # the graph ends with this node
        if: $(equals $(var robot) sim)                                 # or unless:
    - include: {file: ..., arg: [{name: robot_ip, value: $(var robot_ip)}], if: ...}

Substitutions: $(var NAME), $(find-pkg-share PKG), $(equals A B), $(not-equals A B), $(and A B),
$(or A B), $(not A), nested and quoted ('a b'). As in launch, `true`/`1` and `false`/`0` (any case)
are the booleans; equals compares booleans and numbers by value. Parameters are typed as launch_ros
types them (`typed_value`), and every other attribute is a string, as launch_yaml requires; both
routes were run side by side in docs/results/launch_yaml_check. Includes are listed but only
`ros2 launch` can run them (they are the MoveIt stack, which the PyPI-wheel ROS does not have).
"""

from __future__ import annotations

import math
import os
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

SUFFIX = ".launch.yaml"


class LaunchFileError(ValueError):
    """A launch file or a launch argument the interpreter cannot use."""


# --- substitutions ----------------------------------------------------------------------------


def _boolean(value: str, where: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    raise LaunchFileError(f"{where}: {value!r} is not a boolean (true, false, 1 or 0)")


def _number(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None


def _equal(left: str, right: str) -> bool:
    """launch's EqualsSubstitution: booleans and numbers by value, anything else as text."""
    bools = ("true", "false", "1", "0")
    if left.lower() in bools and right.lower() in bools:
        return (left.lower() in ("true", "1")) == (right.lower() in ("true", "1"))
    a, b = _number(left), _number(right)
    if a is not None and b is not None:
        return math.isclose(a, b)
    return left == right


def _text(flag: bool) -> str:
    return "true" if flag else "false"


class Substitutions:
    """Evaluates `$(...)` in a string with the launch arguments' values."""

    def __init__(self, values: dict[str, str], find_share: Callable[[str], Path] | None = None) -> None:
        self.values = values
        self.find_share = find_share or share_directory

    def __call__(self, text: str) -> str:
        return _Expression(text, self._resolve).text()

    def condition(self, text: str) -> bool:
        return _boolean(self(text), f"condition {text!r}")

    def _resolve(self, name: str, args: list[str], source: str) -> str:
        arity = {"var": 1, "find-pkg-share": 1, "equals": 2, "not-equals": 2, "and": 2, "or": 2, "not": 1}
        if name not in arity:
            known = sorted(arity)
            raise LaunchFileError(f"substitution $({name} ...) in {source!r} is not one diwa launch knows: {known}")
        if len(args) != arity[name]:
            raise LaunchFileError(f"$({name} ...) takes {arity[name]} argument(s), got {args} in {source!r}")
        if name == "var":
            if args[0] not in self.values:
                known = sorted(self.values)
                raise LaunchFileError(f"$(var {args[0]}) in {source!r}: no such argument; arguments: {known}")
            return self.values[args[0]]
        if name == "find-pkg-share":
            return str(self.find_share(args[0]))
        if name in ("equals", "not-equals"):
            return _text(_equal(*args) == (name == "equals"))
        flags = [_boolean(a, f"$({name} ...) in {source!r}") for a in args]
        if name == "and":
            return _text(all(flags))
        if name == "or":
            return _text(any(flags))
        return _text(not flags[0])


class _Expression:
    """A recursive-descent reader of text with `$(name arg ...)` substitutions in it."""

    def __init__(self, source: str, resolve: Callable[[str, list[str], str], str]) -> None:
        self.source, self.resolve, self.pos = source, resolve, 0

    def text(self) -> str:
        out = []
        while self.pos < len(self.source):
            if self.source.startswith("$(", self.pos):
                out.append(self._substitution())
            else:
                out.append(self.source[self.pos])
                self.pos += 1
        return "".join(out)

    def _peek(self) -> str:
        if self.pos >= len(self.source):
            raise LaunchFileError(f"unclosed $( in {self.source!r}")
        return self.source[self.pos]

    def _substitution(self) -> str:
        self.pos += 2
        start = self.pos
        while not self._peek().isspace() and self._peek() != ")":
            self.pos += 1
        name, args = self.source[start : self.pos], []
        while True:
            while self._peek().isspace():
                self.pos += 1
            if self._peek() == ")":
                self.pos += 1
                return self.resolve(name, args, self.source)
            args.append(self._argument())

    def _argument(self) -> str:
        out = []
        while not self._peek().isspace() and self._peek() != ")":
            if self.source.startswith("$(", self.pos):
                out.append(self._substitution())
            elif self._peek() in "'\"":
                out.append(self._quoted(self._peek()))
            else:
                out.append(self._peek())
                self.pos += 1
        return "".join(out)

    def _quoted(self, quote: str) -> str:
        self.pos += 1
        out = []
        while self._peek() != quote:
            if self.source.startswith("$(", self.pos):
                out.append(self._substitution())
            else:
                out.append(self._peek())
                self.pos += 1
        self.pos += 1
        return "".join(out)


# --- the launch file --------------------------------------------------------------------------


@dataclass(frozen=True)
class Argument:
    name: str
    default: str | None  # None: the user must give it
    description: str = ""
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Condition:
    expression: str
    negated: bool  # `unless:`

    def holds(self, evaluate: Substitutions) -> bool:
        return evaluate.condition(self.expression) != self.negated


ParameterValue = str | bool | int | float


@dataclass(frozen=True)
class Parameter:
    file: str | None = None  # `from:`
    name: str | None = None
    value: ParameterValue | None = None  # as the file writes it; typed by `typed_value` once substituted


@dataclass(frozen=True)
class NodeEntry:
    package: str
    executable: str
    name: str
    namespace: str | None = None
    parameters: tuple[Parameter, ...] = ()
    remappings: tuple[tuple[str, str], ...] = ()
    args: str | None = None
    ros_args: str | None = None
    condition: Condition | None = None
    shutdown_on_exit: bool = False


@dataclass(frozen=True)
class IncludeEntry:
    file: str
    arguments: tuple[tuple[str, str], ...] = ()
    condition: Condition | None = None


@dataclass(frozen=True)
class Node:
    """A node entry with its substitutions done: what `ros2 run` would start."""

    package: str
    executable: str
    name: str
    namespace: str
    parameter_files: tuple[Path, ...]
    parameters: tuple[tuple[str, ParameterValue], ...]
    remappings: tuple[tuple[str, str], ...]
    args: tuple[str, ...]
    ros_args: tuple[str, ...]
    shutdown_on_exit: bool

    def parameter(self, name: str) -> ParameterValue:
        """The last value the entry gives `name` (the one the node gets)."""
        given = [value for key, value in self.parameters if key == name]
        if not given:
            raise KeyError(f"node {self.name!r} is given no parameter {name!r}")
        return given[-1]


@dataclass(frozen=True)
class Include:
    file: str
    arguments: dict[str, str]


@dataclass(frozen=True)
class LaunchFile:
    name: str
    arguments: tuple[Argument, ...]
    nodes: tuple[NodeEntry, ...]
    includes: tuple[IncludeEntry, ...]

    def resolve_arguments(
        self, given: dict[str, str], find_share: Callable[[str], Path] | None = None
    ) -> dict[str, str]:
        """Defaults filled in (in order, so a default may use an earlier argument); unknown names,
        missing required values and values outside the choices are errors."""
        known = {a.name: a for a in self.arguments}
        unknown = sorted(set(given) - set(known))
        if unknown:
            raise LaunchFileError(f"{self.name} has no argument(s) {unknown}; arguments: {sorted(known)}")
        values: dict[str, str] = {}
        for arg in self.arguments:
            if arg.name in given:
                value = given[arg.name]
            elif arg.default is not None:
                value = Substitutions(values, find_share)(arg.default)
            else:
                raise LaunchFileError(f"{self.name} needs {arg.name}:=VALUE ({arg.description})")
            if arg.choices and value not in arg.choices:
                raise LaunchFileError(f"{arg.name}:={value} is not one of {list(arg.choices)}")
            values[arg.name] = value
        return values

    def active_nodes(self, values: dict[str, str], find_share: Callable[[str], Path] | None = None) -> list[Node]:
        evaluate = Substitutions(values, find_share)
        return [
            _resolve_node(entry, evaluate)
            for entry in self.nodes
            if entry.condition is None or entry.condition.holds(evaluate)
        ]

    def active_includes(self, values: dict[str, str], find_share: Callable[[str], Path] | None = None) -> list[Include]:
        evaluate = Substitutions(values, find_share)
        return [
            Include(evaluate(inc.file), {evaluate(k): evaluate(v) for k, v in inc.arguments})
            for inc in self.includes
            if inc.condition is None or inc.condition.holds(evaluate)
        ]


def _resolve_node(entry: NodeEntry, evaluate: Substitutions) -> Node:
    files, parameters = [], []
    for param in entry.parameters:
        if param.file is not None:
            files.append(Path(evaluate(param.file)))
        else:
            parameters.append((evaluate(str(param.name)), typed_value(param.value, evaluate)))
    namespace = evaluate(entry.namespace).strip("/") if entry.namespace else ""
    return Node(
        package=entry.package,
        executable=entry.executable,
        name=evaluate(entry.name),
        namespace="/" + namespace if namespace else "",
        parameter_files=tuple(files),
        parameters=tuple(parameters),
        remappings=tuple((evaluate(a), evaluate(b)) for a, b in entry.remappings),
        args=tuple(shlex.split(evaluate(entry.args))) if entry.args else (),
        ros_args=tuple(shlex.split(evaluate(entry.ros_args))) if entry.ros_args else (),
        shutdown_on_exit=entry.shutdown_on_exit,
    )


def typed_value(value: ParameterValue | None, evaluate: Substitutions) -> ParameterValue:
    """The type launch_ros gives a parameter (evaluate_parameters.py, Jazzy): a value the file writes
    as a number or boolean keeps its type, a string without substitutions stays a string (`"true"` is
    the text true), and a string with substitutions is read as YAML once substituted (`$(var x)` with
    x `true` is a boolean; an empty result is the empty string)."""
    if not isinstance(value, str):
        if value is None:
            raise LaunchFileError("a parameter needs a value")
        return value
    text = evaluate(value)
    if "$(" not in value or text == "":
        return text
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise LaunchFileError(f"parameter value {value!r} gives {text!r}, which is not YAML: {error}") from error
    if isinstance(loaded, bool | int | float | str):
        return loaded
    raise LaunchFileError(f"parameter value {value!r} gives {text!r}: diwa launch takes single values only")


# --- parsing ----------------------------------------------------------------------------------


def _string(value: Any, where: str) -> str:
    # launch_yaml reads every attribute but a parameter's value as a string and refuses other types.
    if not isinstance(value, str):
        raise LaunchFileError(f"{where}: expected a string, got {value!r} (quote it, as `ros2 launch` requires)")
    return value


def _parameter_value(value: Any, where: str) -> ParameterValue:
    if isinstance(value, bool | int | float | str):
        return value
    raise LaunchFileError(f"{where}: expected a single value, got {value!r} (diwa launch takes no lists)")


class _Entity:
    """One mapping of the file; reading an attribute consumes it, and attributes left unread are
    refused (as launch's assert_entity_completely_parsed does)."""

    def __init__(self, kind: str, data: Any, where: str) -> None:
        if not isinstance(data, dict):
            raise LaunchFileError(f"{where}: `{kind}` must be a mapping, got {data!r}")
        self.kind, self.data, self.where = kind, dict(data), where

    def text(self, key: str, required: bool = False) -> str | None:
        if key not in self.data:
            if required:
                raise LaunchFileError(f"{self.where}: `{self.kind}` needs `{key}`")
            return None
        return _string(self.data.pop(key), f"{self.where}, {self.kind}.{key}")

    def value(self, key: str) -> ParameterValue:
        if key not in self.data:
            raise LaunchFileError(f"{self.where}: `{self.kind}` needs `{key}`")
        return _parameter_value(self.data.pop(key), f"{self.where}, {self.kind}.{key}")

    def entities(self, key: str) -> list[_Entity]:
        items = self.data.pop(key, None) or []
        if not isinstance(items, list):
            raise LaunchFileError(f"{self.where}: `{self.kind}.{key}` must be a list")
        return [_Entity(key, item, f"{self.where}, {self.kind}.{key}[{i}]") for i, item in enumerate(items)]

    def condition(self) -> Condition | None:
        when, unless = self.text("if"), self.text("unless")
        if when is not None and unless is not None:
            raise LaunchFileError(f"{self.where}: `if` and `unless` cannot both be given")
        if when is None and unless is None:
            return None
        return Condition(when if when is not None else str(unless), negated=when is None)

    def done(self) -> None:
        if self.data:
            raise LaunchFileError(
                f"{self.where}: `{self.kind}` attribute(s) {sorted(self.data)} are not supported by diwa launch "
                "(use `ros2 launch`, or leave them out)"
            )


def _argument(entity: _Entity) -> Argument:
    choices = []
    for choice in entity.entities("choice"):
        choices.append(str(choice.text("value", required=True)))
        choice.done()
    arg = Argument(
        name=str(entity.text("name", required=True)),
        default=entity.text("default"),
        description=entity.text("description") or "",
        choices=tuple(choices),
    )
    entity.done()
    return arg


def _parameter(entity: _Entity) -> Parameter:
    source, name = entity.text("from"), entity.text("name")
    if (source is None) == (name is None):
        raise LaunchFileError(f"{entity.where}: a param has either `from` (a file) or `name` and `value`")
    param = Parameter(file=source) if source is not None else Parameter(name=name, value=entity.value("value"))
    entity.done()
    return param


def _node(entity: _Entity) -> NodeEntry:
    parameters = tuple(_parameter(p) for p in entity.entities("param"))
    remappings = []
    for remap in entity.entities("remap"):
        remappings.append((str(remap.text("from", True)), str(remap.text("to", True))))
        remap.done()
    on_exit = entity.text("on_exit")
    if on_exit not in (None, "shutdown"):
        raise LaunchFileError(f"{entity.where}: on_exit must be `shutdown` (as in launch), got {on_exit!r}")
    entity.text("output")  # where launch sends the output; diwa launch leaves it on the terminal
    node = NodeEntry(
        package=str(entity.text("pkg", True)),
        executable=str(entity.text("exec", True)),
        name=str(entity.text("name", True)),
        namespace=entity.text("namespace"),
        parameters=parameters,
        remappings=tuple(remappings),
        args=entity.text("args"),
        ros_args=entity.text("ros_args"),
        condition=entity.condition(),
        shutdown_on_exit=on_exit == "shutdown",
    )
    entity.done()
    return node


def _include(entity: _Entity) -> IncludeEntry:
    arguments = []
    for arg in entity.entities("arg"):
        arguments.append((str(arg.text("name", True)), str(arg.text("value", True))))
        arg.done()
    file, condition = str(entity.text("file", True)), entity.condition()
    include = IncludeEntry(file=file, arguments=tuple(arguments), condition=condition)
    entity.done()
    return include


def parse_launch_file(name: str, data: Any) -> LaunchFile:
    """The launch file's entities, checked; `data` is the YAML document."""
    if not isinstance(data, dict) or set(data) != {"launch"} or not isinstance(data["launch"], list):
        raise LaunchFileError(f"{name}: a YAML launch file is one mapping `launch:` holding a list of entities")
    arguments, nodes, includes = [], [], []
    readers = {"arg": (_argument, arguments), "node": (_node, nodes), "include": (_include, includes)}
    for i, item in enumerate(data["launch"]):
        where = f"{name}, entity {i}"
        if not isinstance(item, dict) or len(item) != 1:
            raise LaunchFileError(f"{where}: each entity is a one-key mapping such as `- node: {{...}}`")
        ((kind, body),) = item.items()
        if kind not in readers:
            raise LaunchFileError(f"{where}: `{kind}` is not supported by diwa launch; it reads {sorted(readers)}")
        read, into = readers[kind]
        into.append(read(_Entity(kind, body, where)))
    names = [a.name for a in arguments]
    if len(set(names)) != len(names):
        raise LaunchFileError(f"{name}: an argument is declared twice: {names}")
    return LaunchFile(name=name, arguments=tuple(arguments), nodes=tuple(nodes), includes=tuple(includes))


# --- where things are installed ---------------------------------------------------------------


def ament_prefixes() -> list[Path]:
    return [Path(p) for p in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep) if p]


def share_directory(package: str) -> Path:
    """share/<package> of the first ament prefix that has the package (what ament_index does)."""
    for prefix in ament_prefixes():
        marker = prefix / "share" / "ament_index" / "resource_index" / "packages" / package
        if marker.exists():
            return prefix / "share" / package
    raise FileNotFoundError(f"package {package!r} is not on AMENT_PREFIX_PATH; build and `source scripts/env.sh`")


def executable_path(package: str, executable: str) -> Path:
    for prefix in ament_prefixes():
        candidate = prefix / "lib" / package / executable
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise FileNotFoundError(f"executable {executable!r} of package {package!r} not found under AMENT_PREFIX_PATH")


def read_launch_file(path: Path) -> LaunchFile:
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise LaunchFileError(f"{path} is not valid YAML: {err}") from err
    return parse_launch_file(path.name.removesuffix(SUFFIX), data)


def load_launch_file(name: str, bringup_share: Path | None = None) -> LaunchFile:
    """diwa_bringup's launch/NAME.launch.yaml."""
    launch_dir = (bringup_share or share_directory("diwa_bringup")) / "launch"
    path = launch_dir / f"{name.removesuffix(SUFFIX)}{SUFFIX}"
    if not path.is_file():
        available = sorted(p.name.removesuffix(SUFFIX) for p in launch_dir.glob(f"*{SUFFIX}"))
        raise FileNotFoundError(f"no launch file {path.name} in diwa_bringup; available: {', '.join(available)}")
    return read_launch_file(path)
