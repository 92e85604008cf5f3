"""The floor under the table, and the bounds every recorded state keeps: a block pushed off the table
lands and rests, play puts it back, and the dataset writer and reset refuse impossible states."""

import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pybullet as p
import pytest
from diwa.data.dataset import Dataset, save_dataset
from diwa.data.recorder import EpisodeRecorder
from diwa.sim import geometry as g
from diwa.sim import make_env
from diwa.sim.env import PlayTableEnv
from diwa.sim.obs_layout import ARM_JOINTS, BUTTON, DRAWER, block_pos
from diwa.sim.oracle import resting_surface
from diwa.sim.play import PlayConfig, PlayGenerator
from diwa.sim.scene_bounds import blocks_off_table, check_physical, first_violation
from diwa.sim.start_states import replace_blocks, sample_robot_obs, sample_scene_obs

HOLD = np.array([0, 0, 0, 0, 0, 0, 1], dtype=np.float32)
# (x, y) a little inside each table edge and the outward push; the cabinet stands along the back edge,
# so the block goes off the back beside it, at x = 0.3, where the switch plate leaves room.
EDGES = {
    "left": ((-0.47, -0.10), (-1.0, 0.0)),
    "right": ((0.47, -0.10), (1.0, 0.0)),
    "front": ((-0.30, -0.14), (0.0, -1.0)),
    "back": ((0.42, 0.18), (0.0, 1.0)),
}


@pytest.fixture(scope="module")
def env() -> Iterator[PlayTableEnv]:
    environment = make_env()
    yield environment
    environment.close()


@pytest.mark.parametrize("edge", sorted(EDGES))
def test_a_block_pushed_off_each_edge_rests_on_the_floor_within_a_second(env: PlayTableEnv, edge: str) -> None:
    (x, y), push = EDGES[edge]
    rng = np.random.default_rng(0)
    scene = sample_scene_obs(rng)
    scene[DRAWER] = 0.0
    red = block_pos("red")
    scene[red] = (x, y, g.TABLE_TOP_Z + g.BLOCK_HALF_HEIGHT)
    others = replace_blocks(scene, ["blue", "pink"], rng)  # clear of the red block
    obs, _ = env.reset(options={"robot_obs": sample_robot_obs(rng), "scene_obs": others})
    body = env.scene.blocks["red"]
    p.resetBaseVelocity(body, [1.5 * push[0], 1.5 * push[1], 0.0], [0, 0, 0], physicsClientId=env.client)
    for _ in range(g.CONTROL_HZ):  # one second
        obs, *_ = env.step(HOLD)
    pos = obs["scene_obs"][red]
    velocity, _ = p.getBaseVelocity(body, physicsClientId=env.client)
    assert blocks_off_table(obs["scene_obs"]) == ["red"]
    # Resting on the floor: on a face, an edge or a corner, but above the floor and still.
    assert g.FLOOR_Z + g.BLOCK_HALF_HEIGHT - 0.002 <= pos[2] < g.FLOOR_Z + 0.06
    assert np.linalg.norm(velocity) < 0.05
    assert first_violation(obs["robot_obs"], obs["scene_obs"]) is None
    # CALVIN's oracle: a block on the floor is on no surface.
    assert resting_surface(pos, float(obs["scene_obs"][DRAWER])) is None


def test_replace_blocks_puts_back_only_the_fallen_block_clear_of_the_others() -> None:
    rng = np.random.default_rng(3)
    scene = sample_scene_obs(rng)
    scene[block_pos("pink")] = (0.7, -0.4, g.FLOOR_Z + g.BLOCK_HALF_HEIGHT)
    fixed = replace_blocks(scene, ["pink"], rng)
    assert blocks_off_table(fixed) == []
    np.testing.assert_array_equal(fixed[:12], scene[:12])  # parts, lights, red block untouched
    np.testing.assert_array_equal(fixed[12:18], scene[12:18])  # blue block untouched
    pink = fixed[block_pos("pink")]
    for other in ("red", "blue"):
        assert np.linalg.norm(pink[:2] - fixed[block_pos(other)][:2]) > 0.05


def test_wide_play_that_knocks_a_block_off_puts_it_back_and_records_no_fall() -> None:
    """Seed 31 with the wide-play flags knocked the red block off the front edge and recorded it
    falling to z = -34 m before the floor existed."""
    frames = 4000
    config = PlayConfig(
        frames=frames,
        seed=31,
        near_miss_prob=0.3,
        near_miss_m=(0.03, 0.09),
        free_motion_low=(-0.45, -0.45, 0.30),
        free_motion_high=(0.40, 0.05, 0.66),
    )
    env = make_env()
    try:
        generator = PlayGenerator(env, config, EpisodeRecorder(frames))
        dataset = generator.run(progress=False)
    finally:
        env.close()
    assert generator.blocks_put_back >= 1
    assert dataset.provenance["blocks_put_back"] == generator.blocks_put_back
    assert len(dataset) == frames
    for color in ("red", "blue", "pink"):
        assert dataset.scene_obs[:, block_pos(color)][:, 2].min() >= g.OFF_TABLE_BELOW_Z
    assert first_violation(dataset.robot_obs, dataset.scene_obs) is None
    # Each fall ends an episode there: more episodes than the 16 layouts of 250 frames.
    assert len(dataset.episodes) >= frames // config.episode_frames + generator.blocks_put_back


def test_play_ends_the_episode_before_a_contact_pushes_the_fingers_past_their_stop(tmp_path: Path) -> None:
    """Seed 0 drives the open fingers into the scene at frame 2863: the contact pushes them 1.2 cm
    apart, past the gripper's bound. An hour of play with cameras failed there at save time."""
    env = make_env()
    try:
        generator = PlayGenerator(env, PlayConfig(frames=2900, seed=0), EpisodeRecorder(2900))
        dataset = generator.run(progress=False)
    finally:
        env.close()
    assert generator.unphysical_states == [
        "after frame 2862: robot_obs[6] (gripper width) = 0.0917699 m is outside -0.03..0.09"
    ]
    assert dataset.provenance["episodes_ended_before_unphysical_states"] == generator.unphysical_states
    assert (2750, 2862) in dataset.episodes and (2863, 2899) in dataset.episodes
    assert len(dataset) == 2900 and first_violation(dataset.robot_obs, dataset.scene_obs) is None
    save_dataset(dataset, tmp_path / "play")


def _dataset(frames: int = 20) -> Dataset:
    rng = np.random.default_rng(0)
    robot = np.tile(sample_robot_obs(rng), (frames, 1)).astype(np.float32)
    scene = np.tile(sample_scene_obs(rng), (frames, 1)).astype(np.float32)
    actions = np.zeros((frames, 7), dtype=np.float32)
    return Dataset(robot, scene, actions, actions.copy(), [(0, frames - 1)])


@pytest.mark.parametrize(
    ("field", "column", "value", "says"),
    [
        ("scene_obs", block_pos("red").start + 2, -34.0, "scene_obs[8] (red block z) = -34 m is below the floor"),
        ("scene_obs", block_pos("blue").start, -1e9, "scene_obs[12] (blue block x/y) = -1e+09 m is off the floor"),
        ("scene_obs", DRAWER, 5.0, "scene_obs[1] (drawer) = 5 m is outside its travel"),
        ("scene_obs", BUTTON, -0.2, "scene_obs[2] (button) = -0.2 m is outside its travel"),
        ("robot_obs", ARM_JOINTS.start + 1, 100.0, "robot_obs[8] (arm joint) = 100 rad is above its limit"),
        ("robot_obs", 2, -3.0, "robot_obs[2] (TCP position) = -3 m is beyond the reachable area"),
    ],
)
def test_the_dataset_writer_refuses_a_frame_outside_the_scene_with_its_location(
    tmp_path: Path, field: str, column: int, value: float, says: str
) -> None:
    dataset = _dataset()
    getattr(dataset, field)[13, column] = value
    with pytest.raises(ValueError, match=re.escape("frame 13: " + says)):
        save_dataset(dataset, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert [path.name for path in tmp_path.iterdir()] == []  # no staging directory left behind


def test_the_dataset_writer_accepts_in_bounds_frames(tmp_path: Path) -> None:
    assert (save_dataset(_dataset(), tmp_path / "ok") / "meta.json").is_file()


@pytest.mark.parametrize(
    ("part", "index", "value"),
    [("robot_obs", ARM_JOINTS.start, 100.0), ("scene_obs", DRAWER, 5.0), ("scene_obs", block_pos("red").start, -1e9)],
)
def test_reset_refuses_states_outside_the_scene(env: PlayTableEnv, part: str, index: int, value: float) -> None:
    rng = np.random.default_rng(1)
    state = {"robot_obs": sample_robot_obs(rng), "scene_obs": sample_scene_obs(rng)}
    state[part][index] = value
    with pytest.raises(ValueError, match="reset options: .*not a physical state"):
        env.reset(options=state)


def test_check_physical_names_the_single_state_without_a_frame_number() -> None:
    rng = np.random.default_rng(2)
    robot, scene = sample_robot_obs(rng), sample_scene_obs(rng)
    check_physical(robot, scene, "state")
    scene[DRAWER] = np.nan
    with pytest.raises(ValueError, match=r"^state: scene_obs\[1\] = nan is not finite"):
        check_physical(robot, scene, "state")


@pytest.mark.parametrize(
    ("field", "column", "value", "says"),
    [
        ("rel_actions", 2, 1e30, "rel_actions[5, 2] = 1e+30 is outside -1..1"),
        ("actions", 0, 1e30, "actions[5, 0:3] (TCP target) starts with 1e+30"),
        ("actions", 4, 7.0, "actions[5, 3+1] (angle) = 7 rad"),
        ("actions", 6, 3.0, "actions[5, 6] (gripper) = 3"),
    ],
)
def test_the_dataset_writer_refuses_actions_no_robot_could_be_sent(
    tmp_path: Path, field: str, column: int, value: float, says: str
) -> None:
    dataset = _dataset()
    dataset.actions[:, :3] = dataset.robot_obs[:, :3]
    getattr(dataset, field)[5, column] = value
    with pytest.raises(ValueError, match=re.escape(says)):
        save_dataset(dataset, tmp_path / "out")
