"""Robot backends: where the policy node's commands go.

The policy node talks to one interface whatever drives the arm. Both the simulator's mock robot and
a Franka under MoveIt Servo consume the same command stream (TwistStamped on Servo's twist topic)
and franka_gripper-shaped gripper actions, so the backends differ only in what surrounds the stream:
the Franka backend switches Servo's command type, pauses it afterwards and plans moves with MoveIt.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from diwa.robot_contract import GRIPPER_OPEN_WIDTH_M
from geometry_msgs.msg import TwistStamped
from rclpy.action import ActionClient
from rclpy.node import Node

from diwa_robot.franka_config import FrankaConfig
from diwa_robot.safety import FilteredCommand, GripperRequest, SafetyLimits

GRASP_EPSILON_M = 0.08
"""franka_gripper reports a grasp as failed when the fingers stop outside width +- epsilon; the
policy does not know object widths, so any stop between closed and fully open counts as held."""


@dataclass(frozen=True)
class ServoTopics:
    twist_topic: str = "servo_node/delta_twist_cmds"
    gripper_namespace: str = "franka_gripper"
    planning_frame: str = "world"


class BackendError(RuntimeError):
    """The robot stack refused or did not answer, so the skill must not start."""


class RobotBackend(ABC):
    """What the policy node needs from a robot: start, stream, hold, stop."""

    @abstractmethod
    def activate(self) -> None:
        """Prepare to stream (called before a skill starts); raises BackendError if the robot is not ready."""

    @abstractmethod
    def send(self, command: FilteredCommand) -> None:
        """Send one control period's command (already inside the safety envelope)."""

    @abstractmethod
    def hold(self) -> None:
        """Stop the arm now (zero twist); the gripper keeps its state."""

    @abstractmethod
    def deactivate(self) -> None:
        """The skill is over (finished, aborted or cancelled)."""


class ServoStreamBackend(RobotBackend):
    """Streams twists to MoveIt Servo's topic and drives the gripper through franka_gripper actions."""

    def __init__(self, node: Node, topics: ServoTopics, move_type, grasp_type, open_width: float) -> None:
        self.node = node
        self.open_width = open_width
        self.topics = topics
        self.twist_pub = node.create_publisher(TwistStamped, topics.twist_topic, 10)
        ns = topics.gripper_namespace.rstrip("/")
        self.move_client = ActionClient(node, move_type, f"{ns}/move")
        self.grasp_client = ActionClient(node, grasp_type, f"{ns}/grasp")
        self.move_type, self.grasp_type = move_type, grasp_type
        self.gripper_open: bool | None = None

    def activate(self) -> None:
        self.gripper_open = None  # re-send the first gripper request of every skill

    def send(self, command: FilteredCommand) -> None:
        msg = TwistStamped()
        msg.header.stamp = self.node.get_clock().now().to_msg()
        msg.header.frame_id = self.topics.planning_frame
        (msg.twist.linear.x, msg.twist.linear.y, msg.twist.linear.z) = (float(v) for v in command.linear)
        (msg.twist.angular.x, msg.twist.angular.y, msg.twist.angular.z) = (float(v) for v in command.angular)
        self.twist_pub.publish(msg)
        if command.gripper is not None:
            opening = command.gripper.width >= self.open_width / 2.0
            if opening != self.gripper_open:
                self._request_gripper(command.gripper, opening)
                self.gripper_open = opening

    def _request_gripper(self, request: GripperRequest, opening: bool) -> None:
        """Fire-and-forget, as a teleoperator's button would: the stream must not wait for the fingers.
        Opening is a Move; closing is a Grasp, so the force limit applies to whatever is held."""
        if opening:
            client, goal = self.move_client, self.move_type.Goal(width=request.width, speed=request.speed)
        else:
            client = self.grasp_client
            goal = self.grasp_type.Goal(width=request.width, speed=request.speed, force=request.force)
            goal.epsilon.inner = goal.epsilon.outer = GRASP_EPSILON_M
        try:
            client.send_goal_async(goal)
        except ValueError:
            # rclpy 7.1's send_goal_async sends the request before it registers the reply's future
            # (action/client.py); when the executor thread takes the reply first, the bookkeeping
            # raises "list.remove(x): x not in list" here, after the goal was sent and answered
            # (docs/results/franky_in_make_test/).
            self.node.get_logger().debug("rclpy's goal bookkeeping raced the gripper's reply; the goal was sent")

    def hold(self) -> None:
        msg = TwistStamped()
        msg.header.stamp = self.node.get_clock().now().to_msg()
        msg.header.frame_id = self.topics.planning_frame
        self.twist_pub.publish(msg)

    def deactivate(self) -> None:
        self.hold()


class DirectStreamBackend(ServoStreamBackend):
    """A robot node that takes the stream itself, nothing to switch or pause: the simulator's mock
    robot (diwa_calvin_bridge) or franky_robot (a Franka through franky), with diwa_msgs'
    franka_gripper-shaped actions."""

    def __init__(self, node: Node, topics: ServoTopics, open_width: float) -> None:
        from diwa_msgs.action import Grasp, Move

        super().__init__(node, topics, Move, Grasp, open_width)


REAL_ARM_SAFETY_PROFILES = {"franka": "franka", "franky": "franka"}
"""The safety profile each real-arm backend must run with: the simulator's profile is about four
times as fast and would reach a real arm unnoticed through a launch argument."""


def command_frame_for(backend: str, requested: str) -> str:
    """The frame twists reach the robot in: the backend's own unless one is requested. Servo reads a
    Franka's twists in its planning frame, the arm's base fr3_link0, whose axes are parallel to the
    scene frame the safety filter works in (docs/deploy.md, step 1)."""
    return requested or {"franka": FrankaConfig.command_frame, "franky": "fr3_link0"}.get(backend, "world")


def safety_profile_for(backend: str, requested: str) -> str:
    """The safety profile to load: the backend's own unless one is requested; a real arm refuses any
    other than its own (the simulator may rehearse with the Franka profile)."""
    required = REAL_ARM_SAFETY_PROFILES.get(backend)
    if required is not None and requested not in ("", required):
        raise ValueError(
            f"backend {backend!r} drives a real arm and must run with the {required!r} safety profile, "
            f"not {requested!r}"
        )
    return requested or required or backend


SCENE_STATE_TOPICS = {
    "sim": "mock_robot/scene_state",
    "franka": "robot_state/scene_state",
    "franky": "robot_state/scene_state",
}
"""Where each backend's observation comes from: the simulator's mock robot, or on a real cell the
robot_state node (joints -> robot_obs, no scene)."""


def scene_state_topic_for(backend: str, requested: str) -> str:
    """The SceneState topic to read: the backend's source unless one is requested."""
    if backend not in SCENE_STATE_TOPICS:
        raise ValueError(f"unknown backend {backend!r}; expected one of {sorted(SCENE_STATE_TOPICS)}")
    return requested or SCENE_STATE_TOPICS[backend]


def make_backend(node: Node, name: str, topics: ServoTopics, limits: SafetyLimits) -> RobotBackend:
    """The backend `name` for `node`: the stream a robot node takes itself (the mock robot, a Franka
    through franky_robot), or a Franka through MoveIt Servo (its franka.* parameters declared on
    `node`; a planned start pose must lie in `limits`' box)."""
    if name in ("sim", "franky"):
        return DirectStreamBackend(node, topics, GRIPPER_OPEN_WIDTH_M)
    if name == "franka":
        from diwa.sim.geometry import ROBOT_BASE_POS

        from diwa_robot.franka_backend import FrankaBackend
        from diwa_robot.franka_config import start_position_problem

        backend = FrankaBackend(node, topics, GRIPPER_OPEN_WIDTH_M)
        problem = start_position_problem(backend.config, ROBOT_BASE_POS, limits.workspace_min, limits.workspace_max)
        if problem is not None and backend.config.move_to_start:
            raise ValueError(f"franka: {problem}")
        return backend
    raise ValueError(f"unknown backend {name!r}; expected 'sim', 'franka' or 'franky'")
