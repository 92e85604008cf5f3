"""Generated URDF assets: the play table, the blocks, and the Panda with CALVIN's TCP and finger length.

PyBullet loads articulated bodies from files only, so the URDF text is generated here from the
numbers in geometry.py and written once to a cache directory under a content-hash name. Writes are
atomic, so several processes (or parallel tests) can build the same asset at the same time.
"""

from __future__ import annotations

import hashlib
import math
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pybullet_data

from diwa.atomic import write_atomically
from diwa.sim import geometry as g

Vec3 = Sequence[float]

WOOD = (0.62, 0.47, 0.32, 1.0)
DARK_WOOD = (0.45, 0.33, 0.22, 1.0)
GREY = (0.7, 0.72, 0.75, 1.0)
WHITE = (0.92, 0.92, 0.9, 1.0)
LIGHT_OFF = (0.35, 0.35, 0.35, 1.0)
FLOOR_GREY = (0.55, 0.55, 0.55, 1.0)


def cache_dir() -> Path:
    """Directory for generated assets: $DIWA_CACHE_DIR/sim_assets, else a per-user temp directory."""
    root = os.environ.get("DIWA_CACHE_DIR")
    base = Path(root) if root else Path(tempfile.gettempdir()) / f"diwa-cache-{os.getuid()}"
    path = base / "sim_assets"
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_cached(name: str, text: str) -> Path:
    """Write `text` to `<cache>/<name>-<hash>.urdf` unless that file already exists; return its path."""
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    target = cache_dir() / f"{name}-{digest}.urdf"
    if not target.exists():
        write_atomically(target, text)
    return target


def _fmt(values: Vec3) -> str:
    return " ".join(f"{v:.6g}" for v in values)


def _box(center: Vec3, half: Vec3, rgba: Sequence[float]) -> str:
    size = _fmt([2 * h for h in half])
    origin = f'<origin xyz="{_fmt(center)}"/>'
    visual = (
        f'<visual>{origin}<geometry><box size="{size}"/></geometry>'
        f'<material name="c{_fmt(rgba).replace(" ", "_")}"><color rgba="{_fmt(rgba)}"/></material></visual>'
    )
    return visual + f'<collision>{origin}<geometry><box size="{size}"/></geometry></collision>'


def _span(lo: Vec3, hi: Vec3, rgba: Sequence[float], frame: Vec3) -> str:
    """A box given by its world-frame corners, expressed relative to a link frame at `frame`."""
    center = [(a + b) / 2 - f for a, b, f in zip(lo, hi, frame, strict=True)]
    half = [(b - a) / 2 for a, b in zip(lo, hi, strict=True)]
    return _box(center, half, rgba)


def _sphere(center: Vec3, radius: float, rgba: Sequence[float]) -> str:
    return (
        f'<visual><origin xyz="{_fmt(center)}"/><geometry><sphere radius="{radius}"/></geometry>'
        f'<material name="c{_fmt(rgba).replace(" ", "_")}"><color rgba="{_fmt(rgba)}"/></material></visual>'
    )


def _cylinder_along_x(radius: float, length: float, rgba: Sequence[float]) -> str:
    origin = f'<origin xyz="0 0 0" rpy="0 {math.pi / 2:.6f} 0"/>'
    shape = f'<geometry><cylinder radius="{radius}" length="{length}"/></geometry>'
    material = f'<material name="c{_fmt(rgba).replace(" ", "_")}"><color rgba="{_fmt(rgba)}"/></material>'
    return f"<visual>{origin}{shape}{material}</visual><collision>{origin}{shape}</collision>"


def _inertial(mass: float) -> str:
    inertia = 0.001 * max(mass, 0.01)
    return (
        f'<inertial><mass value="{mass}"/>'
        f'<inertia ixx="{inertia}" iyy="{inertia}" izz="{inertia}" ixy="0" ixz="0" iyz="0"/></inertial>'
    )


def _prismatic(name: str, child: str, origin: Vec3, axis: Vec3, upper: float, rpy: Vec3 = (0.0, 0.0, 0.0)) -> str:
    return (
        f'<joint name="{name}" type="prismatic"><parent link="table"/><child link="{child}"/>'
        f'<origin xyz="{_fmt(origin)}" rpy="{_fmt(rpy)}"/><axis xyz="{_fmt(axis)}"/>'
        f'<limit lower="0" upper="{upper}" effort="100" velocity="1"/></joint>'
    )


def _fixed(name: str, child: str, origin: Vec3) -> str:
    return (
        f'<joint name="{name}" type="fixed"><parent link="table"/><child link="{child}"/>'
        f'<origin xyz="{_fmt(origin)}"/></joint>'
    )


@dataclass(frozen=True)
class FurniturePiece:
    """A static box of the table. Pieces are separate bodies, not one compound, so each robot link
    only meets the collision boxes it is actually near (a compound's large bounding box costs
    narrow-phase work on every substep)."""

    center: tuple[float, ...]
    half: tuple[float, ...]
    rgba: tuple[float, ...]
    rpy: tuple[float, ...] = (0.0, 0.0, 0.0)
    collide: bool = True


def _piece(lo: Vec3, hi: Vec3, rgba: tuple[float, ...], collide: bool = True) -> FurniturePiece:
    center = tuple((a + b) / 2 for a, b in zip(lo, hi, strict=True))
    half = tuple((b - a) / 2 for a, b in zip(lo, hi, strict=True))
    return FurniturePiece(center, half, rgba, collide=collide)


def furniture() -> list[FurniturePiece]:
    """Floor, table top, legs, drawer housing, the shelf cabinet and the inclined switch plate."""
    top = g.TABLE_TOP_Z
    floor = g.FLOOR_HALF_EXTENT
    pieces = [
        _piece((-floor, -floor, g.FLOOR_Z - 0.05), (floor, floor, g.FLOOR_Z), FLOOR_GREY),
        _piece((-0.50, -0.16, 0.40), (0.50, 0.20, top), WOOD),
        *[
            _piece((x - 0.02, y - 0.02, 0.0), (x + 0.02, y + 0.02, 0.40), DARK_WOOD)
            for x in (-0.47, 0.47)
            for y in (-0.13, 0.17)
        ],
        # drawer housing under the table top
        _piece((-0.06, -0.16, 0.27), (-0.04, 0.12, 0.40), DARK_WOOD),
        _piece((0.40, -0.16, 0.27), (0.42, 0.12, 0.40), DARK_WOOD),
        _piece((-0.06, -0.16, 0.27), (0.42, 0.12, 0.29), DARK_WOOD),
        # cabinet with two compartments behind the sliding door
        _piece((-0.38, 0.07, top), (0.18, 0.16, g.SHELF_TOP_Z), WOOD),
        _piece((-0.40, 0.16, top), (0.20, 0.18, 0.72), DARK_WOOD),
        _piece((-0.40, 0.07, top), (-0.38, 0.16, 0.72), DARK_WOOD),
        _piece((0.18, 0.07, top), (0.20, 0.16, 0.72), DARK_WOOD),
        _piece((-0.125, 0.075, top), (-0.115, 0.16, 0.69), DARK_WOOD),
        _piece((-0.40, g.SLIDER_PANEL_Y[1], 0.69), (0.20, 0.18, 0.70), DARK_WOOD),
        _piece((0.288, 0.13, 0.585), (0.312, 0.154, 0.635), GREY, collide=False),  # lightbulb socket
    ]
    # The switch knob slides on an inclined plate whose mid-plane lies 0.035 m behind the knob axis.
    axis = g.SWITCH_AXIS
    normal = (0.0, -axis[2], axis[1])
    tilt = math.atan2(axis[2], axis[1])
    center = tuple(
        k + (g.SWITCH_TRAVEL / 2) * a - 0.035 * n for k, a, n in zip(g.SWITCH_KNOB, axis, normal, strict=True)
    )
    pieces.append(FurniturePiece(center, (0.06, g.SWITCH_TRAVEL / 2 + 0.03, 0.01), GREY, rpy=(tilt, 0.0, 0.0)))
    return pieces


def table_urdf() -> str:
    """The articulated parts of the table (door, drawer, button, switch) and the two lights.

    The base link has no geometry: the furniture around these parts is built by furniture().
    """
    panel_y0, panel_y1 = g.SLIDER_PANEL_Y
    door_center = (g.SLIDER_HANDLE[0], (panel_y0 + panel_y1) / 2, (g.TABLE_TOP_Z + 0.001 + 0.69) / 2)
    hx, hy, hz = g.SLIDER_HANDLE
    door = [
        _span((hx - 0.14, panel_y0, g.TABLE_TOP_Z + 0.001), (hx + 0.14, panel_y1, 0.69), GREY, frame=door_center),
        _span(
            (hx - g.SLIDER_HANDLE_HALF_X, hy - 0.02, 0.50),
            (hx + g.SLIDER_HANDLE_HALF_X, panel_y0, 0.64),
            WHITE,
            frame=door_center,
        ),
    ]
    drawer_center = (0.18, (g.DRAWER_FRONT_Y + 0.10) / 2, 0.35)
    dx, dy, dz = g.DRAWER_HANDLE
    bar = g.DRAWER_HANDLE_HALF
    drawer = [
        _span((-0.04, g.DRAWER_FRONT_Y, 0.30), (0.40, 0.10, g.DRAWER_BOTTOM_Z), WOOD, frame=drawer_center),
        _span((-0.04, g.DRAWER_FRONT_Y, 0.30), (0.40, g.DRAWER_FRONT_Y + 0.015, 0.395), WOOD, frame=drawer_center),
        _span((-0.04, 0.085, 0.30), (0.40, 0.10, 0.395), WOOD, frame=drawer_center),
        _span((-0.04, g.DRAWER_FRONT_Y, 0.30), (-0.025, 0.10, 0.395), WOOD, frame=drawer_center),
        _span((0.385, g.DRAWER_FRONT_Y, 0.30), (0.40, 0.10, 0.395), WOOD, frame=drawer_center),
        _span(
            (dx - bar[0], dy - bar[1], dz - bar[2]), (dx + bar[0], dy + bar[1], dz + bar[2]), WHITE, frame=drawer_center
        ),
        *[
            _span(
                (x - 0.01, dy + bar[1], dz - 0.01), (x + 0.01, g.DRAWER_FRONT_Y, dz + 0.01), WHITE, frame=drawer_center
            )
            for x in (dx - bar[0] + 0.01, dx + bar[0] - 0.01)
        ],
    ]
    button_half = (0.035, 0.035, (g.BUTTON_TOP_Z - g.TABLE_TOP_Z) / 2)
    button_origin = (g.BUTTON_CENTER[0], g.BUTTON_CENTER[1], (g.BUTTON_TOP_Z + g.TABLE_TOP_Z) / 2)
    tilt = math.atan2(g.SWITCH_AXIS[2], g.SWITCH_AXIS[1])
    knob = _cylinder_along_x(g.SWITCH_KNOB_RADIUS, g.SWITCH_KNOB_LENGTH, WHITE)
    links = [
        f'<link name="table">{_inertial(0.0)}</link>',
        f'<link name="slide_door">{_inertial(1.0)}{"".join(door)}</link>',
        f'<link name="drawer">{_inertial(1.0)}{"".join(drawer)}</link>',
        f'<link name="button">{_inertial(0.1)}{_box((0, 0, 0), button_half, (0.2, 0.6, 0.2, 1.0))}</link>',
        f'<link name="switch">{_inertial(0.1)}{knob}</link>',
        f'<link name="led">{_inertial(0.0)}{_sphere((0, 0, 0), 0.035, LIGHT_OFF)}</link>',
        f'<link name="lightbulb">{_inertial(0.0)}{_sphere((0, 0, 0), 0.035, LIGHT_OFF)}</link>',
    ]
    joints = [
        _prismatic("slide_door_joint", "slide_door", door_center, (-1.0, 0.0, 0.0), g.SLIDER_TRAVEL),
        _prismatic("drawer_joint", "drawer", drawer_center, (0.0, -1.0, 0.0), g.DRAWER_TRAVEL),
        _prismatic("button_joint", "button", button_origin, (0.0, 0.0, -1.0), g.BUTTON_TRAVEL),
        _prismatic("switch_joint", "switch", g.SWITCH_KNOB, (0.0, 1.0, 0.0), g.SWITCH_TRAVEL, rpy=(tilt, 0.0, 0.0)),
        _fixed("led_joint", "led", g.LED_POS),
        _fixed("lightbulb_joint", "lightbulb", g.LIGHTBULB_POS),
    ]
    return f'<?xml version="1.0"?><robot name="diwa_play_table">{"".join(links)}{"".join(joints)}</robot>'


def block_urdf(color: str) -> str:
    """A solid block of the given colour, resting on its largest face."""
    sx, sy = g.BLOCK_SIZES[color]
    half = (sx / 2, sy / 2, g.BLOCK_HALF_HEIGHT)
    inertia = [g.BLOCK_MASS / 3 * (half[1] ** 2 + half[2] ** 2), g.BLOCK_MASS / 3 * (half[0] ** 2 + half[2] ** 2)]
    izz = g.BLOCK_MASS / 3 * (half[0] ** 2 + half[1] ** 2)
    return (
        f'<?xml version="1.0"?><robot name="block_{color}"><link name="block_{color}">'
        f'<inertial><mass value="{g.BLOCK_MASS}"/><inertia ixx="{inertia[0]:.6g}" iyy="{inertia[1]:.6g}" '
        f'izz="{izz:.6g}" ixy="0" ixz="0" iyz="0"/></inertial>'
        f"{_box((0, 0, 0), half, g.BLOCK_RGBA[color])}</link></robot>"
    )


def panda_urdf() -> str:
    """pybullet_data's Panda with absolute mesh paths, finger pads extending the fingers and a `tcp` link."""
    source = Path(pybullet_data.getDataPath()) / "franka_panda" / "panda.urdf"
    text = source.read_text()
    # The arm is drawn with its collision hulls: ~3.5k instead of ~100k triangles, which is what keeps
    # TinyRenderer (CPU) images cheap; at the 64-200 px of the cameras the difference barely shows.
    text = text.replace("package://meshes/visual/", "package://meshes/collision/")
    text = text.replace("package://meshes/", f"{source.parent / 'meshes'}/")
    # Each stock finger is 0.054 m long from its joint at 0.0584 m below the hand; a pad on the inner
    # face continues it so the tip ends just below CALVIN's TCP.
    pad_top = 0.045
    for link, side in (("panda_leftfinger", 1.0), ("panda_rightfinger", -1.0)):
        pad = _box(
            (0.0, side * 0.006, pad_top + g.FINGER_PAD_LENGTH / 2), (0.0105, 0.006, g.FINGER_PAD_LENGTH / 2), WHITE
        )
        head = f'<link name="{link}">'
        start = text.index(head)
        end = text.index("</link>", start)
        text = text[:end] + pad + text[end:]
    tcp = (
        '<link name="tcp"><inertial><mass value="0"/><inertia ixx="0" iyy="0" izz="0" ixy="0" ixz="0" iyz="0"/>'
        '</inertial></link><joint name="tcp_joint" type="fixed"><parent link="panda_hand"/><child link="tcp"/>'
        f'<origin xyz="0 0 {g.TCP_OFFSET}" rpy="0 0 0"/></joint>'
    )
    return text.replace("</robot>", tcp + "</robot>")
