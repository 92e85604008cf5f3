"""Planned moves with MoveIt 2 (moveit_py), behind a two-method interface.

The Franka backend moves the arm to a skill's start pose before it streams twists. That move is a
collision-checked plan, not a twist stream, so it goes through MoveIt's Python API. The backend only
sees `Planner`, so tests inject a stand-in while a robot PC uses `MoveItPyPlanner`; moveit_py is
imported only in `moveit_py_planner()`, which keeps this module importable where MoveIt is missing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import yaml
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
        # Jazzy's moveit_py (moveit2 2.11+, e.g. 2.12.4 moveit_py/src/moveit/moveit_ros/moveit_cpp/
        # moveit_cpp.cpp) binds get_trajectory_execution_manager; 2.10 spelled it "trajactory".
        for name in ("get_trajectory_execution_manager", "get_trajactory_execution_manager"):
            getter = getattr(self.moveit, name, None)
            if getter is not None:
                return getter()
        raise PlanningError("this moveit_py has no trajectory execution manager to stop")


OMPL_PIPELINE_FILE = "ompl_planning.yaml"
"""diwa_bringup's OMPL pipeline (planning_plugins, adapters, fr3_arm's planners), used as `ompl`."""


def moveit_py_config(config: FrankaConfig, share: Path, builder_type: Any, in_package: Any) -> dict[str, Any]:
    """MoveItPy's config_dict for the FR3: franka_ros2's description and MoveIt packages plus our
    moveit_py.yaml / moveit_controllers.yaml / ompl_planning.yaml in `share` (diwa_bringup's config/).
    `builder_type` is moveit_configs_utils.MoveItConfigsBuilder; `in_package` maps "package/relative"
    to an absolute path. Calls as in moveit2 2.12.4, moveit_configs_utils/moveit_configs_builder.py."""
    moveit_config = (
        builder_type("fr3", package_name=config.moveit_config_package)
        # Only the kinematic model matters for planning; the ros2_control arguments of the xacro
        # (robot_ip, fake hardware) do not change it.
        .robot_description(file_path=in_package(config.robot_description_xacro), mappings=dict(config.xacro_mappings))
        .robot_description_semantic(
            file_path=in_package(config.robot_description_semantic_xacro), mappings=dict(config.xacro_mappings)
        )
        .robot_description_kinematics(file_path="config/kinematics.yaml")
        # Without it the builder looks for config/joint_limits.yaml, which franka_fr3_moveit_config
        # does not have; Jazzy's AddTimeOptimalParameterization fails without acceleration limits.
        .joint_limits(file_path=in_package(config.joint_limits_yaml))
        # Servo streams to the same fr3_arm_controller: moveit_py must not switch controllers.
        .trajectory_execution(file_path=str(share / "moveit_controllers.yaml"), moveit_manage_controllers=False)
        .planning_pipelines(pipelines=["ompl"])
        .moveit_cpp(file_path=str(share / "moveit_py.yaml"))
        .to_moveit_configs()
    )
    # planning_pipelines() loads franka_fr3_moveit_config/config/ompl_planning.yaml: planner configs
    # only, without Jazzy's planning_plugins and adapters and without fr3_arm. Ours replaces it.
    moveit_config.planning_pipelines["ompl"] = yaml.safe_load((share / OMPL_PIPELINE_FILE).read_text())
    return moveit_config.to_dict()


def moveit_py_planner(config: FrankaConfig, share: Path) -> MoveItPyPlanner:
    """MoveItPy for the FR3 in this process (see moveit_py_config)."""
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

    # provide_planning_service=False: move_group already serves /get_planning_scene; a second server
    # of the same name (planning_scene_monitor.cpp's DEFAULT_PLANNING_SCENE_SERVICE) would leave
    # clients answered by either (moveit2 2.12.4, moveit_py/src/moveit/moveit_ros/moveit_cpp/
    # moveit_cpp.cpp: MoveItPy(node_name, name_space, launch_params_filepaths, config_dict,
    # provide_planning_service, remappings)).
    moveit = MoveItPy(
        node_name=config.moveit_node_name,
        config_dict=moveit_py_config(config, share, MoveItConfigsBuilder, in_package),
        provide_planning_service=False,
    )
    return MoveItPyPlanner(moveit, config.move_group)


def _describe(pose: PoseStamped) -> str:
    p = pose.pose.position
    return f"({p.x:.3f}, {p.y:.3f}, {p.z:.3f}) in {pose.header.frame_id}"
