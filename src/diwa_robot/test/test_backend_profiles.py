"""The backend chooses its safety profile and its command frame, and the Franka's planned start pose
must lie in the box."""

from dataclasses import replace
from pathlib import Path

import pytest
from diwa.sim.geometry import ROBOT_BASE_POS

from diwa_robot.backends import command_frame_for, safety_profile_for
from diwa_robot.franka_config import FrankaConfig, start_position_problem
from diwa_robot.safety import load_safety_limits

SAFETY = Path(__file__).resolve().parents[2] / "diwa_bringup" / "config" / "safety.yaml"


def test_a_real_arm_refuses_the_simulators_profile() -> None:
    assert safety_profile_for("franka", "") == "franka"
    assert safety_profile_for("franka", "franka") == "franka"
    with pytest.raises(ValueError, match="must run with the 'franka' safety profile, not 'sim'"):
        safety_profile_for("franka", "sim")


def test_the_simulator_may_rehearse_with_the_franka_profile() -> None:
    assert safety_profile_for("sim", "") == "sim"
    assert safety_profile_for("sim", "franka") == "franka"


def test_the_shipped_start_pose_lies_in_the_franka_box_and_a_far_one_does_not() -> None:
    limits = load_safety_limits(SAFETY, "franka")
    box = (limits.workspace_min, limits.workspace_max)
    assert start_position_problem(FrankaConfig(), ROBOT_BASE_POS, *box) is None
    far = replace(FrankaConfig(), start_position=(0.364, 0.228, -0.1))
    problem = start_position_problem(far, ROBOT_BASE_POS, *box)
    assert problem is not None and "z 0.140 outside 0.320..0.750" in problem
    other_frame = replace(FrankaConfig(), start_frame="world")
    assert "only fr3_link0" in start_position_problem(other_frame, ROBOT_BASE_POS, *box)


def test_twists_reach_servo_in_the_frankas_base_frame_and_the_simulator_in_its_world() -> None:
    assert command_frame_for("franka", "") == "fr3_link0" == FrankaConfig().command_frame
    assert command_frame_for("sim", "") == "world"
    assert command_frame_for("franka", "fr3_link0_aligned") == "fr3_link0_aligned"
