"""`diwa launch NAME [arg:=value ...]`: run a diwa_bringup launch file without the ROS launch system.

Processes start in the order the file lists them; the graph ends when the user interrupts it, when
a node with `on_exit: shutdown` exits, or when any node fails. Shutdown sends SIGINT to every node
(rclpy shuts down cleanly on it), then escalates to SIGTERM and SIGKILL for nodes that hang.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from diwa.node_graph import LaunchFile, LaunchFileError, Node, ParameterValue, executable_path, load_launch_file

SIGINT_GRACE_S = 10.0
SIGTERM_GRACE_S = 3.0


@dataclass
class RunningNode:
    node: Node
    process: subprocess.Popen


def node_command(node: Node) -> list[str]:
    """The command line launch_ros's Node builds: arguments, then --ros-args with the ROS arguments,
    name, namespace, parameter files, parameters (after the files, so they win) and remappings."""
    command = [str(executable_path(node.package, node.executable)), *node.args, "--ros-args", *node.ros_args]
    command += ["-r", f"__node:={node.name}"]
    if node.namespace:
        command += ["-r", f"__ns:={node.namespace}"]
    for path in node.parameter_files:
        if not path.is_file():
            raise FileNotFoundError(f"parameter file {path} of node {node.name!r} not found")
        command += ["--params-file", str(path)]
    for key, value in node.parameters:
        command += ["-p", f"{key}:={_yaml_scalar(value)}"]
    for source, target in node.remappings:
        command += ["-r", f"{source}:={target}"]
    return command


def _yaml_scalar(value: ParameterValue) -> str:
    """`-p` values are YAML to rcl: strings go quoted, so the node gets a string where launch_ros gives
    one (`"true"`, `"5"`, the empty string) and never a boolean or a number in its place."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    return repr(value)


def parse_assignments(items: list[str]) -> dict[str, str]:
    values = {}
    for item in items:
        name, sep, value = item.partition(":=")
        if not sep or not name:
            raise LaunchFileError(f"launch arguments are NAME:=VALUE, got {item!r}")
        values[name] = value
    return values


def run_graph(launch: LaunchFile, given: dict[str, str]) -> int:
    values = launch.resolve_arguments(given)
    includes = launch.active_includes(values)
    if includes:
        names = ", ".join(inc.file for inc in includes)
        raise LaunchFileError(f"{launch.name} with these arguments includes {names}; run it with `ros2 launch`")
    commands = [(node, node_command(node)) for node in launch.active_nodes(values)]
    running: list[RunningNode] = []
    interrupted = False

    def on_signal(_signum: int, _frame: object) -> None:
        nonlocal interrupted
        interrupted = True

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    exit_code = 0
    try:
        for node, command in commands:
            print(f"[diwa launch] starting {node.name}: {' '.join(command)}", flush=True)
            running.append(RunningNode(node, subprocess.Popen(command)))
        while not interrupted:
            ended = [n for n in running if n.process.poll() is not None]
            decisive = [n for n in ended if n.node.shutdown_on_exit or n.process.returncode != 0]
            if decisive:
                first = decisive[0]
                exit_code = first.process.returncode
                print(
                    f"[diwa launch] {first.node.name} exited with code {exit_code}; shutting the graph down", flush=True
                )
                break
            time.sleep(0.1)
    finally:
        _shutdown(running)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return exit_code


def _shutdown(running: list[RunningNode]) -> None:
    for sig, grace in ((signal.SIGINT, SIGINT_GRACE_S), (signal.SIGTERM, SIGTERM_GRACE_S), (signal.SIGKILL, 5.0)):
        alive = [n for n in running if n.process.poll() is None]
        if not alive:
            return
        for node in alive:
            node.process.send_signal(sig)
        deadline = time.monotonic() + grace
        for node in alive:
            try:
                node.process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                print(f"[diwa launch] {node.node.name} ignored {signal.Signals(sig).name}", file=sys.stderr, flush=True)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "launch",
        help="run a diwa_bringup launch file without `ros2 launch`",
        description="Run the nodes of diwa_bringup's launch/NAME.launch.yaml, as `ros2 launch diwa_bringup "
        "NAME.launch.yaml` would.",
    )
    parser.add_argument("graph", help="launch file: deploy, collect, finetune or sim")
    parser.add_argument("assignments", nargs="*", metavar="ARG:=VALUE", help="launch arguments")
    parser.set_defaults(run=lambda args: run_graph(load_launch_file(args.graph), parse_assignments(args.assignments)))

    collect = subparsers.add_parser(
        "collect",
        help="record play data into a rosbag2 MCAP bag (runs the collect graph)",
        description="Start the robot (the mock robot, or a Franka through franky), a play source and the recorder; "
        "stop cleanly after --frames frames. A Franka through franka_ros2 needs `ros2 launch diwa_bringup "
        "collect.launch.yaml robot:=franka`.",
    )
    collect.add_argument("--robot", choices=["sim", "franky"], default="sim")
    collect.add_argument("--robot-ip", default="", help="the Franka's FCI address (--robot franky)")
    collect.add_argument(
        "--play",
        choices=["scripted", "teleop", "joy", "none"],
        default="scripted",
        help="scripted play (sim), keyboard teleop in this terminal, a gamepad through the joy driver, or none",
    )
    collect.add_argument("--frames", type=int, required=True, help="frames (SceneState messages) to record")
    collect.add_argument("--bag", required=True, help="output bag directory (must not exist)")
    collect.add_argument("--no-cameras", action="store_true", help="leave the two camera streams out")
    collect.add_argument("--seed", type=int, default=0)
    collect.set_defaults(run=run_collect)


def run_collect(args: argparse.Namespace) -> int:
    if args.frames < 1:
        raise ValueError(f"--frames must be positive, got {args.frames}")
    if Path(args.bag).exists():
        raise ValueError(f"{args.bag} already exists; the recorder never overwrites a bag")
    values = {
        "robot": args.robot,
        "play": args.play,
        "frames": str(args.frames),
        "bag": str(Path(args.bag).resolve()),
        "cameras": str(not args.no_cameras).lower(),
        "seed": str(args.seed),
        "robot_ip": args.robot_ip,
    }
    return run_graph(load_launch_file("collect"), values)
