"""MoveItPyPlanner makes exactly the documented moveit_py calls, and reports every failure."""

from dataclasses import dataclass

import pytest
from geometry_msgs.msg import PoseStamped

from diwa_robot.planner import MoveItPyPlanner, PlanningError


@dataclass
class Result:
    trajectory: object
    ok: bool

    def __bool__(self) -> bool:
        return self.ok


class Component:
    def __init__(self, calls: list, plan_ok: bool) -> None:
        self.calls, self.plan_ok = calls, plan_ok

    def set_start_state_to_current_state(self) -> None:
        self.calls.append("start_state")

    def set_goal_state(self, *, pose_stamped_msg, pose_link) -> None:
        self.calls.append(("goal", pose_stamped_msg.header.frame_id, pose_link))

    def plan(self) -> Result:
        self.calls.append("plan")
        return Result("trajectory", self.plan_ok)


class MoveIt:
    """moveit_py as Jazzy ships it (get_trajactory_execution_manager) or as fixed later."""

    def __init__(self, plan_ok: bool = True, execute_ok: bool = True) -> None:
        self.calls: list = []
        self.plan_ok, self.execute_ok = plan_ok, execute_ok

    def get_planning_component(self, group: str) -> Component:
        self.calls.append(("component", group))
        return Component(self.calls, self.plan_ok)

    def execute(self, trajectory, controllers) -> Result:
        self.calls.append(("execute", trajectory, controllers))
        return Result("ABORTED", self.execute_ok)

    def get_trajactory_execution_manager(self) -> "MoveIt":
        return self

    def stop_execution(self) -> None:
        self.calls.append("stop")


class FixedSpellingMoveIt(MoveIt):
    get_trajactory_execution_manager = None

    def get_trajectory_execution_manager(self) -> MoveIt:
        return self


def target() -> PoseStamped:
    pose = PoseStamped()
    pose.header.frame_id = "fr3_link0"
    return pose


def test_move_plans_from_the_current_state_and_executes_on_any_controller():
    moveit = MoveIt()
    MoveItPyPlanner(moveit, "fr3_arm").move_to(target(), "fr3_hand_tcp")
    assert moveit.calls == [
        ("component", "fr3_arm"),
        "start_state",
        ("goal", "fr3_link0", "fr3_hand_tcp"),
        "plan",
        ("execute", "trajectory", []),
    ]


def test_no_plan_is_an_error_and_nothing_executes():
    moveit = MoveIt(plan_ok=False)
    with pytest.raises(PlanningError, match="no plan"):
        MoveItPyPlanner(moveit, "fr3_arm").move_to(target(), "fr3_hand_tcp")
    assert not any(isinstance(c, tuple) and c[0] == "execute" for c in moveit.calls)


def test_a_failed_execution_is_an_error_naming_the_status():
    with pytest.raises(PlanningError, match="ABORTED"):
        MoveItPyPlanner(MoveIt(execute_ok=False), "fr3_arm").move_to(target(), "fr3_hand_tcp")


@pytest.mark.parametrize("moveit_type", [MoveIt, FixedSpellingMoveIt])
def test_stop_reaches_the_trajectory_execution_manager(moveit_type):
    moveit = moveit_type()
    MoveItPyPlanner(moveit, "fr3_arm").stop()
    assert moveit.calls[-1] == "stop"
