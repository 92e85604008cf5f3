"""Stand-ins for MoveIt Servo, franka_gripper and MoveItPy in tests on machines without them.

They serve the real interfaces (moveit_msgs/srv/ServoCommandType, std_srvs/SetBool, TwistStamped on
Servo's twist topic, franka_msgs/action/{Homing,Move,Grasp}; where MoveIt and franka_ros2 are missing
the interface packages are the test-only ones in tests/standin_interfaces) and log every call with
its arrival time in one EventLog, so a test can check the order of calls across all of them and the
timing of the twist stream.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import pytest
from geometry_msgs.msg import TwistStamped
from rclpy.action import ActionServer
from rclpy.node import Node
from std_srvs.srv import SetBool

# A system ROS without MoveIt or franka_ros2 has neither the real packages nor the stand-ins
# (scripts/build.sh builds those only without a system ROS): the tests that need them are skipped.
_franka_actions = pytest.importorskip("franka_msgs.action", reason="franka_msgs is not installed")
_moveit_services = pytest.importorskip("moveit_msgs.srv", reason="moveit_msgs is not installed")
Grasp, Homing, Move = _franka_actions.Grasp, _franka_actions.Homing, _franka_actions.Move
ServoCommandType = _moveit_services.ServoCommandType


@dataclass(frozen=True)
class Twist:
    stamp: float  # header stamp, s (the sender's clock)
    frame_id: str
    linear: tuple[float, float, float]
    angular: tuple[float, float, float]

    @property
    def moving(self) -> bool:
        return any(self.linear) or any(self.angular)


@dataclass(frozen=True)
class Event:
    time: float  # time.monotonic() when the call arrived
    wall: float  # time.time() then, comparable with header stamps
    kind: str  # switch | pause | twist | homing | move | grasp | component | goal | plan | execute | stop ...
    value: Any = None


class EventLog:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: list[Event] = []

    def add(self, kind: str, value: Any = None) -> None:
        with self._lock:
            self._events.append(Event(time.monotonic(), time.time(), kind, value))

    def events(self, since: float = -float("inf")) -> list[Event]:
        with self._lock:
            return [e for e in self._events if e.time >= since]

    def calls(self, since: float = -float("inf")) -> list[tuple[str, Any]]:
        """Everything but twists, as (kind, value): the call sequence a test compares."""
        return [(e.kind, e.value) for e in self.events(since) if e.kind != "twist"]

    def twists(self, since: float = -float("inf")) -> list[Event]:
        return [e for e in self.events(since) if e.kind == "twist"]


class ServoStandIn:
    """MoveIt Servo's ROS interface: ~/switch_command_type, ~/pause_servo and the twist input."""

    def __init__(self, node: Node, log: EventLog, servo_node: str = "/servo_node") -> None:
        self.log = log
        self.accept_switch = True
        node.create_service(ServoCommandType, f"{servo_node}/switch_command_type", self.on_switch)
        node.create_service(SetBool, f"{servo_node}/pause_servo", self.on_pause)
        node.create_subscription(TwistStamped, f"{servo_node}/delta_twist_cmds", self.on_twist, 100)

    def on_switch(self, request: ServoCommandType.Request, response: ServoCommandType.Response):
        self.log.add("switch", request.command_type)
        response.success = self.accept_switch
        return response

    def on_pause(self, request: SetBool.Request, response: SetBool.Response) -> SetBool.Response:
        self.log.add("pause", request.data)
        response.success, response.message = True, "paused" if request.data else "unpaused"
        return response

    def on_twist(self, msg: TwistStamped) -> None:
        lin, ang = msg.twist.linear, msg.twist.angular
        stamp = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
        self.log.add("twist", Twist(stamp, msg.header.frame_id, (lin.x, lin.y, lin.z), (ang.x, ang.y, ang.z)))


class GripperStandIn:
    """franka_gripper's actions; every goal succeeds at once and is logged with its fields."""

    def __init__(self, node: Node, log: EventLog, namespace: str = "/franka_gripper") -> None:
        self.log = log
        self.servers = [
            ActionServer(node, Homing, f"{namespace}/homing", self.on_homing),
            ActionServer(node, Move, f"{namespace}/move", self.on_move),
            ActionServer(node, Grasp, f"{namespace}/grasp", self.on_grasp),
        ]

    def on_homing(self, goal_handle) -> Homing.Result:
        self.log.add("homing")
        goal_handle.succeed()
        return Homing.Result(success=True)

    def on_move(self, goal_handle) -> Move.Result:
        goal = goal_handle.request
        self.log.add("move", (goal.width, goal.speed))
        goal_handle.succeed()
        return Move.Result(success=True)

    def on_grasp(self, goal_handle) -> Grasp.Result:
        g = goal_handle.request
        self.log.add("grasp", (g.width, g.speed, g.force, g.epsilon.inner, g.epsilon.outer))
        goal_handle.succeed()
        return Grasp.Result(success=True)


class MoveItPyStandIn:
    """The slice of moveit.planning.MoveItPy that MoveItPyPlanner uses, logging each call.

    `execute_until_stopped` makes execute() block like a real trajectory until stop_execution() is
    called (then it reports failure, as a preempted execution does)."""

    def __init__(self, log: EventLog, plan_succeeds: bool = True, execute_until_stopped: bool = False) -> None:
        self.log = log
        self.plan_succeeds = plan_succeeds
        self.execute_until_stopped = execute_until_stopped
        self.stopped = threading.Event()

    def get_planning_component(self, group: str) -> _PlanningComponent:
        self.log.add("component", group)
        return _PlanningComponent(self)

    def execute(self, trajectory: Any, controllers: list[str]) -> _Status:
        self.log.add("execute", (trajectory, tuple(controllers)))
        if self.execute_until_stopped:
            self.stopped.wait(10.0)
            return _Status("PREEMPTED")
        return _Status("SUCCEEDED")

    def get_trajactory_execution_manager(self) -> MoveItPyStandIn:  # Jazzy's spelling
        return self

    def stop_execution(self, auto_clear: bool = True) -> None:
        self.log.add("stop")
        self.stopped.set()


class _PlanningComponent:
    def __init__(self, moveit: MoveItPyStandIn) -> None:
        self.moveit = moveit

    def set_start_state_to_current_state(self) -> None:
        self.moveit.log.add("start_state", "current")

    def set_goal_state(self, *, pose_stamped_msg: Any, pose_link: str) -> None:
        p, q = pose_stamped_msg.pose.position, pose_stamped_msg.pose.orientation
        goal = (pose_stamped_msg.header.frame_id, (p.x, p.y, p.z), (q.x, q.y, q.z, q.w), pose_link)
        self.moveit.log.add("goal", goal)

    def plan(self) -> _PlanResult:
        self.moveit.log.add("plan")
        return _PlanResult("trajectory-to-start" if self.moveit.plan_succeeds else None)


@dataclass(frozen=True)
class _PlanResult:
    trajectory: Any

    def __bool__(self) -> bool:
        return self.trajectory is not None


@dataclass(frozen=True)
class _Status:
    status: str

    def __bool__(self) -> bool:
        return self.status == "SUCCEEDED"
