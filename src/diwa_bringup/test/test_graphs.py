"""The bringup graphs are consistent: every graph parses, has a launch file, and names real files."""

from pathlib import Path

import yaml
from diwa.node_graph import parse_graph

BRINGUP = Path(__file__).resolve().parents[1]


def test_every_bringup_graph_parses_and_names_existing_parameter_files():
    for path in sorted((BRINGUP / "graphs").glob("*.yaml")):
        graph = parse_graph(path.stem, yaml.safe_load(path.read_text()))
        assert graph.nodes, path
        for node in graph.nodes:
            for params in node.parameters:
                if "$(" not in params:
                    assert (BRINGUP / "config" / params).is_file(), f"{path.name}: {params} missing"


def test_every_graph_has_a_launch_file():
    graphs = {p.stem for p in (BRINGUP / "graphs").glob("*.yaml")}
    launches = {p.name.removesuffix(".launch.py") for p in (BRINGUP / "launch").glob("*.launch.py")}
    assert graphs <= launches


def test_rviz_configuration_shows_the_topics_the_nodes_publish():
    config = yaml.safe_load((BRINGUP / "rviz" / "diwa.rviz").read_text())
    topics = {d["Topic"]["Value"] for d in config["Visualization Manager"]["Displays"] if "Topic" in d}
    assert {"/policy_node/predicted_path", "/mock_robot/tcp_pose", "/camera/static/image_raw"} <= topics


def test_every_graph_with_a_command_source_runs_the_command_arbiter():
    """Sources publish on /diwa/commands/<source>; only the arbiter drives the robot, so a graph
    without it would leave every command unanswered (or, configured around it, unguarded)."""
    sources = {"policy_node", "scripted_play", "teleop"}
    for path in sorted((BRINGUP / "graphs").glob("*.yaml")):
        graph = parse_graph(path.stem, yaml.safe_load(path.read_text()))
        executables = {node.executable for node in graph.nodes}
        if executables & sources:
            assert "command_arbiter" in executables, path.name
