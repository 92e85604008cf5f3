import numpy as np
import pytest
from diwa.robot_contract import (
    CONTROL_RATE_HZ,
    ORIENTATION_SCALE_RAD,
    POSITION_SCALE_M,
    Twist,
    action_to_twist,
    gripper_open_requested,
    twist_to_action,
)


def test_full_scale_action_is_calvin_step_per_control_period():
    twist = action_to_twist(np.array([1.0, -1.0, 0.5, 1.0, 0.0, -0.5, 1.0]))
    np.testing.assert_allclose(
        twist.linear / CONTROL_RATE_HZ, [POSITION_SCALE_M, -POSITION_SCALE_M, POSITION_SCALE_M / 2]
    )
    np.testing.assert_allclose(
        twist.angular / CONTROL_RATE_HZ, [ORIENTATION_SCALE_RAD, 0.0, -ORIENTATION_SCALE_RAD / 2]
    )


@pytest.mark.parametrize("rate", [10.0, 30.0, 100.0])
def test_twist_round_trip_restores_the_action(rate):
    action = np.array([0.3, -0.7, 0.1, 0.05, -0.2, 0.9, -1.0])
    back = twist_to_action(action_to_twist(action, rate), gripper_open=False, rate_hz=rate)
    np.testing.assert_allclose(back, action)


def test_out_of_range_actions_are_clipped_and_gripper_sign_decides():
    twist = action_to_twist(np.array([5.0, 0, 0, 0, 0, 0, -0.2]))
    assert twist.linear[0] == pytest.approx(POSITION_SCALE_M * CONTROL_RATE_HZ)
    assert not gripper_open_requested(np.array([0, 0, 0, 0, 0, 0, -0.2]))
    assert gripper_open_requested(np.array([0, 0, 0, 0, 0, 0, 0.0]))


@pytest.mark.parametrize("bad", [np.full(7, np.nan), np.array([0, 0, np.inf, 0, 0, 0, 1]), np.zeros(6)])
def test_invalid_actions_raise(bad):
    with pytest.raises(ValueError):
        action_to_twist(bad)


def test_invalid_twist_raises():
    with pytest.raises(ValueError, match="NaN"):
        twist_to_action(Twist(np.array([np.nan, 0, 0]), np.zeros(3)), gripper_open=True)
