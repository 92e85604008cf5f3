"""Scripted expert: a waypoint controller per skill that emits CALVIN relative actions.

It plays the teleoperator of CALVIN's data collection: it tracks its own copy of the TCP target
that relative actions accumulate onto (as a VR controller would), so a blocked push never winds
the target up beyond the waypoint, and moves on from a waypoint once the target has arrived and
either the measured TCP is close or a few steps of waiting for it have passed. Gaussian noise on the motion part of each
action makes demonstrations varied; the seeded rng makes them reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from diwa.agent import Observation
from diwa.sim import geometry as g
from diwa.sim.obs_layout import DRAWER, GRIPPER_ACTION, SLIDER, SWITCH, TCP_EULER, TCP_POS
from diwa.sim.rotations import euler_to_matrix, matrix_to_euler, wrap_angle
from diwa.skills import check_skill

DEFAULT_NOISE = 0.1
HOME_EULER = np.array(g.HOME_TCP_EULER)
# Pitching the fingers toward +y lets the arm reach the switch, which lies near the edge of the
# workspace for a gripper pointing straight down.
SWITCH_TILT = 0.55
CLOSE, OPEN = -1.0, 1.0
ARRIVAL_POS = 0.3  # action units: 6 mm
ARRIVAL_ORN = 1.0  # action units: 0.05 rad


def _tilted(euler: np.ndarray, angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    about_x = np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])
    return matrix_to_euler(about_x @ euler_to_matrix(euler))


SWITCH_EULER = _tilted(HOME_EULER, SWITCH_TILT)


@dataclass(frozen=True)
class Waypoint:
    """A TCP goal. speed scales the step size (1 = 0.02 m per step); tolerance applies to the measured
    TCP; patience is how many steps to wait at the goal for a TCP that lags behind (pushing)."""

    pos: np.ndarray
    euler: np.ndarray
    gripper: float
    speed: float = 1.0
    tolerance: float = 0.015
    patience: int = 3


def _wp(pos: np.ndarray, euler: np.ndarray, gripper: float = CLOSE, **kwargs: float) -> Waypoint:
    return Waypoint(np.asarray(pos, dtype=float), np.asarray(euler, dtype=float), gripper, **kwargs)


def plan_skill(skill: str, obs: Observation) -> list[Waypoint]:
    """The waypoints of `skill` from the state in `obs` (handle positions follow the joints)."""
    check_skill(skill)
    scene = obs["scene_obs"]
    planners = {
        "open_drawer": _open_drawer,
        "close_drawer": _close_drawer,
        "move_slider_left": lambda s: _move_slider(s, direction=-1.0),
        "move_slider_right": lambda s: _move_slider(s, direction=1.0),
        "turn_on_lightbulb": _switch_up,
        "turn_off_lightbulb": _switch_down,
        "turn_on_led": _press_button,
        "turn_off_led": _press_button,
    }
    return planners[skill](scene)


def _open_drawer(scene: np.ndarray) -> list[Waypoint]:
    """Hook the closed fingers into the gap between the handle bar and the drawer front, then pull."""
    handle = g.drawer_handle(float(scene[DRAWER]))
    bar_back = handle[1] + g.DRAWER_HANDLE_HALF[1]
    gap_y = (bar_back + g.DRAWER_FRONT_Y - float(scene[DRAWER])) / 2
    x, z = handle[0], 0.365
    return [
        _wp((x, gap_y, 0.50), HOME_EULER),
        _wp((x, gap_y, z), HOME_EULER, tolerance=0.01),
        _wp((x, gap_y - 0.17, z), HOME_EULER, speed=0.7, patience=4),
        _wp((x, gap_y - 0.17, 0.46), HOME_EULER, OPEN),
    ]


def _close_drawer(scene: np.ndarray) -> list[Waypoint]:
    """Lower the closed fingers in front of the handle bar and push the drawer shut."""
    drawer = float(scene[DRAWER])
    handle = g.drawer_handle(drawer)
    front_y = handle[1] - g.DRAWER_HANDLE_HALF[1] - g.FINGER_HALF_THICKNESS - 0.012
    x, z = handle[0], 0.365
    return [
        _wp((x, front_y, 0.50), HOME_EULER),
        _wp((x, front_y, z), HOME_EULER, tolerance=0.01),
        _wp((x, front_y + drawer + 0.02, z), HOME_EULER, speed=0.7, patience=4),
        _wp((x, front_y + drawer - 0.03, 0.46), HOME_EULER, OPEN),
    ]


def _move_slider(scene: np.ndarray, direction: float) -> list[Waypoint]:
    """Push the door handle sideways; direction -1 moves the door toward -x ("left")."""
    handle = g.slider_handle(float(scene[SLIDER]))
    # Closed fingers are 2 x 0.0264 m wide along x: start with 1.2 cm of clearance from the handle.
    start_x = handle[0] - direction * (g.SLIDER_HANDLE_HALF_X + 0.0264 + 0.012)
    y, z = 0.008, 0.585
    return [
        _wp((start_x, -0.05, z), HOME_EULER),
        _wp((start_x, y, z), HOME_EULER, tolerance=0.01),
        _wp((start_x + direction * 0.22, y, z), HOME_EULER, speed=0.7, patience=4),
        _wp((start_x + direction * 0.22, -0.05, z), HOME_EULER, OPEN),
    ]


def _press_button(scene: np.ndarray) -> list[Waypoint]:
    """Press the button to the bottom of its travel with the closed fingertips and let it spring back."""
    x, y, _ = g.BUTTON_CENTER
    return [
        _wp((x, y, 0.56), HOME_EULER),
        _wp((x, y, g.BUTTON_TOP_Z - 0.03), HOME_EULER, speed=0.7, patience=4),
        _wp((x, y, 0.56), HOME_EULER, OPEN),
    ]


def _finger_axes() -> tuple[np.ndarray, np.ndarray]:
    """With the switch tilt: the direction the fingers point, and the finger-side normal toward +y."""
    rotation = euler_to_matrix(SWITCH_EULER)
    along = rotation[:, 2]
    side = np.array([0.0, -along[2], along[1]])
    return along, side / np.linalg.norm(side)


def _switch_up(scene: np.ndarray) -> list[Waypoint]:
    """Lift the knob up its rail with the side of the fingers, from below and in front of it."""
    knob = g.switch_knob(float(scene[SWITCH]))
    along, side = _finger_axes()
    axis = np.array(g.SWITCH_AXIS)
    # 1 cm clear of the knob, touching it 2.3 cm above the fingertips.
    contact = knob - (g.SWITCH_KNOB_RADIUS + g.FINGER_HALF_THICKNESS + 0.01) * side + 0.015 * along
    # Come in from above and in front: the fingertips stay higher than blocks on the table.
    return [
        _wp(contact + np.array([0.0, -0.06, 0.05]), SWITCH_EULER),
        _wp(contact, SWITCH_EULER, tolerance=0.01),
        _wp(contact + 0.075 * axis, SWITCH_EULER, speed=0.6, patience=4),
        _wp(contact + 0.075 * axis - 0.05 * side, SWITCH_EULER, OPEN),
    ]


def _switch_down(scene: np.ndarray) -> list[Waypoint]:
    """Press the knob down its rail with the fingertips, from above and in front of it."""
    knob = g.switch_knob(float(scene[SWITCH]))
    along, _ = _finger_axes()
    axis = np.array(g.SWITCH_AXIS)
    contact = knob - (g.SWITCH_KNOB_RADIUS + 0.004) * along
    return [
        _wp(contact - 0.05 * along, SWITCH_EULER),
        _wp(contact, SWITCH_EULER, tolerance=0.01),
        _wp(contact - 0.09 * axis, SWITCH_EULER, speed=0.6, patience=4),
        _wp(contact - 0.09 * axis - 0.05 * along, SWITCH_EULER, OPEN),
    ]


class WaypointFollower:
    """Drives the TCP target through a list of waypoints with relative actions, plus Gaussian noise."""

    def __init__(self, noise_std: float, rng: np.random.Generator) -> None:
        if not np.isfinite(noise_std) or noise_std < 0:
            raise ValueError(f"noise_std must be a finite non-negative number, got {noise_std}")
        self.noise_std = float(noise_std)
        self.rng = rng
        self._plan: list[Waypoint] = []
        self._index = 0
        self._waited = 0
        self._gripper = OPEN
        self._target_pos = np.zeros(3)
        self._target_euler = np.zeros(3)

    @property
    def done(self) -> bool:
        return self._index >= len(self._plan)

    def start(self, plan: list[Waypoint], obs: Observation) -> None:
        """Follow `plan` from the state in `obs`, whose TCP pose is the env's target after a reset."""
        robot = np.asarray(obs["robot_obs"], dtype=float)
        self._plan = list(plan)
        self._index = 0
        self._waited = 0
        self._gripper = OPEN if robot[GRIPPER_ACTION] > 0 else CLOSE
        self._target_pos = robot[TCP_POS].copy()
        self._target_euler = robot[TCP_EULER].copy()

    def act(self, obs: Observation) -> np.ndarray:
        """Next action; once the plan is done, hold the target and the last gripper command."""
        robot = np.asarray(obs["robot_obs"], dtype=float)
        while not self.done:
            waypoint = self._plan[self._index]
            move = (waypoint.pos - self._target_pos) / g.REL_POS_SCALE
            turn = wrap_angle(waypoint.euler - self._target_euler) / g.REL_ORN_SCALE
            # Arrival is judged with a margin above the action noise, which keeps the target jittering.
            if np.abs(move).max() >= ARRIVAL_POS or np.abs(turn).max() >= ARRIVAL_ORN:
                self._gripper = waypoint.gripper
                return self._emit(np.concatenate([_limit(move, waypoint.speed), _limit(turn, 1.0)]))
            self._waited += 1
            close = np.linalg.norm(robot[TCP_POS] - waypoint.pos) < waypoint.tolerance
            if not close and self._waited <= waypoint.patience:
                self._gripper = waypoint.gripper
                return self._emit(np.zeros(6))
            self._index += 1
            self._waited = 0
        return self._emit(np.zeros(6))

    def _emit(self, step: np.ndarray) -> np.ndarray:
        if self.noise_std > 0:
            step = step + self.rng.normal(0.0, self.noise_std, size=6)
        step = np.clip(step, -1.0, 1.0)
        self._target_pos = self._target_pos + g.REL_POS_SCALE * step[0:3]
        self._target_euler = wrap_angle(self._target_euler + g.REL_ORN_SCALE * step[3:6])
        return np.array([*step, self._gripper], dtype=np.float32)


class ScriptedExpert:
    """diwa.agent.Agent that performs one of the eight skills by following plan_skill's waypoints."""

    def __init__(self, noise_std: float = DEFAULT_NOISE, seed: int = 0) -> None:
        self.follower = WaypointFollower(noise_std, np.random.default_rng(seed))
        self.skill = ""

    @property
    def done(self) -> bool:
        """True once the last waypoint has been reached (the play generator then moves on)."""
        return self.follower.done

    def reset(self, skill: str, obs: Observation, seed: int | None = None, miss: np.ndarray | None = None) -> None:
        """Start `skill` from the state in `obs` (the expert draws no noise: `seed` is unused). `miss`
        (3-d, metres) displaces every waypoint: the same motion performed beside its target, as a
        teleoperator who misjudges the handle."""
        self.skill = check_skill(skill)
        plan = plan_skill(skill, obs)
        if miss is not None:
            offset = np.asarray(miss, dtype=float)
            if offset.shape != (3,) or not np.isfinite(offset).all():
                raise ValueError(f"miss must be a finite 3-vector, got {miss!r}")
            plan = [replace(waypoint, pos=waypoint.pos + offset) for waypoint in plan]
        self.follower.start(plan, obs)

    def act(self, obs: Observation) -> np.ndarray:
        return self.follower.act(obs)


def _limit(vector: np.ndarray, largest: float) -> np.ndarray:
    """Scale `vector` down so no component exceeds `largest`, keeping its direction."""
    peak = np.abs(vector).max()
    return vector * (largest / peak) if peak > largest else vector
