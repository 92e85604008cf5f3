"""Run each diwa_bringup launch file twice, with ROS 2's launch system (ros2_launch.py beside this
file, launch 3.4.3 / launch_ros 0.26.6) and with `diwa launch`, and compare what came up: the nodes
(fully qualified names), every parameter each node holds (read over DDS through its parameter
services), and how the graph ended on SIGINT. Writes results.json beside this file.

    source scripts/env.sh && source docs/results/launch_yaml_check/env.sh
    python docs/results/launch_yaml_check/check.py
"""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import rclpy
from diwa.node_graph import load_launch_file
from rcl_interfaces.msg import ParameterType
from rcl_interfaces.srv import GetParameters, ListParameters

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2] / "tests"))
from franky_sim_process import franky_sim  # noqa: E402  (franky-sim on a loopback address)

BAGS = Path(tempfile.mkdtemp(prefix="launch_yaml_check_"))
CASES = [
    ("sim", ["cameras:=true", "seed:=3"]),
    ("deploy", []),
    ("deploy", ["namespace:=cell_2", "log_level:=warn", "allow_unpromoted:=true"]),
    ("collect", ["frames:=0", "seed:=5", "bag:={bag}"]),
    ("collect", ["frames:=0", "play:=none", "cameras:=false", "namespace:=cell_3", "bag:={bag}"]),
    ("finetune", ["seed:=7", "eval_seed:=9", "workdir:={bag}"]),
    ("deploy", ["robot:=franky", "robot_ip:={franky}", "realtime:=false"]),
]
VALUE_FIELDS = {
    ParameterType.PARAMETER_BOOL: "bool_value",
    ParameterType.PARAMETER_INTEGER: "integer_value",
    ParameterType.PARAMETER_DOUBLE: "double_value",
    ParameterType.PARAMETER_STRING: "string_value",
    ParameterType.PARAMETER_BYTE_ARRAY: "byte_array_value",
    ParameterType.PARAMETER_BOOL_ARRAY: "bool_array_value",
    ParameterType.PARAMETER_INTEGER_ARRAY: "integer_array_value",
    ParameterType.PARAMETER_DOUBLE_ARRAY: "double_array_value",
    ParameterType.PARAMETER_STRING_ARRAY: "string_array_value",
}


def expected_nodes(graph: str, assignments: list[str]) -> list[str]:
    launch = load_launch_file(graph)
    values = launch.resolve_arguments(dict(a.split(":=", 1) for a in assignments))
    return sorted(f"{n.namespace}/{n.name}" for n in launch.active_nodes(values))


def call(node, client, request, timeout: float = 5.0):
    if not client.wait_for_service(timeout_sec=timeout):
        raise TimeoutError(f"service {client.srv_name} not available")
    future = client.call_async(request)
    rclpy.spin_until_future_complete(node, future, timeout_sec=timeout)
    if future.result() is None:
        raise TimeoutError(f"service {client.srv_name} did not answer")
    return future.result()


def parameters_of(node, fqn: str) -> dict:
    names = call(
        node, node.create_client(ListParameters, f"{fqn}/list_parameters"), ListParameters.Request()
    ).result.names
    request = GetParameters.Request(names=sorted(names))
    values = call(node, node.create_client(GetParameters, f"{fqn}/get_parameters"), request).values
    out = {}
    for name, value in zip(request.names, values, strict=True):
        field = VALUE_FIELDS.get(value.type)
        got = None if field is None else getattr(value, field)
        out[name] = got if got is None or isinstance(got, bool | int | float | str) else list(got)
    return out


def probe(expected: list[str], timeout: float = 60.0) -> tuple[list[str], dict]:
    node = rclpy.create_node("launch_yaml_probe")
    try:
        deadline = time.monotonic() + timeout
        seen: list[str] = []
        while time.monotonic() < deadline:
            seen = sorted(
                f"{ns.rstrip('/')}/{name}"
                for name, ns in node.get_node_names_and_namespaces()
                if name != "launch_yaml_probe"
            )
            if set(expected) <= set(seen):
                break
            rclpy.spin_once(node, timeout_sec=0.2)
        time.sleep(2.0)  # parameters set after start-up (none expected) would show here
        return seen, {fqn: parameters_of(node, fqn) for fqn in expected if fqn in seen}
    finally:
        node.destroy_node()


def run(command: list[str], expected: list[str]) -> dict:
    started = time.monotonic()
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    try:
        seen, parameters = probe(expected)
        up_s = time.monotonic() - started
    finally:
        os.killpg(process.pid, signal.SIGINT)
        output, _ = process.communicate(timeout=60)
    return {
        "command": command,
        "nodes": seen,
        "parameters": parameters,
        "up_s": round(up_s, 1),
        "exit_code": process.returncode,
        "traceback": "Traceback" in output,
        "output_tail": output.splitlines()[-15:],
    }


def main() -> int:
    rclpy.init()
    results, failures = [], 0
    with franky_sim() as franky:
        for index, (graph, template) in enumerate(CASES):
            failures += check(index, graph, template, franky, results)
    (HERE / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    rclpy.shutdown()
    return 1 if failures else 0


def same_up_to_route(value, route: str):
    """Each route writes into a directory of its own (BAGS/<case>_<route>): compare them as one."""
    return value.replace(f"_{route}", "_ROUTE") if isinstance(value, str) else value


def check(index: int, graph: str, template: list[str], franky: str, results: list) -> int:
    outcome = {"graph": graph, "arguments": template}
    for route, launcher in (
        ("ros2_launch", [sys.executable, str(HERE / "ros2_launch.py"), "diwa_bringup", f"{graph}.launch.yaml"]),
        ("diwa_launch", ["diwa", "launch", graph]),
    ):
        assignments = [a.format(bag=BAGS / f"{index}_{route}", franky=franky) for a in template]
        expected = expected_nodes(graph, assignments)
        outcome["expected_nodes"] = expected
        outcome[route] = run([*launcher, *assignments], expected)
    a, b = outcome["ros2_launch"], outcome["diwa_launch"]
    for route, ran in (("ros2_launch", a), ("diwa_launch", b)):
        ran["parameters"] = {
            fqn: {k: same_up_to_route(v, route) for k, v in p.items()} for fqn, p in ran["parameters"].items()
        }
    differences = {
        fqn: {
            k: (a["parameters"].get(fqn, {}).get(k), b["parameters"].get(fqn, {}).get(k))
            for k in set(a["parameters"].get(fqn, {})) | set(b["parameters"].get(fqn, {}))
            if a["parameters"].get(fqn, {}).get(k) != b["parameters"].get(fqn, {}).get(k)
        }
        for fqn in outcome["expected_nodes"]
    }
    outcome["parameter_differences"] = {k: v for k, v in differences.items() if v}
    outcome["same"] = (
        set(outcome["expected_nodes"]) <= set(a["nodes"])
        and set(outcome["expected_nodes"]) <= set(b["nodes"])
        and len(a["parameters"]) == len(outcome["expected_nodes"])
        and not outcome["parameter_differences"]
        and a["exit_code"] == 0
        and not a["traceback"]
    )
    counts = {fqn: len(p) for fqn, p in a["parameters"].items()}
    print(
        f"{graph} {' '.join(template)}: same={outcome['same']} nodes={counts} "
        f"ros2_launch exit={a['exit_code']} diwa_launch exit={b['exit_code']}",
        flush=True,
    )
    results.append(outcome)
    return int(not outcome["same"])


if __name__ == "__main__":
    sys.exit(main())
