"""Confidence intervals for success rates and for paired gains."""

from __future__ import annotations

import math

Z_95 = 1.959963984540054


def wilson_interval(successes: int, trials: int, z: float = Z_95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion (95 % by default).

    Unlike the normal approximation it stays inside [0, 1] and is sensible at 0 % and 100 %, which
    is where skill success rates often are.
    """
    if trials < 1:
        raise ValueError(f"a success-rate interval needs at least one trial, got {trials}")
    if not 0 <= successes <= trials:
        raise ValueError(f"successes must lie in 0..{trials}, got {successes}")
    p = successes / trials
    z2 = z * z
    centre = (p + z2 / (2 * trials)) / (1 + z2 / trials)
    half = z * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials)) / (1 + z2 / trials)
    return max(0.0, centre - half), min(1.0, centre + half)


def paired_gain_interval(
    before: list[bool] | list[int], after: list[bool] | list[int], z: float = Z_95
) -> tuple[float, float, float]:
    """Mean gain in success rate over paired episodes (the same seeded start, before and after) and
    its 95 % interval, from the per-pair differences in {-1, 0, 1} (normal approximation: the pairs
    remove the start-state variation that two independent rates would carry)."""
    if len(before) != len(after) or not before:
        raise ValueError(f"paired outcomes need equal, non-zero lengths, got {len(before)} and {len(after)}")
    diffs = [float(a) - float(b) for a, b in zip(after, before, strict=True)]
    return stratified_gain_interval([diffs], z)


def stratified_gain_interval(strata: list[list[float]], z: float = Z_95) -> tuple[float, float, float]:
    """Mean of the per-stratum mean gains (seed sets weigh equally) and its 95 % interval, clipped to
    [-1, 1]: each stratum's paired differences give its mean and variance, and the strata are
    independent. A stratum of one pair has no sample variance; it counts with the largest a
    difference in {-1, 0, 1} can have (1)."""
    if not strata or any(not diffs for diffs in strata):
        raise ValueError("every stratum needs at least one paired difference")
    means = [sum(d) / len(d) for d in strata]
    variances = [
        (sum((x - m) ** 2 for x in d) / (len(d) - 1) if len(d) > 1 else 1.0) / len(d)
        for d, m in zip(strata, means, strict=True)
    ]
    mean = sum(means) / len(means)
    half = z * math.sqrt(sum(variances)) / len(strata)
    return mean, max(-1.0, mean - half), min(1.0, mean + half)
