import numpy as np

from diwa_world_model.teleop_mapping import JoyMapping, JoyTeleop, KeyboardTeleop


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


def test_joy_deadzone_signs_and_button_edge():
    joy = JoyTeleop(JoyMapping(axes=(0, 1, 2, -1, -1, 3), signs=(-1, 1, 1, 1, 1, 1), gripper_button=0, deadzone=0.1))
    joy.update([0.5, 0.05, -2.0, float("nan")], [1])
    np.testing.assert_allclose(joy.action(), [-0.5, 0.0, -1.0, 0, 0, 0, -1.0])
    joy.update([0, 0, 0, 0], [1])  # still held: no second toggle
    assert joy.action()[6] == -1.0
    joy.update([0, 0, 0, 0], [0])
    joy.update([0, 0, 0, 0], [1])
    assert joy.action()[6] == 1.0
