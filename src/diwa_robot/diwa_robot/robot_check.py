"""`diwa robot-check`: what a user runs on a new cell before the first skill, one level above
libfranka's communication test. It drives the arm only through the safety filter of the chosen
profile, as every skill does, and reports what it measured:

1. connect and read the state; the TCP must lie inside the safety box (or `move_to_start` first
   moves it, in a straight line, to the Franka backend's start position, FrankaConfig);
2. stream twists at the control rate around a small horizontal square (corners inside the box),
   at up to the profile's speed, and back to the start: the largest distance of the TCP from the
   square's edges is the tracking error, the distance left at the end the return error;
3. open and close the gripper;
4. move again and latch the e-stop mid-motion: the filter's zero twist goes out at once, and the
   time until the TCP is still is the stop time.

Numbers a healthy cell stays under are the `*_limit_*` fields of RobotCheckConfig; `ok` is true only
when every step ran and met them.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from itertools import pairwise
from typing import Any

import numpy as np

from diwa_robot.franky_arm import ArmError, FrankyArm
from diwa_robot.safety import CartesianCommand, SafetyFilter, SafetyLimits

STILL_SPEED = 0.002  # m/s: below this the TCP counts as at rest
HANDOVER_S = 0.5  # s after taking control before the start position is read


@dataclass(frozen=True)
class RobotCheckConfig:
    side_m: float = 0.05  # edge of the square
    corner_tolerance_m: float = 0.002  # a corner counts as reached within this distance
    segment_timeout_s: float = 5.0  # per edge, and for the stop
    estop_after_s: float = 0.3  # motion before the e-stop latches
    gripper_open_m: float = 0.08
    gripper_closed_m: float = 0.01
    gripper_speed: float = 0.05
    tracking_limit_mm: float = 10.0
    return_limit_mm: float = 3.0
    gripper_limit_mm: float = 5.0
    estop_limit_ms: float = 300.0

    def __post_init__(self) -> None:
        values = asdict(self)
        bad = [name for name, value in values.items() if not (isinstance(value, int | float) and value > 0)]
        if bad:
            raise ValueError(f"robot check settings must be positive numbers: {', '.join(bad)}")


@dataclass
class RobotCheckResult:
    connected: bool = False
    start_tcp: list[float] | None = None
    tracking_error_mm: float | None = None
    returned_to_start_mm: float | None = None
    gripper_ok: bool | None = None
    gripper_widths_mm: list[float] = field(default_factory=list)
    estop_stop_ms: float | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        measured = None not in (self.tracking_error_mm, self.returned_to_start_mm, self.gripper_ok, self.estop_stop_ms)
        return self.connected and measured and not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


def square_corners(start: np.ndarray, side: float, box_min: np.ndarray, box_max: np.ndarray) -> np.ndarray:
    """Corners of a horizontal square from `start` and back to it, turned toward the box's inside on
    each axis; raises ValueError if it does not fit inside the box."""
    direction = np.where(start[:2] <= (box_min[:2] + box_max[:2]) / 2, 1.0, -1.0)
    dx, dy = np.array([direction[0] * side, 0.0, 0.0]), np.array([0.0, direction[1] * side, 0.0])
    corners = np.array([start, start + dx, start + dx + dy, start + dy, start])
    if (corners < box_min).any() or (corners > box_max).any():
        raise ValueError(f"a {side * 100:.0f} cm square from the TCP does not fit inside the safety box")
    return corners


def distance_to_segment(point: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    edge = b - a
    t = 0.0 if not edge.any() else float(np.clip(np.dot(point - a, edge) / np.dot(edge, edge), 0.0, 1.0))
    return float(np.linalg.norm(point - (a + t * edge)))


class RobotCheck:
    def __init__(self, arm: FrankyArm, limits: SafetyLimits, config: RobotCheckConfig) -> None:
        self.arm, self.limits, self.config = arm, limits, config
        self.filter = SafetyFilter(limits)
        self.box_min, self.box_max = np.array(limits.workspace_min), np.array(limits.workspace_max)

    def run(self, move_to_start: np.ndarray | None) -> RobotCheckResult:
        result = RobotCheckResult(connected=True)
        try:
            self._run(result, move_to_start)
        except (ArmError, ValueError) as err:
            result.problems.append(str(err))
        finally:
            self._brake()
        return result

    def _run(self, result: RobotCheckResult, move_to_start: np.ndarray | None) -> None:
        state = self.arm.state()
        if state.errors:
            raise ArmError(f"the robot reports errors: {', '.join(state.errors)}")
        if move_to_start is not None:
            self._check_inside(move_to_start, "the start position")
            self.arm.move_to(move_to_start, self.limits.max_linear_speed)
        # Take control in the velocity mode the check streams in (a zero twist): on franky-sim the arm
        # settles by 2-3 cm when a pose motion hands over, which would count as tracking error.
        self.arm.send_twist(np.zeros(3), np.zeros(3), self.limits.robot_command_timeout)
        time.sleep(HANDOVER_S)
        if not self.arm.wait_until_still(self.config.segment_timeout_s, STILL_SPEED):
            raise ArmError("the arm is moving; start the check with the arm at rest")
        state = self.arm.state()
        self._check_inside(state.tcp, "the TCP")
        start = state.tcp
        result.start_tcp = [round(float(v), 4) for v in start]
        corners = square_corners(start, self.config.side_m, self.box_min, self.box_max)
        worst = 0.0
        for a, b in pairwise(corners):
            worst = max(worst, self._drive_to(a, b))
        result.tracking_error_mm = round(1000 * worst, 2)
        self._settle()
        result.returned_to_start_mm = round(1000 * float(np.linalg.norm(self.arm.state().tcp - start)), 2)
        if result.tracking_error_mm > self.config.tracking_limit_mm:
            result.problems.append(f"tracking error {result.tracking_error_mm} mm > {self.config.tracking_limit_mm}")
        if result.returned_to_start_mm > self.config.return_limit_mm:
            result.problems.append(f"returned {result.returned_to_start_mm} mm from the start")
        result.gripper_ok = self._gripper(result)
        result.estop_stop_ms = self._estop(start)
        if result.estop_stop_ms > self.config.estop_limit_ms:
            result.problems.append(f"the e-stop took {result.estop_stop_ms} ms > {self.config.estop_limit_ms}")

    def _check_inside(self, position: np.ndarray, what: str) -> None:
        if (position < self.box_min).any() or (position > self.box_max).any():
            raise ValueError(
                f"{what} {np.round(position, 3).tolist()} lies outside the safety box "
                f"{list(self.limits.workspace_min)}..{list(self.limits.workspace_max)} (scene frame); "
                "move the arm into it, or pass --move-to-start"
            )

    def _command_toward(self, target: np.ndarray, tcp: np.ndarray) -> np.ndarray:
        """Velocity toward `target` that can still stop there at a third of the filter's braking."""
        offset = target - tcp
        distance = float(np.linalg.norm(offset))
        if distance == 0.0:
            return np.zeros(3)
        brake = self.limits.max_linear_acceleration / 3.0
        reach = distance / self.limits.control_period  # no overshoot within one period
        speed = min(self.limits.max_linear_speed, np.sqrt(2.0 * brake * distance), reach)
        return offset / distance * speed

    def _stream(self, linear: np.ndarray, tcp: np.ndarray, now: float) -> None:
        """One control period: the command through the safety filter, then to the arm."""
        out = self.filter.filter(CartesianCommand(linear=linear, angular=np.zeros(3)), tcp, now)
        self.arm.send_twist(out.linear, out.angular, self.limits.robot_command_timeout)

    def _drive_to(self, start: np.ndarray, target: np.ndarray) -> float:
        """Stream toward `target` along the edge from `start`; the largest distance from the edge."""
        deadline = time.monotonic() + self.config.segment_timeout_s
        worst = 0.0
        while True:
            now = time.monotonic()
            if now > deadline:
                raise ArmError(f"the TCP did not reach {np.round(target, 3).tolist()} in time")
            tcp = self.arm.state().tcp
            worst = max(worst, distance_to_segment(tcp, start, target))
            if np.linalg.norm(target - tcp) < self.config.corner_tolerance_m:
                return worst
            self._stream(self._command_toward(target, tcp), tcp, now)
            time.sleep(max(0.0, self.limits.control_period - (time.monotonic() - now)))

    def _settle(self) -> None:
        """Brake to rest through the filter's rate limits, as a skill's end does, and wait for stillness."""
        while True:
            now = time.monotonic()
            out = self.filter.stop(now)
            self.arm.send_twist(out.linear, out.angular, self.limits.robot_command_timeout)
            if not (out.linear.any() or out.angular.any()):
                break
            time.sleep(max(0.0, self.limits.control_period - (time.monotonic() - now)))
        if not self.arm.wait_until_still(self.config.segment_timeout_s, STILL_SPEED):
            raise ArmError("the arm did not come to rest")

    def _gripper(self, result: RobotCheckResult) -> bool:
        ok = True
        for width in (self.config.gripper_open_m, self.config.gripper_closed_m):
            self.arm.move_gripper(width, self.config.gripper_speed)
            reached = self.arm.gripper_width()
            result.gripper_widths_mm.append(round(1000 * reached, 1))
            if abs(reached - width) * 1000 > self.config.gripper_limit_mm:
                result.problems.append(f"the gripper reached {reached * 1000:.1f} mm, asked {width * 1000:.1f}")
                ok = False
        return ok

    def _estop(self, start: np.ndarray) -> float:
        """Drive toward the box's centre for `estop_after_s`, latch the e-stop, time the stop (ms)."""
        center = (self.box_min + self.box_max) / 2
        heading = (center - start) / max(float(np.linalg.norm(center - start)), 1e-9)
        began = time.monotonic()
        while time.monotonic() - began < self.config.estop_after_s:
            now = time.monotonic()
            self._stream(heading * self.limits.max_linear_speed, self.arm.state().tcp, now)
            time.sleep(max(0.0, self.limits.control_period - (time.monotonic() - now)))
        latched = time.monotonic()
        out = self.filter.estop()
        self.arm.send_twist(out.linear, out.angular, self.limits.robot_command_timeout)
        if not self.arm.wait_until_still(self.config.segment_timeout_s, STILL_SPEED):
            raise ArmError("the arm did not stop after the e-stop")
        self.filter.reset_estop()
        return round(1000 * (time.monotonic() - latched), 1)

    def _brake(self) -> None:
        """Whatever happened, leave the arm commanded to rest."""
        try:
            self.arm.send_twist(np.zeros(3), np.zeros(3), self.limits.robot_command_timeout)
            self.arm.wait_until_still(self.config.segment_timeout_s, STILL_SPEED)
        except ArmError:
            pass
