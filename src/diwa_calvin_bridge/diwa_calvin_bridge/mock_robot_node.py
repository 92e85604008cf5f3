"""The CALVIN-style simulator as a mock Franka on the ROS graph.

It offers what the real stack offers, so the policy node cannot tell the two apart:
  out: /joint_states (fr3 joint names), ~/tcp_pose, ~/scene_state, camera images
  in:  TwistStamped on the MoveIt Servo twist topic, franka_gripper-shaped Move/Grasp/Homing actions
  plus ~/reset (ResetSim) and Servo's pause service.
The simulator advances one control step per timer tick (30 Hz by default) whether or not commands
arrive; a command older than `command_timeout_s` is ignored, so the arm holds still when the
command stream stops.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import rclpy
from diwa.robot_contract import (
    ARM_JOINT_NAMES,
    CONTROL_RATE_HZ,
    FINGER_JOINT_NAMES,
    GRIPPER_OPEN_WIDTH_M,
    Twist,
    twist_to_action,
)
from diwa.sim import make_env
from diwa.sim.cameras import GripperCamera, StaticCamera
from diwa.sim.start_states import sample_start_state
from diwa.skills import SKILLS
from geometry_msgs.msg import PoseStamped, TwistStamped
from rclpy.action import ActionServer, CancelResponse
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image, JointState
from std_msgs.msg import Header
from std_srvs.srv import SetBool
from tf2_msgs.msg import TFMessage

from diwa_calvin_bridge import frames
from diwa_msgs.action import Grasp, Homing, Move
from diwa_msgs.msg import SceneState
from diwa_msgs.srv import ResetSim
from diwa_robot.image_conversion import rgb_to_image_msg
from diwa_robot.node_main import run_node
from diwa_robot.parameters import declare

GRIPPER_SETTLE_TIMEOUT_S = 2.0
GRIPPER_SETTLE_TOLERANCE_M = 2e-4


CAMERA_QOS = {"reliable": QoSProfile(depth=10), "sensor_data": qos_profile_sensor_data}


class MockRobotNode(Node):
    def __init__(self) -> None:
        super().__init__("mock_robot")
        declare(self, "rate_hz", CONTROL_RATE_HZ, "simulator steps per second, one per tick (Hz)")
        declare(self, "command_timeout_s", 0.2, "an older twist is not applied: the arm holds still (s)")
        declare(self, "seed", 0, "seed of the first start state")
        declare(self, "cameras", False, "render and publish the static and gripper cameras")
        declare(
            self,
            "camera_qos",
            "reliable",
            "reliable: a recorder keeps every frame; sensor_data: best effort, as camera drivers publish",
        )
        declare(self, "static_image_size", 200, "static camera image side (pixels)")
        declare(self, "gripper_image_size", 84, "gripper camera image side (pixels)")
        declare(self, "frame_id", "world", "the scene frame: TF root, parent of fr3_link0")
        declare(self, "twist_topic", "servo_node/delta_twist_cmds", "the command arbiter's output")
        declare(self, "pause_service", "servo_node/pause_servo", "Servo's pause service, served here")
        declare(self, "gripper_namespace", "franka_gripper", "where the gripper actions are served")
        # False where robot_state_publisher publishes the arm's chain from /joint_states and the FR3
        # URDF: two publishers of one frame would fight over it.
        declare(self, "publish_tcp_frame", True, "publish fr3_link0 -> fr3_hand_tcp on /tf")

        param = self.get_parameter
        self.rate_hz = float(param("rate_hz").value)
        self.command_timeout_s = float(param("command_timeout_s").value)
        self.frame_id = str(param("frame_id").value)
        self.cameras = bool(param("cameras").value)
        camera_qos = str(param("camera_qos").value)
        if camera_qos not in CAMERA_QOS:
            raise ValueError(f"camera_qos must be one of {sorted(CAMERA_QOS)}, got {camera_qos!r}")
        self.env = make_env(
            cameras=("static", "gripper") if self.cameras else (),
            static_size=int(param("static_image_size").value),
            gripper_size=int(param("gripper_image_size").value),
        )
        self.lock = threading.Lock()
        self.obs, _ = self.env.reset(seed=int(param("seed").value))
        self.gripper_open = True
        self.gripper_goals = 0
        self.paused = False
        self.last_twist: Twist | None = None
        self.last_twist_time = -np.inf
        self.steps = 0
        self.tick = threading.Condition(self.lock)

        group = ReentrantCallbackGroup()
        self.joint_pub = self.create_publisher(JointState, "joint_states", 10)
        self.pose_pub = self.create_publisher(PoseStamped, "~/tcp_pose", 10)
        self.scene_pub = self.create_publisher(SceneState, "~/scene_state", 10)
        # Every reset is announced: recordings split episodes there (the state jumps without an action).
        self.reset_pub = self.create_publisher(Header, "~/resets", 10)
        qos = CAMERA_QOS[camera_qos]
        self.static_pub = self.create_publisher(Image, "camera/static/image_raw", qos) if self.cameras else None
        self.wrist_pub = self.create_publisher(Image, "camera/gripper/image_raw", qos) if self.cameras else None
        self.camera_info_pubs = (
            {key: self.create_publisher(CameraInfo, f"camera/{key}/camera_info", qos) for key in ("static", "gripper")}
            if self.cameras
            else {}
        )
        self.image_sizes = {
            "static": int(param("static_image_size").value),
            "gripper": int(param("gripper_image_size").value),
        }
        self.publish_tcp_frame = bool(param("publish_tcp_frame").value)
        self.tf_pub = self.create_publisher(TFMessage, "/tf", 10)
        # /tf_static is latched: late subscribers (RViz, tf2 listeners) get the fixed frames too.
        latched = QoSProfile(
            depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL, reliability=ReliabilityPolicy.RELIABLE
        )
        self.create_publisher(TFMessage, "/tf_static", latched).publish(
            TFMessage(transforms=frames.static_transforms(self.get_clock().now().to_msg(), self.frame_id))
        )
        self.create_subscription(TwistStamped, str(param("twist_topic").value), self.on_twist, 10, callback_group=group)
        self.create_service(ResetSim, "~/reset", self.on_reset, callback_group=group)
        self.create_service(SetBool, str(param("pause_service").value), self.on_pause, callback_group=group)
        ns = str(param("gripper_namespace").value).rstrip("/")
        cancel = lambda _goal: CancelResponse.ACCEPT  # noqa: E731 - gripper motions are interruptible
        self.move_server = ActionServer(
            self, Move, f"{ns}/move", self.on_move, callback_group=group, cancel_callback=cancel
        )
        self.grasp_server = ActionServer(
            self, Grasp, f"{ns}/grasp", self.on_grasp, callback_group=group, cancel_callback=cancel
        )
        self.homing_server = ActionServer(
            self, Homing, f"{ns}/homing", self.on_homing, callback_group=group, cancel_callback=cancel
        )
        self.publish_state()
        # The control loop runs in its own thread, as a robot driver's does: gripper actions that
        # wait for the fingers occupy executor threads, and must never starve the stepping.
        self.stopping = threading.Event()
        self.gripper_active = 0  # gripper goals waiting for the fingers
        self.control_thread = threading.Thread(target=self._control_loop, daemon=True)
        self.control_thread.start()
        self.get_logger().info(f"mock robot ready at {self.rate_hz:.0f} Hz (cameras: {self.cameras})")

    # --- command stream ---------------------------------------------------------------------
    def on_twist(self, msg: TwistStamped) -> None:
        lin, ang = msg.twist.linear, msg.twist.angular
        twist = Twist(np.array([lin.x, lin.y, lin.z]), np.array([ang.x, ang.y, ang.z]))
        if not (np.isfinite(twist.linear).all() and np.isfinite(twist.angular).all()):
            self.get_logger().warn("dropping a twist command with NaN or infinite values", throttle_duration_sec=1.0)
            return
        with self.lock:
            self.last_twist, self.last_twist_time = twist, time.monotonic()

    def on_pause(self, request: SetBool.Request, response: SetBool.Response) -> SetBool.Response:
        with self.lock:
            self.paused = bool(request.data)
        response.success, response.message = True, "paused" if request.data else "resumed"
        return response

    def _control_loop(self) -> None:
        period = 1.0 / self.rate_hz
        next_tick = time.monotonic()
        while not self.stopping.is_set() and rclpy.ok(context=self.context):
            self.on_tick()
            next_tick = max(next_tick + period, time.monotonic() - period)  # no bursts after a stall
            time.sleep(max(0.0, next_tick - time.monotonic()))

    def stop(self) -> None:
        """End the control loop and any gripper goal still waiting for the fingers, so that nothing
        publishes once the node's publishers are destroyed."""
        self.stopping.set()
        self.control_thread.join(timeout=2.0)
        with self.lock:
            self.tick.notify_all()
        deadline = time.monotonic() + 1.0
        while self.gripper_active and time.monotonic() < deadline:
            time.sleep(0.01)

    def on_tick(self) -> None:
        # The state is stamped with the step's start: a command that arrives while the step runs
        # belongs to the next tick, and recordings must be able to tell (diwa data from-bag).
        with self.lock:
            stamp = self.get_clock().now().to_msg()
            fresh = self.last_twist is not None and time.monotonic() - self.last_twist_time <= self.command_timeout_s
            if fresh and not self.paused:
                action = twist_to_action(self.last_twist, self.gripper_open, self.rate_hz)
            else:  # hold: a zero relative action keeps the internal target pose
                action = np.array([0, 0, 0, 0, 0, 0, 1.0 if self.gripper_open else -1.0])
            self.obs, _, _, _, _ = self.env.step(action)
            self.steps += 1
            self.tick.notify_all()
        self.publish_state(stamp)

    # --- state out ----------------------------------------------------------------------------
    def publish_state(self, stamp=None) -> None:
        with self.lock:
            obs = {k: np.array(v) for k, v in self.obs.items()}
        stamp = stamp or self.get_clock().now().to_msg()
        robot_obs, scene_obs = obs["robot_obs"].astype(float), obs["scene_obs"].astype(float)

        joints = JointState()
        joints.header.stamp = stamp
        joints.name = [*ARM_JOINT_NAMES, *FINGER_JOINT_NAMES]
        half_width = robot_obs[6] / 2.0
        joints.position = [*robot_obs[7:14].tolist(), half_width, half_width]
        self.joint_pub.publish(joints)

        pose = PoseStamped()
        pose.header.stamp, pose.header.frame_id = stamp, self.frame_id
        pose.pose.position.x, pose.pose.position.y, pose.pose.position.z = robot_obs[:3].tolist()
        q = frames.euler_xyz_to_quaternion(robot_obs[3:6])
        pose.pose.orientation.x, pose.pose.orientation.y, pose.pose.orientation.z, pose.pose.orientation.w = q
        self.pose_pub.publish(pose)
        if self.publish_tcp_frame:
            self.tf_pub.publish(TFMessage(transforms=[frames.tcp_transform(stamp, robot_obs[:3], q)]))

        scene = SceneState()
        scene.header.stamp, scene.header.frame_id = stamp, self.frame_id
        scene.robot_obs, scene.scene_obs, scene.scene_measured = robot_obs, scene_obs, True
        self.scene_pub.publish(scene)

        if self.cameras:
            self.static_pub.publish(rgb_to_image_msg(obs["rgb_static"], stamp, frames.STATIC_CAMERA_FRAME))
            self.wrist_pub.publish(rgb_to_image_msg(obs["rgb_gripper"], stamp, frames.GRIPPER_CAMERA_FRAME))
            for key, frame, fov in (
                ("static", frames.STATIC_CAMERA_FRAME, StaticCamera.FOV),
                ("gripper", frames.GRIPPER_CAMERA_FRAME, GripperCamera.FOV),
            ):
                self.camera_info_pubs[key].publish(frames.camera_info(stamp, frame, self.image_sizes[key], fov))

    # --- services -----------------------------------------------------------------------------
    def on_reset(self, request: ResetSim.Request, response: ResetSim.Response) -> ResetSim.Response:
        try:
            if request.use_state:
                options = {"robot_obs": np.array(request.robot_obs), "scene_obs": np.array(request.scene_obs)}
            elif request.skill:
                if request.skill not in SKILLS:
                    raise ValueError(f"unknown skill {request.skill!r}; known skills: {', '.join(SKILLS)}")
                robot_obs, scene_obs = sample_start_state(request.skill, np.random.default_rng(request.seed))
                options = {"robot_obs": robot_obs, "scene_obs": scene_obs}
            else:
                options = None
            with self.lock:
                self.obs, _ = self.env.reset(seed=int(request.seed), options=options)
                self.reset_pub.publish(Header(stamp=self.get_clock().now().to_msg(), frame_id=self.frame_id))
                self.gripper_open = bool(self.obs["robot_obs"][14] > 0)
                self.last_twist = None
                obs = self.obs
        except ValueError as err:
            response.success, response.message = False, str(err)
            return response
        self.publish_state()
        response.success, response.message = True, "reset"
        response.state.header.stamp = self.get_clock().now().to_msg()
        response.state.robot_obs = obs["robot_obs"].astype(float)
        response.state.scene_obs = obs["scene_obs"].astype(float)
        response.state.scene_measured = True
        return response

    # --- gripper actions (franka_gripper's interface) -------------------------------------------
    def _width(self) -> float:
        with self.lock:
            return float(self.obs["robot_obs"][6])

    def _drive_gripper(self, goal_handle, open_: bool, feedback_type) -> tuple[float, bool]:
        """Command the fingers and wait until they stop moving; returns (width, cancelled)."""
        with self.lock:
            self.gripper_open = open_
            self.gripper_goals += 1
            generation = self.gripper_goals
            self.gripper_active += 1
        try:
            return self._follow_fingers(goal_handle, generation, feedback_type)
        finally:
            with self.lock:
                self.gripper_active -= 1

    def _follow_fingers(self, goal_handle, generation: int, feedback_type) -> tuple[float, bool]:
        deadline = time.monotonic() + GRIPPER_SETTLE_TIMEOUT_S
        previous = self._width()
        # A newer goal preempts this one; shutting down ends it before the node's publishers go.
        while time.monotonic() < deadline and generation == self.gripper_goals and not self.stopping.is_set():
            if goal_handle.is_cancel_requested:
                return self._width(), True
            with self.lock:
                self.tick.wait(timeout=2.0 / self.rate_hz)
            if self.stopping.is_set():
                break
            width = self._width()
            feedback = feedback_type()
            feedback.current_width = width
            goal_handle.publish_feedback(feedback)
            if abs(width - previous) < GRIPPER_SETTLE_TOLERANCE_M:
                break
            previous = width
        return self._width(), False

    def on_move(self, goal_handle):
        goal = goal_handle.request
        result = Move.Result()
        if not (np.isfinite(goal.width) and 0.0 <= goal.width <= GRIPPER_OPEN_WIDTH_M):
            goal_handle.abort()
            result.error = f"width {goal.width} outside 0..{GRIPPER_OPEN_WIDTH_M} m"
            return result
        width, cancelled = self._drive_gripper(goal_handle, goal.width >= GRIPPER_OPEN_WIDTH_M / 2, Move.Feedback)
        if cancelled:
            goal_handle.canceled()
            result.error = "cancelled"
            return result
        goal_handle.succeed()
        result.success = True
        return result

    def on_grasp(self, goal_handle):
        goal = goal_handle.request
        result = Grasp.Result()
        width, cancelled = self._drive_gripper(goal_handle, False, Grasp.Feedback)
        if cancelled:
            goal_handle.canceled()
            result.error = "cancelled"
            return result
        goal_handle.succeed()
        result.success = bool(goal.width - goal.epsilon.inner <= width <= goal.width + goal.epsilon.outer)
        if not result.success:
            result.error = f"fingers stopped at {width:.4f} m, outside the grasp tolerance"
        return result

    def on_homing(self, goal_handle):
        result = Homing.Result()
        _, cancelled = self._drive_gripper(goal_handle, True, Homing.Feedback)
        if cancelled:
            goal_handle.canceled()
            result.error = "cancelled"
            return result
        goal_handle.succeed()
        result.success = True
        return result


def main() -> None:
    # The shared entry point: its bounded waits notice Ctrl-C even when no message arrives (this
    # node's control loop runs in its own thread, so the executor may wait on nothing for long), and
    # stop() ends the control loop and any gripper goal before the publishers are destroyed.
    run_node(MockRobotNode, threads=4, on_exit=lambda node: node.stop())


if __name__ == "__main__":
    main()
