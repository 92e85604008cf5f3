"""`diwa launch NAME [arg:=value ...]`: run a node graph without the ROS launch system.

Processes start in the order the graph lists them; the graph ends when the user interrupts it, when
a node marked `shutdown_on_exit` exits, or when any node fails. Shutdown sends SIGINT to every node
(rclpy shuts down cleanly on it), then escalates to SIGTERM and SIGKILL for nodes that hang.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from diwa.node_graph import NodeGraph, NodeSpec, executable_path, load_graph, share_directory, substitute

SIGINT_GRACE_S = 10.0
SIGTERM_GRACE_S = 3.0


@dataclass
class RunningNode:
    spec: NodeSpec
    process: subprocess.Popen


def node_command(spec: NodeSpec, values: dict[str, str], config_dir: Path) -> list[str]:
    """The command line `ros2 run` + launch_ros would build for this node."""
    command = [str(executable_path(spec.package, spec.executable)), "--ros-args", "-r", f"__node:={spec.name}"]
    for params_file in spec.parameters:
        path = config_dir / substitute(params_file, values)
        if not path.is_file():
            raise FileNotFoundError(f"parameter file {path} of node {spec.name!r} not found")
        command += ["--params-file", str(path)]
    for key, value in spec.overrides.items():
        command += ["-p", f"{key}:={substitute(value, values)}"]
    for source, target in spec.remappings.items():
        command += ["-r", f"{substitute(source, values)}:={substitute(target, values)}"]
    # Plain arguments go before --ros-args, as `ros2 run` places them.
    return command[:1] + [substitute(a, values) for a in spec.arguments] + command[1:]


def parse_assignments(items: list[str]) -> dict[str, str]:
    values = {}
    for item in items:
        name, sep, value = item.partition(":=")
        if not sep or not name:
            raise ValueError(f"launch arguments are NAME:=VALUE, got {item!r}")
        values[name] = value
    return values


def run_graph(graph: NodeGraph, given: dict[str, str], bringup_share: Path | None = None) -> int:
    values = graph.resolve_arguments(given)
    includes = graph.active_includes(values)
    if includes:
        names = ", ".join(f"{inc.package}/{inc.file}" for inc in includes)
        raise ValueError(f"graph {graph.name!r} with these arguments includes {names}; run it with `ros2 launch`")
    share = bringup_share or share_directory("diwa_bringup")
    values["bringup_share"] = str(share)  # the one built-in, as FindPackageShare gives it in launch files
    config_dir = share / "config"
    commands = [(spec, node_command(spec, values, config_dir)) for spec in graph.active_nodes(values)]
    running: list[RunningNode] = []
    interrupted = False

    def on_signal(_signum: int, _frame: object) -> None:
        nonlocal interrupted
        interrupted = True

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    exit_code = 0
    try:
        for spec, command in commands:
            print(f"[diwa launch] starting {spec.name}: {' '.join(command)}", flush=True)
            running.append(RunningNode(spec, subprocess.Popen(command)))
        while not interrupted:
            ended = [node for node in running if node.process.poll() is not None]
            decisive = [n for n in ended if n.spec.shutdown_on_exit or n.process.returncode != 0]
            if decisive:
                node = decisive[0]
                exit_code = node.process.returncode
                print(
                    f"[diwa launch] {node.spec.name} exited with code {exit_code}; shutting the graph down", flush=True
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
                print(f"[diwa launch] {node.spec.name} ignored {signal.Signals(sig).name}", file=sys.stderr, flush=True)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "launch",
        help="run a diwa_bringup graph without `ros2 launch`",
        description="Run the node graph a diwa_bringup launch file defines (share/diwa_bringup/graphs/NAME.yaml).",
    )
    parser.add_argument("graph", help="graph name: deploy, collect, finetune or sim")
    parser.add_argument("assignments", nargs="*", metavar="ARG:=VALUE", help="launch arguments")
    parser.set_defaults(run=lambda args: run_graph(load_graph(args.graph), parse_assignments(args.assignments)))

    collect = subparsers.add_parser(
        "collect",
        help="record play data into a rosbag2 MCAP bag (runs the collect graph)",
        description="Start the robot (the mock robot, or a Franka through franky), a play source and the recorder; "
        "stop cleanly after --frames frames. A Franka through franka_ros2 needs `ros2 launch diwa_bringup "
        "collect.launch.py robot:=franka`.",
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
    return run_graph(load_graph("collect"), values)
