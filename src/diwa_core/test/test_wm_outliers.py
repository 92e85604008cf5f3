"""The world model's statistics refuse data whose spread a few outlying frames dominate, and accept
the heavy but real tails of play (a block resting in most frames and lifted in a few)."""

import numpy as np
import pytest
from diwa.world_model.observation import StateCodec, check_outliers
from diwa.world_model.synthetic import point_mass_dataset


def _play_like(frames: int = 5000) -> dict[str, np.ndarray]:
    dataset = point_mass_dataset(frames, 250, seed=0)
    return {"robot_obs": dataset.robot_obs.copy(), "scene_obs": dataset.scene_obs.copy()}


def test_a_block_falling_through_the_floor_is_refused_with_the_frame() -> None:
    frames = _play_like()
    frames["scene_obs"][3000:3040, 8] = np.linspace(0.46, -34.0, 40)  # the red block's z
    with pytest.raises(ValueError, match=r"scene_obs\[8\]: .* frame 3039 of the training frames holds -34"):
        check_outliers("scene_obs", frames["scene_obs"])
    with pytest.raises(ValueError, match="outlying frames"):
        StateCodec(("robot_obs", "scene_obs")).fit(frames)


def test_rare_but_real_excursions_pass() -> None:
    frames = _play_like()
    scene = frames["scene_obs"]
    scene[100:140, 8] += np.linspace(0.0, 0.15, 40)  # a block lifted 15 cm in under 1 % of the frames
    scene[200:230, 9] = 3.1  # a block tipped over: an angle, read through sine and cosine
    scene[300:340, 5] = 1.0  # the LED on in under 1 % of the frames
    check_outliers("scene_obs", scene)
    check_outliers("robot_obs", frames["robot_obs"])
