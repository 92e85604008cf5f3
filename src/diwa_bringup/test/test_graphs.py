"""diwa_bringup's launch files (launch/*.launch.yaml, read here as `diwa launch` reads them): every
one parses, names files that exist, and starts the nodes each robot and play source needs."""

from pathlib import Path

import pytest
import yaml
from diwa.node_graph import LaunchFile, Node, read_launch_file

BRINGUP = Path(__file__).resolve().parents[1]
LAUNCH_FILES = sorted((BRINGUP / "launch").glob("*.launch.yaml"))


def source_share(package: str) -> Path:
    """$(find-pkg-share diwa_bringup) in the source tree; other packages are not installed here."""
    if package != "diwa_bringup":
        raise FileNotFoundError(package)
    return BRINGUP


def launch_file(name: str) -> LaunchFile:
    return read_launch_file(BRINGUP / "launch" / f"{name}.launch.yaml")


def nodes(name: str, **given: str) -> dict[str, Node]:
    graph = launch_file(name)
    values = graph.resolve_arguments(given, source_share)
    active = graph.active_nodes(values, source_share)
    assert len({n.name for n in active}) == len(active), f"two nodes of one name: {[n.name for n in active]}"
    return {node.executable: node for node in active}


def includes(name: str, **given: str) -> list[str]:
    graph = launch_file(name)
    values = graph.resolve_arguments(given, source_share)
    return [Path(inc.file).name for inc in graph.active_includes(values, source_share)]


REQUIRED = {"collect": {"bag": "/tmp/bag"}}
VARIANTS = [
    (name, {**REQUIRED.get(name, {}), **extra})
    for name in ("deploy", "collect", "finetune", "sim")
    for extra in ({}, {"robot": "franka"}, {"robot": "franky"}, {"play": "joy"}, {"play": "teleop"}, {"rviz": "true"})
    if set(extra) <= {a.name for a in launch_file(name).arguments}
]


def test_the_launch_files_are_the_four_graphs_each_with_its_python_name():
    assert [p.name for p in LAUNCH_FILES] == [f"{n}.launch.yaml" for n in ("collect", "deploy", "finetune", "sim")]
    for path in LAUNCH_FILES:
        shim = path.with_name(path.name.replace(".yaml", ".py"))
        assert path.name in shim.read_text(), f"{shim.name} includes {path.name}"


@pytest.mark.parametrize(("name", "given"), VARIANTS, ids=[f"{n}-{'-'.join(g.values())}" for n, g in VARIANTS])
def test_every_variant_names_existing_parameter_files_and_has_the_standard_arguments(name, given):
    for node in nodes(name, **given).values():
        for path in node.parameter_files:
            assert path.is_file(), f"{name}: {node.name} reads {path}, which does not exist"
        assert node.parameter("use_sim_time") is False
        assert node.ros_args == ("--log-level", "info") and node.namespace == ""
    assert {"namespace", "use_sim_time", "log_level"} <= {a.name for a in launch_file(name).arguments}


def test_namespace_and_log_level_reach_every_node():
    for name in ("deploy", "collect", "finetune", "sim"):
        active = nodes(name, **REQUIRED.get(name, {}), namespace="cell_2", log_level="debug", use_sim_time="true")
        for node in active.values():
            assert node.namespace == "/cell_2" and node.ros_args == ("--log-level", "debug"), (name, node.name)
            assert node.parameter("use_sim_time") is True


def test_every_graph_with_a_command_source_runs_the_command_arbiter():
    """Sources publish on diwa/commands/<source>; only the arbiter drives the robot, so a graph
    without it would leave every command unanswered (or, configured around it, unguarded)."""
    for name, given in VARIANTS:
        started = set(nodes(name, **given))
        if started & {"policy_node", "scripted_play", "teleop"}:
            assert "command_arbiter" in started, (name, given)


def test_a_franka_graph_reads_robot_state_and_drives_the_arm_through_its_backend():
    """On a real cell the observation comes from robot_state (no mock robot, no scene); teleop and
    the policy node get the Franka backend and its settings; scripted play, which needs the scene
    state, does not start."""
    for name, play in (("collect", "teleop"), ("collect", "joy"), ("collect", "scripted"), ("deploy", None)):
        given = {"robot": "franka", **REQUIRED.get(name, {}), **({"play": play} if play else {})}
        started = nodes(name, **given)
        assert "robot_state" in started and "mock_robot" not in started and "scripted_play" not in started
        assert includes(name, **given) == ["franka_moveit_servo.launch.py"]
        assert started["command_arbiter"].parameter("backend") == "franka"
        driver = started.get("teleop") or started.get("policy_node")
        if driver is not None:
            assert BRINGUP / "config" / "franka.yaml" in driver.parameter_files
            assert driver.parameter("backend") == "franka" and driver.parameter("franka.fake_hardware") is True
        if name == "collect":
            files = [p.name for p in started["recorder"].parameter_files]
            assert files == ["recorder.yaml", "recorder_franka.yaml"]
    franka = yaml.safe_load((BRINGUP / "config" / "franka.yaml").read_text())
    assert set(franka) == {"/**"}, "franka.yaml applies to whichever node loads it (policy node, teleop)"
    recorder = yaml.safe_load((BRINGUP / "config" / "recorder_franka.yaml").read_text())["recorder"]["ros__parameters"]
    assert recorder["frame_topic"] == "robot_state/scene_state" and any(
        t.startswith("robot_state/scene_state:") for t in recorder["topics"]
    )


def test_collect_starts_the_play_source_asked_for():
    assert set(nodes("collect", bag="b", play="none")) == {"command_arbiter", "mock_robot", "recorder"}
    assert nodes("collect", bag="b", play="joy")["teleop"].parameter("input") == "joy"
    assert nodes("collect", bag="b", play="teleop")["teleop"].parameter("input") == "keyboard"
    assert "joy_node" in nodes("collect", bag="b", play="joy") and "joy_node" not in nodes("collect", bag="b")
    recorder = nodes("collect", bag="/data/b", frames="10")["recorder"]
    assert recorder.shutdown_on_exit and recorder.parameter("output") == "/data/b"
    assert recorder.parameter("max_frames") == 10 and recorder.parameter("autostart") is True


def test_a_franky_graph_runs_franky_robot_and_robot_state_without_the_moveit_stack():
    for name in ("collect", "deploy"):
        given = {"robot": "franky", "robot_ip": "127.0.0.1", **REQUIRED.get(name, {})}
        started = nodes(name, **given)
        assert {"franky_robot", "robot_state", "command_arbiter"} <= set(started) and "mock_robot" not in started
        assert started["franky_robot"].parameters[:2] == (("robot_ip", "127.0.0.1"), ("realtime", True))
        assert includes(name, **given) == []


def test_deploy_starts_one_rviz_whatever_the_robot():
    """robot:=franka gets MoveIt's RViz (from the included launch), which is fixed to fr3_link0; the
    DiWA configuration, fixed to the mock robot's `world`, runs for the other robots only."""
    for robot, ours in (("sim", True), ("franky", True), ("franka", False)):
        started = nodes("deploy", robot=robot, rviz="true")
        assert ("rviz2" in started) == ours, robot
    rviz = nodes("deploy", rviz="true")["rviz2"]
    assert rviz.args == ("-d", str(BRINGUP / "rviz" / "diwa.rviz")) and Path(rviz.args[1]).is_file()


def test_deploy_reads_the_policies_file_given_as_a_path():
    policy = nodes("deploy")["policy_node"]
    assert policy.parameter_files[-1] == BRINGUP / "config" / "policies.yaml"
    assert nodes("deploy", policies="/cell/policies.yaml")["policy_node"].parameter_files[-1] == Path(
        "/cell/policies.yaml"
    )


def test_rviz_configuration_shows_the_topics_the_nodes_publish():
    config = yaml.safe_load((BRINGUP / "rviz" / "diwa.rviz").read_text())
    topics = {d["Topic"]["Value"] for d in config["Visualization Manager"]["Displays"] if "Topic" in d}
    assert {"/policy_node/predicted_path", "/mock_robot/tcp_pose", "/camera/static/image_raw"} <= topics
