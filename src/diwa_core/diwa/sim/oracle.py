"""CALVIN's task oracle: which tasks were achieved between a start state and the current state.

Pure functions of (robot_obs, scene_obs) pairs, so the same judge serves the simulator, evaluation,
and the labelling of recorded data. The only extra information is block contacts for the lift
tasks; when it is not available (recorded data), "held by the robot" is inferred from the gripper.

Thresholds (docs/reference.md §3): drawer > 0.12, slider > 0.15 (strict), lights 0 -> 1 / 1 -> 0,
push > 0.1 in x on a surface at both ends, lift > 0.05 (0.03 from the slider) held only by the robot,
rotate > 60 deg in yaw with roll and pitch within 30 deg.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from diwa.sim import geometry as g
from diwa.sim.obs_layout import (
    BLOCK_COLORS,
    DRAWER,
    GRIPPER_WIDTH,
    LED,
    LIGHTBULB,
    ROBOT_OBS_DIM,
    SCENE_OBS_DIM,
    SLIDER,
    TCP_POS,
    block_euler,
    block_pos,
)
from diwa.sim.rotations import relative_euler, wrap_angle
from diwa.skills import SKILLS

DRAWER_THRESHOLD = 0.12
SLIDER_THRESHOLD = 0.15
PUSH_THRESHOLD = 0.1
LIFT_THRESHOLD = 0.05
LIFT_FROM_SLIDER_THRESHOLD = 0.03
ROTATE_YAW = np.deg2rad(60.0)
ROTATE_TILT_TOLERANCE = np.deg2rad(30.0)
REST_TOLERANCE = 0.012  # how far above its resting height a block still counts as resting

LIFT_SURFACES = ("table", "slider", "drawer")
BLOCK_TASKS: tuple[str, ...] = tuple(
    task
    for color in BLOCK_COLORS
    for task in (
        f"push_{color}_block_right",
        f"push_{color}_block_left",
        *(f"lift_{color}_block_{surface}" for surface in LIFT_SURFACES),
        f"rotate_{color}_block_right",
        f"rotate_{color}_block_left",
    )
)
TASKS: tuple[str, ...] = SKILLS + BLOCK_TASKS

BlockContacts = Mapping[str, frozenset[str]]


def resting_surface(xyz: np.ndarray, drawer_joint: float) -> str | None:
    """Name of the surface ("table", "slider", "drawer") a block centred at `xyz` rests on, if any."""
    for surface in (g.TABLE_SURFACE, g.SHELF_SURFACE, g.drawer_surface(drawer_joint)):
        if abs(xyz[2] - surface.rest_z) <= REST_TOLERANCE and surface.contains(xyz, margin=0.01):
            return surface.name
    return None


def held_by_robot(robot_obs: np.ndarray, scene_obs: np.ndarray, color: str) -> bool:
    """Infer from the state alone that the gripper holds block `color` off every surface."""
    width = robot_obs[GRIPPER_WIDTH]
    xyz = scene_obs[block_pos(color)]
    near = np.linalg.norm(robot_obs[TCP_POS] - xyz) < 0.045
    free = resting_surface(xyz, float(scene_obs[DRAWER])) is None
    return bool(0.01 < width < 0.075 and near and free)


def check_state(robot_obs: np.ndarray, scene_obs: np.ndarray, what: str = "state") -> None:
    """Raise ValueError unless the arrays have CALVIN's shapes and finite values."""
    for name, arr, dim in (("robot_obs", robot_obs, ROBOT_OBS_DIM), ("scene_obs", scene_obs, SCENE_OBS_DIM)):
        if np.shape(arr) != (dim,):
            raise ValueError(f"{what}: {name} must have shape ({dim},), got {np.shape(arr)}")
        if not np.isfinite(arr).all():
            raise ValueError(f"{what}: {name} contains NaN or infinite values")


def completed_tasks(
    start_robot: np.ndarray,
    start_scene: np.ndarray,
    robot: np.ndarray,
    scene: np.ndarray,
    contacts: BlockContacts | None = None,
    tasks: Iterable[str] = TASKS,
) -> list[str]:
    """Tasks among `tasks` achieved between the start state and the current state, in TASKS order.

    `contacts` maps each block colour to the labels of what touches it now ("robot", "table", ...);
    without it, lift tasks use held_by_robot instead.
    """
    wanted = set(tasks)
    unknown = wanted - set(TASKS)
    if unknown:
        raise ValueError(f"unknown tasks {sorted(unknown)}; known tasks: {', '.join(TASKS)}")
    start_robot, start_scene = np.asarray(start_robot, np.float64), np.asarray(start_scene, np.float64)
    robot, scene = np.asarray(robot, np.float64), np.asarray(scene, np.float64)
    check_state(start_robot, start_scene, "start state")
    check_state(robot, scene, "current state")
    done: set[str] = set()
    drawer = scene[DRAWER] - start_scene[DRAWER]
    slider = scene[SLIDER] - start_scene[SLIDER]
    done.update(_directional("open_drawer", "close_drawer", drawer, DRAWER_THRESHOLD))
    done.update(_directional("move_slider_left", "move_slider_right", slider, SLIDER_THRESHOLD))
    done.update(_light("lightbulb", start_scene[LIGHTBULB], scene[LIGHTBULB]))
    done.update(_light("led", start_scene[LED], scene[LED]))
    if wanted & set(BLOCK_TASKS):
        for color in BLOCK_COLORS:
            if block_moved(start_scene, scene, color):
                done.update(_block_tasks(color, start_scene, robot, scene, contacts))
    return [task for task in TASKS if task in done and task in wanted]


def block_moved(start_scene: np.ndarray, scene: np.ndarray, color: str) -> bool:
    """Cheap pre-check: a block that moved less than every block threshold completes no block task.

    The oracle runs on every simulator step, and blocks are idle most of the time.
    """
    shift = np.abs(scene[block_pos(color)] - start_scene[block_pos(color)]).max()
    turn = np.abs(wrap_angle(scene[block_euler(color)] - start_scene[block_euler(color)])).max()
    return bool(shift > LIFT_FROM_SLIDER_THRESHOLD or turn > ROTATE_TILT_TOLERANCE)


def _directional(positive: str, negative: str, change: float, threshold: float) -> list[str]:
    if change > threshold:
        return [positive]
    if change < -threshold:
        return [negative]
    return []


def _light(name: str, before: float, after: float) -> list[str]:
    if before < 0.5 <= after:
        return [f"turn_on_{name}"]
    if before >= 0.5 > after:
        return [f"turn_off_{name}"]
    return []


def _block_tasks(
    color: str,
    start_scene: np.ndarray,
    robot: np.ndarray,
    scene: np.ndarray,
    contacts: BlockContacts | None,
) -> list[str]:
    done = []
    start_xyz, xyz = start_scene[block_pos(color)], scene[block_pos(color)]
    start_surface = resting_surface(start_xyz, float(start_scene[DRAWER]))
    end_surface = resting_surface(xyz, float(scene[DRAWER]))
    shift = xyz - start_xyz
    pushable = ("table", "slider")
    if start_surface in pushable and end_surface in pushable:
        done += _directional(f"push_{color}_block_right", f"push_{color}_block_left", float(shift[0]), PUSH_THRESHOLD)
    if start_surface is not None:
        threshold = LIFT_FROM_SLIDER_THRESHOLD if start_surface == "slider" else LIFT_THRESHOLD
        held = contacts[color] == frozenset({"robot"}) if contacts is not None else held_by_robot(robot, scene, color)
        if shift[2] > threshold and held:
            done.append(f"lift_{color}_block_{start_surface}")
    roll, pitch, yaw = relative_euler(start_scene[block_euler(color)], scene[block_euler(color)])
    if abs(roll) < ROTATE_TILT_TOLERANCE and abs(pitch) < ROTATE_TILT_TOLERANCE:
        if yaw < -ROTATE_YAW:
            done.append(f"rotate_{color}_block_right")
        elif yaw > ROTATE_YAW:
            done.append(f"rotate_{color}_block_left")
    return done
