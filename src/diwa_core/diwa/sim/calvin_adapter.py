"""The real CALVIN simulator behind our environment interface (backend "calvin").

calvin_env (github.com/mees/calvin_env) is not a dependency: it is imported only when this
backend is requested. Its documented entry point is
`calvin_env.envs.play_table_env.get_env(dataset_path, obs_space=None, show_gui=True)`, which builds
a PlayTableSimEnv from the `.hydra/merged_config.yaml` of a CALVIN dataset split; that env's
`reset(robot_obs=None, scene_obs=None)` and `step(action) -> (obs, reward, done, info)` take a
7-d relative action (gripper exactly +-1) or an absolute (pos, euler, gripper) tuple and return
{"rgb_obs": {...}, "depth_obs": {...}, "robot_obs", "scene_obs"}. This adapter turns that into the
gymnasium API of PlayTableEnv, with our oracle filling info["completed_tasks"].
"""

from __future__ import annotations

import importlib
from typing import Any, ClassVar

import gymnasium
import numpy as np
from gymnasium import spaces

from diwa.sim import geometry as g
from diwa.sim.config import SimConfig
from diwa.sim.env import RESET_OPTIONS, check_action
from diwa.sim.obs_layout import ACTION_DIM, ROBOT_OBS_DIM, SCENE_OBS_DIM
from diwa.sim.oracle import check_state, completed_tasks

CALVIN_MODULE = "calvin_env.envs.play_table_env"


def _import_calvin() -> Any:
    try:
        return importlib.import_module(CALVIN_MODULE)
    except ImportError as err:
        raise ModuleNotFoundError(
            "simulator backend 'calvin' needs the calvin_env package (https://github.com/mees/calvin_env), "
            "which is not installed; install it or use backend 'pybullet'",
            name="calvin_env",
        ) from err


def _resize(image: np.ndarray, size: int) -> np.ndarray:
    """Nearest-neighbour resize to size x size, so image shapes follow our config as with PlayTableEnv."""
    if image.shape[0] == size and image.shape[1] == size:
        return image
    rows = np.arange(size) * image.shape[0] // size
    cols = np.arange(size) * image.shape[1] // size
    return image[rows][:, cols]


class CalvinEnvAdapter(gymnasium.Env):
    """calvin_env's PlayTableSimEnv with PlayTableEnv's observations, actions, reset options and info."""

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"], "render_fps": 30}

    def __init__(self, config: SimConfig) -> None:
        module = _import_calvin()
        if config.calvin_dataset_path is None:
            raise ValueError(
                "backend 'calvin' needs calvin_dataset_path, a CALVIN dataset split with .hydra/merged_config.yaml"
            )
        self.config = config
        self.render_mode = "rgb_array"
        obs_space = {
            "rgb_obs": [f"rgb_{camera}" for camera in config.cameras],
            "depth_obs": [f"depth_{camera}" for camera in config.cameras] if config.depth else [],
            "state_obs": ["robot_obs", "scene_obs"],
            "actions": ["rel_actions" if config.action_mode == "relative" else "actions"],
            "language": ["language"],
        }
        self._env = module.get_env(config.calvin_dataset_path, obs_space=obs_space, show_gui=False)
        self.action_space = spaces.Box(-1.0, 1.0, shape=(ACTION_DIM,), dtype=np.float32)
        self.observation_space = spaces.Dict(
            {
                "robot_obs": spaces.Box(-np.inf, np.inf, shape=(ROBOT_OBS_DIM,), dtype=np.float32),
                "scene_obs": spaces.Box(-np.inf, np.inf, shape=(SCENE_OBS_DIM,), dtype=np.float32),
            }
        )
        self._start: tuple[np.ndarray, np.ndarray] = (np.zeros(ROBOT_OBS_DIM), np.zeros(SCENE_OBS_DIM))
        self._completed: list[str] = []
        self._steps = 0

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Without options, calvin_env's own initial state; with {"robot_obs", "scene_obs"}, that state."""
        super().reset(seed=seed)
        if seed is not None:
            self._env.seed(seed)
        options = dict(options or {})
        unknown = sorted(set(options) - set(RESET_OPTIONS))
        if unknown:
            raise ValueError(f"unknown reset options {unknown}; expected a subset of {RESET_OPTIONS}")
        robot_obs = options.get("robot_obs")
        scene_obs = options.get("scene_obs")
        if robot_obs is not None and scene_obs is not None:
            check_state(np.asarray(robot_obs, float), np.asarray(scene_obs, float), "reset options")
        raw = self._env.reset(
            robot_obs=None if robot_obs is None else np.asarray(robot_obs, dtype=np.float64),
            scene_obs=None if scene_obs is None else np.asarray(scene_obs, dtype=np.float64),
        )
        obs = self._convert(raw)
        self._start = (obs["robot_obs"].astype(np.float64), obs["scene_obs"].astype(np.float64))
        self._completed = []
        self._steps = 0
        return obs, {"completed_tasks": ()}

    def step(self, action: Any) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        arr = check_action(action)
        gripper = 1 if arr[6] >= 0 else -1
        if self.config.action_mode == "relative":
            command: Any = np.concatenate([np.clip(arr[:6], -1.0, 1.0), [gripper]])
        else:
            command = (arr[0:3], arr[3:6], gripper)
        robot = self._env.robot
        previous = np.array([*robot.target_pos, *robot.target_orn], dtype=np.float64)
        raw, _, _, _ = self._env.step(command)
        self._steps += 1
        obs = self._convert(raw)
        now = completed_tasks(*self._start, obs["robot_obs"], obs["scene_obs"])
        self._completed += [task for task in now if task not in self._completed]
        task = self.config.task
        success = task is not None and task in self._completed
        truncated = self.config.max_episode_steps is not None and self._steps >= self.config.max_episode_steps
        target = np.array([*robot.target_pos, *robot.target_orn], dtype=np.float64)
        rel = (target - previous) / np.repeat([g.REL_POS_SCALE, g.REL_ORN_SCALE], 3)
        info = {
            "completed_tasks": tuple(self._completed),
            "abs_action": np.array([*target, gripper], dtype=np.float32),
            "rel_action": np.array([*np.clip(rel, -1.0, 1.0), gripper], dtype=np.float32),
        }
        return obs, float(success), bool(success), bool(truncated), info

    def _convert(self, raw: dict[str, Any]) -> dict[str, np.ndarray]:
        obs = {
            "robot_obs": np.asarray(raw["robot_obs"], dtype=np.float32),
            "scene_obs": np.asarray(raw["scene_obs"], dtype=np.float32),
        }
        sizes = {"static": self.config.static_size, "gripper": self.config.gripper_size}
        for camera in self.config.cameras:
            obs[f"rgb_{camera}"] = _resize(np.asarray(raw["rgb_obs"][f"rgb_{camera}"], dtype=np.uint8), sizes[camera])
            if self.config.depth:
                depth = np.asarray(raw["depth_obs"][f"depth_{camera}"], dtype=np.float32)
                obs[f"depth_{camera}"] = _resize(depth, sizes[camera])
        return obs

    def render(self) -> np.ndarray:
        return np.asarray(self._env.render(mode="rgb_array"), dtype=np.uint8)

    def close(self) -> None:
        self._env.close()
