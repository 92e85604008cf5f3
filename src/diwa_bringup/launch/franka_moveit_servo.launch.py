"""The Franka side of the deploy graph (robot:=franka): franka_ros2 with MoveIt 2, plus MoveIt Servo.

Included by graphs/deploy.yaml with robot_ip and use_fake_hardware. It starts
  - franka_fr3_moveit_config's moveit.launch.py: ros2_control with the FR3 hardware (or franka_ros2's
    mock hardware), fr3_arm_controller, move_group, franka_gripper, robot_state_publisher, RViz;
  - moveit_servo's servo_node as /servo_node with config/servo.yaml, which the policy node's Franka
    backend switches to twist commands, unpauses and streams to.
The robot model files and xacro arguments are read from config/franka.yaml, the same ones the policy
node's moveit_py uses, so Servo, the planner and move_group agree on the model.

launch and launch_ros are imported inside generate_launch_description(): on machines without them
(the PyPI-wheel ROS) the module still imports, and its ROS-free helpers are tested there.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

SERVO_NODE_NAME = "servo_node"


def franka_settings(config_dir: Path) -> dict[str, Any]:
    """The `franka` settings from franka.yaml (model files, xacro arguments)."""
    document = yaml.safe_load((config_dir / "franka.yaml").read_text())
    return document["/**"]["ros__parameters"]["franka"]


def servo_parameters(config_dir: Path) -> dict[str, Any]:
    """servo.yaml under the `moveit_servo` namespace, where Servo's generated parameters live."""
    return {"moveit_servo": yaml.safe_load((config_dir / "servo.yaml").read_text())}


def _require_robot_ip(context) -> list:
    from launch.substitutions import LaunchConfiguration

    fake = LaunchConfiguration("use_fake_hardware").perform(context).lower() == "true"
    if not fake and not LaunchConfiguration("robot_ip").perform(context):
        raise RuntimeError("robot_ip:=<FCI address> is required unless use_fake_hardware:=true")
    return []


def generate_launch_description():
    from ament_index_python.packages import get_package_share_directory
    from launch import LaunchDescription
    from launch.actions import DeclareLaunchArgument, IncludeLaunchDescription, OpaqueFunction
    from launch.launch_description_sources import PythonLaunchDescriptionSource
    from launch.substitutions import Command, FindExecutable, LaunchConfiguration
    from launch_ros.actions import Node
    from launch_ros.parameter_descriptions import ParameterValue

    config_dir = Path(get_package_share_directory("diwa_bringup")) / "config"
    franka = franka_settings(config_dir)
    robot_ip, use_fake_hardware = LaunchConfiguration("robot_ip"), LaunchConfiguration("use_fake_hardware")

    def share_path(spec: str) -> str:
        package, _, relative = spec.partition("/")
        return str(Path(get_package_share_directory(package)) / relative)

    def xacro(spec: str, *extra: Any) -> ParameterValue:
        words: list[Any] = [FindExecutable(name="xacro"), " ", share_path(spec)]
        for argument in franka["xacro_arguments"]:
            words += [" ", argument]
        return ParameterValue(Command(words + list(extra)), value_type=str)

    robot_description = {
        "robot_description": xacro(
            franka["robot_description_xacro"], " robot_ip:=", robot_ip, " use_fake_hardware:=", use_fake_hardware
        )
    }
    robot_description_semantic = {"robot_description_semantic": xacro(franka["robot_description_semantic_xacro"])}
    moveit_config_share = Path(get_package_share_directory(franka["moveit_config_package"]))
    kinematics = {
        "robot_description_kinematics": yaml.safe_load((moveit_config_share / "config" / "kinematics.yaml").read_text())
    }

    moveit = IncludeLaunchDescription(
        PythonLaunchDescriptionSource(str(moveit_config_share / "launch" / "moveit.launch.py")),
        launch_arguments={"robot_ip": robot_ip, "use_fake_hardware": use_fake_hardware}.items(),
    )
    servo = Node(
        package="moveit_servo",
        executable="servo_node",
        name=SERVO_NODE_NAME,
        output="screen",
        parameters=[servo_parameters(config_dir), robot_description, robot_description_semantic, kinematics],
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
            servo,
        ]
    )
