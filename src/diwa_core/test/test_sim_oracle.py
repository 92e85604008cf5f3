"""The task oracle: every threshold triggers exactly when crossed, and nothing fires without motion."""

import numpy as np
import pytest
from diwa.sim import geometry as g
from diwa.sim.obs_layout import BUTTON, DRAWER, LED, LIGHTBULB, SLIDER, SWITCH, block_euler, block_pos
from diwa.sim.oracle import BLOCK_TASKS, TASKS, completed_tasks, held_by_robot, resting_surface
from diwa.skills import SKILLS

EPS = 1e-4


def resting_state() -> tuple[np.ndarray, np.ndarray]:
    """Arm above the table, door/drawer mid-travel, lights off, blocks resting apart on the table."""
    robot = np.zeros(15)
    robot[0:3] = (0.0259, -0.2313, 0.5713)
    robot[3:6] = (3.0905, -0.0291, 1.5001)
    robot[6] = 0.08
    robot[7:14] = g.HOME_JOINTS
    robot[14] = 1.0
    scene = np.zeros(24)
    scene[SLIDER], scene[DRAWER], scene[SWITCH] = 0.1, 0.05, 0.01
    for i, color in enumerate(("red", "blue", "pink")):
        scene[block_pos(color)] = (0.05 + 0.1 * i, -0.09, g.TABLE_TOP_Z + g.BLOCK_HALF_HEIGHT)
    return robot, scene


def test_nothing_moves_nothing_completes() -> None:
    robot, scene = resting_state()
    assert completed_tasks(robot, scene, robot, scene) == []
    moved_arm = robot.copy()
    moved_arm[0:3] += 0.2
    assert completed_tasks(robot, scene, moved_arm, scene) == []


@pytest.mark.parametrize(
    ("index", "threshold", "positive", "negative"),
    [
        (DRAWER, 0.12, "open_drawer", "close_drawer"),
        (SLIDER, 0.15, "move_slider_left", "move_slider_right"),
    ],
)
def test_joint_tasks_trigger_strictly_past_threshold(
    index: int, threshold: float, positive: str, negative: str
) -> None:
    robot, start = resting_state()
    start[index] = 0.14
    for change, expected in (
        (threshold - EPS, []),
        (threshold + EPS, [positive]),
        (-(threshold - EPS), []),
        (-(threshold + EPS), [negative]),
    ):
        now = start.copy()
        now[index] += change
        assert completed_tasks(robot, start, robot, now, tasks=SKILLS) == expected, change


@pytest.mark.parametrize(("index", "name"), [(LIGHTBULB, "lightbulb"), (LED, "led")])
def test_light_tasks_follow_the_light_state(index: int, name: str) -> None:
    robot, off = resting_state()
    on = off.copy()
    on[index] = 1.0
    assert completed_tasks(robot, off, robot, on) == [f"turn_on_{name}"]
    assert completed_tasks(robot, on, robot, off) == [f"turn_off_{name}"]
    assert completed_tasks(robot, on, robot, on) == []


def test_switch_or_button_motion_alone_completes_nothing() -> None:
    # The oracle judges the lights, not the joints that drive them.
    robot, start = resting_state()
    now = start.copy()
    now[SWITCH] = 0.08
    now[BUTTON] = 0.02
    assert completed_tasks(robot, start, robot, now) == []


def test_push_needs_both_ends_on_a_surface() -> None:
    robot, start = resting_state()
    now = start.copy()
    now[block_pos("red")][0] += 0.1 + EPS
    assert completed_tasks(robot, start, robot, now) == ["push_red_block_right"]
    now[block_pos("red")][0] = start[block_pos("red")][0] - 0.1 - EPS
    assert completed_tasks(robot, start, robot, now) == ["push_red_block_left"]
    now[block_pos("red")][0] = start[block_pos("red")][0] + 0.1 - EPS
    assert completed_tasks(robot, start, robot, now) == []
    airborne = start.copy()
    airborne[block_pos("red")] += (0.15, 0.0, 0.03)
    assert "push_red_block_right" not in completed_tasks(robot, start, robot, airborne)


def test_lift_needs_height_and_only_the_robot_touching() -> None:
    robot, start = resting_state()
    lifted = start.copy()
    lifted[block_pos("blue")][2] += 0.05 + EPS
    held = {"red": frozenset({"table"}), "blue": frozenset({"robot"}), "pink": frozenset({"table"})}
    assert completed_tasks(robot, start, robot, lifted, held) == ["lift_blue_block_table"]
    stacked = dict(held, blue=frozenset({"robot", "block_red"}))
    assert completed_tasks(robot, start, robot, lifted, stacked) == []
    low = start.copy()
    low[block_pos("blue")][2] += 0.05 - EPS
    assert completed_tasks(robot, start, robot, low, held) == []


def test_lift_from_the_slider_shelf_has_the_lower_threshold() -> None:
    robot, start = resting_state()
    start[block_pos("pink")] = (0.0, 0.1, g.SHELF_TOP_Z + g.BLOCK_HALF_HEIGHT)
    assert resting_surface(start[block_pos("pink")], 0.0) == "slider"
    lifted = start.copy()
    lifted[block_pos("pink")][2] += 0.03 + EPS
    touching = {"red": frozenset(), "blue": frozenset(), "pink": frozenset({"robot"})}
    assert completed_tasks(robot, start, robot, lifted, touching) == ["lift_pink_block_slider"]


def test_lift_without_contacts_infers_a_grasp_from_the_gripper() -> None:
    robot, start = resting_state()
    now = start.copy()
    now[block_pos("red")][2] += 0.08
    gripping = robot.copy()
    gripping[0:3] = now[block_pos("red")]
    gripping[6] = 0.04
    assert held_by_robot(gripping, now, "red")
    assert completed_tasks(robot, start, gripping, now) == ["lift_red_block_table"]
    open_hand = gripping.copy()
    open_hand[6] = 0.08
    assert completed_tasks(robot, start, open_hand, now) == []


@pytest.mark.parametrize(("yaw", "expected"), [(1.06, ["rotate_red_block_left"]), (-1.06, ["rotate_red_block_right"])])
def test_rotate_beyond_sixty_degrees(yaw: float, expected: list[str]) -> None:
    robot, start = resting_state()
    start[block_euler("red")] = (0.0, 0.0, 3.0)  # near the +-pi wrap: the change must still read as `yaw`
    now = start.copy()
    now[block_euler("red")][2] = 3.0 + yaw
    assert completed_tasks(robot, start, robot, now) == expected
    small = start.copy()
    small[block_euler("red")][2] = 3.0 + 0.9 * np.sign(yaw)
    assert completed_tasks(robot, start, robot, small) == []
    tipped = now.copy()
    tipped[block_euler("red")][0] = 0.7
    assert completed_tasks(robot, start, robot, tipped) == []


def test_task_list_and_bad_input() -> None:
    assert TASKS[:8] == SKILLS and len(BLOCK_TASKS) == 21
    robot, scene = resting_state()
    with pytest.raises(ValueError, match="unknown tasks"):
        completed_tasks(robot, scene, robot, scene, tasks=["open_the_fridge"])
    with pytest.raises(ValueError, match="scene_obs must have shape"):
        completed_tasks(robot, scene[:20], robot, scene)
    bad = scene.copy()
    bad[0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        completed_tasks(robot, scene, robot, bad)
