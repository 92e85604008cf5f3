import numpy as np
import pytest

from diwa_play.teleop_mapping import JoyMapping, JoyTeleop, KeyboardTeleop


def test_key_holds_its_direction_until_it_stops_repeating():
    teleop = KeyboardTeleop(speed=0.5, hold_s=0.25)
    teleop.press("w", now=0.0)
    teleop.press("a", now=0.1)
    np.testing.assert_allclose(teleop.action(now=0.2), [-0.5, 0.5, 0, 0, 0, 0, 1.0])
    np.testing.assert_allclose(teleop.action(now=0.3), [-0.5, 0, 0, 0, 0, 0, 1.0])  # w released
    teleop.press("x", now=0.31)
    np.testing.assert_allclose(teleop.action(now=0.32), [0, 0, 0, 0, 0, 0, 1.0])


def test_gripper_toggles_and_speed_is_bounded():
    teleop = KeyboardTeleop(speed=0.9)
    teleop.press(" ", now=0.0)
    assert teleop.action(now=0.0)[6] == -1.0
    for _ in range(10):
        teleop.press("+", now=0.0)
    assert teleop.speed == 1.0


def joy() -> JoyTeleop:
    mapping = JoyMapping(axes=(0, 1, 2, -1, -1, 3), signs=(-1, 1, 1, 1, 1, 1), gripper_button=0, enable_button=1)
    return JoyTeleop(mapping)


def test_joy_deadzone_signs_and_button_edge():
    teleop = joy()
    teleop.update([0.5, 0.05, -2.0, float("nan")], [1, 1], now=0.0)
    np.testing.assert_allclose(teleop.action(now=0.0), [-0.5, 0.0, -1.0, 0, 0, 0, -1.0])
    teleop.update([0, 0, 0, 0], [1, 1], now=0.1)  # still held: no second toggle
    assert teleop.action(now=0.1)[6] == -1.0
    teleop.update([0, 0, 0, 0], [0, 1], now=0.2)
    teleop.update([0, 0, 0, 0], [1, 1], now=0.3)
    assert teleop.action(now=0.3)[6] == 1.0


def test_the_arm_moves_only_while_the_enable_button_is_held_and_the_joystick_is_alive():
    teleop = joy()
    teleop.update([0.5, 0, 0, 0], [0, 1], now=0.0)
    assert teleop.action(now=0.1)[0] == -0.5
    assert teleop.action(now=0.6)[0] == 0.0  # no message for longer than timeout_s: the driver is gone
    teleop.update([0.5, 0, 0, 0], [1, 0], now=1.0)  # enable released, gripper pressed
    np.testing.assert_allclose(teleop.action(now=1.0), [0, 0, 0, 0, 0, 0, 1.0])  # no motion, no toggle


def test_a_joystick_without_an_enable_button_is_refused():
    for bad in ({"enable_button": -1}, {"enable_button": 0, "gripper_button": 0}, {"timeout_s": 0.0}):
        with pytest.raises(ValueError):
            JoyMapping(**bad)
