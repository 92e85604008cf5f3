"""The Franka side of the deploy graph (robot:=franka): franka_ros2 with MoveIt 2, plus MoveIt Servo.

Included by launch/deploy.launch.yaml and launch/collect.launch.yaml with robot_ip and use_fake_hardware.
It starts
  - franka_fr3_moveit_config's moveit.launch.py (franka_ros2, branch jazzy, v3.4.0): ros2_control
    with the FR3 hardware (or franka_ros2's mock hardware), fr3_arm_controller, move_group,
    franka_gripper, robot_state_publisher and its RViz (rviz/moveit.rviz, fixed frame fr3_link0).
    That RViz is the arm's one RViz: the arm's TF tree has no `world` frame (franka_description's
    URDF roots at `base`; `world` appears only with gazebo:=true), so DiWA's rviz/diwa.rviz, whose
    fixed frame is the simulator's world, is for robot:=sim;
  - moveit_servo's servo_node as /servo_node with config/servo.yaml, which the command arbiter
    streams the sources' twists to and the Franka backend switches to twists and unpauses.
The robot model files and xacro arguments are read from config/franka.yaml, the same ones the policy
node's moveit_py uses, so Servo, the planner and move_group agree on the model.

Servo's frames, as Jazzy's Servo reads them (moveit2 2.12.4, moveit_ros/moveit_servo/src/servo.cpp
and src/utils/common.cpp): there is no planning_frame or ee_frame parameter any more. A twist is
expressed in the IK solver's base frame (getIKSolverBaseFrame; a twist stamped in another frame is
rotated into it) and moves the IK solver's tip frame (getIKSolverTipFrame; utils/command.cpp,
jointDeltaFromIK applies the delta to base->tip). For franka_description's `fr3_arm` group the tip
was fr3_link8 (robots/common/franka_arm.srdf.xacro, group_definition tip_link link8, up to 2.0.x;
2.1.0's changelog moves it to hand_tcp when the hand is mounted). DiWA's twists are TCP twists: the
safety filter in the command arbiter limits and boxes the TCP, and the arbiter itself brakes with
TCP twists. Applied at fr3_link8, any rotation would also swing the TCP by w x 0.1034 m. So Servo
moves a group of its own, `move_group_name` in servo.yaml, whose chain runs from the command frame
(fr3_link0) to the TCP (franka.pose_link, fr3_hand_tcp): the launch adds that group to the SRDF
Servo loads, with fr3_arm's IK solver settings. This holds for every franka_description version
and every command source. Converting TCP twists to link8 twists (v8 = v + w x r) in the Franka
backend was rejected: the arbiter sits between the backend and Servo and reasons in TCP terms.

launch, launch_ros and xacro are imported inside generate_launch_description(): on machines without
them (the PyPI-wheel ROS) the module still imports, and its ROS-free helpers are tested there.
"""

from __future__ import annotations

import copy
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import yaml

SERVO_NODE_NAME = "servo_node"


def franka_settings(config_dir: Path) -> dict[str, Any]:
    """The `franka` settings from franka.yaml (model files, xacro arguments, frames)."""
    document = yaml.safe_load((config_dir / "franka.yaml").read_text())
    return document["/**"]["ros__parameters"]["franka"]


def servo_parameters(config_dir: Path) -> dict[str, Any]:
    """servo.yaml under the `moveit_servo` namespace: Jazzy's servo_node reads its generated
    parameters with that prefix (moveit2 2.12.4, moveit_ros/moveit_servo/src/servo_node.cpp:
    servo::ParamListener(node, "moveit_servo"))."""
    return {"moveit_servo": yaml.safe_load((config_dir / "servo.yaml").read_text())}


def smoothing_parameters(servo: dict[str, Any]) -> dict[str, Any]:
    """The node-level parameters of online_signal_smoothing::AccelerationLimitedPlugin (moveit2 2.12.4,
    moveit_core/online_signal_smoothing/src/acceleration_filter_parameters.yaml: update_period,
    planning_group_name; set the same way in moveit_servo/launch/demo_ros_api.launch.py): Servo's
    period and the group it moves."""
    return {"update_period": servo["publish_period"], "planning_group_name": servo["move_group_name"]}


def with_tcp_group(srdf: str, group: str, base_link: str, tip_link: str) -> str:
    """`srdf` plus a chain group `group` from `base_link` to `tip_link` (SRDF <group><chain/></group>,
    the form of franka_description's robots/common/group_definition.xacro). A group of that name
    with the same chain is kept; one with another chain is an error."""
    root = ET.fromstring(srdf)
    for existing in root.findall("group"):
        if existing.get("name") != group:
            continue
        chains = [(c.get("base_link"), c.get("tip_link")) for c in existing.findall("chain")]
        if chains == [(base_link, tip_link)]:
            return srdf
        raise ValueError(f"the SRDF already has a group {group!r} that is not the chain {base_link} -> {tip_link}")
    element = ET.SubElement(root, "group", {"name": group})
    ET.SubElement(element, "chain", {"base_link": base_link, "tip_link": tip_link})
    return ET.tostring(root, encoding="unicode")


def kinematics_with_group(kinematics: dict[str, Any], like: str, group: str) -> dict[str, Any]:
    """kinematics.yaml (robot_description_kinematics) plus `group` with the IK solver settings of `like`."""
    if like not in kinematics:
        raise ValueError(f"kinematics.yaml has no IK solver for {like!r}, only for {sorted(kinematics)}")
    extended = copy.deepcopy(kinematics)
    extended.setdefault(group, copy.deepcopy(kinematics[like]))
    return extended


def _require_robot_ip(context) -> list:
    from launch.substitutions import LaunchConfiguration

    fake = LaunchConfiguration("use_fake_hardware").perform(context).lower() == "true"
    if not fake and not LaunchConfiguration("robot_ip").perform(context):
        raise RuntimeError("robot_ip:=<FCI address> is required unless use_fake_hardware:=true")
    return []


def generate_launch_description():
    import xacro
    from ament_index_python.packages import get_package_share_directory
    from launch import LaunchDescription
    from launch.actions import DeclareLaunchArgument, IncludeLaunchDescription, OpaqueFunction
    from launch.launch_description_sources import PythonLaunchDescriptionSource
    from launch.substitutions import Command, FindExecutable, LaunchConfiguration
    from launch_ros.actions import Node
    from launch_ros.parameter_descriptions import ParameterValue

    config_dir = Path(get_package_share_directory("diwa_bringup")) / "config"
    franka = franka_settings(config_dir)
    mappings = dict(argument.split(":=", 1) for argument in franka["xacro_arguments"])
    robot_ip, use_fake_hardware = LaunchConfiguration("robot_ip"), LaunchConfiguration("use_fake_hardware")

    def share_path(spec: str) -> str:
        package, _, relative = spec.partition("/")
        return str(Path(get_package_share_directory(package)) / relative)

    def load_yaml(spec: str) -> Any:
        return yaml.safe_load(Path(share_path(spec)).read_text())

    words: list[Any] = [FindExecutable(name="xacro"), " ", share_path(franka["robot_description_xacro"])]
    for argument in franka["xacro_arguments"]:
        words += [" ", argument]
    words += [" robot_ip:=", robot_ip, " use_fake_hardware:=", use_fake_hardware]
    robot_description = {"robot_description": ParameterValue(Command(words), value_type=str)}

    servo = servo_parameters(config_dir)
    group = servo["moveit_servo"]["move_group_name"]
    srdf = xacro.process_file(share_path(franka["robot_description_semantic_xacro"]), mappings=mappings).toxml()
    robot_description_semantic = {
        "robot_description_semantic": with_tcp_group(srdf, group, franka["command_frame"], franka["pose_link"])
    }
    moveit_config = franka["moveit_config_package"]
    kinematics = {
        "robot_description_kinematics": kinematics_with_group(
            load_yaml(f"{moveit_config}/config/kinematics.yaml"), franka["move_group"], group
        )
    }
    # Servo given the joint limits, as moveit_servo's demo_ros_api.launch.py passes
    # moveit_config.joint_limits (robot_description_planning): AccelerationLimitedPlugin takes the
    # acceleration limits from them, which the FR3's URDF lacks (franka_ros2 v3.4.0,
    # franka_fr3_moveit_config/config/fr3_joint_limits.yaml; its moveit.launch.py gives move_group the same).
    joint_limits = {"robot_description_planning": load_yaml(franka["joint_limits_yaml"])}

    moveit = IncludeLaunchDescription(
        PythonLaunchDescriptionSource(share_path(f"{moveit_config}/launch/moveit.launch.py")),
        # The arguments franka_ros2 v3.4.0's moveit.launch.py declares; load_gripper and ee_id from
        # the same xacro arguments the planner and Servo load the model with.
        launch_arguments={
            "robot_ip": robot_ip,
            "use_fake_hardware": use_fake_hardware,
            "load_gripper": mappings.get("hand", "true"),
            "ee_id": mappings.get("ee_id", "franka_hand"),
        }.items(),
    )
    servo_node = Node(
        package="moveit_servo",
        executable="servo_node",
        name=SERVO_NODE_NAME,
        output="screen",
        parameters=[
            servo,
            smoothing_parameters(servo["moveit_servo"]),
            robot_description,
            robot_description_semantic,
            kinematics,
            joint_limits,
        ],
    )
    return LaunchDescription(
        [
            DeclareLaunchArgument("robot_ip", default_value="", description="the Franka's FCI address"),
            DeclareLaunchArgument(
                "use_fake_hardware",
                default_value="true",
                choices=["true", "false"],
                description="franka_ros2's mock hardware instead of the arm",
            ),
            OpaqueFunction(function=_require_robot_ip),
            moveit,
            servo_node,
        ]
    )
