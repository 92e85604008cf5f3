"""Random start states: valid scenes for reset(seed) and play, and per-skill feasible starts.

Evaluation and demonstration collection need start states in which a skill can succeed and has
not already succeeded (a drawer that is already open cannot be opened by 0.12 m more). All
samplers are pure functions of a numpy Generator, so a seed fixes the state exactly.
"""

from __future__ import annotations

import numpy as np

from diwa.sim import geometry as g
from diwa.sim.kinematics import shared_kinematics
from diwa.sim.obs_layout import BLOCK_COLORS, BUTTON, DRAWER, LED, LIGHTBULB, SCENE_OBS_DIM, SLIDER, SWITCH, block_pos
from diwa.sim.oracle import DRAWER_THRESHOLD, SLIDER_THRESHOLD
from diwa.skills import SKILLS, check_skill

ARM_POS_SPREAD_LOW = np.array([-0.06, -0.05, -0.04])
ARM_POS_SPREAD_HIGH = np.array([0.06, 0.05, 0.06])
ARM_YAW_SPREAD = 0.1
SHELF_YAW_SPREAD = 0.1
BLOCK_GAP = 0.005

# For each skill: (scene_obs index, low, high) of the one state variable that must start in range,
# chosen so that the skill's oracle threshold can be crossed within the joint's travel.
FEASIBLE_RANGES: dict[str, tuple[int, float, float]] = {
    "open_drawer": (DRAWER, 0.0, 0.06),
    "close_drawer": (DRAWER, 0.16, g.DRAWER_TRAVEL),
    "move_slider_left": (SLIDER, 0.0, 0.08),
    "move_slider_right": (SLIDER, 0.20, g.SLIDER_TRAVEL),
    "turn_on_lightbulb": (SWITCH, 0.0, 0.02),
    "turn_off_lightbulb": (SWITCH, 0.066, g.SWITCH_TRAVEL),
}
LED_START = {"turn_on_led": 0.0, "turn_off_led": 1.0}


def achievable_skills(scene_obs: np.ndarray, margin: float = 0.01) -> list[str]:
    """Skills whose oracle threshold can still be crossed within the joint travel from `scene_obs`.

    Looser than the evaluation start ranges; play uses it to pick attempts that can succeed.
    """
    drawer, slider = float(scene_obs[DRAWER]), float(scene_obs[SLIDER])
    checks = {
        "open_drawer": drawer < g.DRAWER_TRAVEL - DRAWER_THRESHOLD - margin,
        "close_drawer": drawer > DRAWER_THRESHOLD + margin,
        "move_slider_left": slider < g.SLIDER_TRAVEL - SLIDER_THRESHOLD - margin,
        "move_slider_right": slider > SLIDER_THRESHOLD + margin,
        "turn_on_lightbulb": scene_obs[LIGHTBULB] < 0.5,
        "turn_off_lightbulb": scene_obs[LIGHTBULB] >= 0.5,
        "turn_on_led": scene_obs[LED] < 0.5,
        "turn_off_led": scene_obs[LED] >= 0.5,
    }
    return [skill for skill in SKILLS if checks[skill]]


def sample_robot_obs(rng: np.random.Generator) -> np.ndarray:
    """An arm at rest near home: TCP within a few cm of the home pose, gripper fully open or closed."""
    pos = np.array(g.HOME_TCP_POS) + rng.uniform(ARM_POS_SPREAD_LOW, ARM_POS_SPREAD_HIGH)
    euler = np.array(g.HOME_TCP_EULER) + np.array([0.0, 0.0, rng.uniform(-ARM_YAW_SPREAD, ARM_YAW_SPREAD)])
    kinematics = shared_kinematics()
    joints = kinematics.inverse(pos, euler)
    gripper_open = bool(rng.integers(2))
    width = 2 * g.GRIPPER_OPEN if gripper_open else 0.0
    return kinematics.robot_obs(joints, width, 1.0 if gripper_open else -1.0)


def sample_scene_obs(rng: np.random.Generator) -> np.ndarray:
    """Door, drawer and switch anywhere in their travel, LED on or off, blocks resting apart."""
    scene = np.zeros(SCENE_OBS_DIM)
    scene[SLIDER] = rng.uniform(0.0, g.SLIDER_TRAVEL)
    scene[DRAWER] = rng.uniform(0.0, g.DRAWER_TRAVEL)
    scene[BUTTON] = 0.0
    scene[SWITCH] = rng.uniform(0.0, g.SWITCH_TRAVEL)
    scene[LED] = float(rng.integers(2))
    scene[6:24] = _sample_blocks(rng)
    return with_consistent_lights(scene)


def sample_states(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """`n` independent valid states as float32 arrays (n, 15) and (n, 24): data that any dataset
    writer accepts, for tests and benchmarks that need frames but no dynamics."""
    robot = np.stack([sample_robot_obs(rng) for _ in range(n)]).astype(np.float32)
    scene = np.stack([sample_scene_obs(rng) for _ in range(n)]).astype(np.float32)
    return robot, scene


def with_consistent_lights(scene_obs: np.ndarray) -> np.ndarray:
    """The lightbulb is a function of the switch; derive it rather than trust a sampled value."""
    scene = scene_obs.copy()
    scene[LIGHTBULB] = float(scene[SWITCH] > g.LIGHTBULB_ON_ABOVE)
    return scene


def _sample_blocks(rng: np.random.Generator) -> np.ndarray:
    """Poses of all blocks on the placement surfaces, footprints apart, by rejection sampling."""
    poses = np.zeros(6 * len(BLOCK_COLORS))
    placed: list[tuple[np.ndarray, float]] = []
    for i, color in enumerate(BLOCK_COLORS):
        poses[6 * i : 6 * i + 6] = _place_block(color, placed, rng)
    return poses


def replace_blocks(scene_obs: np.ndarray, colors: list[str], rng: np.random.Generator) -> np.ndarray:
    """`scene_obs` with the blocks `colors` put back on a placement surface, apart from the others,
    as an operator puts back a block that fell off the table."""
    scene = np.array(scene_obs, dtype=np.float64)
    placed = []
    for other in BLOCK_COLORS:
        if other not in colors:
            sx, sy = g.BLOCK_SIZES[other]
            placed.append((scene[block_pos(other)][:2].copy(), 0.5 * float(np.hypot(sx, sy))))
    for color in colors:
        start = block_pos(color).start
        scene[start : start + 6] = _place_block(color, placed, rng)
    return scene


def _place_block(color: str, placed: list[tuple[np.ndarray, float]], rng: np.random.Generator) -> np.ndarray:
    """A resting pose (x, y, z, roll, pitch, yaw) for block `color` clear of the `placed` footprints,
    which it joins."""
    sx, sy = g.BLOCK_SIZES[color]
    radius = 0.5 * float(np.hypot(sx, sy))
    for _ in range(1000):
        surface = g.PLACEMENT_SURFACES[rng.choice(len(g.PLACEMENT_SURFACES), p=[0.6, 0.2, 0.2])]
        xy = rng.uniform([surface.x[0], surface.y[0]], [surface.x[1], surface.y[1]])
        if surface.name == "table":
            yaw = rng.uniform(-np.pi, np.pi)
        else:
            # The shelf is shallow: keep blocks roughly aligned with it so they clear the door.
            yaw = rng.uniform(-SHELF_YAW_SPREAD, SHELF_YAW_SPREAD) + np.pi * rng.integers(2)
            yaw = (yaw + np.pi) % (2 * np.pi) - np.pi
        if all(np.linalg.norm(xy - other) > radius + r + BLOCK_GAP for other, r in placed):
            break
    else:
        raise RuntimeError("could not place the blocks apart after 1000 tries; placement regions too small")
    placed.append((xy, radius))
    return np.array([xy[0], xy[1], surface.rest_z, 0.0, 0.0, yaw])


def sample_start_state(skill: str, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A random state in which `skill` is feasible and not already achieved."""
    check_skill(skill)
    robot_obs, scene_obs = sample_robot_obs(rng), sample_scene_obs(rng)
    if skill in FEASIBLE_RANGES:
        index, low, high = FEASIBLE_RANGES[skill]
        scene_obs[index] = rng.uniform(low, high)
    else:
        scene_obs[LED] = LED_START[skill]
    return robot_obs.astype(np.float32), with_consistent_lights(scene_obs).astype(np.float32)


def skill_seed(seed: int, skill: str, episode: int) -> np.random.Generator:
    """Generator for episode `episode` of `skill` under `seed`: the same start state for every policy."""
    return np.random.default_rng([seed, SKILLS.index(check_skill(skill)), episode])
