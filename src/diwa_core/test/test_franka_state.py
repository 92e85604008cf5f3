"""robot_obs of a real Franka from its joint readings: the simulator's own robot_obs back from its
joints and finger width, the gripper action read from the fingers' motion, bad readings refused."""

from __future__ import annotations

import numpy as np
import pytest
from diwa.franka_state import GRIPPER_MOTION_M, FrankaObservation, GripperActionTracker
from diwa.sim import make_env


def test_the_simulators_robot_obs_comes_back_from_its_joints_and_fingers() -> None:
    env = make_env()
    rng = np.random.default_rng(0)
    try:
        obs, _ = env.reset(seed=3)
        observation = FrankaObservation()
        for _ in range(40):
            robot = obs["robot_obs"].astype(np.float64)
            got = observation.robot_obs(robot[7:14], [robot[6] / 2, robot[6] / 2])
            np.testing.assert_allclose(got[:14], robot[:14], atol=1e-5)
            action = np.r_[rng.uniform(-1, 1, 6), 1.0]
            obs, *_ = env.step(action)
    finally:
        env.close()


def test_the_gripper_action_follows_the_fingers_motion_and_holds_at_rest() -> None:
    tracker = GripperActionTracker()
    step = 2 * GRIPPER_MOTION_M
    widths = [0.08, 0.08, 0.08 - step, 0.08 - 3 * step, 0.03, 0.03, 0.03 + 0.5 * GRIPPER_MOTION_M, 0.03 + step]
    assert [tracker.update(w) for w in widths] == [1, 1, -1, -1, -1, -1, -1, 1]
    assert GripperActionTracker().update(0.01) == -1.0, "closed fingers before any motion: closed"


def test_bad_readings_are_refused() -> None:
    observation = FrankaObservation()
    with pytest.raises(ValueError, match="7 arm joint angles and 2 finger positions"):
        observation.robot_obs(np.zeros(6), [0.04, 0.04])
    with pytest.raises(ValueError, match="NaN or infinity"):
        observation.robot_obs(np.r_[np.zeros(6), np.nan], [0.04, 0.04])
    with pytest.raises(ValueError, match="base_in_scene"):
        FrankaObservation((0.0, np.inf, 0.0))
