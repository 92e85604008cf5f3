"""Index map of CALVIN's state vectors, shared by the simulator, the oracle, the expert and the data tools.

Every consumer reads robot_obs / scene_obs through these names so that the layout is written down
exactly once and matches recorded CALVIN data element by element.
"""

from __future__ import annotations

ROBOT_OBS_DIM = 15
TCP_POS = slice(0, 3)
TCP_EULER = slice(3, 6)
GRIPPER_WIDTH = 6
ARM_JOINTS = slice(7, 14)
GRIPPER_ACTION = 14

SCENE_OBS_DIM = 24
SLIDER = 0
DRAWER = 1
BUTTON = 2
SWITCH = 3
LIGHTBULB = 4
LED = 5
BLOCK_COLORS: tuple[str, ...] = ("red", "blue", "pink")

ACTION_DIM = 7


def block_pos(color: str) -> slice:
    """Slice of scene_obs holding the xyz position of block `color`."""
    start = 6 + 6 * _color_index(color)
    return slice(start, start + 3)


def block_euler(color: str) -> slice:
    """Slice of scene_obs holding the euler xyz orientation of block `color`."""
    start = 9 + 6 * _color_index(color)
    return slice(start, start + 3)


def _color_index(color: str) -> int:
    if color not in BLOCK_COLORS:
        raise ValueError(f"unknown block colour {color!r}; expected one of {BLOCK_COLORS}")
    return BLOCK_COLORS.index(color)
