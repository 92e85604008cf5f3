import numpy as np
import pytest

from diwa_robot.observation_cache import ObservationCache, ObservationUnavailableError


def test_fresh_observation_is_returned_as_copies():
    cache = ObservationCache()
    assert cache.update(np.arange(15.0), np.arange(24.0), now=10.0)
    obs = cache.latest(now=10.1, max_age_s=0.2).as_dict()
    obs["robot_obs"][0] = 99.0
    assert cache.latest(now=10.1, max_age_s=0.2).robot_obs[0] == 0.0


def test_stale_observation_is_refused_with_its_age():
    cache = ObservationCache()
    cache.update(np.zeros(15), np.zeros(24), now=0.0)
    with pytest.raises(ObservationUnavailableError, match="stale: 500 ms old, limit 200 ms"):
        cache.latest(now=0.5, max_age_s=0.2)


@pytest.mark.parametrize(
    ("robot", "scene"),
    [(np.full(15, np.nan), np.zeros(24)), (np.zeros(15), np.r_[np.zeros(23), np.inf]), (np.zeros(14), np.zeros(24))],
)
def test_invalid_observation_is_rejected_and_invalidates_the_last_good_one(robot, scene):
    cache = ObservationCache()
    cache.update(np.zeros(15), np.zeros(24), now=0.0)
    assert not cache.update(robot, scene, now=0.01)
    assert cache.rejected == 1
    with pytest.raises(ObservationUnavailableError, match="NaN"):
        cache.latest(now=0.02, max_age_s=1.0)


def test_a_cell_that_does_not_measure_the_scene_gives_observations_without_scene_obs():
    """A real cell's SceneState says scene_measured false: its zeros are not a state, so readers
    find no scene_obs at all rather than an empty table."""

    class Message:
        robot_obs, scene_obs, scene_measured = list(np.arange(15.0)), [0.0] * 24, False

    cache = ObservationCache()
    assert cache.update_from_scene_state(Message(), now=1.0)
    obs = cache.latest(now=1.01, max_age_s=0.2)
    assert obs.scene_obs is None and set(obs.as_dict()) == {"robot_obs"}
    Message.scene_measured = True
    assert cache.update_from_scene_state(Message(), now=1.02)
    assert set(cache.latest(now=1.03, max_age_s=0.2).as_dict()) == {"robot_obs", "scene_obs"}
    assert not cache.update(np.full(15, np.nan), None, now=1.04), "the robot's half is still checked"


def test_nothing_received_yet():
    with pytest.raises(ObservationUnavailableError, match="none yet"):
        ObservationCache().latest(now=0.0, max_age_s=1.0)


def camera_cache(state_at: float = 10.0) -> ObservationCache:
    cache = ObservationCache()
    cache.update(np.zeros(15), np.zeros(24), now=state_at)
    return cache


def test_a_read_that_needs_cameras_returns_the_newest_frames_with_the_state():
    cache = camera_cache()
    cache.update_image("rgb_static", np.full((64, 64, 3), 7, np.uint8), now=9.99)
    cache.update_image("rgb_gripper", np.full((64, 64, 3), 9, np.uint8), now=10.01)
    obs = cache.latest(now=10.05, max_age_s=0.25, image_keys=("rgb_static", "rgb_gripper"), max_skew_s=0.05).as_dict()
    assert set(obs) == {"robot_obs", "scene_obs", "rgb_static", "rgb_gripper"}
    assert obs["rgb_static"][0, 0, 0] == 7 and obs["rgb_gripper"][0, 0, 0] == 9
    assert set(cache.latest(now=10.05, max_age_s=0.25).as_dict()) == {"robot_obs", "scene_obs"}


@pytest.mark.parametrize(
    ("frame_at", "now", "says"),
    [
        (None, 10.05, "no rgb_static image received"),
        (9.5, 10.05, "rgb_static image is stale: 550 ms old, limit 250 ms"),
        (9.9, 10.05, "rgb_static image and robot state are 100 ms apart, limit 50 ms"),
    ],
)
def test_missing_old_or_out_of_sync_images_are_refused(frame_at, now, says):
    cache = camera_cache()
    if frame_at is not None:
        cache.update_image("rgb_static", np.zeros((64, 64, 3), np.uint8), now=frame_at)
    with pytest.raises(ObservationUnavailableError, match=says):
        cache.latest(now=now, max_age_s=0.25, image_keys=("rgb_static",), max_skew_s=0.05)


def test_an_image_that_is_not_rgb8_shaped_is_refused():
    with pytest.raises(ValueError, match="expected an \\(H, W, 3\\) uint8 image"):
        ObservationCache().update_image("rgb_static", np.zeros((64, 64), np.uint8), now=0.0)


def test_an_unusable_frame_replaces_the_last_good_one_and_says_why():
    cache = camera_cache()
    cache.update_image("rgb_static", np.zeros((64, 64, 3), np.uint8), now=10.0)
    cache.reject_image("rgb_static", "unsupported image encoding 'mono8'", now=10.01)
    with pytest.raises(ObservationUnavailableError, match="last rgb_static image was unusable: .*mono8"):
        cache.latest(now=10.02, max_age_s=0.25, image_keys=("rgb_static",))
