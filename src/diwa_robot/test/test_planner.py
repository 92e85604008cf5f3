"""MoveItPyPlanner makes exactly the documented moveit_py calls, and reports every failure; MoveItPy
is built the way Jazzy's moveit_configs_utils and moveit_py take it."""

import sys
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import pytest
from geometry_msgs.msg import PoseStamped

from diwa_robot.franka_config import FrankaConfig
from diwa_robot.planner import MoveItPyPlanner, PlanningError, moveit_py_config, moveit_py_planner

BRINGUP_CONFIG = Path(__file__).resolve().parents[2] / "diwa_bringup" / "config"


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
    """moveit_py as 2.10 spelled it (get_trajactory_execution_manager); Jazzy (2.11+) has the fixed name."""

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


@dataclass
class Configs:
    """moveit_configs_utils.MoveItConfigs: the fields the planner touches (moveit2 2.12.4)."""

    planning_pipelines: dict = field(default_factory=dict)
    other: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {**self.planning_pipelines, **self.other}


class Builder:
    """Records MoveItConfigsBuilder's calls; the builder methods return the builder, as upstream's do."""

    calls: ClassVar[list] = []

    def __init__(self, robot_name, package_name=None) -> None:
        Builder.calls = [("init", robot_name, package_name)]

    def __getattr__(self, name):
        def record(*args, **kwargs):
            Builder.calls.append((name, args, kwargs))
            return self

        return record

    def to_moveit_configs(self) -> Configs:
        # What planning_pipelines(pipelines=["ompl"]) loads from franka_fr3_moveit_config: no plugins.
        return Configs(
            {"planning_pipelines": ["ompl"], "ompl": {"planner_configs": {}}}, {"robot_description": "<robot/>"}
        )


def in_package(spec: str) -> str:
    return "/share/" + spec


def calls_named(name: str) -> list:
    return [(args, kwargs) for call_name, args, kwargs in Builder.calls[1:] if call_name == name]


def test_moveit_py_config_loads_fr3_joint_limits_and_our_ompl_pipeline():
    config = moveit_py_config(FrankaConfig(), BRINGUP_CONFIG, Builder, in_package)
    assert Builder.calls[0] == ("init", "fr3", "franka_fr3_moveit_config")
    assert calls_named("joint_limits") == [
        ((), {"file_path": "/share/franka_fr3_moveit_config/config/fr3_joint_limits.yaml"})
    ]
    assert calls_named("planning_pipelines") == [((), {"pipelines": ["ompl"]})]
    ((_, execution),) = calls_named("trajectory_execution")
    assert execution["moveit_manage_controllers"] is False  # Servo streams to the same controller
    assert execution["file_path"].endswith("moveit_controllers.yaml")
    ((_, moveit_cpp),) = calls_named("moveit_cpp")
    assert moveit_cpp["file_path"].endswith("moveit_py.yaml")
    pipeline = config["ompl"]  # ours replaced franka's planner-only file
    assert pipeline["planning_plugins"] == ["ompl_interface/OMPLPlanner"]
    assert pipeline["request_adapters"] and pipeline["response_adapters"]
    assert "fr3_arm" in pipeline
    assert config["robot_description"] == "<robot/>"


def test_moveit_py_planner_builds_moveit_py_without_a_planning_scene_service(monkeypatch):
    made = {}

    class MoveItPy:
        def __init__(self, **kwargs) -> None:
            made.update(kwargs)

        def get_planning_component(self, group):
            made["group"] = group

    modules = {
        "moveit": types.ModuleType("moveit"),
        "moveit.planning": types.SimpleNamespace(MoveItPy=MoveItPy),
        "moveit_configs_utils": types.SimpleNamespace(MoveItConfigsBuilder=Builder),
        "ament_index_python.packages": types.SimpleNamespace(get_package_share_directory=lambda p: f"/share/{p}"),
    }
    for name, module in modules.items():
        monkeypatch.setitem(sys.modules, name, module)
    planner = moveit_py_planner(FrankaConfig(), BRINGUP_CONFIG)
    assert made["provide_planning_service"] is False  # move_group serves /get_planning_scene
    assert made["node_name"] == "diwa_moveit_py"
    assert made["config_dict"]["ompl"]["planning_plugins"] == ["ompl_interface/OMPLPlanner"]
    assert made["group"] == "fr3_arm" and planner.group == "fr3_arm"


def test_without_moveit_py_the_planner_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "moveit", None)
    with pytest.raises(PlanningError, match="ros-jazzy-moveit-py"):
        moveit_py_planner(FrankaConfig(), BRINGUP_CONFIG)
