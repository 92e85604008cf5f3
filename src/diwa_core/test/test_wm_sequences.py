"""Held-out splits and training windows."""

import numpy as np
import pytest
from diwa.world_model.sequences import SequenceSampler, split_segments, window_starts
from diwa.world_model.synthetic import point_mass_dataset


def test_split_holds_out_whole_segments_and_covers_everything() -> None:
    episodes = [(0, 99), (100, 349), (350, 359)]
    train, val = split_segments(episodes, segment_frames=100, val_fraction=0.3, seed=0)
    frames = sorted(f for s, e in train + val for f in range(s, e + 1))
    assert frames == list(range(360))
    assert len(val) == 2 and len(train) == 3
    for s, e in train + val:
        assert e - s + 1 <= 100
        assert any(a <= s and e <= b for a, b in episodes)
    assert split_segments(episodes, 100, 0.3, seed=0) == (train, val)


def test_a_single_short_episode_cannot_be_split() -> None:
    with pytest.raises(ValueError, match="need 2 or more"):
        split_segments([(0, 50)], segment_frames=100, val_fraction=0.2, seed=0)


def test_windows_stay_inside_ranges() -> None:
    starts = window_starts([(0, 9), (20, 22), (30, 34)], length=4)
    assert starts.tolist() == [0, 1, 2, 3, 4, 5, 6, 30, 31]


def test_sampler_feeds_the_previous_action_and_starts_windows_fresh() -> None:
    dataset = point_mass_dataset(100, 50, seed=0)
    sampler = SequenceSampler(dataset, [(0, 49), (50, 99)], 6, ("robot_obs", "scene_obs"))
    obs, prev = sampler.sample(np.random.default_rng(0), 8)
    assert obs["robot_obs"].shape == (8, 6, 15) and prev.shape == (8, 6, 7)
    assert not prev[:, 0].any()
    starts = sampler.starts[np.random.default_rng(0).integers(0, sampler.starts.size, size=8)]
    for b, t0 in enumerate(starts):
        assert np.array_equal(obs["robot_obs"][b], dataset.robot_obs[t0 : t0 + 6])
        assert np.array_equal(prev[b, 1:], dataset.rel_actions[t0 : t0 + 5])
        assert (t0 < 50) == (t0 + 5 < 50)


def test_sampler_reports_data_too_short_or_missing() -> None:
    dataset = point_mass_dataset(40, 20, seed=0)
    with pytest.raises(ValueError, match="no window of 30 frames"):
        SequenceSampler(dataset, [(0, 19), (20, 39)], 30, ("robot_obs",))
    with pytest.raises(ValueError, match="lacks"):
        SequenceSampler(dataset, [(0, 19)], 5, ("robot_obs", "rgb_static"))


def test_episodes_shorter_than_a_window_are_left_out_of_both_sets():
    train, val = split_segments(
        [(0, 3), (4, 9), (10, 309)], segment_frames=100, val_fraction=0.3, seed=0, min_frames=32
    )
    assert all(e - s + 1 >= 32 for s, e in train + val)
    assert sum(e - s + 1 for s, e in train + val) == 300
