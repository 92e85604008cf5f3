"""The simulator: CALVIN's interface, determinism, state restore, physics sanity, bad input."""

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pybullet as p
import pytest
from diwa.sim import SimConfig, make_env
from diwa.sim import geometry as g
from diwa.sim.env import PlayTableEnv
from diwa.sim.kinematics import shared_kinematics
from diwa.sim.obs_layout import BUTTON, DRAWER, LED, LIGHTBULB, SLIDER, SWITCH, block_pos

HOLD = np.array([0, 0, 0, 0, 0, 0, 1], dtype=np.float32)


@pytest.fixture(scope="module")
def env() -> Iterator[PlayTableEnv]:
    environment = make_env()
    yield environment
    environment.close()


def test_tcp_offset_reproduces_calvin_home_pose() -> None:
    pos, euler = shared_kinematics().forward(np.array(g.HOME_JOINTS))
    np.testing.assert_allclose(pos, (0.0259, -0.2313, 0.5713), atol=5e-4)
    np.testing.assert_allclose(euler, (3.0905, -0.0291, 1.5001), atol=5e-3)


def test_observation_layout(env: PlayTableEnv) -> None:
    obs, info = env.reset(seed=3)
    assert set(obs) == {"robot_obs", "scene_obs"} and info["completed_tasks"] == ()
    assert obs["robot_obs"].shape == (15,) and obs["robot_obs"].dtype == np.float32
    assert obs["scene_obs"].shape == (24,) and obs["scene_obs"].dtype == np.float32
    robot, scene = obs["robot_obs"], obs["scene_obs"]
    pos, _ = shared_kinematics().forward(robot[7:14])
    np.testing.assert_allclose(robot[0:3], pos, atol=1e-5)
    assert 0.0 <= robot[6] <= 0.081 and robot[14] in (-1.0, 1.0)
    assert 0 <= scene[SLIDER] <= g.SLIDER_TRAVEL and 0 <= scene[DRAWER] <= g.DRAWER_TRAVEL
    assert scene[LIGHTBULB] == float(scene[SWITCH] > g.LIGHTBULB_ON_ABOVE)
    assert env.observation_space.contains(obs)


def test_random_resets_place_blocks_apart_on_surfaces(env: PlayTableEnv) -> None:
    for seed in range(5):
        obs, _ = env.reset(seed=seed)
        xyz = [obs["scene_obs"][block_pos(c)] for c in ("red", "blue", "pink")]
        for i in range(3):
            assert abs(xyz[i][2] - 0.46) < 0.002
            for j in range(i):
                assert np.linalg.norm(xyz[i][:2] - xyz[j][:2]) > 0.04


def test_reset_to_state_reads_back_equal(env: PlayTableEnv) -> None:
    env.reset(seed=11)
    for _ in range(20):
        obs, *_ = env.step(np.array([0.5, -0.3, 0.2, 0.1, 0, 0, -1]))
    restored, _ = env.reset(options={"robot_obs": obs["robot_obs"], "scene_obs": obs["scene_obs"]})
    np.testing.assert_allclose(restored["robot_obs"], obs["robot_obs"], atol=1e-5)
    np.testing.assert_allclose(restored["scene_obs"], obs["scene_obs"], atol=1e-6)
    target_pos, target_euler = env.target_pose
    np.testing.assert_allclose(target_pos, obs["robot_obs"][0:3], atol=1e-5)


def test_same_seed_same_trajectory_regardless_of_history() -> None:
    actions = np.random.default_rng(0).uniform(-1, 1, size=(40, 7))

    def rollout(environment: PlayTableEnv) -> np.ndarray:
        obs, _ = environment.reset(seed=5)
        states = [np.concatenate([obs["robot_obs"], obs["scene_obs"]])]
        for action in actions:
            obs, *_ = environment.step(action)
            states.append(np.concatenate([obs["robot_obs"], obs["scene_obs"]]))
        return np.array(states)

    first, second = make_env(), make_env()
    second.reset(seed=99)
    for action in actions[::-1]:
        second.step(action)
    np.testing.assert_array_equal(rollout(first), rollout(second))
    first.close()
    second.close()


def test_environments_in_one_process_do_not_interfere() -> None:
    a, b = make_env(), make_env()
    obs_b, _ = b.reset(seed=1)
    a.reset(seed=1)
    for _ in range(10):
        a.step(np.array([1, 0, -1, 0, 0, 0, -1]))
    np.testing.assert_array_equal(b._observe()["robot_obs"], obs_b["robot_obs"])
    assert a.client != b.client
    a.close()
    b.close()


@pytest.mark.parametrize(
    "action",
    [np.full(7, np.nan), np.array([0, 0, np.inf, 0, 0, 0, 1]), np.zeros(6), np.zeros((1, 7)), "forward"],
)
def test_bad_actions_raise_value_error(env: PlayTableEnv, action: object) -> None:
    env.reset(seed=0)
    with pytest.raises(ValueError, match="action"):
        env.step(action)


def test_bad_reset_options_raise_value_error(env: PlayTableEnv) -> None:
    obs, _ = env.reset(seed=0)
    with pytest.raises(ValueError, match="unknown reset options"):
        env.reset(options={"robot_state": obs["robot_obs"]})
    with pytest.raises(ValueError, match="shape"):
        env.reset(options={"robot_obs": obs["robot_obs"][:10], "scene_obs": obs["scene_obs"]})
    inconsistent = obs["scene_obs"].copy()
    inconsistent[SWITCH], inconsistent[LIGHTBULB] = 0.0, 1.0
    with pytest.raises(ValueError, match="lightbulb"):
        env.reset(options={"robot_obs": obs["robot_obs"], "scene_obs": inconsistent})


def test_relative_actions_accumulate_on_the_target(env: PlayTableEnv) -> None:
    env.reset(seed=2)
    start, _ = env.target_pose
    env.step(np.array([1, 0, 0, 0, 0, 0, 1]))
    env.step(np.array([5, 0, 0, 0, 0, 0, 1]))  # clipped to 1
    after, _ = env.target_pose
    np.testing.assert_allclose(after - start, (2 * g.REL_POS_SCALE, 0, 0), atol=1e-9)
    obs, *_ = env.step(HOLD)
    for _ in range(10):
        obs, _, _, _, info = env.step(HOLD)
    np.testing.assert_allclose(obs["robot_obs"][0:3], after, atol=0.01)
    np.testing.assert_allclose(info["rel_action"], HOLD)


def test_absolute_actions_move_the_tcp_to_the_pose() -> None:
    environment = make_env(action_mode="absolute")
    obs, _ = environment.reset(seed=4)
    goal = np.array([0.1, -0.2, 0.55])
    for _ in range(40):
        obs, *_ = environment.step(np.array([*goal, 3.0905, -0.0291, 1.5001, 1.0]))
    np.testing.assert_allclose(obs["robot_obs"][0:3], goal, atol=0.01)
    environment.close()


def test_parts_and_blocks_stay_put_without_contact(env: PlayTableEnv) -> None:
    obs, _ = env.reset(seed=8)
    state = obs["scene_obs"].copy()
    state[SLIDER], state[DRAWER], state[SWITCH], state[LIGHTBULB] = 0.13, 0.11, 0.03, 0.0
    obs, _ = env.reset(options={"robot_obs": obs["robot_obs"], "scene_obs": state})
    for _ in range(90):  # 3 s
        obs, _, _, _, info = env.step(HOLD)
    np.testing.assert_allclose(obs["scene_obs"][[SLIDER, DRAWER, BUTTON, SWITCH]], state[:4], atol=2e-3)
    np.testing.assert_allclose(obs["scene_obs"][6:], state[6:], atol=3e-3)
    assert info["completed_tasks"] == ()


def test_grasped_block_is_held_for_three_seconds(env: PlayTableEnv) -> None:
    obs, _ = env.reset(seed=0)
    scene = obs["scene_obs"].copy()
    scene[block_pos("red")] = (0.05, -0.10, 0.46)
    scene[9:12] = 0.0
    scene[block_pos("blue")] = (0.3, -0.05, 0.46)
    scene[block_pos("pink")] = (-0.25, 0.1, 0.461)
    obs, _ = env.reset(options={"robot_obs": obs["robot_obs"], "scene_obs": scene})
    waypoints = [
        ((0.05, -0.10, 0.55), 1),
        ((0.05, -0.10, 0.465), 1),
        ((0.05, -0.10, 0.465), -1),
        ((0.05, -0.1, 0.6), -1),
    ]
    for goal, gripper in waypoints:
        for _ in range(15):
            move = (np.array(goal) - env.target_pose[0]) / g.REL_POS_SCALE
            obs, _, _, _, info = env.step(np.array([*np.clip(move, -1, 1), 0, 0, 0, gripper]))
    assert "lift_red_block_table" in info["completed_tasks"]
    for _ in range(90):
        obs, *_ = env.step(np.array([0, 0, 0, 0, 0, 0, -1]))
    block = obs["scene_obs"][block_pos("red")]
    assert block[2] > 0.55
    assert np.linalg.norm(block - obs["robot_obs"][0:3]) < 0.03


def test_button_toggles_led_on_each_press_and_switch_drives_lightbulb(env: PlayTableEnv) -> None:
    env.reset(seed=1)
    scene, table = env.scene, env.scene.table

    def set_joint(index: int, value: float) -> None:
        p.resetJointState(table, scene.part_joints[index], value, physicsClientId=env.client)
        scene.update_lights()

    led = scene.led_on
    set_joint(BUTTON, 0.009)
    assert scene.led_on == led  # not yet past mid-travel
    set_joint(BUTTON, 0.015)
    assert scene.led_on != led
    set_joint(BUTTON, 0.02)
    assert scene.led_on != led  # held down: no second toggle
    set_joint(BUTTON, 0.0)
    set_joint(BUTTON, 0.012)
    assert scene.led_on == led
    set_joint(SWITCH, g.LIGHTBULB_ON_ABOVE + 1e-4)
    assert scene.lightbulb_on
    set_joint(SWITCH, g.LIGHTBULB_ON_ABOVE - 1e-4)
    assert not scene.lightbulb_on


def test_led_task_reported_after_a_press(env: PlayTableEnv) -> None:
    obs, _ = env.reset(seed=6)
    led_before = obs["scene_obs"][LED]
    for z in (0.55, 0.45, 0.45, 0.45):
        for _ in range(6):
            move = (np.array([-0.12, -0.12, z]) - env.target_pose[0]) / g.REL_POS_SCALE
            obs, _, _, _, info = env.step(np.array([*np.clip(move, -1, 1), 0, 0, 0, -1]))
    assert obs["scene_obs"][LED] != led_before
    assert ("turn_off_led" if led_before else "turn_on_led") in info["completed_tasks"]


def test_cameras_and_depth_have_configured_sizes() -> None:
    environment = make_env(cameras=("static", "gripper"), static_size=64, gripper_size=32, depth=True)
    obs, _ = environment.reset(seed=0)
    assert obs["rgb_static"].shape == (64, 64, 3) and obs["rgb_static"].dtype == np.uint8
    assert obs["rgb_gripper"].shape == (32, 32, 3)
    assert obs["depth_static"].shape == (64, 64) and 0.3 < float(np.median(obs["depth_static"])) < 3.0
    assert obs["rgb_static"].std() > 10  # a rendered scene, not a blank image
    assert environment.render().shape == (64, 64, 3)
    environment.close()


def test_task_config_gives_reward_and_termination() -> None:
    environment = make_env(task="turn_on_led", max_episode_steps=5)
    obs, _ = environment.reset(seed=0)
    scene = obs["scene_obs"].copy()
    scene[LED] = 0.0
    environment.reset(options={"robot_obs": obs["robot_obs"], "scene_obs": scene})
    for step in range(1, 6):
        _, reward, terminated, truncated, _ = environment.step(HOLD)
        assert reward == 0.0 and not terminated
        assert truncated == (step == 5)
    environment.close()


def test_config_validation_and_calvin_backend() -> None:
    with pytest.raises(ValueError, match="unknown simulator options"):
        SimConfig.from_dict({"camera": ["static"]})
    with pytest.raises(ValueError, match="cameras"):
        make_env(cameras=("top",))
    with pytest.raises(ValueError, match="unknown task"):
        make_env(task="make_coffee")
    with pytest.raises(ModuleNotFoundError, match="calvin_env"):
        make_env(backend="calvin", calvin_dataset_path="/nonexistent")
    assert SimConfig.paper_profile().static_size == 64


def test_config_from_yaml(tmp_path: Path) -> None:
    path = tmp_path / "sim.yaml"
    path.write_text("cameras: [static]\nstatic_size: 96\nmax_episode_steps: 72\n")
    config = SimConfig.from_yaml(path)
    assert config.cameras == ("static",) and config.static_size == 96 and config.max_episode_steps == 72
    with pytest.raises(FileNotFoundError):
        SimConfig.from_yaml(tmp_path / "missing.yaml")
