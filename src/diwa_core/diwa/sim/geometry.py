"""Geometry of our CALVIN scene-D look-alike, in CALVIN's world frame (metres).

Positions, travels and thresholds follow the measurements of the real simulator (docs/reference.md §3) so
that robot_obs / scene_obs are numerically comparable with CALVIN data. Where the exact shape of a
part was not measured (wall thickness, handle depth), it is chosen so that a gripper pointing down
can reach and move every part; those choices are marked below.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# --- robot -------------------------------------------------------------------------------------
ROBOT_BASE_POS = (-0.34, -0.46, 0.24)
HOME_JOINTS = (-1.21779, 1.03988, 2.11978, -2.34205, -0.87016, 1.64119, 0.55345)
# Soft limits of the Franka arm (the values its controller enforces).
ARM_LOWER_LIMITS = (-2.8973, -1.7628, -2.8973, -3.0718, -2.8973, -0.0175, -2.8973)
ARM_UPPER_LIMITS = (2.8973, 1.7628, 2.8973, -0.0698, 2.8973, 3.7525, 2.8973)
# CALVIN's TCP sits 0.14 m below the hand frame along the hand's z axis; with it, forward kinematics
# at HOME_JOINTS gives CALVIN's home TCP pose below.
TCP_OFFSET = 0.14
HOME_TCP_POS = (0.0259, -0.2313, 0.5713)
HOME_TCP_EULER = (3.0905, -0.0291, 1.5001)
# CALVIN's fingers are longer than the stock Panda's; pads of this length extend the stock fingers
# so that the fingertips end just below the TCP, as on CALVIN's robot.
FINGER_PAD_LENGTH = 0.045
FINGER_HALF_THICKNESS = 0.0105  # a finger's half extent across the closing direction
ARM_FORCE = 200.0
ARM_MAX_VELOCITY = 2.0
GRIPPER_OPEN = 0.04  # per finger
GRIPPER_OPEN_FORCE = 2.0
GRIPPER_CLOSE_FORCE = 200.0

GRAVITY = 9.8  # as CALVIN sets it

# --- timing and actions ------------------------------------------------------------------------
PHYSICS_HZ = 240
CONTROL_HZ = 30
SUBSTEPS = PHYSICS_HZ // CONTROL_HZ
REL_POS_SCALE = 0.02  # metres per unit of relative action
REL_ORN_SCALE = 0.05  # radians per unit of relative action
# Box the TCP target is clipped to: the reachable part of the table, a little beyond every handle.
WORKSPACE_LOW = (-0.45, -0.55, 0.30)
WORKSPACE_HIGH = (0.45, 0.25, 0.85)

# --- floor and table ---------------------------------------------------------------------------
# The table stands on a floor, as CALVIN's does: a block pushed off the table lands there.
FLOOR_Z = 0.0
FLOOR_HALF_EXTENT = 2.0  # the floor is a square of this half side around the scene origin
TABLE_TOP_Z = 0.44
SHELF_TOP_Z = 0.441
BLOCK_HALF_HEIGHT = 0.02
BLOCK_MASS = 1.0
BLOCK_FRICTION = 0.7
# Block footprints (x, y) in the block frame; heights are all 2 * BLOCK_HALF_HEIGHT.
BLOCK_SIZES = {"red": (0.04, 0.04), "blue": (0.08, 0.04), "pink": (0.06, 0.04)}
BLOCK_RGBA = {"red": (0.85, 0.1, 0.1, 1.0), "blue": (0.1, 0.25, 0.85, 1.0), "pink": (0.95, 0.45, 0.7, 1.0)}

# --- articulated parts (joint 0 positions) -----------------------------------------------------
SLIDER_TRAVEL = 0.28
DRAWER_TRAVEL = 0.22
SWITCH_TRAVEL = 0.088
BUTTON_TRAVEL = 0.02
JOINT_FRICTION_FORCE = 4.0  # velocity control at 0 with this force acts as friction
BUTTON_SPRING_FORCE = 4.0
BUTTON_TOGGLE_AT = 0.010  # the LED toggles when the button crosses this depth going down
LIGHTBULB_ON_ABOVE = 0.044

DRAWER_HANDLE = (0.18, -0.246, 0.36)  # bar centre with the drawer closed; opens toward -y
DRAWER_FRONT_Y = -0.18
SLIDER_HANDLE = (0.04, 0.016, 0.572)  # grasp point with the door at 0; positive joint moves -x
# Our choice: the door panel sits at y 0.055..0.070 so the hand clears it while the fingers push the
# handle, which is a solid block from y -0.004 to the panel.
SLIDER_PANEL_Y = (0.055, 0.070)
BUTTON_CENTER = (-0.12, -0.12, 0.463)
BUTTON_TOP_Z = 0.486
SWITCH_KNOB = (0.30, 0.061, 0.495)
SWITCH_AXIS = (0.0, 0.5, 0.866)
# CALVIN's LED is at (-0.12, 0.16, 0.648), where our door panel would hide it; ours sits straight
# above, on the cabinet's back wall, so the static camera sees it at every door position.
LED_POS = (-0.12, 0.17, 0.74)
LIGHTBULB_POS = (0.30, 0.132, 0.648)
# Our choice: the knob is a round bar along x, so a finger pushes it cleanly from any direction.
SWITCH_KNOB_RADIUS = 0.015
SWITCH_KNOB_LENGTH = 0.05
DRAWER_HANDLE_HALF = (0.12, 0.01, 0.02)
SLIDER_HANDLE_HALF_X = 0.01


@dataclass(frozen=True)
class Surface:
    """A horizontal region blocks rest on: x/y bounds of block centres and the resting centre height."""

    name: str
    x: tuple[float, float]
    y: tuple[float, float]
    rest_z: float

    def contains(self, xy: np.ndarray, margin: float = 0.0) -> bool:
        return bool(
            self.x[0] - margin <= xy[0] <= self.x[1] + margin and self.y[0] - margin <= xy[1] <= self.y[1] + margin
        )


# Where random start states put blocks. The shelf regions keep CALVIN's x ranges; their y range is
# narrowed to 0.09..0.12 (CALVIN: 0.05..0.12) because our door panel stands in front of the shelf.
PLACEMENT_SURFACES = (
    Surface("table", (0.00, 0.35), (-0.15, -0.03), TABLE_TOP_Z + BLOCK_HALF_HEIGHT),
    Surface("slider_left", (-0.32, -0.16), (0.09, 0.12), SHELF_TOP_Z + BLOCK_HALF_HEIGHT),
    Surface("slider_right", (-0.05, 0.13), (0.09, 0.12), SHELF_TOP_Z + BLOCK_HALF_HEIGHT),
)
# Where a block counts as resting on the table or in the shelf (whole surfaces, not just placements).
TABLE_SURFACE = Surface("table", (-0.50, 0.50), (-0.16, 0.05), TABLE_TOP_Z + BLOCK_HALF_HEIGHT)
SHELF_SURFACE = Surface("slider", (-0.38, 0.18), (0.07, 0.16), SHELF_TOP_Z + BLOCK_HALF_HEIGHT)
# Drawer interior with the drawer closed; it moves toward -y by the drawer joint.
DRAWER_BOTTOM_Z = 0.31
DRAWER_INTERIOR = Surface("drawer", (-0.025, 0.385), (-0.165, 0.085), DRAWER_BOTTOM_Z + BLOCK_HALF_HEIGHT)


# A block whose centre is this low has left the table: the drawer's floor (the lowest place a block
# rests on the furniture) is at 0.31, and a falling block passes this height about 6 frames after the edge.
OFF_TABLE_BELOW_Z = DRAWER_BOTTOM_Z - 0.06


def drawer_handle(drawer_joint: float) -> np.ndarray:
    """Centre of the drawer handle bar for a given drawer opening."""
    return np.array(DRAWER_HANDLE) + np.array([0.0, -drawer_joint, 0.0])


def slider_handle(slider_joint: float) -> np.ndarray:
    """Grasp point of the sliding-door handle for a given door position."""
    return np.array(SLIDER_HANDLE) + np.array([-slider_joint, 0.0, 0.0])


def switch_knob(switch_joint: float) -> np.ndarray:
    """Centre of the switch knob for a given switch position."""
    return np.array(SWITCH_KNOB) + switch_joint * np.array(SWITCH_AXIS)


def drawer_surface(drawer_joint: float) -> Surface:
    """The drawer interior where it is now."""
    y0, y1 = DRAWER_INTERIOR.y
    return Surface("drawer", DRAWER_INTERIOR.x, (y0 - drawer_joint, y1 - drawer_joint), DRAWER_INTERIOR.rest_z)
