"""What a recorded state may hold: the physical bounds of the scene, and when a block has left the table.

A state outside these bounds cannot happen in the real cell (a block below the floor, a drawer
pulled 5 m, a joint past its stop). Recording one teaches a world model an impossible world and
lets its outliers dominate the standardising statistics, so the dataset writer and the simulator's
reset refuse such states with their location. The tolerances absorb the solver's small overshoot
at joint stops and contacts, nothing more.
"""

from __future__ import annotations

import numpy as np

from diwa.sim import geometry as g
from diwa.sim.obs_layout import (
    ARM_JOINTS,
    BLOCK_COLORS,
    BUTTON,
    DRAWER,
    GRIPPER_ACTION,
    GRIPPER_WIDTH,
    LED,
    LIGHTBULB,
    ROBOT_OBS_DIM,
    SCENE_OBS_DIM,
    SLIDER,
    SWITCH,
    TCP_POS,
    block_pos,
)

# rad beyond a soft limit: PyBullet's joint stops are soft, and inverse kinematics near a stop pushes
# past it (joint 4 reached 0.055 rad below its limit in 50k frames of wide play, seed 1).
JOINT_TOLERANCE = 0.1
# Fingers squeezed shut read a little below zero width (-0.021 m in 50k frames of wide play, seed 1).
GRIPPER_WIDTH_MIN = -0.03
GRIPPER_WIDTH_MAX = 2 * g.GRIPPER_OPEN + 0.01
# The TCP stays within the arm's reach: the Panda reaches 0.855 m from its shoulder (0.333 m above the
# base) to the flange, and the TCP sits 0.14 m beyond it (up to 1.0 m). The target box the simulator
# clips commands to is no bound here: an arm caught at a joint stop or pushed by contact leaves it
# (15 cm below it in 50k frames of wide play, in front of the table).
SHOULDER = np.array(g.ROBOT_BASE_POS) + np.array([0.0, 0.0, 0.333])
TCP_REACH = 0.855 + g.TCP_OFFSET
# A block's centre rests BLOCK_HALF_HEIGHT above the floor; on an edge or corner it is higher, never lower.
BLOCK_LOWEST_Z = g.FLOOR_Z + g.BLOCK_HALF_HEIGHT * 0.5
BLOCK_HIGHEST_Z = g.WORKSPACE_HIGH[2] + 0.2

# (index, name, travel, tolerance beyond either end): the simulator's joint stops are soft, and a
# finger pressing on the button pushes it up to about twice its 2 cm travel (0.040 in 20k frames of play).
_PARTS = (
    (SLIDER, "slider", g.SLIDER_TRAVEL, 0.01),
    (DRAWER, "drawer", g.DRAWER_TRAVEL, 0.01),
    (BUTTON, "button", g.BUTTON_TRAVEL, 0.03),
    (SWITCH, "switch", g.SWITCH_TRAVEL, 0.015),
)


def blocks_off_table(scene_obs: np.ndarray) -> list[str]:
    """Colours of the blocks that have fallen off the table (below every surface a block rests on)."""
    return [color for color in BLOCK_COLORS if float(scene_obs[block_pos(color)][2]) < g.OFF_TABLE_BELOW_Z]


def first_violation(robot_obs: np.ndarray, scene_obs: np.ndarray) -> str | None:
    """Where the first state outside the scene's physical bounds is, as a sentence; None if all are inside.

    Takes one state ((15,), (24,)) or a sequence of frames ((N, 15), (N, 24)); frames are named by index.
    """
    robot = np.atleast_2d(np.asarray(robot_obs, dtype=np.float64))
    scene = np.atleast_2d(np.asarray(scene_obs, dtype=np.float64))
    if robot.shape[1:] != (ROBOT_OBS_DIM,) or scene.shape[1:] != (SCENE_OBS_DIM,) or len(robot) != len(scene):
        raise ValueError(
            f"need robot_obs (N, {ROBOT_OBS_DIM}) and scene_obs (N, {SCENE_OBS_DIM}), got {robot.shape}, {scene.shape}"
        )
    checks: list[tuple[np.ndarray, str]] = []
    for name, arr in (("robot_obs", robot), ("scene_obs", scene)):
        bad = ~np.isfinite(arr)
        checks.append((bad, f"{name}[{{col}}] = {{value}} is not finite"))
    low = np.array(g.ARM_LOWER_LIMITS) - JOINT_TOLERANCE
    high = np.array(g.ARM_UPPER_LIMITS) + JOINT_TOLERANCE
    joints = robot[:, ARM_JOINTS]
    checks.append(
        (
            _pad(joints < low, ARM_JOINTS.start, ROBOT_OBS_DIM),
            "robot_obs[{col}] (arm joint) = {value} rad is below its limit",
        )
    )
    checks.append(
        (
            _pad(joints > high, ARM_JOINTS.start, ROBOT_OBS_DIM),
            "robot_obs[{col}] (arm joint) = {value} rad is above its limit",
        )
    )
    width = robot[:, GRIPPER_WIDTH]
    checks.append(
        (
            _column((width < GRIPPER_WIDTH_MIN) | (width > GRIPPER_WIDTH_MAX), GRIPPER_WIDTH, ROBOT_OBS_DIM),
            "robot_obs[{col}] (gripper width) = {value} m is outside "
            + f"{GRIPPER_WIDTH_MIN:g}..{GRIPPER_WIDTH_MAX:g}",
        )
    )
    gripper = robot[:, GRIPPER_ACTION]
    checks.append(
        (
            _column(np.abs(gripper) > 1.0 + 1e-6, GRIPPER_ACTION, ROBOT_OBS_DIM),
            "robot_obs[{col}] (gripper action) = {value} is outside -1..1",
        )
    )
    tcp = robot[:, TCP_POS]
    offset = tcp - SHOULDER
    # A TCP out of reach is named by its coordinate farthest from the shoulder.
    far = np.zeros_like(tcp, dtype=bool)
    far[np.arange(len(tcp)), np.argmax(np.abs(offset), axis=1)] = True
    bad = far & (np.linalg.norm(offset, axis=1) > TCP_REACH)[:, None]
    bad[:, 2] |= tcp[:, 2] < g.FLOOR_Z
    checks.append(
        (
            _pad(bad, TCP_POS.start, ROBOT_OBS_DIM),
            "robot_obs[{col}] (TCP position) = {value} m is beyond the reachable area",
        )
    )
    for index, name, travel, tolerance in _PARTS:
        value = scene[:, index]
        bad = (value < -tolerance) | (value > travel + tolerance)
        checks.append(
            (
                _column(bad, index, SCENE_OBS_DIM),
                "scene_obs[{col}] (" + name + f") = {{value}} m is outside its travel 0..{travel:g}",
            )
        )
    for index, name in ((LIGHTBULB, "lightbulb"), (LED, "led")):
        bad = (scene[:, index] < 0.0) | (scene[:, index] > 1.0)
        checks.append((_column(bad, index, SCENE_OBS_DIM), "scene_obs[{col}] (" + name + ") = {value} is not 0 or 1"))
    for color in BLOCK_COLORS:
        pos = scene[:, block_pos(color)]
        start = block_pos(color).start
        outside = np.abs(pos[:, :2]) > g.FLOOR_HALF_EXTENT
        checks.append(
            (
                _pad(outside, start, SCENE_OBS_DIM),
                "scene_obs[{col}] (" + color + " block x/y) = {value} m is off the floor",
            )
        )
        low_z = _column(pos[:, 2] < BLOCK_LOWEST_Z, start + 2, SCENE_OBS_DIM)
        checks.append((low_z, "scene_obs[{col}] (" + color + " block z) = {value} m is below the floor"))
        high_z = _column(pos[:, 2] > BLOCK_HIGHEST_Z, start + 2, SCENE_OBS_DIM)
        checks.append((high_z, "scene_obs[{col}] (" + color + " block z) = {value} m is above the reachable area"))
    first: tuple[int, str] | None = None
    for bad, message in checks:
        source = robot if bad.shape[1] == ROBOT_OBS_DIM else scene
        rows = np.flatnonzero(bad.any(axis=1))
        if len(rows) and (first is None or rows[0] < first[0]):
            row = int(rows[0])
            col = int(np.flatnonzero(bad[row])[0])
            first = (row, message.format(col=col, value=f"{source[row, col]:.6g}"))
    if first is None:
        return None
    row, message = first
    return message if len(robot) == 1 else f"frame {row}: {message}"


def first_action_violation(actions: np.ndarray, rel_actions: np.ndarray) -> str | None:
    """Where the first action no robot could be commanded with is: a relative action outside [-1, 1],
    an absolute target beyond the arm's reach, an angle beyond +-pi or a gripper command beyond +-1."""
    absolute = np.atleast_2d(np.asarray(actions, dtype=np.float64))
    relative = np.atleast_2d(np.asarray(rel_actions, dtype=np.float64))
    checks = (
        (np.abs(relative) > 1.0 + 1e-4, relative, "rel_actions[{row}, {col}] = {value} is outside -1..1"),
        (
            np.linalg.norm(absolute[:, :3] - SHOULDER, axis=1, keepdims=True) > TCP_REACH + 0.5,
            absolute,
            "actions[{row}, 0:3] (TCP target) starts with {value} and lies beyond the arm's reach",
        ),
        (np.abs(absolute[:, 3:6]) > np.pi + 1e-3, absolute[:, 3:6], "actions[{row}, 3+{col}] (angle) = {value} rad"),
        (np.abs(absolute[:, 6:7]) > 1.0 + 1e-6, absolute[:, 6:7], "actions[{row}, 6] (gripper) = {value}"),
    )
    first: tuple[int, str] | None = None
    for bad, values, message in checks:
        rows = np.flatnonzero(bad.any(axis=1))
        if len(rows) and (first is None or rows[0] < first[0]):
            row = int(rows[0])
            col = int(np.flatnonzero(bad[row])[0])
            first = (row, message.format(row=row, col=col, value=f"{values[row, col]:.6g}"))
    return None if first is None else first[1]


def resting_scene(frames: int) -> np.ndarray:
    """(frames, 24) scene states with every block resting on the table at its origin: what the
    scene checks see in place of a scene state that was not recorded."""
    scene = np.zeros(24)
    for color in BLOCK_COLORS:
        scene[block_pos(color).start + 2] = g.TABLE_TOP_Z + g.BLOCK_HALF_HEIGHT
    return np.broadcast_to(scene, (frames, 24))


def check_physical(robot_obs: np.ndarray, scene_obs: np.ndarray, what: str) -> None:
    """Raise ValueError naming the first state outside the scene's physical bounds."""
    problem = first_violation(robot_obs, scene_obs)
    if problem is not None:
        raise ValueError(f"{what}: {problem} (not a physical state of the scene)")


def _column(bad: np.ndarray, col: int, width: int) -> np.ndarray:
    full = np.zeros((len(bad), width), dtype=bool)
    full[:, col] = bad
    return full


def _pad(bad: np.ndarray, start: int, width: int) -> np.ndarray:
    full = np.zeros((len(bad), width), dtype=bool)
    full[:, start : start + bad.shape[1]] = bad
    return full
