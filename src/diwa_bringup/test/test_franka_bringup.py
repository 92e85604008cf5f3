"""The Franka deployment's configuration files agree with each other and with the safety profile.

A mismatch here (a topic name, a timeout longer than the envelope assumes, a start pose outside the
workspace) would only show on the robot, so it is checked where no robot is needed.
"""

import importlib.util
from pathlib import Path

import pytest
import yaml
from diwa.node_graph import parse_graph

from diwa_robot.franka_config import FrankaConfig
from diwa_robot.safety import load_safety_limits

BRINGUP = Path(__file__).resolve().parents[1]
CONFIG = BRINGUP / "config"
# CALVIN's robot base in the world frame of safety.yaml (docs/reference.md §3); the cell reproduces it.
ROBOT_BASE_IN_WORLD = (-0.34, -0.46, 0.24)


def load(name: str) -> dict:
    return yaml.safe_load((CONFIG / name).read_text())


def launch_module():
    path = BRINGUP / "launch" / "franka_moveit_servo.launch.py"
    spec = importlib.util.spec_from_file_location("franka_moveit_servo_launch", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # imports without launch/launch_ros installed
    return module


@pytest.fixture(scope="module")
def franka() -> FrankaConfig:
    return FrankaConfig.from_mapping(launch_module().franka_settings(CONFIG))


def test_franka_yaml_holds_valid_settings_equal_to_the_code_defaults(franka):
    # The defaults make a policy node started without franka.yaml behave the same.
    assert franka == FrankaConfig()


def test_servo_parameters_fit_the_safety_envelope_and_the_policy_stream():
    servo = launch_module().servo_parameters(CONFIG)["moveit_servo"]
    limits = load_safety_limits(CONFIG / "safety.yaml", "franka")
    policy = load("policy_node.yaml")["policy_node"]["ros__parameters"]
    assert servo["command_in_type"] == "speed_units"  # the stream is in m/s and rad/s
    # After a stall of command_timeout the filter assumes the arm stopped: Servo must stop sooner.
    assert 0 < servo["incoming_command_timeout"] <= limits.command_timeout
    assert servo["incoming_command_timeout"] > 2 * limits.control_period  # a late period must not stop it
    assert servo["publish_period"] == pytest.approx(1.0 / policy["control_rate_hz"])
    assert limits.control_period == pytest.approx(1.0 / policy["control_rate_hz"])


def test_names_agree_across_policy_node_franka_and_servo_files(franka):
    servo = launch_module().servo_parameters(CONFIG)["moveit_servo"]
    policy = load("policy_node.yaml")["policy_node"]["ros__parameters"]
    arbiter = load("arbiter.yaml")["command_arbiter"]["ros__parameters"]
    servo_twist_topic = servo["cartesian_command_in_topic"].replace("~", franka.servo_node.rstrip("/"), 1)
    # The policy's twists reach Servo only through the command arbiter.
    assert arbiter["output_topic"] == servo_twist_topic
    assert policy["twist_topic"] == f"{arbiter['input_namespace']}/policy" and "policy" in arbiter["sources"]
    assert franka.servo_node == "/" + launch_module().SERVO_NODE_NAME
    assert policy["gripper_namespace"] == "/franka_gripper"  # franka_gripper's node in franka_ros2
    assert servo["move_group_name"] == franka.move_group
    assert servo["planning_frame"] == franka.command_frame == franka.start_frame
    assert servo["ee_frame"] == franka.pose_link


def test_the_start_pose_lies_inside_the_franka_workspace(franka):
    limits = load_safety_limits(CONFIG / "safety.yaml", "franka")
    world = [p + b for p, b in zip(franka.start_position, ROBOT_BASE_IN_WORLD, strict=True)]
    for axis, value in enumerate(world):
        assert limits.workspace_min[axis] < value < limits.workspace_max[axis], f"axis {'xyz'[axis]}"


def test_deploy_graph_gives_the_policy_node_franka_settings_and_the_fake_hardware_flag():
    graph = parse_graph("deploy", yaml.safe_load((BRINGUP / "graphs" / "deploy.yaml").read_text()))
    policy = next(node for node in graph.nodes if node.executable == "policy_node")
    assert "franka.yaml" in policy.parameters
    assert policy.overrides["franka.fake_hardware"] == "$(use_fake_hardware)"
    include = next(inc for inc in graph.includes if inc.file == "franka_moveit_servo.launch.py")
    assert set(include.arguments) == {"robot_ip", "use_fake_hardware"}
    assert (BRINGUP / "launch" / include.file).is_file()


def test_moveit_py_files_name_the_servo_controller():
    controllers = load("moveit_controllers.yaml")["moveit_simple_controller_manager"]
    servo = launch_module().servo_parameters(CONFIG)["moveit_servo"]
    (name,) = controllers["controller_names"]
    assert servo["command_out_topic"] == f"/{name}/joint_trajectory"
    assert controllers[name]["joints"] == [f"fr3_joint{i}" for i in range(1, 8)]
    assert load("moveit_py.yaml")["plan_request_params"]["max_velocity_scaling_factor"] <= 0.25
