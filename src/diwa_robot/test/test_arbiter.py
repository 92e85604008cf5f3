"""The command arbiter's rules: one source holds the arm at a time, a lapsed or NaN source brakes
through the rate limits before anyone else may drive, and the e-stop refuses every source."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from diwa_robot.arbiter import CommandArbiter
from diwa_robot.safety import CartesianCommand, Modification, SafetyFilter, load_safety_limits

CONFIG = Path(__file__).resolve().parents[2] / "diwa_bringup" / "config" / "safety.yaml"
LIMITS = load_safety_limits(CONFIG, "franka")
PERIOD = LIMITS.control_period
TCP = np.array([0.0259, -0.2313, 0.5713])  # home, well inside the box
LEASE = 0.2


def arbiter() -> CommandArbiter:
    return CommandArbiter(SafetyFilter(LIMITS), LEASE)


def twist(x: float) -> CartesianCommand:
    return CartesianCommand(linear=[x, 0.0, 0.0], angular=[0.0, 0.0, 0.0])


def run(arb: CommandArbiter, periods: int, t: float, source: str | None = None, x: float = 0.2):
    """`periods` control periods from time t, `source` offering `x` m/s each period; the outputs."""
    outputs = []
    for k in range(periods):
        now = t + k * PERIOD
        if source is not None:
            arb.offer(source, twist(x), now)
        outputs.append(arb.output(TCP, now, now))
    return outputs


def test_the_first_source_holds_the_arm_and_others_are_refused():
    arb = arbiter()
    assert arb.offer("play", twist(0.1), 0.0).accepted
    refused = arb.offer("teleop", twist(-0.1), 0.0)
    assert not refused.accepted and refused.holder == "play"
    outputs = run(arb, 10, 0.0, "play", 0.1)
    assert outputs[-1].linear[0] == pytest.approx(0.1)  # ramped up to play's command
    assert arb.refused["teleop"] == 1 and arb.refused["play"] == 0
    with pytest.raises(ValueError, match="unknown command source"):
        arb.offer("rogue", twist(0.1), 0.0)


def test_a_source_that_stops_sending_loses_the_arm_which_brakes_before_another_may_drive():
    arb = arbiter()
    moving = run(arb, 10, 0.0, "play", 0.2)[-1]
    assert moving.linear[0] == pytest.approx(0.2)
    t = 10 * PERIOD
    # play falls silent: the watchdog repeats its command while the lease lasts, then the arm brakes
    # through the rate limits, and teleop is refused until the twist is zero.
    outputs, refused_while_braking = [], 0
    for k in range(60):
        now = t + k * PERIOD
        refused_while_braking += not arb.offer("teleop", twist(-0.2), now).accepted if k * PERIOD > LEASE else 0
        outputs.append(arb.output(TCP, now, now))
        if arb.holder == "teleop":
            break
    speeds = [out.linear[0] for out in outputs]
    steps = np.abs(np.diff([moving.linear[0], *speeds]))
    assert steps.max() <= LIMITS.max_linear_acceleration * PERIOD + 1e-9  # no jump, however it ended
    assert refused_while_braking > 0 and arb.holder == "teleop"
    # teleop took over only from rest.
    last_play = max(i for i, out in enumerate(outputs) if Modification.GOAL_ENDED in out.flags)
    assert speeds[last_play] == pytest.approx(0.0)


def test_a_non_finite_command_costs_the_source_the_arm():
    arb = arbiter()
    run(arb, 5, 0.0, "policy", 0.1)
    arb.offer("policy", twist(float("nan")), 5 * PERIOD)
    out = arb.output(TCP, 5 * PERIOD, 5 * PERIOD)
    assert Modification.NON_FINITE_COMMAND in out.flags and arb.holder is None
    assert not arb.offer("policy", twist(0.1), 6 * PERIOD).accepted  # braking first


def test_the_estop_zeroes_at_once_and_refuses_every_source_until_reset():
    arb = arbiter()
    run(arb, 10, 0.0, "policy", 0.2)
    out = arb.estop()
    assert not out.linear.any() and Modification.ESTOP in out.flags
    t = 10 * PERIOD
    for source in ("policy", "play", "teleop", "robot_check"):
        assert not arb.offer(source, twist(0.2), t).accepted
    assert not arb.output(TCP, t, t).linear.any()
    arb.reset_estop()
    assert arb.holder is None
    assert arb.offer("teleop", twist(0.05), t + PERIOD).accepted
    assert arb.output(TCP, t + PERIOD, t + PERIOD).linear[0] <= LIMITS.max_linear_acceleration * PERIOD + 1e-9


def test_bad_configuration_is_refused():
    with pytest.raises(ValueError, match="lease"):
        CommandArbiter(SafetyFilter(LIMITS), 0.0)
    with pytest.raises(ValueError, match="distinct"):
        CommandArbiter(SafetyFilter(LIMITS), LEASE, ("play", "play"))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["policy", "play", "teleop", "robot_check", None, "estop", "reset"]),
            st.one_of(st.floats(-5.0, 5.0), st.sampled_from([float("nan"), float("inf"), -1e9])),
            st.integers(1, 12),
        ),
        max_size=40,
    )
)
def test_whoever_sends_whatever_the_output_stays_inside_the_rate_limits(events):
    """Any interleaving of sources, silences, NaN, e-stops and resets: consecutive outputs never
    differ by more than the acceleration limit allows, except the e-stop's cut to zero."""
    arb, t, previous = arbiter(), 0.0, np.zeros(3)
    for source, x, periods in events:
        for _ in range(periods):
            t += PERIOD
            if source == "estop":
                arb.estop()
            elif source == "reset":
                arb.reset_estop()
            elif source is not None:
                arb.offer(source, twist(x), t)
            out = arb.output(TCP, t, t)
            assert np.isfinite(out.linear).all()
            assert np.linalg.norm(out.linear) <= LIMITS.max_linear_speed + 1e-9
            if Modification.ESTOP not in out.flags:
                step = np.linalg.norm(out.linear - previous)
                assert step <= LIMITS.max_linear_acceleration * PERIOD + 1e-9
            previous = out.linear.copy()
