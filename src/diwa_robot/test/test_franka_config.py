"""The Franka backend's typed settings: every problem is reported, typos are not silently ignored."""

import pytest

from diwa_robot.franka_config import PARAMETER_PREFIX, FrankaConfig, FrankaConfigError, parameter_defaults


def test_defaults_round_trip_through_ros_parameter_types():
    values = {name.removeprefix(PARAMETER_PREFIX): value for name, value in parameter_defaults().items()}
    assert all(not isinstance(v, tuple) for v in values.values()), "ROS parameters take lists, not tuples"
    assert FrankaConfig.from_mapping(values) == FrankaConfig()


def test_unknown_keys_are_errors():
    with pytest.raises(FrankaConfigError, match="servo_nodes"):
        FrankaConfig.from_mapping({"servo_nodes": "/servo_node"})


def test_every_invalid_value_is_listed():
    with pytest.raises(FrankaConfigError) as raised:
        FrankaConfig(
            servo_node="",
            service_timeout_s=0.0,
            home_gripper="yes",
            start_position=(0.1, 0.2),
            start_orientation=(0.0, 0.0, 0.0, 2.0),
            xacro_arguments=("hand=true",),
        )
    message = str(raised.value)
    for expected in ("servo_node", "service_timeout_s", "home_gripper", "start_position", "unit quaternion", "NAME:="):
        assert expected in message


def test_fake_hardware_skips_homing_and_the_planned_move_only():
    real, fake = FrankaConfig(), FrankaConfig(fake_hardware=True)
    assert real.homes_gripper and real.plans_start_move
    assert not fake.homes_gripper and not fake.plans_start_move


def test_xacro_arguments_become_mappings():
    config = FrankaConfig(xacro_arguments=("hand:=true", "ee_id:=franka_hand", "prefix:=a:=b"))
    assert config.xacro_mappings == {"hand": "true", "ee_id": "franka_hand", "prefix": "a:=b"}
