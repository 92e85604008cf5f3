"""Node graphs described as data, shared by the ROS launch files and `diwa launch`.

Each launch file of diwa_bringup is defined once, as YAML under share/diwa_bringup/graphs/: its
arguments and the nodes it starts. `deploy.launch.py` and friends turn that data into launch_ros
actions; where the launch system is not installed (the PyPI-wheel ROS has no `ros2 launch`),
`diwa launch NAME arg:=value` reads the same file and runs the same processes. Keeping one
definition means the graph the tests run is the graph users launch.

Graph file:
    description: text
    arguments:
      robot: {default: sim, choices: [sim, franka], description: ...}
    nodes:
      - package: diwa_calvin_bridge
        executable: mock_robot
        name: mock_robot
        parameters: [mock_robot.yaml]          # files in share/diwa_bringup/config/
        overrides: {cameras: "$(cameras)"}     # single parameters, after the files
        remappings: {from: to}
        arguments: ["-d", "$(rviz_config)"]    # extra command-line arguments
        when: "robot == sim"                   # optional: `arg == value` or `arg != value`, joined by `and`
        shutdown_on_exit: false                # true: the graph ends when this node exits
    includes:                                  # other launch files (only `ros2 launch` can run them)
      - {package: franka_bringup, file: franka.launch.py, when: "robot == franka",
         arguments: {robot_ip: "$(robot_ip)"}}
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

_SUBSTITUTION = re.compile(r"\$\((\w+)\)")
_CONDITION = re.compile(r"^\s*(\w+)\s*(==|!=)\s*(\S+)\s*$")


@dataclass(frozen=True)
class Argument:
    name: str
    default: str | None
    description: str = ""
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class NodeSpec:
    package: str
    executable: str
    name: str
    parameters: tuple[str, ...] = ()
    overrides: dict[str, str] = field(default_factory=dict)
    remappings: dict[str, str] = field(default_factory=dict)
    arguments: tuple[str, ...] = ()
    when: str | None = None
    shutdown_on_exit: bool = False


@dataclass(frozen=True)
class Include:
    package: str
    file: str
    arguments: dict[str, str] = field(default_factory=dict)
    when: str | None = None


@dataclass(frozen=True)
class NodeGraph:
    name: str
    description: str
    arguments: tuple[Argument, ...]
    nodes: tuple[NodeSpec, ...]
    includes: tuple[Include, ...] = ()

    def resolve_arguments(self, given: dict[str, str]) -> dict[str, str]:
        """Defaults filled in; unknown names, missing required values and bad choices are errors."""
        known = {a.name: a for a in self.arguments}
        unknown = sorted(set(given) - set(known))
        if unknown:
            raise ValueError(f"graph {self.name!r} has no argument(s) {unknown}; arguments: {sorted(known)}")
        values: dict[str, str] = {}
        for arg in self.arguments:
            value = given.get(arg.name, arg.default)
            if value is None:
                raise ValueError(f"graph {self.name!r} needs {arg.name}:=VALUE ({arg.description})")
            if arg.choices and value not in arg.choices:
                raise ValueError(f"{arg.name}:={value} is not one of {list(arg.choices)}")
            values[arg.name] = value
        return values

    def active_nodes(self, values: dict[str, str]) -> list[NodeSpec]:
        return [node for node in self.nodes if node.when is None or evaluate_condition(node.when, values)]

    def active_includes(self, values: dict[str, str]) -> list[Include]:
        return [inc for inc in self.includes if inc.when is None or evaluate_condition(inc.when, values)]


def substitute(text: str, values: dict[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        if match.group(1) not in values:
            raise ValueError(f"unknown argument $({match.group(1)}) in {text!r}")
        return values[match.group(1)]

    return _SUBSTITUTION.sub(replace, text)


def condition_terms(condition: str) -> list[tuple[str, str, str]]:
    """(argument, operator, value) of each `ARG == VALUE` / `ARG != VALUE` joined by ` and `."""
    terms = []
    for term in condition.split(" and "):
        match = _CONDITION.match(term)
        if not match:
            raise ValueError(
                f"condition {condition!r} must read `ARG == VALUE` or `ARG != VALUE`, several joined by `and`"
            )
        terms.append(match.groups())
    return terms


def evaluate_condition(condition: str, values: dict[str, str]) -> bool:
    for name, op, expected in condition_terms(condition):
        if name not in values:
            raise ValueError(f"condition {condition!r} names unknown argument {name!r}")
        if (values[name] == expected) != (op == "=="):
            return False
    return True


def parse_graph(name: str, data: dict[str, Any]) -> NodeGraph:
    try:
        arguments = tuple(
            Argument(
                name=arg_name,
                default=None if spec.get("default") is None else str(spec["default"]),
                description=str(spec.get("description", "")),
                choices=tuple(str(c) for c in spec.get("choices", ())),
            )
            for arg_name, spec in (data.get("arguments") or {}).items()
        )
        nodes = tuple(
            NodeSpec(
                package=str(node["package"]),
                executable=str(node["executable"]),
                name=str(node["name"]),
                parameters=tuple(str(p) for p in node.get("parameters", ())),
                overrides={str(k): str(v) for k, v in (node.get("overrides") or {}).items()},
                remappings={str(k): str(v) for k, v in (node.get("remappings") or {}).items()},
                arguments=tuple(str(a) for a in node.get("arguments", ())),
                when=node.get("when"),
                shutdown_on_exit=bool(node.get("shutdown_on_exit", False)),
            )
            for node in data["nodes"]
        )
        includes = tuple(
            Include(
                package=str(inc["package"]),
                file=str(inc["file"]),
                arguments={str(k): str(v) for k, v in (inc.get("arguments") or {}).items()},
                when=inc.get("when"),
            )
            for inc in data.get("includes", ())
        )
    except (KeyError, TypeError, AttributeError) as err:
        raise ValueError(f"graph {name!r} is malformed: {err!r}") from err
    return NodeGraph(
        name=name, description=str(data.get("description", "")), arguments=arguments, nodes=nodes, includes=includes
    )


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


def load_graph(name: str, bringup_share: Path | None = None) -> NodeGraph:
    share = bringup_share or share_directory("diwa_bringup")
    path = share / "graphs" / f"{name}.yaml"
    if not path.is_file():
        available = sorted(p.stem for p in (share / "graphs").glob("*.yaml"))
        raise FileNotFoundError(f"no graph {name!r}; available: {', '.join(available)}")
    return parse_graph(name, yaml.safe_load(path.read_text()) or {})
