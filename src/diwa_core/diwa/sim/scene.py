"""The play table in one physics client: articulated parts, lights and blocks, read and written as scene_obs."""

from __future__ import annotations

import numpy as np
import pybullet as p

from diwa.sim import geometry as g
from diwa.sim.assets import LIGHT_OFF, FurniturePiece, block_urdf, furniture, table_urdf, write_cached
from diwa.sim.obs_layout import (
    BLOCK_COLORS,
    BUTTON,
    DRAWER,
    LED,
    LIGHTBULB,
    SCENE_OBS_DIM,
    SLIDER,
    SWITCH,
)

PART_JOINTS = ("slide_door_joint", "drawer_joint", "button_joint", "switch_joint")
FRICTION_JOINTS = ("slide_door_joint", "drawer_joint", "switch_joint")
LED_ON_RGBA = (0.1, 1.0, 0.2, 1.0)
LIGHTBULB_ON_RGBA = (1.0, 0.9, 0.1, 1.0)


class PlayTable:
    """Table, sliding door, drawer, button with LED, switch with lightbulb, and three blocks."""

    def __init__(self, client: int) -> None:
        self.client = client
        self.furniture = [self._build_piece(piece) for piece in furniture()]
        self.table = p.loadURDF(
            str(write_cached("play_table", table_urdf())), useFixedBase=True, physicsClientId=client
        )
        index = {}
        for joint in range(p.getNumJoints(self.table, physicsClientId=client)):
            info = p.getJointInfo(self.table, joint, physicsClientId=client)
            index[info[1].decode()] = joint
            index[info[12].decode()] = joint
        # scene_obs[0:4] order: slider, drawer, button, switch
        self.part_joints = [index[name] for name in PART_JOINTS]
        self.friction_joints = [index[name] for name in FRICTION_JOINTS]
        # The moving parts run in slots cut into the furniture (the button sinks into the table top, the
        # drawer slides in its housing): they must not collide with it, as links of one body would not.
        for piece in self.furniture:
            for link in range(p.getNumJoints(self.table, physicsClientId=client)):
                p.setCollisionFilterPair(piece, self.table, -1, link, 0, physicsClientId=client)
        self.button_joint = index["button_joint"]
        self.led_link = index["led"]
        self.lightbulb_link = index["lightbulb"]
        self.blocks = {}
        for color in BLOCK_COLORS:
            body = p.loadURDF(str(write_cached(f"block_{color}", block_urdf(color))), physicsClientId=client)
            p.changeDynamics(body, -1, lateralFriction=g.BLOCK_FRICTION, physicsClientId=client)
            self.blocks[color] = body
        self.contact_labels: dict[int, dict[int, str]] = {body: {-1: "table"} for body in self.furniture}
        self.contact_labels[self.table] = {}
        for name in ("slide_door", "drawer", "button", "switch"):
            self.contact_labels[self.table][index[name]] = name
        for color, body in self.blocks.items():
            self.contact_labels[body] = {-1: f"block_{color}"}
        self.led_on = False
        self.lightbulb_on = False
        self._button_prev = 0.0

    def _build_piece(self, piece: FurniturePiece) -> int:
        visual = p.createVisualShape(
            p.GEOM_BOX, halfExtents=piece.half, rgbaColor=piece.rgba, physicsClientId=self.client
        )
        collision = (
            p.createCollisionShape(p.GEOM_BOX, halfExtents=piece.half, physicsClientId=self.client)
            if piece.collide
            else -1
        )
        return p.createMultiBody(
            baseMass=0.0,
            baseCollisionShapeIndex=collision,
            baseVisualShapeIndex=visual,
            basePosition=piece.center,
            baseOrientation=p.getQuaternionFromEuler(piece.rpy),
            physicsClientId=self.client,
        )

    def hold_parts(self) -> None:
        """(Re)apply joint friction to door, drawer and switch and the spring that returns the button."""
        p.setJointMotorControlArray(
            self.table,
            self.friction_joints,
            p.VELOCITY_CONTROL,
            targetVelocities=[0.0] * len(self.friction_joints),
            forces=[g.JOINT_FRICTION_FORCE] * len(self.friction_joints),
            physicsClientId=self.client,
        )
        p.setJointMotorControl2(
            self.table,
            self.button_joint,
            p.POSITION_CONTROL,
            targetPosition=0.0,
            force=g.BUTTON_SPRING_FORCE,
            physicsClientId=self.client,
        )

    def reset_state(self, scene_obs: np.ndarray) -> None:
        """Teleport every part and block to `scene_obs`; lights are set from it, not toggled."""
        for joint, value in zip(self.part_joints, scene_obs[0:4], strict=True):
            p.resetJointState(self.table, joint, float(value), 0.0, physicsClientId=self.client)
        for i, color in enumerate(BLOCK_COLORS):
            pose = scene_obs[6 + 6 * i : 12 + 6 * i]
            p.resetBasePositionAndOrientation(
                self.blocks[color],
                pose[:3].tolist(),
                p.getQuaternionFromEuler(pose[3:].tolist()),
                physicsClientId=self.client,
            )
            p.resetBaseVelocity(self.blocks[color], [0, 0, 0], [0, 0, 0], physicsClientId=self.client)
        self.hold_parts()
        self._button_prev = float(scene_obs[BUTTON])
        self._set_lights(bool(scene_obs[LED] > 0.5), bool(scene_obs[SWITCH] > g.LIGHTBULB_ON_ABOVE))

    def update_lights(self) -> None:
        """Apply the light logic after physics: LED toggles on the button's way down, bulb follows switch."""
        button, switch = (
            s[0]
            for s in p.getJointStates(
                self.table, [self.button_joint, self.part_joints[SWITCH]], physicsClientId=self.client
            )
        )
        led = self.led_on
        if self._button_prev <= g.BUTTON_TOGGLE_AT < button:
            led = not led
        self._button_prev = button
        self._set_lights(led, switch > g.LIGHTBULB_ON_ABOVE)

    def _set_lights(self, led: bool, lightbulb: bool) -> None:
        if led != self.led_on:
            rgba = LED_ON_RGBA if led else LIGHT_OFF
            p.changeVisualShape(self.table, self.led_link, rgbaColor=rgba, physicsClientId=self.client)
        if lightbulb != self.lightbulb_on:
            rgba = LIGHTBULB_ON_RGBA if lightbulb else LIGHT_OFF
            p.changeVisualShape(self.table, self.lightbulb_link, rgbaColor=rgba, physicsClientId=self.client)
        self.led_on = led
        self.lightbulb_on = lightbulb

    def observe(self) -> np.ndarray:
        """scene_obs in CALVIN's layout (float64; the env casts)."""
        obs = np.empty(SCENE_OBS_DIM)
        states = p.getJointStates(self.table, self.part_joints, physicsClientId=self.client)
        obs[SLIDER] = states[0][0]
        obs[DRAWER] = states[1][0]
        obs[BUTTON] = states[2][0]
        obs[SWITCH] = states[3][0]
        obs[LIGHTBULB] = float(self.lightbulb_on)
        obs[LED] = float(self.led_on)
        for i, color in enumerate(BLOCK_COLORS):
            pos, quat = p.getBasePositionAndOrientation(self.blocks[color], physicsClientId=self.client)
            obs[6 + 6 * i : 9 + 6 * i] = pos
            obs[9 + 6 * i : 12 + 6 * i] = p.getEulerFromQuaternion(quat)
        return obs

    def block_contacts(self, robot_body: int) -> dict[str, frozenset[str]]:
        """For each block, the labels of everything touching it ("robot", "table", "drawer", "block_red", ...)."""
        contacts = {}
        for color, body in self.blocks.items():
            labels = set()
            for point in p.getContactPoints(bodyA=body, physicsClientId=self.client):
                other, link = point[2], point[4]
                if other == robot_body:
                    labels.add("robot")
                else:
                    labels.add(self.contact_labels.get(other, {}).get(link, "unknown"))
            contacts[color] = frozenset(labels)
        return contacts
