"""Paired gain intervals: one run's before/after episodes, and several independent seed sets."""

import math

import pytest
from diwa.eval.stats import paired_gain_interval, stratified_gain_interval


def test_paired_gain_interval_matches_the_normal_interval_of_the_differences() -> None:
    before = [1] * 50 + [0] * 50
    after = [1] * 50 + [1] * 30 + [0] * 20  # 30 pairs gained, none lost
    gain, low, high = paired_gain_interval(before, after)
    diffs = [0.0] * 50 + [1.0] * 30 + [0.0] * 20
    sd = math.sqrt(sum((d - 0.3) ** 2 for d in diffs) / 99)
    assert gain == pytest.approx(0.3)
    assert (low, high) == pytest.approx((0.3 - 1.959963984540054 * sd / 10, 0.3 + 1.959963984540054 * sd / 10))
    assert low > 0


def test_equal_outcomes_give_a_zero_width_interval_at_zero() -> None:
    assert paired_gain_interval([1, 0, 1], [1, 0, 1]) == (0.0, 0.0, 0.0)


def test_pairing_makes_a_consistent_small_gain_significant() -> None:
    # 10 of 100 pairs gain and none lose: two independent rates 50 % vs 60 % would overlap.
    before = [0] * 50 + [1] * 50
    after = [1] * 10 + [0] * 40 + [1] * 50
    _, low, _ = paired_gain_interval(before, after)
    assert low > 0


def test_strata_weigh_equally_and_their_variances_add() -> None:
    one = [1.0, 0.0] * 50  # mean 0.5
    two = [0.0] * 100  # mean 0, no variance
    mean, low, high = stratified_gain_interval([one, two])
    assert mean == pytest.approx(0.25)
    _, low_one, high_one = stratified_gain_interval([one])
    assert high - low == pytest.approx((high_one - low_one) / 2)


def test_a_single_pair_gets_the_widest_variance_and_the_interval_stays_in_range() -> None:
    assert stratified_gain_interval([[1.0]]) == (1.0, -0.959963984540054, 1.0)


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="equal, non-zero lengths"):
        paired_gain_interval([1, 0], [1])
    with pytest.raises(ValueError, match="at least one paired difference"):
        stratified_gain_interval([[]])
