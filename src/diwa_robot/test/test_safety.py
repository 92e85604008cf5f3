"""The safety envelope's promises, checked over arbitrary policy output, poses and timing.

The property tests replay random runs of node calls (filter, watchdog, e-stop, reset) with commands
full of NaN, infinities and huge values, and check every output against the rules the module
documents. The rate limit is checked against an independent reading of those rules: each output is
compared with the previous one (zero after an e-stop; zero on the first call and after a gap longer
than robot_command_timeout, when the robot is at rest), with a budget of the elapsed time capped at one
control period, and no budget at all when time goes back.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from diwa_robot.safety import (
    CartesianCommand,
    FilteredCommand,
    GripperRequest,
    Modification,
    SafetyConfigError,
    SafetyFilter,
    SafetyLimits,
    load_safety_limits,
)

CONFIG = Path(__file__).resolve().parents[2] / "diwa_bringup" / "config" / "safety.yaml"
TIGHT = SafetyLimits(
    workspace_min=(0.0, 0.0, 0.0),
    workspace_max=(0.1, 0.05, 0.2),
    max_linear_speed=0.5,
    max_angular_speed=2.0,
    max_linear_acceleration=4.0,
    max_angular_acceleration=20.0,
    command_timeout=0.05,
    robot_command_timeout=0.03,
    gripper_min_width=0.01,
    gripper_max_width=0.05,
    gripper_max_speed=0.05,
    gripper_max_force=10.0,
    control_period=0.01,
    max_observation_age=0.03,
)
PROFILES = (load_safety_limits(CONFIG, "franka"), load_safety_limits(CONFIG, "sim"), TIGHT)
PROPERTY = settings(max_examples=80, deadline=None)
TOLERANCE = 1e-9
HOME_TCP = np.array([0.0259, -0.2313, 0.5713])
NAN, INF = math.nan, math.inf


@dataclass(frozen=True)
class Step:
    kind: str  # "filter", "watchdog", "estop" or "reset"
    dt: float  # s since the previous step
    command: CartesianCommand
    pose: np.ndarray | None  # what filter() is told; None: the TCP integrated from the outputs


@dataclass(frozen=True)
class Record:
    kind: str
    now: float
    command: CartesianCommand
    pose: np.ndarray | None  # the pose filter() was given
    output: FilteredCommand | None


MODERATE = st.floats(-3.0, 3.0)
WILD = st.one_of(MODERATE, st.floats(), st.sampled_from((NAN, INF, -INF, 1e308, -1e308)))


def vectors(elements: st.SearchStrategy[float]) -> st.SearchStrategy[np.ndarray]:
    return st.lists(elements, min_size=3, max_size=3).map(np.array)


FINITE_COMMANDS = st.builds(
    CartesianCommand,
    vectors(MODERATE),
    vectors(MODERATE),
    st.none() | st.builds(GripperRequest, st.floats(0.0, 0.1), st.floats(0.01, 0.5), st.floats(0.0, 300.0)),
)
WILD_COMMANDS = st.builds(
    CartesianCommand,
    vectors(WILD),
    vectors(WILD),
    st.none() | st.builds(GripperRequest, WILD, WILD, WILD),
)


def sometimes(usual: st.SearchStrategy, rare: st.SearchStrategy, one_in: int = 8) -> st.SearchStrategy:
    """Mostly `usual`, one draw in `one_in` from `rare`: garbage must be rare enough for twists to build up."""
    return st.integers(0, one_in - 1).flatmap(lambda draw: rare if draw == 0 else usual)


def bursts(limits: SafetyLimits, policy: list[CartesianCommand], *, keep_node_contract: bool) -> st.SearchStrategy:
    """Runs of identical node steps: mostly one of a few policy commands on time, sometimes garbage.

    Runs let twists build up and reach the walls. Under the node contract an output comes at least
    every control period, events take no time and wrong poses are only non-finite; otherwise timing
    and poses are arbitrary too."""
    period, timeout = limits.control_period, limits.command_timeout
    kinds = st.sampled_from(("filter",) * 8 + ("watchdog",) * 3 + ("estop", "reset"))
    command = sometimes(st.sampled_from(policy), WILD_COMMANDS)
    on_time = st.one_of(st.just(period), st.floats(0.0, period))
    if keep_node_contract:
        dts = on_time
        poses = sometimes(st.none(), st.sampled_from((np.array([NAN, 0.0, 0.0]), np.array([0.0, INF, 0.0]))))
    else:
        gaps = (0.0, timeout, timeout + 1e-9, limits.robot_command_timeout, limits.robot_command_timeout + 1e-9)
        late = st.one_of(st.floats(-0.5, 1.0), st.sampled_from(gaps))
        dts = sometimes(on_time, late)
        near = vectors(st.floats(min(limits.workspace_min) - 0.3, max(limits.workspace_max) + 0.3))
        poses = sometimes(st.none(), st.one_of(near, vectors(WILD)))

    def build(kind: str, count: int, dt: float, command: CartesianCommand, pose: np.ndarray | None) -> list[Step]:
        if kind in ("estop", "reset"):
            return [Step(kind, 0.0 if keep_node_contract else dt, command, pose)]
        return [Step(kind, dt, command, pose)] * count

    return st.builds(build, kinds, st.integers(1, 12), dts, command, poses)


Scenario = tuple[SafetyLimits, np.ndarray, list[Step]]


def near_walls(low: float, high: float) -> st.SearchStrategy[float]:
    reach = (high - low) / 4
    return st.one_of(st.floats(low, high), st.floats(low, low + reach), st.floats(high - reach, high))


@st.composite
def scenarios(draw: st.DrawFn, *, keep_node_contract: bool = False) -> Scenario:
    limits = draw(st.sampled_from(PROFILES))
    bounds = zip(limits.workspace_min, limits.workspace_max, strict=True)
    start = np.array([draw(near_walls(low, high)) for low, high in bounds])
    policy = draw(st.lists(FINITE_COMMANDS, min_size=1, max_size=2))
    runs = draw(st.lists(bursts(limits, policy, keep_node_contract=keep_node_contract), min_size=1, max_size=10))
    return limits, start, [step for run in runs for step in run]


def replay(limits: SafetyLimits, start: np.ndarray, run: list[Step]) -> tuple[list[Record], list[np.ndarray]]:
    """Drive a filter like a node would; the TCP follows each output exactly until the next one."""
    safety = SafetyFilter(limits)
    now, tcp, applied = 0.0, start.copy(), np.zeros(3)
    records, path = [], [tcp]
    for step in run:
        now += step.dt
        tcp = tcp + applied * max(step.dt, 0.0)
        path.append(tcp)
        pose = tcp if step.pose is None else step.pose
        output: FilteredCommand | None = None
        if step.kind == "filter":
            output = safety.filter(step.command, pose, now)
        elif step.kind == "watchdog":
            output = safety.watchdog(now)
        elif step.kind == "estop":
            output = safety.estop()
        else:
            safety.reset_estop()
        if output is not None:
            applied = np.asarray(output.linear)
        records.append(Record(step.kind, now, step.command, pose if step.kind == "filter" else None, output))
    path.append(tcp + applied * limits.control_period)
    return records, path


def references(limits: SafetyLimits, records: list[Record]) -> Iterator[tuple[Record, np.ndarray, np.ndarray, float]]:
    """Yield (record, reference linear, reference angular, budget seconds) for each filter/watchdog output."""
    linear, angular, last_time = np.zeros(3), np.zeros(3), None
    for record in records:
        if record.output is None:
            continue
        if record.kind == "estop":
            linear, angular = np.zeros(3), np.zeros(3)
            continue
        elapsed = None if last_time is None else record.now - last_time
        if elapsed is None or elapsed > limits.robot_command_timeout:
            linear, angular, budget = np.zeros(3), np.zeros(3), limits.control_period
        else:
            budget = min(max(elapsed, 0.0), limits.control_period)
        yield record, linear, angular, budget
        linear, angular, last_time = np.asarray(record.output.linear), np.asarray(record.output.angular), record.now


def outputs(records: list[Record]) -> list[FilteredCommand]:
    return [record.output for record in records if record.output is not None]


@PROPERTY
@given(scenarios())
def test_outputs_are_always_finite(scenario: Scenario) -> None:
    for output in outputs(replay(*scenario)[0]):
        assert np.isfinite(output.linear).all() and np.isfinite(output.angular).all()
        if output.gripper is not None:
            assert output.gripper.is_finite()


@PROPERTY
@given(scenarios())
def test_speeds_never_exceed_the_limits(scenario: Scenario) -> None:
    limits = scenario[0]
    for output in outputs(replay(*scenario)[0]):
        assert np.linalg.norm(output.linear) <= limits.max_linear_speed * (1 + TOLERANCE)
        assert np.linalg.norm(output.angular) <= limits.max_angular_speed * (1 + TOLERANCE)


@PROPERTY
@given(scenarios())
def test_consecutive_outputs_respect_the_acceleration_limits(scenario: Scenario) -> None:
    limits = scenario[0]
    records = replay(*scenario)[0]
    for record in records:
        if record.kind == "estop":
            assert not record.output.linear.any() and not record.output.angular.any()
    for record, linear, angular, budget in references(limits, records):
        linear_change = np.linalg.norm(record.output.linear - linear)
        angular_change = np.linalg.norm(record.output.angular - angular)
        assert linear_change <= limits.max_linear_acceleration * budget * (1 + TOLERANCE) + 1e-15
        assert angular_change <= limits.max_angular_acceleration * budget * (1 + TOLERANCE) + 1e-15


@PROPERTY
@given(scenarios(keep_node_contract=True))
def test_the_tcp_never_leaves_the_box_it_starts_in(scenario: Scenario) -> None:
    limits = scenario[0]
    for tcp in replay(*scenario)[1]:
        assert (tcp >= np.array(limits.workspace_min) - TOLERANCE).all()
        assert (tcp <= np.array(limits.workspace_max) + TOLERANCE).all()


@PROPERTY
@given(scenarios())
def test_outward_components_brake_and_never_grow_outside_the_box(scenario: Scenario) -> None:
    limits = scenario[0]
    low, high = np.array(limits.workspace_min), np.array(limits.workspace_max)
    axis_brake = limits.max_linear_acceleration / math.sqrt(3.0)
    for record, linear, _, budget in references(limits, replay(*scenario)[0]):
        if record.kind != "filter" or not np.isfinite(record.pose).all():
            continue
        out = np.asarray(record.output.linear)
        margin = axis_brake * budget
        above, below = record.pose >= high, record.pose <= low
        assert (out[above] <= np.maximum(linear[above] - margin, 0.0) + 1e-12).all()
        assert (out[below] >= np.minimum(linear[below] + margin, 0.0) - 1e-12).all()


@PROPERTY
@given(scenarios())
def test_non_finite_input_holds_the_twist(scenario: Scenario) -> None:
    limits = scenario[0]
    for record, linear, angular, _ in references(limits, replay(*scenario)[0]):
        if record.kind != "filter":
            continue
        bad_command = not record.command.is_finite()
        bad_pose = not np.isfinite(record.pose).all()
        if not (bad_command or bad_pose):
            continue
        assert np.linalg.norm(record.output.linear) <= np.linalg.norm(linear) * (1 + TOLERANCE)
        assert np.linalg.norm(record.output.angular) <= np.linalg.norm(angular) * (1 + TOLERANCE)
        assert Modification.ESTOP in record.output.flags or (
            (Modification.NON_FINITE_COMMAND in record.output.flags) == bad_command
            and (Modification.NON_FINITE_POSE in record.output.flags) == bad_pose
        )
        if bad_command:
            assert record.output.gripper is None


@PROPERTY
@given(scenarios())
def test_estop_latches_until_reset(scenario: Scenario) -> None:
    latched = False
    for record in replay(*scenario)[0]:
        latched = (latched or record.kind == "estop") and record.kind != "reset"
        if record.output is None:
            continue
        assert (Modification.ESTOP in record.output.flags) == latched
        if latched:
            assert not record.output.linear.any() and not record.output.angular.any()
            assert record.output.gripper is None


@PROPERTY
@given(scenarios())
def test_gripper_requests_stay_in_range(scenario: Scenario) -> None:
    limits = scenario[0]
    for record in replay(*scenario)[0]:
        gripper = None if record.output is None else record.output.gripper
        if gripper is None:
            continue
        assert record.kind == "filter"
        assert limits.gripper_min_width <= gripper.width <= limits.gripper_max_width
        assert 0.0 < gripper.speed <= limits.gripper_max_speed
        assert 0.0 <= gripper.force <= limits.gripper_max_force


@PROPERTY
@given(st.sampled_from(PROFILES), FINITE_COMMANDS, st.lists(st.floats(0.05, 1.0), max_size=40))
def test_watchdog_repeats_while_fresh_then_holds_to_a_stop(
    limits: SafetyLimits, command: CartesianCommand, fractions: list[float]
) -> None:
    safety = SafetyFilter(limits)
    centre = (np.array(limits.workspace_min) + np.array(limits.workspace_max)) / 2
    safety.filter(command, centre, 0.0)
    period = limits.control_period
    # Under a hold the L1 norm of each twist shrinks by the whole acceleration budget every period.
    linear_stop = math.sqrt(3.0) * limits.max_linear_speed / limits.max_linear_acceleration
    angular_stop = math.sqrt(3.0) * limits.max_angular_speed / limits.max_angular_acceleration
    stopped_after = limits.command_timeout + max(linear_stop, angular_stop) + period
    now, output = 0.0, None
    calls = [fraction * period for fraction in fractions] + [period] * math.ceil(stopped_after / period)
    for dt in calls:
        now += dt
        output = safety.watchdog(now)
        assert output.gripper is None
        fresh = now <= limits.command_timeout
        assert (Modification.COMMAND_REPEATED in output.flags) == fresh
        assert (Modification.NO_FRESH_COMMAND in output.flags) != fresh
        if now > stopped_after:
            assert not output.linear.any() and not output.angular.any()
    assert now > stopped_after and not output.linear.any() and not output.angular.any()


def ramp(safety: SafetyFilter, command: CartesianCommand, tcp: np.ndarray, periods: int) -> FilteredCommand:
    """Send the same command for a number of periods from t = 0, with the TCP held still."""
    period = safety.limits.control_period
    output = safety.filter(command, tcp, 0.0)
    for tick in range(1, periods):
        output = safety.filter(command, tcp, tick * period)
    return output


def twist(linear: tuple[float, float, float], gripper: GripperRequest | None = None) -> CartesianCommand:
    return CartesianCommand(np.array(linear), np.zeros(3), gripper)


def test_speed_is_clipped_along_the_commanded_direction() -> None:
    limits = PROFILES[0]
    output = ramp(SafetyFilter(limits), twist((30.0, 40.0, 0.0)), HOME_TCP, 30)
    np.testing.assert_allclose(output.linear, np.array([0.6, 0.8, 0.0]) * limits.max_linear_speed)
    assert Modification.LINEAR_SPEED_CLIPPED in output.flags


def test_first_output_is_one_period_of_acceleration_from_rest() -> None:
    limits = PROFILES[0]
    output = SafetyFilter(limits).filter(twist((0.0, 0.0, 0.2)), HOME_TCP, 5.0)
    np.testing.assert_allclose(output.linear, [0.0, 0.0, limits.max_linear_acceleration * limits.control_period])
    assert Modification.LINEAR_ACCELERATION_LIMITED in output.flags


def test_outward_component_vanishes_at_the_wall_and_the_rest_is_kept() -> None:
    limits = PROFILES[0]
    at_ceiling = np.array([0.0, -0.2, limits.workspace_max[2]])
    output = ramp(SafetyFilter(limits), twist((0.1, 0.0, 0.1)), at_ceiling, 30)
    np.testing.assert_allclose(output.linear, [0.1, 0.0, 0.0])
    assert Modification.WORKSPACE_LIMITED in output.flags
    inward = ramp(SafetyFilter(limits), twist((0.0, 0.0, -0.1)), at_ceiling, 30)
    np.testing.assert_allclose(inward.linear, [0.0, 0.0, -0.1])


@pytest.mark.parametrize("limits", PROFILES[:2], ids=("franka", "sim"))
def test_full_speed_into_a_corner_brakes_smoothly_and_stops_inside(limits: SafetyLimits) -> None:
    """All three axes must brake at once here, which only fits the norm limit at a/sqrt(3) per axis."""
    safety = SafetyFilter(limits)
    corner = np.array(limits.workspace_max)
    tcp, previous = corner - 0.3, np.zeros(3)
    for tick in range(120):
        output = safety.filter(twist((3.0, 3.0, 3.0)), tcp, tick * limits.control_period)
        change = np.linalg.norm(output.linear - previous)
        assert change <= limits.max_linear_acceleration * limits.control_period * (1 + TOLERANCE)
        tcp, previous = tcp + output.linear * limits.control_period, np.asarray(output.linear)
        assert (tcp <= corner + TOLERANCE).all()
    np.testing.assert_allclose(tcp, corner, atol=1e-3)


def test_estop_is_immediate_and_reset_ramps_from_rest() -> None:
    limits = PROFILES[0]
    safety = SafetyFilter(limits)
    ramp(safety, twist((0.2, 0.0, 0.0)), HOME_TCP, 30)
    assert not safety.estop().linear.any()
    assert safety.estopped
    assert not safety.filter(twist((0.2, 0.0, 0.0)), HOME_TCP, 1.1).linear.any()
    safety.reset_estop()
    resumed = safety.filter(twist((0.2, 0.0, 0.0)), HOME_TCP, 1.1 + limits.control_period)
    np.testing.assert_allclose(resumed.linear, [limits.max_linear_acceleration * limits.control_period, 0.0, 0.0])


def test_after_a_stall_longer_than_the_robot_timeout_the_twist_ramps_up_from_rest() -> None:
    limits = PROFILES[0]
    safety = SafetyFilter(limits)
    ramp(safety, twist((0.2, 0.0, 0.0)), HOME_TCP, 30)
    stalled_until = 29 * limits.control_period + limits.robot_command_timeout + 0.01
    resumed = safety.filter(twist((0.2, 0.0, 0.0)), HOME_TCP, stalled_until)
    np.testing.assert_allclose(resumed.linear, [limits.max_linear_acceleration * limits.control_period, 0.0, 0.0])
    assert Modification.OUTPUT_EXPIRED in resumed.flags


def test_nan_command_decelerates_to_zero_and_reports_why() -> None:
    limits = PROFILES[0]
    safety = SafetyFilter(limits)
    moving = ramp(safety, twist((0.2, 0.0, 0.0)), HOME_TCP, 30)
    poisoned = twist((NAN, 0.0, 0.0), GripperRequest(0.0, 0.05, 20.0))
    held = safety.filter(poisoned, HOME_TCP, 1.0)
    assert 0.0 < held.linear[0] < moving.linear[0]
    assert held.gripper is None
    assert "NON_FINITE_COMMAND" in held.reasons
    for tick in range(1, 10):
        held = safety.filter(poisoned, HOME_TCP, 1.0 + tick * limits.control_period)
    assert not held.linear.any()


def test_gripper_request_is_clipped_or_rejected() -> None:
    limits = PROFILES[0]
    clipped = SafetyFilter(limits).filter(twist((0.0, 0.0, 0.0), GripperRequest(0.5, 1.0, 500.0)), HOME_TCP, 0.0)
    ceiling = GripperRequest(limits.gripper_max_width, limits.gripper_max_speed, limits.gripper_max_force)
    assert clipped.gripper == ceiling
    assert clipped.reasons == ("GRIPPER_CLIPPED",)
    rejected = SafetyFilter(limits).filter(twist((0.0, 0.0, 0.0), GripperRequest(0.04, 0.0, 10.0)), HOME_TCP, 0.0)
    assert rejected.gripper is None
    assert rejected.reasons == ("GRIPPER_REJECTED",)


def test_time_going_back_freezes_the_output_and_forgets_the_command() -> None:
    limits = PROFILES[0]
    safety = SafetyFilter(limits)
    moving = ramp(safety, twist((0.2, 0.0, 0.0)), HOME_TCP, 30)
    frozen = safety.watchdog(0.0)
    np.testing.assert_array_equal(frozen.linear, moving.linear)
    assert Modification.CLOCK_BACKWARDS in frozen.flags
    assert Modification.NO_FRESH_COMMAND in safety.watchdog(limits.control_period).flags


def test_non_finite_time_and_wrong_shapes_are_caller_errors() -> None:
    safety = SafetyFilter(PROFILES[0])
    with pytest.raises(ValueError, match="finite time"):
        safety.watchdog(NAN)
    with pytest.raises(ValueError, match="tcp_position"):
        safety.filter(twist((0.0, 0.0, 0.0)), np.zeros(2), 0.0)
    with pytest.raises(ValueError, match="linear"):
        CartesianCommand(np.zeros(4), np.zeros(3))


def test_shipped_profiles_contain_the_home_pose() -> None:
    for limits in PROFILES[:2]:
        assert (np.array(limits.workspace_min) < HOME_TCP).all() and (np.array(limits.workspace_max) > HOME_TCP).all()
    assert PROFILES[0].max_linear_speed <= PROFILES[1].max_linear_speed


def valid_mapping() -> dict[str, object]:
    limits = PROFILES[0]
    return {name: list(value) if isinstance(value, tuple) else value for name, value in vars(limits).items()}


def test_mapping_round_trip() -> None:
    assert SafetyLimits.from_mapping(valid_mapping()) == PROFILES[0]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"max_linear_speed": -0.1}, "max_linear_speed must be positive"),
        ({"max_angular_acceleration": 0}, "max_angular_acceleration must be positive"),
        ({"command_timeout": NAN}, "command_timeout must be a finite number"),
        ({"gripper_max_force": True}, "gripper_max_force must be a finite number"),
        ({"control_period": "30 Hz"}, "control_period must be a finite number"),
        ({"workspace_min": [0.0, 0.0, 1.0], "workspace_max": [1.0, 1.0, 1.0]}, "axis z: min 1.0 must be below"),
        ({"workspace_max": [1.0, 1.0]}, "workspace_max must be three finite numbers"),
        ({"gripper_min_width": -0.01}, "gripper_min_width must not be negative"),
        ({"gripper_min_width": 0.09}, "gripper_min_width must be below gripper_max_width"),
        ({"command_timeout": 0.01}, "command_timeout must exceed control_period"),
        ({"robot_command_timeout": 0.03}, "robot_command_timeout must exceed control_period"),
        ({"max_linear_sped": 0.2}, "unknown key 'max_linear_sped'"),
    ],
)
def test_invalid_limits_are_rejected(changes: dict[str, object], message: str) -> None:
    with pytest.raises(SafetyConfigError, match=message):
        SafetyLimits.from_mapping(valid_mapping() | changes)


def test_missing_key_is_rejected() -> None:
    data = valid_mapping()
    del data["gripper_max_force"]
    with pytest.raises(SafetyConfigError, match="missing key 'gripper_max_force'"):
        SafetyLimits.from_mapping(data)


def test_direct_construction_is_validated_too() -> None:
    with pytest.raises(SafetyConfigError, match="max_linear_speed"):
        replace(PROFILES[0], max_linear_speed=math.inf)


def test_unknown_profile_and_malformed_files_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(SafetyConfigError, match="no safety profile 'ur5'; profiles: franka, sim"):
        load_safety_limits(CONFIG, "ur5")
    listed = tmp_path / "list.yaml"
    listed.write_text("- franka\n", encoding="utf-8")
    with pytest.raises(SafetyConfigError, match="mapping of profiles"):
        load_safety_limits(listed, "franka")
    scalar = tmp_path / "scalar.yaml"
    scalar.write_text("franka: 3\n", encoding="utf-8")
    with pytest.raises(SafetyConfigError, match="must be a mapping"):
        load_safety_limits(scalar, "franka")


@PROPERTY
@given(
    st.sampled_from(PROFILES),
    st.lists(st.floats(0.0, 1.0), min_size=60, max_size=60),
    st.sampled_from([np.array(v, dtype=float) for v in ((1, 0, 0), (-1, 0, 0), (0, 1, 0), (0, -1, 1), (1, 1, 1))]),
)
def test_a_late_pose_never_lets_the_tcp_past_the_wall(
    limits: SafetyLimits, delays: list[float], direction: np.ndarray
) -> None:
    """Full speed at a wall while every measurement arrives up to max_observation_age late: the arm,
    executing each twist for a period, stays inside the box (the filter carries the late pose forward
    by what it sent since). Delays beyond the bound are covered by the next test."""
    safety = SafetyFilter(limits)
    period = limits.control_period
    box_min, box_max = np.array(limits.workspace_min), np.array(limits.workspace_max)
    tcp = (box_min + box_max) / 2
    history = [(0.0, tcp.copy())]  # (time, true TCP position)
    command = twist(tuple(10.0 * direction))
    for tick, fraction in enumerate(delays):
        now = tick * period
        delay = fraction * limits.max_observation_age
        # The newest true pose at least `delay` old: what a late measurement shows.
        old_enough = [h for h in history if h[0] <= now - delay + 1e-12]
        measured_at, measured = old_enough[-1] if old_enough else history[0]
        output = safety.filter(command, measured, now, measured_at)
        tcp = tcp + np.asarray(output.linear) * period
        history.append((now + period, tcp.copy()))
        assert (tcp >= box_min - 1e-9).all() and (tcp <= box_max + 1e-9).all(), (tick, tcp)


def test_without_carrying_the_pose_forward_a_late_pose_overshoots() -> None:
    """The case the carry-forward fixes, measured with the filter told the pose is current: 0.1 s of
    delay put the TCP past the Franka box."""
    limits = PROFILES[0]
    safety = SafetyFilter(limits)
    period, delay_ticks = limits.control_period, 3
    box_max = np.array(limits.workspace_max)
    tcp = np.array([0.0, -0.1, 0.5])
    trace = [tcp.copy()]
    for tick in range(90):
        measured = trace[max(0, len(trace) - 1 - delay_ticks)]
        output = safety.filter(twist((0.0, 1.0, 0.0)), measured, tick * period)
        tcp = tcp + np.asarray(output.linear) * period
        trace.append(tcp.copy())
    assert tcp[1] > box_max[1] + 0.005


def test_a_pose_older_than_the_bound_is_not_trusted_and_the_arm_brakes() -> None:
    limits = PROFILES[0]
    safety = SafetyFilter(limits)
    ramp(safety, twist((0.2, 0.0, 0.0)), HOME_TCP, 30)
    now = 30 * limits.control_period
    previous = safety.filter(twist((0.2, 0.0, 0.0)), HOME_TCP, now, now - 0.01)
    late = safety.filter(
        twist((0.2, 0.0, 0.0)), HOME_TCP, now + limits.control_period, now - limits.max_observation_age
    )
    assert Modification.STALE_POSE in late.flags and Modification.STALE_POSE not in previous.flags
    assert np.linalg.norm(late.linear) < np.linalg.norm(previous.linear)
    future = safety.filter(twist((0.2, 0.0, 0.0)), HOME_TCP, now + 2 * limits.control_period, now + 1.0)
    assert Modification.STALE_POSE in future.flags


@pytest.mark.parametrize("limits", PROFILES, ids=("franka", "sim", "tight"))
def test_a_goal_that_ends_brakes_to_rest_within_the_rate_limits(limits: SafetyLimits) -> None:
    """Cancel, success, abort and the step limit all end through stop(): no step beyond the limit."""
    safety = SafetyFilter(limits)
    centre = (np.array(limits.workspace_min) + np.array(limits.workspace_max)) / 2
    spin = CartesianCommand(np.array([10.0, 10.0, 10.0]), np.array([10.0, 10.0, 10.0]))
    previous = ramp(safety, spin, centre, 3)
    assert np.linalg.norm(previous.linear) > 0
    now = 3 * limits.control_period
    calls = 0
    for _ in range(safety.stop_periods()):
        calls += 1
        now += limits.control_period
        output = safety.stop(now)
        assert Modification.GOAL_ENDED in output.flags
        step = np.linalg.norm(np.asarray(output.linear) - np.asarray(previous.linear))
        assert step <= limits.max_linear_acceleration * limits.control_period * (1 + TOLERANCE)
        previous = output
        if not (output.linear.any() or output.angular.any()):
            break
    else:
        pytest.fail("stop() did not reach rest within stop_periods()")
    assert calls >= 2, "a moving arm is braked over several periods, not cut"
