"""The robot check's and the franky bridge's geometry, without an arm: the square stays inside the box and
turns inward; a TCP twist moves to franky's end effector through the lever between them."""

import numpy as np
import pytest

from diwa_robot.franky_arm import active_errors, end_effector_velocity
from diwa_robot.robot_check import RobotCheckConfig, distance_to_segment, square_corners

BOX_MIN, BOX_MAX = np.array([-0.4, -0.5, 0.32]), np.array([0.45, 0.2, 0.75])


def test_the_square_turns_toward_the_inside_of_the_box_and_closes() -> None:
    near_high_corner = np.array([0.40, 0.15, 0.6])
    corners = square_corners(near_high_corner, 0.05, BOX_MIN, BOX_MAX)
    assert np.allclose(corners[0], corners[-1]) and len(corners) == 5
    assert (corners[:, 0] <= 0.40).all() and (corners[:, 1] <= 0.15).all() and (corners[:, 2] == 0.6).all()
    assert np.allclose(np.ptp(corners, axis=0), [0.05, 0.05, 0.0])


def test_a_square_that_cannot_fit_is_refused() -> None:
    with pytest.raises(ValueError, match="does not fit"):
        square_corners(np.array([0.0, 0.0, 0.6]), 1.0, BOX_MIN, BOX_MAX)


def test_distance_to_a_segment_clamps_to_its_ends() -> None:
    a, b = np.zeros(3), np.array([1.0, 0.0, 0.0])
    assert distance_to_segment(np.array([0.5, 0.2, 0.0]), a, b) == pytest.approx(0.2)
    assert distance_to_segment(np.array([-0.3, 0.4, 0.0]), a, b) == pytest.approx(0.5)
    assert distance_to_segment(np.array([0.0, 0.0, 0.1]), a, a) == pytest.approx(0.1)


def test_config_values_must_be_positive() -> None:
    with pytest.raises(ValueError, match="side_m"):
        RobotCheckConfig(side_m=0.0)


def test_active_errors_are_the_set_flags() -> None:
    class Errors:
        joint_reflex = True
        cartesian_reflex = False
        _private = True

    assert active_errors(Errors()) == ("joint_reflex",)


def test_a_tcp_twist_moves_to_the_end_effector_through_the_lever():
    """A hand pointing down (-z) turning about x with the TCP 3.66 cm below the end effector: to
    keep the TCP still, the end effector must move the other way round the TCP."""
    lever = np.array([0.0, 0.0, -0.0366])
    angular = np.array([1.0, 0.0, 0.0])
    v_ee = end_effector_velocity(np.zeros(3), angular, lever)
    np.testing.assert_allclose(v_ee + np.cross(angular, lever), np.zeros(3), atol=1e-12)
    np.testing.assert_allclose(v_ee, [0.0, -0.0366, 0.0], atol=1e-12)
    np.testing.assert_allclose(end_effector_velocity([0.1, 0.0, 0.0], np.zeros(3), lever), [0.1, 0.0, 0.0])
