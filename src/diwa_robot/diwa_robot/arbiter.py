"""The one gate in front of the robot's twist stream: which command source may move the arm now.

Every source of motion (the policy node, scripted play, teleop, robot checks) publishes its twists to
its own topic; only the arbiter publishes on the topic the robot listens to (MoveIt Servo's twist
topic, or the mock robot's). So the e-stop latched here stops all of them, and a source that was not
given control cannot interleave its twists with another's.

Rules, once per control period:

- A source takes control by sending while nobody holds it, and keeps it while it sends at least
  once per `lease`. Commands from any other source meanwhile are refused (counted, and reported).
- When the holder stops sending, or its command is not finite, its last command is dropped and the
  twist brakes to rest through the safety filter's rate limits, as every stop does; control is free
  again once the twist is zero, so a new source never inherits a moving arm.
- The e-stop (SafetyFilter.estop) outputs zero at once and refuses every source until reset; a reset
  gives control to nobody.
- The filter runs here on the TCP position measured by the robot, so the workspace box and the rate
  limits hold whatever a source sent, also for sources without a filter of their own.

Numpy-only, so it is property-tested without ROS; arbiter_node.py is the ROS adapter.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from diwa_robot.safety import CartesianCommand, FilteredCommand, SafetyFilter

COMMAND_SOURCES = ("policy", "play", "teleop", "robot_check")
"""The sources the bringup graphs connect: each publishes on <input_namespace>/<source>."""


@dataclass(frozen=True)
class Offer:
    """The outcome of offering a command: accepted, and if not, who holds control."""

    accepted: bool
    holder: str | None


class CommandArbiter:
    def __init__(self, safety: SafetyFilter, lease: float, sources: tuple[str, ...] = COMMAND_SOURCES) -> None:
        if not lease > 0:
            raise ValueError(f"lease must be positive, got {lease}")
        if not sources or len(set(sources)) != len(sources):
            raise ValueError(f"sources must be distinct names, got {sources}")
        self.safety = safety
        self.lease = lease
        self.sources = tuple(sources)
        self.holder: str | None = None
        self.refused: dict[str, int] = dict.fromkeys(sources, 0)
        self._pending: CartesianCommand | None = None  # the holder's command not yet filtered
        self._last_offer: float | None = None
        self._braking = False  # control was lost or released; free once the twist is zero

    def offer(self, source: str, command: CartesianCommand, now: float) -> Offer:
        """A source's command at time `now` (s). Accepted commands are filtered at the next output."""
        if source not in self.sources:
            raise ValueError(f"unknown command source {source!r}; known: {', '.join(self.sources)}")
        if self.safety.estopped:
            self.refused[source] += 1
            return Offer(False, self.holder)
        if self.holder is None and not self._braking:
            self.holder = source
        if source != self.holder:
            self.refused[source] += 1
            return Offer(False, self.holder)
        self._pending, self._last_offer = command, now
        return Offer(True, self.holder)

    def output(self, tcp_position: np.ndarray, measured_at: float | None, now: float) -> FilteredCommand:
        """The twist for this period, from the holder's latest command, the TCP position measured at
        `measured_at`, and the rules above. Call once per control period and send what comes back."""
        if self.safety.estopped:
            self.holder, self._pending, self._braking = None, None, False
            return self.safety.estop()
        lapsed = self._last_offer is None or now - self._last_offer > self.lease
        if self.holder is not None and lapsed:
            self.holder, self._pending, self._braking = None, None, True
        if self._pending is not None:
            command, self._pending = self._pending, None
            if not command.is_finite():
                # A source that sends NaN loses control: it is not trusted to steer the stop.
                self.holder, self._braking = None, True
            return self.safety.filter(command, tcp_position, now, measured_at)
        if self.holder is not None:
            return self.safety.watchdog(now)
        out = self.safety.stop(now)
        if self._braking and not (out.linear.any() or out.angular.any()):
            self._braking = False
        return out

    @property
    def moving(self) -> bool:
        """True while a source holds control or the arm is still braking from the last one."""
        return self.holder is not None or self._braking

    def estop(self) -> FilteredCommand:
        self.holder, self._pending, self._braking = None, None, False
        return self.safety.estop()

    def reset_estop(self) -> None:
        self.safety.reset_estop()
