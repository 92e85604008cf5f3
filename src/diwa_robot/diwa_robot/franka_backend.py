"""The Franka backend: the policy's twist stream through MoveIt Servo, the gripper through franka_gripper.

Around the stream it inherits, a real arm needs what the mock robot does not:
  activate:   franka_gripper ~/homing (once, before the first skill; calibrates the finger width)
              Servo paused, then a planned MoveIt move to the start pose (Servo and the planned
              trajectory would otherwise both command fr3_arm_controller)
              Servo ~/switch_command_type TWIST, then ~/pause_servo false
  send:       TwistStamped on Servo's twist topic at the control rate (inherited)
  hold:       a zero twist now, and a planned move in progress is stopped
  deactivate: a zero twist, then ~/pause_servo true

The calls come from the policy node's control loop, which runs in one thread of a
MultiThreadedExecutor. Every call is made asynchronously and its future waited on with a timeout;
the clients sit in a ReentrantCallbackGroup so that another executor thread delivers the response.
A blocking call from a callback (`call()`, spin_until_future_complete) could deadlock that executor.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

from geometry_msgs.msg import PoseStamped
from rclpy.action import ActionClient
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.client import Client
from rclpy.node import Node
from rclpy.task import Future
from std_srvs.srv import SetBool

from diwa_robot.backends import BackendError, ServoStreamBackend, ServoTopics
from diwa_robot.franka_config import PARAMETER_PREFIX, FrankaConfig, parameter_defaults
from diwa_robot.planner import Planner, PlanningError, moveit_py_planner


def franka_config_from_parameters(node: Node) -> FrankaConfig:
    """Declare the `franka.*` parameters (defaults: FrankaConfig's) and read them into a FrankaConfig."""
    values = {}
    for name, default in parameter_defaults().items():
        value = node.declare_parameter(name, default).value
        values[name.removeprefix(PARAMETER_PREFIX)] = list(value) if isinstance(default, list) else value
    return FrankaConfig.from_mapping(values)


def start_pose(config: FrankaConfig) -> PoseStamped:
    pose = PoseStamped()
    pose.header.frame_id = config.start_frame
    pose.pose.position.x, pose.pose.position.y, pose.pose.position.z = (float(v) for v in config.start_position)
    o = pose.pose.orientation
    o.x, o.y, o.z, o.w = (float(v) for v in config.start_orientation)
    return pose


class FrankaBackend(ServoStreamBackend):
    """MoveIt Servo + franka_gripper (+ moveit_py). The policy node passes neither `config` (read from
    the franka.* parameters) nor `planner` (moveit_py when franka.move_to_start); tests inject both."""

    def __init__(
        self,
        node: Node,
        topics: ServoTopics,
        open_width: float,
        config: FrankaConfig | None = None,
        planner: Planner | None = None,
    ) -> None:
        from franka_msgs.action import Grasp, Homing, Move
        from moveit_msgs.srv import ServoCommandType

        self.config = config if config is not None else franka_config_from_parameters(node)
        super().__init__(node, replace(topics, planning_frame=self.config.command_frame), Move, Grasp, open_width)
        group = ReentrantCallbackGroup()
        servo = self.config.servo_node.rstrip("/")
        self.command_type = ServoCommandType
        self.switch_client = node.create_client(ServoCommandType, f"{servo}/switch_command_type", callback_group=group)
        self.pause_client = node.create_client(SetBool, f"{servo}/pause_servo", callback_group=group)
        self.homing_type = Homing
        self.homing_client = ActionClient(
            node, Homing, f"{topics.gripper_namespace.rstrip('/')}/homing", callback_group=group
        )
        if planner is None and self.config.plans_start_move:
            planner = moveit_py_planner(self.config, _bringup_config_dir())
        self.planner = planner if self.config.plans_start_move else None
        if self.config.fake_hardware:
            node.get_logger().warn("franka.fake_hardware: no gripper homing and no planned start move")
        self.gripper_homed = False
        self.streaming = False  # Servo was (or may have been) unpaused for this skill
        self.moving = threading.Event()  # a planned move is executing

    # --- RobotBackend ---------------------------------------------------------------------------
    def activate(self) -> None:
        super().activate()
        try:
            self._prepare()
        except BackendError:
            self.deactivate()  # a start that failed halfway leaves Servo paused
            raise

    def _prepare(self) -> None:
        if self.config.homes_gripper and not self.gripper_homed:
            self._home_gripper()
            self.gripper_homed = True
        if self.planner is not None:
            self._pause_servo(True)
            self.moving.set()
            try:
                self.planner.move_to(start_pose(self.config), self.config.pose_link)
            except PlanningError as err:
                raise BackendError(f"move to the start pose failed: {err}") from err
            finally:
                self.moving.clear()
        response = self._call(
            self.switch_client, self.command_type.Request(command_type=self.command_type.Request.TWIST)
        )
        if not response.success:
            raise BackendError("MoveIt Servo refused to switch to twist commands")
        self.streaming = True  # from here on Servo may move: deactivate must pause it again
        self._pause_servo(False)

    def hold(self) -> None:
        super().hold()
        if self.moving.is_set() and self.planner is not None:
            self.planner.stop()

    def deactivate(self) -> None:
        """Zero twist, then pause Servo. A failed pause is logged rather than raised: the goal must
        still get its result, and Servo stops on its own incoming-command timeout anyway."""
        super().deactivate()
        if not self.streaming:
            return
        self.streaming = False
        try:
            self._pause_servo(True)
        except BackendError as err:
            self.node.get_logger().error(f"could not pause MoveIt Servo after the skill: {err}")

    # --- calls ----------------------------------------------------------------------------------
    def _pause_servo(self, paused: bool) -> None:
        response = self._call(self.pause_client, SetBool.Request(data=paused))
        if not response.success:
            verb = "pause" if paused else "unpause"
            raise BackendError(f"MoveIt Servo refused to {verb}: {response.message}")

    def _home_gripper(self) -> None:
        timeout = self.config.service_timeout_s
        if not self.homing_client.wait_for_server(timeout_sec=timeout):
            raise BackendError(f"franka_gripper's homing action is not available after {timeout:.1f} s")
        handle = self._wait(self.homing_client.send_goal_async(self.homing_type.Goal()), timeout, "homing goal")
        if not handle.accepted:
            raise BackendError("franka_gripper rejected the homing goal")
        outcome = self._wait(handle.get_result_async(), self.config.homing_timeout_s, "gripper homing")
        if not outcome.result.success:
            raise BackendError(f"gripper homing failed: {outcome.result.error}")

    def _call(self, client: Client, request: Any) -> Any:
        timeout = self.config.service_timeout_s
        if not client.wait_for_service(timeout_sec=timeout):
            raise BackendError(f"service {client.srv_name} is not available after {timeout:.1f} s")
        return self._wait(client.call_async(request), timeout, client.srv_name)

    @staticmethod
    def _wait(future: Future, timeout: float, what: str) -> Any:
        done = threading.Event()
        future.add_done_callback(lambda _future: done.set())
        if not (future.done() or done.wait(timeout)):
            future.cancel()
            raise BackendError(f"{what}: no answer within {timeout:.1f} s")
        return future.result()


def _bringup_config_dir() -> Path:
    from ament_index_python.packages import get_package_share_directory

    return Path(get_package_share_directory("diwa_bringup")) / "config"
