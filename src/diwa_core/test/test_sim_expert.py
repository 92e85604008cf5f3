"""Start states, the scripted expert and the play generator."""

from collections.abc import Iterator

import numpy as np
import pytest
from diwa.data.recorder import EpisodeRecorder
from diwa.sim import make_env
from diwa.sim.env import PlayTableEnv
from diwa.sim.expert import ScriptedExpert
from diwa.sim.kinematics import shared_kinematics
from diwa.sim.obs_layout import LED, LIGHTBULB, SWITCH
from diwa.sim.oracle import completed_tasks
from diwa.sim.play import PlayAgent, PlayConfig, generate_play
from diwa.sim.start_states import FEASIBLE_RANGES, LED_START, achievable_skills, sample_start_state, skill_seed
from diwa.skills import SKILLS, UnknownSkillError


@pytest.fixture(scope="module")
def env() -> Iterator[PlayTableEnv]:
    environment = make_env()
    yield environment
    environment.close()


@pytest.mark.parametrize("skill", SKILLS)
def test_start_states_make_the_skill_feasible(skill: str) -> None:
    for episode in range(3):
        robot, scene = sample_start_state(skill, skill_seed(7, skill, episode))
        assert robot.dtype == np.float32 and robot.shape == (15,) and scene.shape == (24,)
        if skill in FEASIBLE_RANGES:
            index, low, high = FEASIBLE_RANGES[skill]
            assert low <= scene[index] <= high
        else:
            assert scene[LED] == LED_START[skill]
        assert scene[LIGHTBULB] == float(scene[SWITCH] > 0.044)
        assert skill in achievable_skills(scene)
        pos, _ = shared_kinematics().forward(robot[7:14])
        np.testing.assert_allclose(robot[0:3], pos, atol=1e-5)


def test_start_states_are_reproducible_and_skill_names_checked() -> None:
    a = sample_start_state("open_drawer", skill_seed(3, "open_drawer", 4))
    b = sample_start_state("open_drawer", skill_seed(3, "open_drawer", 4))
    c = sample_start_state("open_drawer", skill_seed(3, "open_drawer", 5))
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[1], c[1])
    with pytest.raises(UnknownSkillError):
        sample_start_state("open_fridge", np.random.default_rng(0))


@pytest.mark.parametrize("skill", SKILLS)
def test_expert_completes_each_skill(env: PlayTableEnv, skill: str) -> None:
    expert = ScriptedExpert(seed=1)
    for episode in range(2):
        robot, scene = sample_start_state(skill, skill_seed(1, skill, episode))
        obs, _ = env.reset(options={"robot_obs": robot, "scene_obs": scene})
        expert.reset(skill, obs)
        for _ in range(72):
            action = expert.act(obs)
            assert action.shape == (7,) and np.all(np.abs(action) <= 1.0)
            obs, _, _, _, info = env.step(action)
            if skill in info["completed_tasks"]:
                break
        assert skill in info["completed_tasks"], f"{skill} episode {episode} failed"
        assert completed_tasks(robot, scene, obs["robot_obs"], obs["scene_obs"], tasks=[skill]) == [skill]


def test_a_near_miss_makes_the_motion_without_its_effect(env: PlayTableEnv) -> None:
    """Fingers 5 cm above the handle pull through air: the drawer stays shut; the miss moves the
    hand, not the plan's shape (same number of actions toward a displaced goal)."""
    robot, scene = sample_start_state("open_drawer", skill_seed(2, "open_drawer", 0))
    outcomes = {}
    for name, miss in (("aimed", None), ("missed", np.array([0.0, 0.0, 0.05]))):
        obs, _ = env.reset(options={"robot_obs": robot, "scene_obs": scene})
        expert = ScriptedExpert(noise_std=0.0)
        expert.reset("open_drawer", obs, miss=miss)
        lowest = 1.0
        for _ in range(90):
            if expert.done:
                break
            obs, _, _, _, info = env.step(expert.act(obs))
            lowest = min(lowest, float(obs["robot_obs"][2]))
        outcomes[name] = ("open_drawer" in info["completed_tasks"], lowest)
    assert outcomes["aimed"][0] and not outcomes["missed"][0]
    assert outcomes["missed"][1] > outcomes["aimed"][1] + 0.03
    with pytest.raises(ValueError, match="miss"):
        ScriptedExpert().reset("open_drawer", obs, miss=np.array([0.0, np.nan, 0.0]))
    with pytest.raises(ValueError, match="near_miss_m"):
        PlayConfig(frames=10, near_miss_m=(0.05, 0.01))


def test_free_motions_aim_for_the_configured_box(env: PlayTableEnv) -> None:
    """A box high above the table, outside the default one: play that only wanders there brings the
    TCP into it, and after the first motion keeps it out of the default box."""
    low, high = (-0.05, -0.25, 0.70), (0.05, -0.15, 0.76)
    config = PlayConfig(
        frames=10, seed=3, idle_prob=0.0, free_motion_prob=1.0, free_motion_low=low, free_motion_high=high
    )
    agent = PlayAgent(config)
    obs, _ = env.reset(seed=3)
    visited = []
    for _ in range(120):
        obs, *_ = env.step(agent.act(obs))
        visited.append(obs["robot_obs"][0:3])
    path = np.array(visited)
    inside = np.all((path > np.array(low) - 0.02) & (path < np.array(high) + 0.02), axis=1)
    assert inside.sum() > 20
    assert not np.all(path[60:] < np.array(PlayConfig.free_motion_high), axis=1).any()
    with pytest.raises(ValueError, match="free-motion box"):
        PlayConfig(frames=10, free_motion_low=(0.0, 0.0, 0.5), free_motion_high=(0.1, 0.1, 0.4))


def test_expert_rejects_bad_noise() -> None:
    with pytest.raises(ValueError, match="noise_std"):
        ScriptedExpert(noise_std=float("nan"))


def test_play_is_recorded_labelled_and_reproducible(env: PlayTableEnv) -> None:
    config = PlayConfig(frames=300, seed=4, episode_frames=150)
    first = generate_play(env, config, EpisodeRecorder(300), progress=False)
    second = generate_play(make_env(), config, EpisodeRecorder(300), progress=False)
    assert len(first) == 300 and first.episodes == [(0, 149), (150, 299)]
    assert first.content_hash() == second.content_hash()
    assert first.annotations, "300 frames of play should complete at least one task"
    for start, end, task in first.annotations:
        assert end - start + 1 <= 64
        assert any(s <= start and end <= e for s, e in first.episodes)
        done = completed_tasks(
            first.robot_obs[start], first.scene_obs[start], first.robot_obs[end], first.scene_obs[end]
        )
        assert task in done
    # Frame t's relative action is what moved the target from frame t's absolute action to the next.
    step = (first.actions[1:3, :3] - first.actions[0:2, :3]) / 0.02
    np.testing.assert_allclose(step, first.rel_actions[1:3, :3], atol=1e-3)
