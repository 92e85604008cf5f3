"""make_env(backend="calvin") against a stand-in for calvin_env's documented API.

calvin_env is not installed here, so a module with its get_env / PlayTableSimEnv surface (backed by
our own simulator) is injected; the adapter must then behave like PlayTableEnv.
"""

import sys
import types
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from diwa.sim import make_env
from diwa.sim.env import PlayTableEnv
from diwa.sim.expert import ScriptedExpert
from diwa.sim.start_states import sample_start_state, skill_seed


class FakeRobot:
    def __init__(self, env: PlayTableEnv) -> None:
        self.env = env

    @property
    def target_pos(self) -> np.ndarray:
        return self.env.target_pose[0]

    @property
    def target_orn(self) -> np.ndarray:
        return self.env.target_pose[1]


class FakePlayTableSimEnv:
    """calvin_env's PlayTableSimEnv surface: reset(robot_obs, scene_obs), step -> 4-tuple, nested images."""

    def __init__(self, obs_space: dict[str, list[str]]) -> None:
        cameras = tuple(key.removeprefix("rgb_") for key in obs_space["rgb_obs"])
        self.sim = PlayTableEnv()
        self.cameras = cameras
        self.robot = FakeRobot(self.sim)
        self.closed = False

    def _obs(self, obs: dict[str, np.ndarray]) -> dict[str, Any]:
        images = {f"rgb_{c}": np.zeros((200 if c == "static" else 84,) * 2 + (3,), np.uint8) for c in self.cameras}
        return {"rgb_obs": images, "depth_obs": {}, "robot_obs": obs["robot_obs"], "scene_obs": obs["scene_obs"]}

    def seed(self, seed: int) -> None:
        self.sim.reset(seed=seed)

    def reset(self, robot_obs: np.ndarray | None = None, scene_obs: np.ndarray | None = None) -> dict[str, Any]:
        options = {k: v for k, v in (("robot_obs", robot_obs), ("scene_obs", scene_obs)) if v is not None}
        return self._obs(self.sim.reset(options=options)[0])

    def step(self, action: Any) -> tuple[dict[str, Any], int, bool, dict[str, Any]]:
        assert len(action) == 7 and action[-1] in (-1, 1), "calvin_env wants a binary gripper"
        obs, *_ = self.sim.step(np.asarray(action, dtype=float))
        return self._obs(obs), 0, False, {}

    def render(self, mode: str = "human") -> np.ndarray:
        return self.sim.render()

    def close(self) -> None:
        self.closed = True
        self.sim.close()


@pytest.fixture
def fake_calvin(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, dict[str, list[str]]]]]:
    calls: list[tuple[str, dict[str, list[str]]]] = []

    def get_env(dataset_path: str, obs_space: dict[str, list[str]], show_gui: bool = True) -> FakePlayTableSimEnv:
        assert not show_gui
        calls.append((dataset_path, obs_space))
        return FakePlayTableSimEnv(obs_space)

    module = types.ModuleType("calvin_env.envs.play_table_env")
    module.get_env = get_env  # type: ignore[attr-defined]
    for name in ("calvin_env", "calvin_env.envs"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    monkeypatch.setitem(sys.modules, "calvin_env.envs.play_table_env", module)
    yield calls


def test_adapter_speaks_our_interface(fake_calvin: list[tuple[str, dict[str, list[str]]]]) -> None:
    env = make_env(backend="calvin", calvin_dataset_path="/data/calvin/task_D_D/validation", cameras=("static",))
    assert fake_calvin[0][0] == "/data/calvin/task_D_D/validation"
    assert fake_calvin[0][1]["rgb_obs"] == ["rgb_static"]
    robot, scene = sample_start_state("turn_off_led", skill_seed(0, "turn_off_led", 0))
    obs, info = env.reset(options={"robot_obs": robot, "scene_obs": scene})
    assert info["completed_tasks"] == ()
    np.testing.assert_allclose(obs["scene_obs"], scene, atol=1e-6)
    assert obs["rgb_static"].shape == (200, 200, 3) and obs["robot_obs"].dtype == np.float32
    expert = ScriptedExpert(seed=0)
    expert.reset("turn_off_led", obs)
    for _ in range(72):
        action = expert.act(obs)
        action[6] *= 0.3  # a non-binary gripper command must reach calvin_env as +-1
        obs, _, _, _, info = env.step(action)
        if "turn_off_led" in info["completed_tasks"]:
            break
    assert "turn_off_led" in info["completed_tasks"]
    assert info["rel_action"][6] == -1.0 and info["abs_action"].shape == (7,)
    with pytest.raises(ValueError, match="NaN"):
        env.step(np.full(7, np.nan))
    env.close()


def test_adapter_resizes_images_and_needs_a_dataset_path(fake_calvin: list[tuple[str, dict[str, list[str]]]]) -> None:
    env = make_env(backend="calvin", calvin_dataset_path="/x", cameras=("static", "gripper"), static_size=64)
    obs, _ = env.reset(seed=1)
    assert obs["rgb_static"].shape == (64, 64, 3) and obs["rgb_gripper"].shape == (84, 84, 3)
    env.close()
    with pytest.raises(ValueError, match="calvin_dataset_path"):
        make_env(backend="calvin")
