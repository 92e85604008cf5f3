"""Human input -> CALVIN relative actions (ROS-free, so the mappings are unit-tested).

A terminal delivers key presses but no key releases, so a pressed direction stays active for
`hold_s` after its last press (key repeat keeps it alive while the key is held). A gamepad or 3D
mouse reports its axes continuously through sensor_msgs/Joy. Both produce the same 7-d action:
(dx, dy, dz, droll, dpitch, dyaw) in [-1, 1] and the gripper channel (+1 open, -1 closed).

A joystick moves the arm only while its enable button is held (a dead-man switch): releasing it, or
the joystick falling silent for `timeout_s`, sets the motion to zero, and the safety filter ramps
the arm to a stop. The gripper toggles only while enabled too.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# key -> (action index, sign). The robot faces +y: forward is +y, left is -x (docs/reference.md §3).
KEY_BINDINGS: dict[str, tuple[int, float]] = {
    "w": (1, +1.0), "s": (1, -1.0), "a": (0, -1.0), "d": (0, +1.0),
    "r": (2, +1.0), "f": (2, -1.0),
    "u": (3, +1.0), "o": (3, -1.0), "i": (4, +1.0), "k": (4, -1.0), "j": (5, +1.0), "l": (5, -1.0),
}  # fmt: skip
GRIPPER_TOGGLE_KEY = " "
STOP_KEY = "x"
HELP = (
    "teleop keys: w/s forward/back, a/d left/right, r/f up/down, u/o roll, i/k pitch, j/l yaw, "
    "space toggles the gripper, x stops, +/- change speed, Ctrl-C quits"
)


class KeyboardTeleop:
    def __init__(self, speed: float = 0.5, hold_s: float = 0.25) -> None:
        self.speed = speed
        self.hold_s = hold_s
        self.gripper = 1.0
        self._pressed: dict[int, tuple[float, float]] = {}  # axis -> (sign, last press time)

    def press(self, key: str, now: float) -> None:
        if key in KEY_BINDINGS:
            axis, sign = KEY_BINDINGS[key]
            self._pressed[axis] = (sign, now)
        elif key == GRIPPER_TOGGLE_KEY:
            self.gripper = -self.gripper
        elif key == STOP_KEY:
            self._pressed.clear()
        elif key in "+-":
            self.speed = float(np.clip(self.speed * (1.25 if key == "+" else 0.8), 0.05, 1.0))

    def action(self, now: float) -> np.ndarray:
        action = np.zeros(7)
        for axis, (sign, pressed_at) in list(self._pressed.items()):
            if now - pressed_at > self.hold_s:
                del self._pressed[axis]
            else:
                action[axis] = sign * self.speed
        action[6] = self.gripper
        return action


@dataclass(frozen=True)
class JoyMapping:
    """Which Joy axes drive which action channel; -1 leaves a channel unused."""

    axes: tuple[int, int, int, int, int, int] = (0, 1, 4, -1, -1, 3)
    signs: tuple[float, float, float, float, float, float] = (-1.0, 1.0, 1.0, 1.0, 1.0, -1.0)
    gripper_button: int = 0
    deadzone: float = 0.1
    scale: float = 1.0
    enable_button: int = 4  # LB on an Xbox-style pad; the arm moves only while it is held
    timeout_s: float = 0.5  # no Joy message for this long (driver gone, cable out): motion stops

    def __post_init__(self) -> None:
        if self.enable_button < 0:
            raise ValueError(
                "a joystick needs an enable button (joy_enable_button >= 0): the arm must stop when released"
            )
        if self.enable_button == self.gripper_button:
            raise ValueError("the enable button must differ from the gripper button")
        if not self.timeout_s > 0:
            raise ValueError(f"joy_timeout_s must be positive, got {self.timeout_s}")


class JoyTeleop:
    def __init__(self, mapping: JoyMapping) -> None:
        self.mapping = mapping
        self.gripper = 1.0
        self._button_was_down = False
        self._axes = np.zeros(6)
        self._enabled = False
        self._received_at: float | None = None

    def update(self, axes: list[float], buttons: list[int], now: float) -> None:
        values = np.zeros(6)
        for channel, (index, sign) in enumerate(zip(self.mapping.axes, self.mapping.signs, strict=True)):
            if 0 <= index < len(axes) and np.isfinite(axes[index]) and abs(axes[index]) > self.mapping.deadzone:
                values[channel] = sign * axes[index] * self.mapping.scale
        self._axes = np.clip(values, -1.0, 1.0)
        enable = self.mapping.enable_button
        self._enabled = 0 <= enable < len(buttons) and bool(buttons[enable])
        self._received_at = now
        button = self.mapping.gripper_button
        down = 0 <= button < len(buttons) and bool(buttons[button])
        if down and not self._button_was_down and self._enabled:  # toggle on the press, not while held
            self.gripper = -self.gripper
        self._button_was_down = down

    def enabled(self, now: float) -> bool:
        """The enable button is held and the joystick is alive."""
        fresh = self._received_at is not None and 0.0 <= now - self._received_at <= self.mapping.timeout_s
        return self._enabled and fresh

    def action(self, now: float) -> np.ndarray:
        motion = self._axes if self.enabled(now) else np.zeros(6)
        return np.concatenate([motion, [self.gripper]])
