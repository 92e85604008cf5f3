"""PlayTableEnv: a gymnasium environment with CALVIN's interface on our own scene-D look-alike.

Control semantics follow CALVIN: a relative action moves an internal TCP *target* (not the measured
pose) by up to 0.02 m and 0.05 rad per unit and sets the gripper (-1 close, +1 open); an absolute
action sets the target directly. The target is reached through null-space IK and joint position
control, with eight 240 Hz physics substeps per 30 Hz control step.

Every environment owns a private DIRECT physics client, so several instances in one process never
see each other's bodies. Determinism: every reset clears the contact caches and restores a snapshot
of the freshly built world before teleporting to the start state, so nothing from earlier episodes
leaks in and the same (seed, actions) always produce the same trajectory.
"""

from __future__ import annotations

import contextlib
from typing import Any, ClassVar

import gymnasium
import numpy as np
import pybullet as p
from gymnasium import spaces

from diwa.sim import geometry as g
from diwa.sim.cameras import GripperCamera, StaticCamera
from diwa.sim.config import SimConfig
from diwa.sim.obs_layout import (
    ACTION_DIM,
    ARM_JOINTS,
    BLOCK_COLORS,
    GRIPPER_ACTION,
    GRIPPER_WIDTH,
    LIGHTBULB,
    ROBOT_OBS_DIM,
    SCENE_OBS_DIM,
    SWITCH,
)
from diwa.sim.oracle import block_moved, check_state, completed_tasks
from diwa.sim.robot import PandaArm
from diwa.sim.rotations import wrap_angle
from diwa.sim.scene import PlayTable
from diwa.sim.scene_bounds import check_physical
from diwa.sim.start_states import sample_robot_obs, sample_scene_obs, with_consistent_lights

RESET_OPTIONS = ("robot_obs", "scene_obs")
_WORKSPACE_LOW = np.array(g.WORKSPACE_LOW)
_WORKSPACE_HIGH = np.array(g.WORKSPACE_HIGH)


def check_action(action: Any) -> np.ndarray:
    """Return `action` as a float64 (7,) array, or raise ValueError naming what is wrong with it."""
    try:
        arr = np.asarray(action, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"action must be 7 numbers, got {action!r} ({err})") from err
    if arr.shape != (ACTION_DIM,):
        raise ValueError(f"action must have shape ({ACTION_DIM},), got {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"action contains NaN or infinite values: {arr.tolist()}")
    return arr


class PlayTableEnv(gymnasium.Env):
    """The CALVIN-style play table. Observations: robot_obs (15), scene_obs (24), optional images."""

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"], "render_fps": g.CONTROL_HZ}

    def __init__(self, config: SimConfig | None = None) -> None:
        self.config = config or SimConfig()
        if self.config.backend != "pybullet":
            raise ValueError(f"PlayTableEnv is the pybullet backend; use make_env for {self.config.backend!r}")
        self.render_mode = "rgb_array"
        self.client = p.connect(p.DIRECT)
        p.setPhysicsEngineParameter(deterministicOverlappingPairs=1, physicsClientId=self.client)
        p.setTimeStep(1.0 / g.PHYSICS_HZ, physicsClientId=self.client)
        p.setGravity(0.0, 0.0, -g.GRAVITY, physicsClientId=self.client)
        self.robot = PandaArm(self.client)
        self.scene = PlayTable(self.client)
        self._pristine = p.saveState(physicsClientId=self.client)
        self._static_camera = StaticCamera(self.client, self.config.static_size)
        self._gripper_camera = GripperCamera(self.client, self.config.gripper_size)
        self.action_space = self._make_action_space()
        self.observation_space = self._make_observation_space()
        self._target_pos = np.zeros(3)
        self._target_euler = np.zeros(3)
        self._start_robot = np.zeros(ROBOT_OBS_DIM)
        self._start_scene = np.zeros(SCENE_OBS_DIM)
        self._completed: list[str] = []
        self._steps = 0
        self._needs_reset = True
        self._seeded = False

    # --- spaces --------------------------------------------------------------------------------
    def _make_action_space(self) -> spaces.Box:
        if self.config.action_mode == "relative":
            return spaces.Box(-1.0, 1.0, shape=(ACTION_DIM,), dtype=np.float32)
        low = np.array([*g.WORKSPACE_LOW, -np.pi, -np.pi, -np.pi, -1.0], dtype=np.float32)
        high = np.array([*g.WORKSPACE_HIGH, np.pi, np.pi, np.pi, 1.0], dtype=np.float32)
        return spaces.Box(low, high, dtype=np.float32)

    def _make_observation_space(self) -> spaces.Dict:
        entries: dict[str, spaces.Space] = {
            "robot_obs": spaces.Box(-np.inf, np.inf, shape=(ROBOT_OBS_DIM,), dtype=np.float32),
            "scene_obs": spaces.Box(-np.inf, np.inf, shape=(SCENE_OBS_DIM,), dtype=np.float32),
        }
        sizes = {"static": self.config.static_size, "gripper": self.config.gripper_size}
        for camera in self.config.cameras:
            size = sizes[camera]
            entries[f"rgb_{camera}"] = spaces.Box(0, 255, shape=(size, size, 3), dtype=np.uint8)
            if self.config.depth:
                entries[f"depth_{camera}"] = spaces.Box(0.0, np.inf, shape=(size, size), dtype=np.float32)
        return spaces.Dict(entries)

    # --- reset ---------------------------------------------------------------------------------
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Start an episode from a random valid state, or from options {"robot_obs", "scene_obs"}.

        A state part missing from `options` is sampled; given parts are restored exactly.
        """
        if seed is None and not self._seeded:
            seed = self.config.seed
        super().reset(seed=seed)
        self._seeded = True
        options = dict(options or {})
        unknown = sorted(set(options) - set(RESET_OPTIONS))
        if unknown:
            raise ValueError(f"unknown reset options {unknown}; expected a subset of {RESET_OPTIONS}")
        if "robot_obs" in options:
            robot_obs = np.asarray(options["robot_obs"], dtype=np.float64)
        else:
            robot_obs = sample_robot_obs(self.np_random)
        if "scene_obs" in options:
            scene_obs = np.asarray(options["scene_obs"], dtype=np.float64)
        else:
            scene_obs = sample_scene_obs(self.np_random)
        check_state(robot_obs, scene_obs, "reset options")
        check_physical(robot_obs, scene_obs, "reset options")
        if with_consistent_lights(scene_obs)[LIGHTBULB] != (scene_obs[LIGHTBULB] > 0.5):
            raise ValueError(
                f"reset options: scene_obs says lightbulb={scene_obs[LIGHTBULB]:g} but the switch at "
                f"{scene_obs[SWITCH]:.4f} means the opposite (on exactly while above {g.LIGHTBULB_ON_ABOVE})"
            )
        self._restore(robot_obs, scene_obs)
        obs = self._observe()
        self._start_robot = obs["robot_obs"].astype(np.float64)
        self._start_scene = obs["scene_obs"].astype(np.float64)
        return obs, {"completed_tasks": ()}

    def _restore(self, robot_obs: np.ndarray, scene_obs: np.ndarray) -> None:
        self._forget_contacts()
        p.restoreState(self._pristine, physicsClientId=self.client)
        self.robot.reset_state(robot_obs[ARM_JOINTS], robot_obs[GRIPPER_WIDTH], robot_obs[GRIPPER_ACTION])
        self.scene.reset_state(scene_obs)
        # Like CALVIN, the target starts at the measured TCP, so a zero action holds still.
        self._target_pos, self._target_euler = self.robot.tcp_pose()
        self._completed = []
        self._steps = 0
        self._needs_reset = False

    def _forget_contacts(self) -> None:
        """Drop every cached contact, whose solver warm-start would otherwise carry over from the last episode.

        restoreState alone keeps persistent contact manifolds; moving all dynamic bodies apart and
        running collision detection makes the broad phase delete them. restoreState then puts the
        bodies back.
        """
        bodies = [self.robot.body, self.scene.table, *self.scene.blocks.values()]
        for i, body in enumerate(bodies):
            p.resetBasePositionAndOrientation(body, [100.0 + 10.0 * i, 0, 0], [0, 0, 0, 1], physicsClientId=self.client)
        p.performCollisionDetection(physicsClientId=self.client)

    # --- step ----------------------------------------------------------------------------------
    def step(self, action: Any) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        if self._needs_reset:
            raise RuntimeError("call reset() before step()")
        arr = check_action(action)
        previous_pos, previous_euler = self._target_pos.copy(), self._target_euler.copy()
        if self.config.action_mode == "relative":
            arr = np.clip(arr, -1.0, 1.0)
            self._target_pos = self._target_pos + g.REL_POS_SCALE * arr[0:3]
            self._target_euler = wrap_angle(self._target_euler + g.REL_ORN_SCALE * arr[3:6])
        else:
            self._target_pos = arr[0:3].copy()
            self._target_euler = wrap_angle(arr[3:6])
        self._target_pos = np.clip(self._target_pos, _WORKSPACE_LOW, _WORKSPACE_HIGH)
        gripper = 1.0 if arr[6] >= 0 else -1.0
        quat = p.getQuaternionFromEuler(self._target_euler.tolist())
        self.robot.command_arm(self.robot.solve_ik(self._target_pos, quat))
        if gripper != self.robot.gripper_action:
            self.robot.command_gripper(gripper)
        for _ in range(g.SUBSTEPS):
            p.stepSimulation(physicsClientId=self.client)
        self.scene.update_lights()
        self._steps += 1

        obs = self._observe()
        # Contacts only matter for blocks that moved; most steps touch none, so skip the queries then.
        moved = any(block_moved(self._start_scene, obs["scene_obs"], color) for color in BLOCK_COLORS)
        contacts = self.scene.block_contacts(self.robot.body) if moved else None
        now = completed_tasks(self._start_robot, self._start_scene, obs["robot_obs"], obs["scene_obs"], contacts)
        self._completed += [task for task in now if task not in self._completed]
        task = self.config.task
        success = task is not None and task in self._completed
        truncated = self.config.max_episode_steps is not None and self._steps >= self.config.max_episode_steps
        info = {
            "completed_tasks": tuple(self._completed),
            "abs_action": np.array([*self._target_pos, *self._target_euler, gripper], dtype=np.float32),
            "rel_action": self._relative(previous_pos, previous_euler, gripper),
        }
        return obs, float(success), bool(success), bool(truncated), info

    def _relative(self, previous_pos: np.ndarray, previous_euler: np.ndarray, gripper: float) -> np.ndarray:
        """The relative action that moved the target from its previous value (CALVIN's rel_actions)."""
        rel = np.empty(ACTION_DIM, dtype=np.float32)
        rel[0:3] = np.clip((self._target_pos - previous_pos) / g.REL_POS_SCALE, -1.0, 1.0)
        rel[3:6] = np.clip(wrap_angle(self._target_euler - previous_euler) / g.REL_ORN_SCALE, -1.0, 1.0)
        rel[6] = gripper
        return rel

    # --- observation ---------------------------------------------------------------------------
    def _observe(self) -> dict[str, np.ndarray]:
        obs = {
            "robot_obs": self.robot.observe().astype(np.float32),
            "scene_obs": self.scene.observe().astype(np.float32),
        }
        depth = self.config.depth
        if "static" in self.config.cameras:
            image = self._static_camera.render(depth)
            obs["rgb_static"] = image.rgb
            if depth:
                obs["depth_static"] = image.depth
        if "gripper" in self.config.cameras:
            state = p.getLinkState(self.robot.body, self.robot.tcp_link, physicsClientId=self.client)
            image = self._gripper_camera.render(np.asarray(state[4]), state[5], depth)
            obs["rgb_gripper"] = image.rgb
            if depth:
                obs["depth_gripper"] = image.depth
        return obs

    @property
    def target_pose(self) -> tuple[np.ndarray, np.ndarray]:
        """The internal TCP target (position, euler) that relative actions accumulate onto."""
        return self._target_pos.copy(), self._target_euler.copy()

    def render(self) -> np.ndarray:
        """The static camera's RGB image, rendered on demand even when cameras are off."""
        return self._static_camera.render().rgb

    def close(self) -> None:
        if self.client >= 0:
            p.disconnect(physicsClientId=self.client)
            self.client = -1

    def __del__(self) -> None:
        # Disconnecting during interpreter shutdown can fail; the client dies with the process then.
        with contextlib.suppress(Exception):
            self.close()
