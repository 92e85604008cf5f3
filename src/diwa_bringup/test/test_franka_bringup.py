"""The Franka deployment's configuration files agree with each other and with the safety profile.

A mismatch here (a topic name, a timeout longer than the envelope assumes, a start pose outside the
workspace) would only show on the robot, so it is checked where no robot is needed.
"""

import importlib.util
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml
from diwa.node_graph import read_launch_file

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


# The parameters Jazzy's Servo declares: moveit2 tag 2.12.4 (jazzy),
# moveit_ros/moveit_servo/config/servo_parameters.yaml (generate_parameter_library; nested names dotted).
# Anything else in servo.yaml would be ignored without a word (e.g. Humble's planning_frame, ee_frame).
JAZZY_SERVO_PARAMETERS = {
    "thread_priority", "publish_period", "max_expected_latency", "move_group_name", "active_subgroup",
    "pose_command_in_topic", "cartesian_command_in_topic", "joint_command_in_topic", "command_in_type",
    "scale.linear", "scale.rotational", "scale.joint", "incoming_command_timeout",
    "apply_twist_commands_about_ee_frame", "pose_tracking.linear_tolerance", "pose_tracking.angular_tolerance",
    "status_topic", "command_out_topic", "command_out_type", "publish_joint_positions",
    "publish_joint_velocities", "publish_joint_accelerations", "monitored_planning_scene_topic", "joint_topic",
    "check_octomap_collisions", "is_primary_planning_scene_monitor", "use_smoothing",
    "smoothing_filter_plugin_name", "check_collisions", "self_collision_proximity_threshold",
    "scene_collision_proximity_threshold", "collision_check_rate", "lower_singularity_threshold",
    "hard_stop_singularity_threshold", "leaving_singularity_threshold_multiplier", "singularity_step_scale",
    "halt_all_joints_in_joint_mode", "halt_all_joints_in_cartesian_mode", "joint_limit_margins",
    "override_velocity_scaling_factor",
}  # fmt: skip
# Smoothing plugins moveit_core 2.12.4 exports (filter_plugin_*.xml).
JAZZY_SMOOTHING_PLUGINS = {
    "online_signal_smoothing::AccelerationLimitedPlugin",
    "online_signal_smoothing::ButterworthFilterPlugin",
    "online_signal_smoothing::RuckigFilterPlugin",
}
# Plugin names of moveit2 2.12.4 (CLASS_LOADER_REGISTER_CLASS in moveit_ros/planning/
# planning_request_adapter_plugins and planning_response_adapter_plugins; moveit_planners/ompl's
# ompl_interface_plugin_description.xml).
JAZZY_OMPL_PLANNER = "ompl_interface/OMPLPlanner"
JAZZY_REQUEST_ADAPTERS = {
    f"default_planning_request_adapters/{name}"
    for name in (
        "CheckForStackedConstraints",
        "CheckStartStateBounds",
        "CheckStartStateCollision",
        "ResolveConstraintFrames",
        "ValidateWorkspaceBounds",
    )
}
JAZZY_RESPONSE_ADAPTERS = {
    f"default_planning_response_adapters/{name}"
    for name in (
        "AddRuckigTrajectorySmoothing",
        "AddTimeOptimalParameterization",
        "DisplayMotionPath",
        "ValidateSolution",
    )
}
# What Jazzy's MoveItCpp reads from moveit_py.yaml (moveit2 2.12.4, moveit_ros/planning/moveit_cpp/
# include/moveit/moveit_cpp/moveit_cpp.hpp and planning_component.hpp).
JAZZY_MOVEIT_CPP_PARAMETERS = {
    "planning_scene_monitor_options": {"name", "robot_description", "wait_for_initial_state_timeout"},
    "planning_pipelines": {"pipeline_names", "namespace"},
    "plan_request_params": {
        "planner_id",
        "planning_pipeline",
        "planning_time",
        "planning_attempts",
        "max_velocity_scaling_factor",
        "max_acceleration_scaling_factor",
    },
}


def dotted(tree: dict, prefix: str = "") -> set[str]:
    names = set()
    for key, value in tree.items():
        name = f"{prefix}{key}"
        names |= dotted(value, name + ".") if isinstance(value, dict) else {name}
    return names


def test_servo_yaml_holds_only_parameters_jazzy_servo_declares():
    servo = launch_module().servo_parameters(CONFIG)["moveit_servo"]
    assert dotted(servo) <= JAZZY_SERVO_PARAMETERS, dotted(servo) - JAZZY_SERVO_PARAMETERS
    assert servo["smoothing_filter_plugin_name"] in JAZZY_SMOOTHING_PLUGINS


def test_servo_parameters_fit_the_safety_envelope_and_the_policy_stream():
    servo = launch_module().servo_parameters(CONFIG)["moveit_servo"]
    limits = load_safety_limits(CONFIG / "safety.yaml", "franka")
    policy = load("policy_node.yaml")["policy_node"]["ros__parameters"]
    assert servo["command_in_type"] == "speed_units"  # the stream is in m/s and rad/s
    # In speed_units Servo caps the speeds at scale.*: the envelope's, so it never cuts a filtered twist.
    assert servo["scale"] == {"linear": limits.max_linear_speed, "rotational": limits.max_angular_speed}
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

    # Our relative names resolve in the root namespace: robot:=franka leaves `namespace` empty (the
    # MoveIt stack is not namespaced).
    def at_root(name: str) -> str:
        return name if name.startswith("/") else "/" + name

    # The policy's twists reach Servo only through the command arbiter.
    assert at_root(arbiter["output_topic"]) == servo_twist_topic
    assert policy["twist_topic"] == f"{arbiter['input_namespace']}/policy" and "policy" in arbiter["sources"]
    assert franka.servo_node == "/" + launch_module().SERVO_NODE_NAME
    assert at_root(policy["gripper_namespace"]) == "/franka_gripper"  # franka_gripper's node in franka_ros2
    # Jazzy's Servo reads twists in its group's IK base frame and moves the IK tip; the launch makes
    # that group the chain command_frame -> pose_link. fr3_link0 is the base of franka_description's
    # fr3_arm chain (robots/common/group_definition.xacro), where the planned start pose lives too.
    assert servo["move_group_name"] != franka.move_group  # not fr3_arm, whose tip may be fr3_link8
    assert franka.command_frame == franka.start_frame == "fr3_link0"
    assert franka.pose_link == "fr3_hand_tcp"


# The shape of franka_description's fr3.srdf.xacro output (robots/common/franka_arm.srdf.xacro and
# group_definition.xacro, 1.0.1): fr3_arm ends at fr3_link8.
FR3_SRDF = """<?xml version="1.0" ?>
<robot name="fr3">
  <group name="fr3_arm"><chain base_link="fr3_link0" tip_link="fr3_link8"/></group>
  <virtual_joint name="virtual_joint" type="fixed" parent_frame="world" child_link="base"/>
  <disable_collisions link1="fr3_link0" link2="fr3_link1" reason="Adjacent"/>
</robot>
"""


def chain_of(srdf: str, group: str) -> list[tuple[str | None, str | None]]:
    root = ET.fromstring(srdf)
    (element,) = [g for g in root.findall("group") if g.get("name") == group]
    return [(c.get("base_link"), c.get("tip_link")) for c in element.findall("chain")]


def test_servo_gets_a_group_from_the_command_frame_to_the_tcp(franka):
    module = launch_module()
    group = module.servo_parameters(CONFIG)["moveit_servo"]["move_group_name"]
    srdf = module.with_tcp_group(FR3_SRDF, group, franka.command_frame, franka.pose_link)
    assert chain_of(srdf, group) == [("fr3_link0", "fr3_hand_tcp")]
    assert chain_of(srdf, "fr3_arm") == [("fr3_link0", "fr3_link8")]  # move_group's group untouched
    assert len(ET.fromstring(srdf).findall("disable_collisions")) == 1
    # Idempotent; a group of that name with another chain is refused rather than overwritten.
    assert module.with_tcp_group(srdf, group, franka.command_frame, franka.pose_link) == srdf
    with pytest.raises(ValueError, match="fr3_arm"):
        module.with_tcp_group(FR3_SRDF, "fr3_arm", "fr3_link0", "fr3_hand_tcp")


def test_servo_group_gets_the_ik_solver_of_the_planning_group(franka):
    module = launch_module()
    group = module.servo_parameters(CONFIG)["moveit_servo"]["move_group_name"]
    # franka_ros2 v3.4.0, franka_fr3_moveit_config/config/kinematics.yaml
    kinematics = {"fr3_arm": {"kinematics_solver": "kdl_kinematics_plugin/KDLKinematicsPlugin"}}
    extended = module.kinematics_with_group(kinematics, franka.move_group, group)
    assert extended[group] == extended["fr3_arm"] == kinematics["fr3_arm"]
    assert list(kinematics) == ["fr3_arm"]  # the loaded file's dict is not changed
    with pytest.raises(ValueError, match="fr3_arm"):
        module.kinematics_with_group({}, franka.move_group, group)


def test_the_acceleration_limited_smoother_gets_servo_period_and_group():
    module = launch_module()
    servo = module.servo_parameters(CONFIG)["moveit_servo"]
    assert servo["use_smoothing"] and servo["smoothing_filter_plugin_name"].endswith("AccelerationLimitedPlugin")
    assert module.smoothing_parameters(servo) == {
        "update_period": servo["publish_period"],
        "planning_group_name": servo["move_group_name"],
    }


def test_joint_limits_come_from_the_moveit_config_package(franka):
    # franka_ros2 v3.4.0 ships config/fr3_joint_limits.yaml (acceleration limits), no joint_limits.yaml.
    assert franka.joint_limits_yaml == f"{franka.moveit_config_package}/config/fr3_joint_limits.yaml"


def test_the_start_pose_lies_inside_the_franka_workspace(franka):
    limits = load_safety_limits(CONFIG / "safety.yaml", "franka")
    world = [p + b for p, b in zip(franka.start_position, ROBOT_BASE_IN_WORLD, strict=True)]
    for axis, value in enumerate(world):
        assert limits.workspace_min[axis] < value < limits.workspace_max[axis], f"axis {'xyz'[axis]}"


def test_deploy_graph_gives_the_policy_node_franka_settings_and_the_fake_hardware_flag():
    graph = read_launch_file(BRINGUP / "launch" / "deploy.launch.yaml")
    policy = next(node for node in graph.nodes if node.executable == "policy_node")
    files = [p.file for p in policy.parameters if p.file is not None]
    assert "$(find-pkg-share diwa_bringup)/config/franka.yaml" in files
    assert ("franka.fake_hardware", "$(var use_fake_hardware)") in [(p.name, p.value) for p in policy.parameters]
    include = next(inc for inc in graph.includes if inc.file.endswith("franka_moveit_servo.launch.py"))
    assert {name for name, _ in include.arguments} == {"robot_ip", "use_fake_hardware"}
    assert (BRINGUP / "launch" / Path(include.file).name).is_file()


def test_moveit_py_files_name_the_servo_controller():
    controllers = load("moveit_controllers.yaml")["moveit_simple_controller_manager"]
    servo = launch_module().servo_parameters(CONFIG)["moveit_servo"]
    (name,) = controllers["controller_names"]
    assert servo["command_out_topic"] == f"/{name}/joint_trajectory"
    assert controllers[name]["joints"] == [f"fr3_joint{i}" for i in range(1, 8)]
    assert load("moveit_py.yaml")["plan_request_params"]["max_velocity_scaling_factor"] <= 0.25


def test_moveit_py_yaml_holds_only_options_jazzy_moveit_cpp_reads():
    options = load("moveit_py.yaml")
    assert set(options) <= set(JAZZY_MOVEIT_CPP_PARAMETERS)
    for section, values in options.items():
        assert set(values) <= JAZZY_MOVEIT_CPP_PARAMETERS[section], section
    assert options["planning_pipelines"]["pipeline_names"] == ["ompl"]
    assert options["plan_request_params"]["planning_pipeline"] == "ompl"


def test_ompl_pipeline_has_jazzy_plugins_adapters_and_the_planners_of_fr3_arm(franka):
    pipeline = load("ompl_planning.yaml")
    assert pipeline["planning_plugins"] == [JAZZY_OMPL_PLANNER]
    assert pipeline["request_adapters"] and set(pipeline["request_adapters"]) <= JAZZY_REQUEST_ADAPTERS
    assert pipeline["response_adapters"] and set(pipeline["response_adapters"]) <= JAZZY_RESPONSE_ADAPTERS
    # Time parameterization first: validation and display see the timed trajectory.
    assert pipeline["response_adapters"][0].endswith("/AddTimeOptimalParameterization")
    group = pipeline[franka.move_group]
    planner_id = load("moveit_py.yaml")["plan_request_params"]["planner_id"]
    assert planner_id in group["planner_configs"] and group["default_planner_config"] in group["planner_configs"]
    for name in group["planner_configs"]:
        assert pipeline["planner_configs"][name]["type"].startswith("geometric::")
