"""The safety envelope between a policy and any robot backend.

Whatever a policy outputs (NaN, huge values, jumps, a wall-bound twist) must not reach the mock robot
or the Franka. This module is numpy-only so the one envelope can be property-tested without ROS and
shared by every backend; the ROS node around it only converts messages.

How a node uses it, once per control period:

    out = safety.filter(command, tcp_position, now)   # a new policy command for this period
    out = safety.watchdog(now)                         # no new command this period
    backend.send(out)                                  # always send what came back

Design decisions:

- Continuity has priority. Franka reflexes (velocity/acceleration discontinuity) come from command
  streams that jump, so consecutive linear twists never differ by more than max_linear_acceleration
  times the elapsed time (capped at one control period), and likewise for angular twists. Every other
  rule only chooses the target the output moves toward. A "hold" is therefore a controlled stop:
  target zero, reached at the deceleration limit.
- Every stop goes through these limits: when a goal ends (cancel, success, abort, step limit) the
  node calls `stop()` once per period until the twist is zero.
- The one exception is the e-stop: `estop()` outputs zero at once. An e-stop is pressed when the
  controlled stop is not trusted; on the Franka a zero step may raise a reflex error, which itself
  brakes the arm, and that is the right trade for an emergency. The hardware stop button stays the
  real safety device; this latch only keeps software from moving the arm again until `reset_estop()`.
- A second, documented discontinuity: when the previous output is older than robot_command_timeout
  (the node stalled, say in a slow policy inference), MoveIt Servo or the mock robot has already
  stopped the arm on its own incoming-command timeout, so the next output ramps up from zero rather
  than jumping back to the stale value.
- The workspace box is kept with a braking curve rather than a one-period projection: a one-period
  projection next to a wall would demand a velocity jump that the rate limit forbids. The velocity
  toward each wall is kept low enough that braking at max_linear_acceleration / sqrt(3) per axis
  (three axes braking together still fit the norm limit) stops the TCP inside the box, assuming each
  output is executed for at most one control period. At the wall the outward component is zero, and
  a twist never moves the TCP out within one period. If the measured TCP is past the curve anyway
  (contact, a push, a box entered from outside) the outward components brake at that rate instead of
  jumping to zero, and never grow.
- Without a usable pose the only velocity known to keep the TCP inside is zero, so the filter brakes
  every axis toward it at the per-axis rate, which keeps the braking-curve guarantee without knowing
  where the TCP is.
- Between policy commands the watchdog repeats the last command for up to command_timeout, on the
  TCP position predicted from the last measurement, then holds: a late diffusion-policy chunk is
  bridged without stop-and-go, and a dead policy still stops the arm.

What the guarantees assume:
- the node gets an output at least once per control period and sends each one; after a stall the
  robot side runs the last twist for up to robot_command_timeout, so the box margin must absorb up to
  max_linear_speed * (robot_command_timeout - control_period);
- the linear twist is the velocity of the TCP itself, in the frame of the box: a twist about another
  point also moves the TCP by omega x r, which the box does not see;
- one thread calls the filter.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import yaml

_AXES = 3
_SQRT3 = math.sqrt(3.0)


class SafetyConfigError(ValueError):
    """A safety configuration that must not drive a robot; the message lists every problem found."""


@dataclass(frozen=True)
class SafetyLimits:
    """The envelope for one robot. Positions are in the world frame of the TCP measurements (m)."""

    workspace_min: tuple[float, float, float]
    workspace_max: tuple[float, float, float]
    max_linear_speed: float  # m/s, norm of the linear twist
    max_angular_speed: float  # rad/s, norm of the angular twist
    max_linear_acceleration: float  # m/s^2, norm of the change between consecutive outputs
    max_angular_acceleration: float  # rad/s^2
    command_timeout: float  # s without a new command before the watchdog holds
    robot_command_timeout: float  # s the robot side keeps running the last twist (Servo's incoming_command_timeout)
    gripper_min_width: float  # m
    gripper_max_width: float  # m
    gripper_max_speed: float  # m/s
    gripper_max_force: float  # N
    control_period: float  # s between two calls of the node's control loop
    max_observation_age: float  # s: an older TCP measurement is not trusted to limit against

    def __post_init__(self) -> None:
        problems = _limit_problems(self)
        if problems:
            raise SafetyConfigError("invalid safety limits: " + "; ".join(problems))

    @classmethod
    def from_mapping(cls, data: Mapping[str, object]) -> SafetyLimits:
        """Build limits from parsed YAML; unknown keys are errors because a typo would drop a limit."""
        if not isinstance(data, Mapping):
            raise SafetyConfigError(f"safety limits must be a mapping, got {type(data).__name__}")
        names = [f.name for f in fields(cls)]
        unknown = sorted(set(data) - set(names), key=str)
        missing = [name for name in names if name not in data]
        problems = [f"unknown key {key!r}" for key in unknown] + [f"missing key {key!r}" for key in missing]
        if problems:
            raise SafetyConfigError("invalid safety limits: " + "; ".join(problems))
        values = {name: _as_vector(data[name]) if name.startswith("workspace_") else data[name] for name in names}
        return cls(**values)


def safety_file_or_installed(configured: str | Path | None) -> Path:
    """The safety file a node or command was given, else the one diwa_bringup installs
    (share/diwa_bringup/config/safety.yaml)."""
    if configured:
        return Path(configured)
    from ament_index_python.packages import get_package_share_directory

    return Path(get_package_share_directory("diwa_bringup")) / "config" / "safety.yaml"


def load_safety_limits(path: str | Path, profile: str) -> SafetyLimits:
    """Read one profile (a top-level key such as `franka` or `sim`) from a safety YAML file."""
    with Path(path).open(encoding="utf-8") as stream:
        document = yaml.safe_load(stream)
    if not isinstance(document, Mapping):
        raise SafetyConfigError(f"{path}: expected a mapping of profiles at the top level")
    if profile not in document:
        known = ", ".join(sorted(map(str, document)))
        raise SafetyConfigError(f"{path}: no safety profile {profile!r}; profiles: {known}")
    return SafetyLimits.from_mapping(document[profile])


def _as_vector(value: object) -> object:
    """Lists from YAML become tuples so frozen limits stay immutable; anything else is left to validation."""
    return tuple(value) if isinstance(value, list) else value


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _limit_problems(limits: SafetyLimits) -> list[str]:
    problems: list[str] = []
    for name in ("workspace_min", "workspace_max"):
        box = getattr(limits, name)
        if not (isinstance(box, tuple) and len(box) == _AXES and all(map(_is_number, box))):
            problems.append(f"{name} must be three finite numbers, got {box!r}")
    scalars = [f.name for f in fields(limits) if not f.name.startswith("workspace_")]
    for name in scalars:
        if not _is_number(getattr(limits, name)):
            problems.append(f"{name} must be a finite number, got {getattr(limits, name)!r}")
    if problems:
        return problems
    for axis, (low, high) in enumerate(zip(limits.workspace_min, limits.workspace_max, strict=True)):
        if not low < high:
            problems.append(f"workspace axis {'xyz'[axis]}: min {low} must be below max {high}")
    for name in scalars:
        if name != "gripper_min_width" and getattr(limits, name) <= 0:
            problems.append(f"{name} must be positive, got {getattr(limits, name)}")
    if limits.gripper_min_width < 0:
        problems.append(f"gripper_min_width must not be negative, got {limits.gripper_min_width}")
    if not limits.gripper_min_width < limits.gripper_max_width:
        problems.append("gripper_min_width must be below gripper_max_width")
    if not limits.command_timeout > limits.control_period:
        problems.append("command_timeout must exceed control_period, or the watchdog fires between on-time commands")
    if not limits.robot_command_timeout > limits.control_period:
        problems.append("robot_command_timeout must exceed control_period, or the robot stops between on-time commands")
    return problems


@dataclass(frozen=True)
class GripperRequest:
    """A franka_gripper-style request: target opening width (m), finger speed (m/s), grasp force (N)."""

    width: float
    speed: float
    force: float

    def is_finite(self) -> bool:
        return all(math.isfinite(value) for value in (self.width, self.speed, self.force))


@dataclass(frozen=True, eq=False)
class CartesianCommand:
    """What a policy asks for in one period: the TCP twist in the world frame, and maybe the gripper."""

    linear: np.ndarray  # m/s
    angular: np.ndarray  # rad/s
    gripper: GripperRequest | None = None

    def __post_init__(self) -> None:
        for name in ("linear", "angular"):
            object.__setattr__(self, name, _vector(getattr(self, name), name))

    def is_finite(self) -> bool:
        twist_finite = bool(np.isfinite(self.linear).all() and np.isfinite(self.angular).all())
        return twist_finite and (self.gripper is None or self.gripper.is_finite())


class Modification(enum.Flag):
    """Why an output differs from the command, published by the node as diagnostics."""

    NONE = 0
    NON_FINITE_COMMAND = enum.auto()  # a NaN or infinity in the command: twist held, gripper dropped
    NON_FINITE_POSE = enum.auto()  # a NaN or infinity in the measured TCP: twist held
    COMMAND_REPEATED = enum.auto()  # watchdog: the policy is late, the last command was applied again
    NO_FRESH_COMMAND = enum.auto()  # watchdog: no usable command within command_timeout: twist held
    LINEAR_SPEED_CLIPPED = enum.auto()
    ANGULAR_SPEED_CLIPPED = enum.auto()
    LINEAR_ACCELERATION_LIMITED = enum.auto()
    ANGULAR_ACCELERATION_LIMITED = enum.auto()
    WORKSPACE_LIMITED = enum.auto()  # linear twist reduced so the TCP can stop inside the box
    OUTSIDE_WORKSPACE = enum.auto()  # the TCP is already outside the box
    GRIPPER_CLIPPED = enum.auto()
    GRIPPER_REJECTED = enum.auto()  # a gripper request with a non-positive speed cannot be executed
    ESTOP = enum.auto()
    GOAL_ENDED = enum.auto()  # the goal is over: braking to rest through the rate limits
    STALE_POSE = enum.auto()  # the TCP measurement is older than max_observation_age (or from the future): twist held
    CLOCK_BACKWARDS = enum.auto()  # time went back (sim reset): nothing may change, the last command is forgotten
    OUTPUT_EXPIRED = enum.auto()  # the previous output is older than robot_command_timeout: ramping up from rest


@dataclass(frozen=True, eq=False)
class FilteredCommand:
    """What the node sends to the robot this period; the arrays are read-only copies."""

    linear: np.ndarray  # m/s
    angular: np.ndarray  # rad/s
    gripper: GripperRequest | None
    flags: Modification

    @property
    def reasons(self) -> tuple[str, ...]:
        """Names of the flags, ready for a diagnostic_msgs KeyValue list."""
        return tuple(str(flag.name) for flag in self.flags)


def _vector(value: object, name: str) -> np.ndarray:
    array = np.array(value, dtype=float)
    if array.shape != (_AXES,):
        raise ValueError(f"{name} must have shape (3,), got {array.shape}")
    return array


def _read_only(array: np.ndarray) -> np.ndarray:
    copy = np.array(array, dtype=float)
    copy.setflags(write=False)
    return copy


def _clip_norm(vector: np.ndarray, limit: float) -> tuple[np.ndarray, bool]:
    """Scale a vector down to a norm limit, keeping its direction even when its norm overflows."""
    largest = float(np.max(np.abs(vector)))
    if largest == 0.0:
        return vector, False
    unit_scaled = vector / largest
    scaled_norm = float(np.linalg.norm(unit_scaled))
    if largest * scaled_norm <= limit:
        return vector, False
    return unit_scaled * (limit / scaled_norm), True


def _step_toward(current: np.ndarray, target: np.ndarray, max_step: float) -> tuple[np.ndarray, bool]:
    """Move at most max_step (Euclidean) toward target; land on it exactly when it is in reach."""
    step, limited = _clip_norm(target - current, max_step)
    if not limited:
        return target.copy(), False
    return current + step, True


class SafetyFilter:
    """Keeps every command a node sends inside the envelope; see the module docstring for the rules."""

    def __init__(self, limits: SafetyLimits) -> None:
        self._limits = limits
        self._box_min = np.array(limits.workspace_min, dtype=float)
        self._box_max = np.array(limits.workspace_max, dtype=float)
        self._axis_brake = limits.max_linear_acceleration / _SQRT3
        top = limits.max_linear_speed
        self._full_speed_stop = top * limits.control_period + top * top / (2.0 * self._axis_brake)
        self._linear = np.zeros(_AXES)
        self._angular = np.zeros(_AXES)
        self._last_time: float | None = None
        self._command_time: float | None = None
        self._desired: CartesianCommand | None = None
        self._position: np.ndarray | None = None
        self._estopped = False
        # (time, linear twist) of recent outputs: what the TCP has been commanded since a measurement.
        self._sent: list[tuple[float, np.ndarray]] = []

    @property
    def limits(self) -> SafetyLimits:
        return self._limits

    @property
    def estopped(self) -> bool:
        return self._estopped

    def filter(
        self, command: CartesianCommand, tcp_position: np.ndarray, now: float, measured_at: float | None = None
    ) -> FilteredCommand:
        """Filter a new policy command at time `now` (s) given the TCP position (world frame) measured at
        `measured_at` (default: now). The measurement is carried forward by the twists sent since then,
        so a late observation does not let the arm run past the box; one older than
        max_observation_age is not used at all (the arm brakes as without a pose)."""
        measured = _vector(tcp_position, "tcp_position")
        budget, flags = self._advance(now)
        self._command_time = now
        age = 0.0 if measured_at is None else now - measured_at
        if not np.isfinite(measured).all():
            self._position = None
            flags |= Modification.NON_FINITE_POSE
        elif not (0.0 <= age <= self._limits.max_observation_age):
            self._position = None
            flags |= Modification.STALE_POSE
        else:
            self._position = measured + self._travel_since(now - age, now)
        if self._estopped:
            return self._hold_for_estop(flags)
        gripper = None
        if command.is_finite():
            self._desired = command
            gripper, gripper_flags = self._filter_gripper(command.gripper)
            flags |= gripper_flags
        else:
            self._desired = None
            flags |= Modification.NON_FINITE_COMMAND
        return self._emit(budget, flags, gripper)

    def watchdog(self, now: float) -> FilteredCommand:
        """Output for a period without a new command: repeat the last one while fresh, else hold.

        The repeat uses the TCP position predicted from the last measurement and the outputs since,
        so the workspace rule still holds between policy commands; the gripper request is not repeated.
        """
        budget, flags = self._advance(now)
        if self._estopped:
            return self._hold_for_estop(flags)
        fresh = self._command_time is not None and now - self._command_time <= self._limits.command_timeout
        if fresh and self._desired is not None:
            flags |= Modification.COMMAND_REPEATED
            if self._position is None:
                flags |= Modification.NON_FINITE_POSE
        else:
            self._desired = None
            flags |= Modification.NO_FRESH_COMMAND
        return self._emit(budget, flags, None)

    def stop(self, now: float) -> FilteredCommand:
        """Output for a period after the goal ended (cancelled, succeeded, aborted, step limit): the
        command is forgotten and the twist brakes to rest at the rate limits, as a hold does. Call it
        once per period until the output is zero; only the e-stop cuts to zero at once."""
        budget, flags = self._advance(now)
        if self._estopped:
            return self._hold_for_estop(flags)
        self._desired, self._command_time = None, None
        return self._emit(budget, flags | Modification.GOAL_ENDED, None)

    def stop_periods(self) -> int:
        """How many stop() periods at most bring the fastest allowed twist to rest (plus one)."""
        limits = self._limits
        linear = limits.max_linear_speed / (limits.max_linear_acceleration * limits.control_period)
        angular = limits.max_angular_speed / (limits.max_angular_acceleration * limits.control_period)
        return math.ceil(max(linear, angular) * _SQRT3) + 1

    def estop(self) -> FilteredCommand:
        """Latch an emergency stop: zero twist now (not rate-limited) and on every output until reset."""
        self._estopped = True
        return self._hold_for_estop(Modification.NONE)

    def reset_estop(self) -> None:
        """Release the latch; motion resumes only from the next new command, ramping up from rest."""
        self._estopped = False

    def _advance(self, now: float) -> tuple[float, Modification]:
        """Account for the time since the last output; return the rate-limit time budget and flags."""
        if not math.isfinite(now):
            raise ValueError(f"now must be a finite time in seconds, got {now}")
        period = self._limits.control_period
        previous, self._last_time = self._last_time, now
        if previous is None:
            return period, Modification.NONE
        elapsed = now - previous
        if elapsed < 0.0:
            self._command_time = None
            self._sent.clear()
            return 0.0, Modification.CLOCK_BACKWARDS
        if elapsed > self._limits.robot_command_timeout:
            moving = bool(self._linear.any() or self._angular.any())
            self._linear, self._angular, self._position = np.zeros(_AXES), np.zeros(_AXES), None
            self._sent.clear()
            return period, Modification.OUTPUT_EXPIRED if moving else Modification.NONE
        if self._position is not None:
            self._position = self._position + self._linear * elapsed
        return min(elapsed, period), Modification.NONE

    def _hold_for_estop(self, flags: Modification) -> FilteredCommand:
        self._linear, self._angular, self._desired = np.zeros(_AXES), np.zeros(_AXES), None
        return FilteredCommand(_read_only(self._linear), _read_only(self._angular), None, flags | Modification.ESTOP)

    def _emit(self, budget: float, flags: Modification, gripper: GripperRequest | None) -> FilteredCommand:
        limits = self._limits
        linear_target, angular_target = np.zeros(_AXES), np.zeros(_AXES)
        if self._desired is not None and self._position is not None:
            linear_target, linear_clipped = _clip_norm(self._desired.linear, limits.max_linear_speed)
            angular_target, angular_clipped = _clip_norm(self._desired.angular, limits.max_angular_speed)
            if linear_clipped:
                flags |= Modification.LINEAR_SPEED_CLIPPED
            if angular_clipped:
                flags |= Modification.ANGULAR_SPEED_CLIPPED
        linear, linear_flags = self._next_linear(linear_target, budget)
        angular, limited = _step_toward(self._angular, angular_target, limits.max_angular_acceleration * budget)
        if limited:
            flags |= Modification.ANGULAR_ACCELERATION_LIMITED
        self._linear, self._angular = linear, angular
        self._remember(linear)
        return FilteredCommand(_read_only(linear), _read_only(angular), gripper, flags | linear_flags)

    def _remember(self, linear: np.ndarray) -> None:
        now = self._last_time if self._last_time is not None else 0.0
        horizon = now - self._limits.max_observation_age - self._limits.robot_command_timeout
        while len(self._sent) > 1 and self._sent[1][0] <= horizon:
            self._sent.pop(0)
        self._sent.append((now, linear.copy()))

    def _travel_since(self, start: float, now: float) -> np.ndarray:
        """Displacement of the TCP between `start` and `now` if it executed the outputs sent, each held
        until the next and none beyond robot_command_timeout (the robot side then stops)."""
        travel = np.zeros(_AXES)
        for i, (sent_at, linear) in enumerate(self._sent):
            until = self._sent[i + 1][0] if i + 1 < len(self._sent) else now
            until = min(until, sent_at + self._limits.robot_command_timeout, now)
            begin = max(sent_at, start)
            if until > begin:
                travel += linear * (until - begin)
        return travel

    def _next_linear(self, target: np.ndarray, budget: float) -> tuple[np.ndarray, Modification]:
        """Brake what the workspace requires first (per axis), then spend what is left toward the target."""
        flags = Modification.NONE
        if self._position is None:
            low = high = np.zeros(_AXES)
        else:
            low, high = self._allowed_velocity(self._position)
            if (self._position < self._box_min).any() or (self._position > self._box_max).any():
                flags |= Modification.OUTSIDE_WORKSPACE
        boxed_target = np.clip(target, low, high)
        brake_target = np.clip(self._linear, low, high)
        if self._position is not None and not (
            np.array_equal(boxed_target, target) and np.array_equal(brake_target, self._linear)
        ):
            flags |= Modification.WORKSPACE_LIMITED
        axis_step = self._axis_brake * budget
        needed = brake_target - self._linear
        braked = np.where(np.abs(needed) <= axis_step, brake_target, self._linear + np.sign(needed) * axis_step)
        left = max(self._limits.max_linear_acceleration * budget - float(np.linalg.norm(braked - self._linear)), 0.0)
        linear, limited = _step_toward(braked, boxed_target, left)
        if limited:
            flags |= Modification.LINEAR_ACCELERATION_LIMITED
        return linear, flags

    def _allowed_velocity(self, position: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-axis velocity bounds from which braking at the per-axis rate still stops inside the box."""
        return -self._stoppable_speed(position - self._box_min), self._stoppable_speed(self._box_max - position)

    def _stoppable_speed(self, distance: np.ndarray) -> np.ndarray:
        """Largest v with v*T + v^2/(2*brake) <= distance: one period at v, then braking at the per-axis rate.

        Written as 2d / (T + sqrt(T^2 + 2d/brake)) to avoid cancellation near the wall; distances beyond
        the full-speed stopping distance are capped, which also keeps huge positions from overflowing.
        """
        period = self._limits.control_period
        reach = np.clip(distance, 0.0, self._full_speed_stop)
        speed = 2.0 * reach / (period + np.sqrt(period * period + 2.0 * reach / self._axis_brake))
        return np.minimum(speed, self._limits.max_linear_speed)

    def _filter_gripper(self, request: GripperRequest | None) -> tuple[GripperRequest | None, Modification]:
        if request is None:
            return None, Modification.NONE
        if request.speed <= 0.0:
            return None, Modification.GRIPPER_REJECTED
        limits = self._limits
        clipped = GripperRequest(
            width=min(max(request.width, limits.gripper_min_width), limits.gripper_max_width),
            speed=min(request.speed, limits.gripper_max_speed),
            force=min(max(request.force, 0.0), limits.gripper_max_force),
        )
        return clipped, Modification.GRIPPER_CLIPPED if clipped != request else Modification.NONE
