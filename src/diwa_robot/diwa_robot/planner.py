"""Planned moves with MoveIt 2 (moveit_py), behind a two-method interface.

The Franka backend moves the arm to a skill's start pose before it streams twists. That move is a
collision-checked plan, not a twist stream, so it goes through MoveIt's Python API. The backend only
sees `Planner`, so tests inject a stand-in while a robot PC uses `MoveItPyPlanner`; moveit_py is
imported only in `moveit_py_planner()`, which keeps this module importable where MoveIt is missing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from geometry_msgs.msg import PoseStamped

from diwa_robot.franka_config import FrankaConfig


class PlanningError(RuntimeError):
    """No plan, a failed execution, or no MoveIt at all; the message says which."""


class Planner(Protocol):
    def move_to(self, target: PoseStamped, pose_link: str) -> None:
        """Plan from the current state to `target` for `pose_link` and execute it; block until done.
        Raises PlanningError when MoveIt finds no plan or the execution fails or is stopped."""

    def stop(self) -> None:
        """Stop a move in progress (called from another thread, e.g. by the e-stop)."""


class MoveItPyPlanner:
    """A `Planner` on a MoveItPy instance (or any object with the same methods)."""

    def __init__(self, moveit: Any, group: str) -> None:
        self.moveit = moveit
        self.group = group
        self.component = moveit.get_planning_component(group)

    def move_to(self, target: PoseStamped, pose_link: str) -> None:
        self.component.set_start_state_to_current_state()
        self.component.set_goal_state(pose_stamped_msg=target, pose_link=pose_link)
        plan = self.component.plan()
        if not plan:
            raise PlanningError(f"MoveIt found no plan for {self.group} to {pose_link} at {_describe(target)}")
        # An empty controller list lets MoveIt pick the controller of the group (fr3_arm_controller).
        status = self.moveit.execute(plan.trajectory, controllers=[])
        if not status:
            detail = getattr(status, "status", status)  # moveit_py's ExecutionStatus names the failure
            raise PlanningError(f"executing the plan to {_describe(target)} failed: {detail}")

    def stop(self) -> None:
        self._execution_manager().stop_execution()

    def _execution_manager(self) -> Any:
        # Jazzy's moveit_py spells the getter "trajactory"; later releases fixed the spelling.
        for name in ("get_trajectory_execution_manager", "get_trajactory_execution_manager"):
            getter = getattr(self.moveit, name, None)
            if getter is not None:
                return getter()
        raise PlanningError("this moveit_py has no trajectory execution manager to stop")


def moveit_py_planner(config: FrankaConfig, share: Path) -> MoveItPyPlanner:
    """MoveItPy for the FR3 in this process, configured from franka_ros2's description and MoveIt
    packages plus our moveit_py.yaml / moveit_controllers.yaml in `share` (diwa_bringup's config/)."""
    try:
        from ament_index_python.packages import get_package_share_directory
        from moveit.planning import MoveItPy
        from moveit_configs_utils import MoveItConfigsBuilder
    except ImportError as err:
        raise PlanningError(
            f"moveit_py is not installed ({err}); install ros-jazzy-moveit-py or set franka.move_to_start:=false"
        ) from err

    def in_package(spec: str) -> str:
        package, _, relative = spec.partition("/")
        return str(Path(get_package_share_directory(package)) / relative)

    moveit_config = (
        MoveItConfigsBuilder("fr3", package_name=config.moveit_config_package)
        # Only the kinematic model matters for planning; the ros2_control arguments of the xacro
        # (robot_ip, fake hardware) do not change it.
        .robot_description(file_path=in_package(config.robot_description_xacro), mappings=dict(config.xacro_mappings))
        .robot_description_semantic(
            file_path=in_package(config.robot_description_semantic_xacro), mappings=dict(config.xacro_mappings)
        )
        .robot_description_kinematics(file_path="config/kinematics.yaml")
        .trajectory_execution(file_path=str(share / "moveit_controllers.yaml"))
        .planning_pipelines(pipelines=["ompl"])
        .moveit_cpp(file_path=str(share / "moveit_py.yaml"))
        .to_moveit_configs()
    )
    moveit = MoveItPy(node_name=config.moveit_node_name, config_dict=moveit_config.to_dict())
    return MoveItPyPlanner(moveit, config.move_group)


def _describe(pose: PoseStamped) -> str:
    p = pose.pose.position
    return f"({p.x:.3f}, {p.y:.3f}, {p.z:.3f}) in {pose.header.frame_id}"
