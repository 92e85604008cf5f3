import os
import stat
import sys
import textwrap
from pathlib import Path

import pytest
from diwa.graph_runner import node_command, parse_assignments, run_graph
from diwa.node_graph import evaluate_condition, load_graph, parse_graph


@pytest.fixture
def fake_prefix(tmp_path, monkeypatch):
    """An ament prefix with a diwa_bringup share and two tiny executables standing in for nodes."""
    share = tmp_path / "share" / "diwa_bringup"
    (share / "graphs").mkdir(parents=True)
    (share / "config").mkdir()
    (tmp_path / "share" / "ament_index" / "resource_index" / "packages").mkdir(parents=True)
    for pkg in ("diwa_bringup", "demo"):
        (tmp_path / "share" / "ament_index" / "resource_index" / "packages" / pkg).touch()
    (share / "config" / "params.yaml").write_text("x:\n  ros__parameters: {a: 1}\n")
    bin_dir = tmp_path / "lib" / "demo"
    bin_dir.mkdir(parents=True)
    scripts = {
        "sleeper": "import time\ntime.sleep(60)\n",
        "finisher": "import sys, time\ntime.sleep(0.3)\nopen(sys.argv[1], 'w').write(' '.join(sys.argv))\n",
    }
    for name, body in scripts.items():
        path = bin_dir / name
        path.write_text(f"#!{sys.executable}\n{body}")
        path.chmod(path.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("AMENT_PREFIX_PATH", str(tmp_path) + os.pathsep + os.environ.get("AMENT_PREFIX_PATH", ""))
    return share


def write_graph(share: Path, name: str, text: str) -> None:
    (share / "graphs" / f"{name}.yaml").write_text(textwrap.dedent(text))


def test_arguments_defaults_choices_and_conditions():
    graph = parse_graph(
        "g",
        {
            "arguments": {"robot": {"default": "sim", "choices": ["sim", "franka"]}, "bag": {}},
            "nodes": [
                {"package": "p", "executable": "a", "name": "a", "when": "robot == sim"},
                {"package": "p", "executable": "b", "name": "b", "when": "robot != sim"},
            ],
        },
    )
    with pytest.raises(ValueError, match="bag"):
        graph.resolve_arguments({})
    with pytest.raises(ValueError, match="not one of"):
        graph.resolve_arguments({"bag": "x", "robot": "ur5"})
    with pytest.raises(ValueError, match="no argument"):
        graph.resolve_arguments({"bag": "x", "colour": "red"})
    values = graph.resolve_arguments({"bag": "x"})
    assert [n.name for n in graph.active_nodes(values)] == ["a"]
    assert [n.name for n in graph.active_nodes({**values, "robot": "franka"})] == ["b"]
    with pytest.raises(ValueError, match="must read"):
        evaluate_condition("robot is sim", values)
    both = {"robot": "sim", "play": "scripted"}
    assert evaluate_condition("play == scripted and robot == sim", both)
    assert not evaluate_condition("play == scripted and robot == sim", {**both, "robot": "franka"})
    assert not evaluate_condition("play == scripted and robot != sim", both)
    with pytest.raises(ValueError, match="joined by `and`"):
        evaluate_condition("play == scripted or robot == sim", both)


def test_node_command_matches_ros2_run_conventions(fake_prefix):
    write_graph(
        fake_prefix,
        "g",
        """
        arguments: {out: {default: /tmp/o}}
        nodes:
          - {package: demo, executable: finisher, name: fin, parameters: [params.yaml],
             overrides: {path: "$(out)"}, remappings: {/a: /b}, arguments: ["$(out)"]}
        """,
    )
    graph = load_graph("g")
    values = {**graph.resolve_arguments({}), "bringup_share": str(fake_prefix)}
    command = node_command(graph.nodes[0], values, fake_prefix / "config")
    assert command[0].endswith("lib/demo/finisher") and command[1] == "/tmp/o"
    assert command[2:5] == ["--ros-args", "-r", "__node:=fin"]
    assert ["--params-file", str(fake_prefix / "config" / "params.yaml")] == command[5:7]
    assert command[7:] == ["-p", "path:=/tmp/o", "-r", "/a:=/b"]


def test_graph_ends_when_the_shutdown_node_exits_and_stops_the_others(fake_prefix, tmp_path):
    marker = tmp_path / "done.txt"
    write_graph(
        fake_prefix,
        "g",
        f"""
        nodes:
          - {{package: demo, executable: sleeper, name: sleeper}}
          - {{package: demo, executable: finisher, name: fin, arguments: ["{marker}"], shutdown_on_exit: true}}
        """,
    )
    assert run_graph(load_graph("g"), {}) == 0
    assert marker.read_text().startswith(str(fake_prefix.parent.parent / "lib" / "demo" / "finisher"))


def test_includes_need_ros2_launch(fake_prefix):
    write_graph(
        fake_prefix,
        "g",
        """
        arguments: {robot: {default: franka}}
        nodes: [{package: demo, executable: sleeper, name: s}]
        includes: [{package: franka_bringup, file: franka.launch.py, when: robot == franka}]
        """,
    )
    with pytest.raises(ValueError, match="ros2 launch"):
        run_graph(load_graph("g"), {})


def test_bad_inputs_are_clear(fake_prefix):
    with pytest.raises(FileNotFoundError, match="no graph 'nope'"):
        load_graph("nope")
    with pytest.raises(ValueError, match="NAME:=VALUE"):
        parse_assignments(["robot=sim"])
    with pytest.raises(ValueError, match="malformed"):
        parse_graph("bad", {"nodes": [{"package": "x"}]})
