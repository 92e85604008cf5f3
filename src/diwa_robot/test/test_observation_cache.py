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


def test_nothing_received_yet():
    with pytest.raises(ObservationUnavailableError, match="none yet"):
        ObservationCache().latest(now=0.0, max_age_s=1.0)
