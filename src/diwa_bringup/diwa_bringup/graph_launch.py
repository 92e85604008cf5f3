"""Turn a node graph (graphs/NAME.yaml, see diwa.node_graph) into a ROS 2 LaunchDescription.

The launch files are one line each on top of this, so `ros2 launch diwa_bringup X.launch.py` and
`diwa launch X` start the same nodes with the same parameters.
"""

from __future__ import annotations

import re
from pathlib import Path

from ament_index_python.packages import get_package_share_directory
from diwa.node_graph import condition_terms, load_graph
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, IncludeLaunchDescription, Shutdown
from launch.conditions import IfCondition
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration, PythonExpression, TextSubstitution
from launch_ros.actions import Node

_PIECES = re.compile(r"(\$\(\w+\))")


def _substitutions(text: str, builtins: dict[str, str]) -> list:
    parts = []
    for piece in _PIECES.split(text):
        if not piece:
            continue
        if piece.startswith("$("):
            name = piece[2:-1]
            parts.append(TextSubstitution(text=builtins[name]) if name in builtins else LaunchConfiguration(name))
        else:
            parts.append(TextSubstitution(text=piece))
    return parts


def _condition(expression: str | None):
    if expression is None:
        return None
    parts: list = []
    for name, op, value in condition_terms(expression):
        parts += [" and " if parts else "", "'", LaunchConfiguration(name), f"' {op} '{value}'"]
    return IfCondition(PythonExpression(parts))


def graph_launch_description(name: str) -> LaunchDescription:
    share = Path(get_package_share_directory("diwa_bringup"))
    graph = load_graph(name, share)
    builtins = {"bringup_share": str(share)}
    config = str(share / "config") + "/"
    actions: list = [
        DeclareLaunchArgument(
            arg.name,
            default_value=arg.default,
            description=arg.description,
            **({"choices": list(arg.choices)} if arg.choices else {}),
        )
        for arg in graph.arguments
    ]
    for node in graph.nodes:
        parameters: list = [_substitutions(config + f, builtins) for f in node.parameters]
        if node.overrides:
            parameters.append({key: _substitutions(value, builtins) for key, value in node.overrides.items()})
        actions.append(
            Node(
                package=node.package,
                executable=node.executable,
                name=node.name,
                output="screen",
                parameters=parameters,
                remappings=[(src, dst) for src, dst in node.remappings.items()],
                arguments=[_substitutions(a, builtins) for a in node.arguments],
                condition=_condition(node.when),
                on_exit=Shutdown() if node.shutdown_on_exit else None,
            )
        )
    for include in graph.includes:
        source = PythonLaunchDescriptionSource(
            str(Path(get_package_share_directory(include.package)) / "launch" / include.file)
        )
        arguments = {key: _substitutions(value, builtins) for key, value in include.arguments.items()}
        actions.append(
            IncludeLaunchDescription(source, launch_arguments=arguments.items(), condition=_condition(include.when))
        )
    return LaunchDescription(actions)
