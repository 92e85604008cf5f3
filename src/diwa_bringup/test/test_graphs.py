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


def test_a_franka_graph_reads_robot_state_and_drives_the_arm_through_its_backend():
    """On a real cell the observation comes from robot_state (no mock robot, no scene); teleop and
    the policy node get the Franka backend and its settings; scripted play, which needs the scene
    state, does not start."""
    for name, play in (("collect", "teleop"), ("collect", "joy"), ("collect", "scripted"), ("deploy", None)):
        graph = parse_graph(name, yaml.safe_load((BRINGUP / "graphs" / f"{name}.yaml").read_text()))
        given = {"robot": "franka", "bag": "/tmp/x"} if name == "collect" else {"robot": "franka"}
        values = graph.resolve_arguments({**given, **({"play": play} if play else {})})
        nodes = {node.executable: node for node in graph.active_nodes(values)}
        assert "robot_state" in nodes and "mock_robot" not in nodes and "scripted_play" not in nodes
        assert [inc.file for inc in graph.active_includes(values)] == ["franka_moveit_servo.launch.py"]
        assert nodes["command_arbiter"].overrides["backend"] == "$(robot)"
        driver = nodes.get("teleop") or nodes.get("policy_node")
        if driver is not None:
            assert "franka.yaml" in driver.parameters and driver.overrides["backend"] == "$(robot)"
        if name == "collect":
            assert nodes["recorder"].parameters == ("recorder.yaml", "recorder_franka.yaml")
    franka = yaml.safe_load((BRINGUP / "config" / "franka.yaml").read_text())
    assert set(franka) == {"/**"}, "franka.yaml applies to whichever node loads it (policy node, teleop)"
    recorder = yaml.safe_load((BRINGUP / "config" / "recorder_franka.yaml").read_text())["recorder"]["ros__parameters"]
    assert recorder["frame_topic"] == "/robot_state/scene_state" and any(
        t.startswith("/robot_state/scene_state:") for t in recorder["topics"]
    )


def test_collect_with_play_none_starts_no_command_source_for_a_teleop_in_its_own_terminal():
    graph = parse_graph("collect", yaml.safe_load((BRINGUP / "graphs" / "collect.yaml").read_text()))
    nodes = {node.executable for node in graph.active_nodes(graph.resolve_arguments({"play": "none", "bag": "b"}))}
    assert nodes == {"command_arbiter", "mock_robot", "recorder"}


def test_a_franky_graph_runs_franky_robot_and_robot_state_without_the_moveit_stack():
    for name in ("collect", "deploy"):
        graph = parse_graph(name, yaml.safe_load((BRINGUP / "graphs" / f"{name}.yaml").read_text()))
        extra = {"bag": "b", "play": "joy"} if name == "collect" else {}
        given = {"robot": "franky", "robot_ip": "127.0.0.1", **extra}
        values = graph.resolve_arguments(given)
        nodes = {node.executable: node for node in graph.active_nodes(values)}
        assert {"franky_robot", "robot_state", "command_arbiter"} <= set(nodes) and "mock_robot" not in nodes
        assert nodes["franky_robot"].overrides == {"robot_ip": "$(robot_ip)", "realtime": "$(realtime)"}
        assert graph.active_includes(values) == []


def test_deploy_starts_one_rviz_whatever_the_robot():
    """robot:=franka gets MoveIt's RViz (from the included launch), which is fixed to fr3_link0; the
    DiWA configuration, fixed to the mock robot's `world`, runs for the other robots only."""
    graph = parse_graph("deploy", yaml.safe_load((BRINGUP / "graphs" / "deploy.yaml").read_text()))
    for robot, ours in (("sim", True), ("franky", True), ("franka", False)):
        values = graph.resolve_arguments({"robot": robot, "rviz": "true"})
        assert ("rviz2" in {node.executable for node in graph.active_nodes(values)}) == ours, robot
