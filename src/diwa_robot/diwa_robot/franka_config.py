"""Typed settings of the Franka backend (ROS-free), read from `franka.*` node parameters.

The values live in diwa_bringup/config/franka.yaml; the defaults here are the same values, so a
policy node started without that file behaves the same. Names that other files must agree with
(Servo's node name, the move group, the frames) are checked against those files by the bringup
tests, because a mismatch only shows on the robot.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields

PARAMETER_PREFIX = "franka."


class FrankaConfigError(ValueError):
    """Settings that cannot drive the arm; the message lists every problem."""


@dataclass(frozen=True)
class FrankaConfig:
    # MoveIt Servo: its node name (services ~/switch_command_type, ~/pause_servo) and the frame the
    # twists are stamped with. CALVIN's robot base has identity orientation in the world frame
    # (docs/reference.md §3), so world-frame twists are valid in the base frame fr3_link0 unchanged.
    servo_node: str = "/servo_node"
    command_frame: str = "fr3_link0"
    service_timeout_s: float = 2.0  # per Servo service call, and for an action server to appear

    # franka_gripper's ~/homing before the first skill: calibrates the finger width it reports.
    home_gripper: bool = True
    homing_timeout_s: float = 15.0

    # franka_ros2's mock hardware serves no gripper actions and does not move under effort commands:
    # homing and the planned move are skipped; the Servo sequence and the stream still run.
    fake_hardware: bool = False

    # A planned MoveIt move to the start pose before every skill (CALVIN's home TCP by default).
    move_to_start: bool = True
    move_group: str = "fr3_arm"
    pose_link: str = "fr3_hand_tcp"
    start_frame: str = "fr3_link0"
    start_position: tuple[float, ...] = (0.364, 0.228, 0.368)  # m
    start_orientation: tuple[float, ...] = (0.7316, 0.6811, 0.0281, 0.0088)  # quaternion x, y, z, w

    # moveit_py inside the policy node: node name and where the robot model comes from.
    moveit_node_name: str = "diwa_moveit_py"
    moveit_config_package: str = "franka_fr3_moveit_config"
    robot_description_xacro: str = "franka_bringup/urdf/franka_arm.urdf.xacro"  # package/relative path
    robot_description_semantic_xacro: str = "franka_description/robots/fr3/fr3.srdf.xacro"
    # robot_description_planning (acceleration limits, which the URDF lacks); franka_ros2 v3.4.0's file.
    joint_limits_yaml: str = "franka_fr3_moveit_config/config/fr3_joint_limits.yaml"
    xacro_arguments: tuple[str, ...] = ("robot_type:=fr3", "hand:=true", "ee_id:=franka_hand")

    def __post_init__(self) -> None:
        problems = _problems(self)
        if problems:
            raise FrankaConfigError("invalid franka settings: " + "; ".join(problems))

    @property
    def homes_gripper(self) -> bool:
        return self.home_gripper and not self.fake_hardware

    @property
    def plans_start_move(self) -> bool:
        return self.move_to_start and not self.fake_hardware

    @property
    def xacro_mappings(self) -> dict[str, str]:
        return dict(argument.split(":=", 1) for argument in self.xacro_arguments)

    @classmethod
    def from_mapping(cls, data: Mapping[str, object]) -> FrankaConfig:
        """Settings from parsed YAML or parameters; unknown keys are errors (a typo would be ignored)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise FrankaConfigError(f"unknown franka setting(s) {unknown}; known: {sorted(known)}")
        values = {key: tuple(value) if isinstance(value, list | tuple) else value for key, value in data.items()}
        return cls(**values)


def parameter_defaults() -> dict[str, object]:
    """`franka.<name>` -> default, in the types ROS parameters use (lists, not tuples)."""
    defaults = FrankaConfig()
    return {
        PARAMETER_PREFIX + f.name: list(value) if isinstance(value := getattr(defaults, f.name), tuple) else value
        for f in fields(FrankaConfig)
    }


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _problems(config: FrankaConfig) -> list[str]:
    problems: list[str] = []
    for f in fields(config):
        value = getattr(config, f.name)
        if isinstance(f.default, str) and not (isinstance(value, str) and value):
            problems.append(f"{f.name} must be a non-empty string, got {value!r}")
        if isinstance(f.default, bool) and not isinstance(value, bool):
            problems.append(f"{f.name} must be true or false, got {value!r}")
    for name in ("service_timeout_s", "homing_timeout_s"):
        value = getattr(config, name)
        if not (_is_number(value) and value > 0):
            problems.append(f"{name} must be a positive number of seconds, got {value!r}")
    if not (len(config.start_position) == 3 and all(map(_is_number, config.start_position))):
        problems.append(f"start_position must be three finite numbers, got {config.start_position!r}")
    orientation = config.start_orientation
    if not (len(orientation) == 4 and all(map(_is_number, orientation))):
        problems.append(f"start_orientation must be a quaternion (x, y, z, w), got {orientation!r}")
    elif abs(math.sqrt(sum(q * q for q in orientation)) - 1.0) > 1e-3:
        problems.append(f"start_orientation must be a unit quaternion, got norm {math.hypot(*orientation):.4f}")
    bad_arguments = [a for a in config.xacro_arguments if not (isinstance(a, str) and ":=" in a)]
    if bad_arguments:
        problems.append(f"xacro_arguments must read NAME:=VALUE, got {bad_arguments!r}")
    return problems


def start_position_problem(
    config: FrankaConfig, base_in_scene: tuple[float, ...], box_min: tuple[float, ...], box_max: tuple[float, ...]
) -> str | None:
    """Why the planned move's target lies outside the safety box, or None. The start position is in
    fr3_link0, whose axes are parallel to the scene frame the box is in (docs/deploy.md, step 1)."""
    if config.start_frame != "fr3_link0":
        return f"start_frame {config.start_frame!r}: only fr3_link0 can be checked against the safety box"
    scene = [p + b for p, b in zip(config.start_position, base_in_scene, strict=True)]
    outside = [
        f"{'xyz'[i]} {v:.3f} outside {lo:.3f}..{hi:.3f}"
        for i, (v, lo, hi) in enumerate(zip(scene, box_min, box_max, strict=True))
        if not lo <= v <= hi
    ]
    if outside:
        return "the start pose lies outside the safety box in the scene frame (" + ", ".join(outside) + ")"
    return None
