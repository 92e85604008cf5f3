"""franky_robot: a Franka through franky (libfranka's own protocol) on the ROS graph, offering what the
mock robot offers, so that the command arbiter, robot_state, the policy node and teleop drive it
unchanged (backend franky).

  in:  TwistStamped on twist_topic (the command arbiter's output), the velocity of CALVIN's TCP:
       each one becomes a franky Cartesian velocity motion of the hand's end effector (the lever
       between the two points applied) held for the safety profile's robot_command_timeout, after which
       franky brakes the arm to rest on its own (the robot-side command timeout); franka_gripper-
       shaped Move / Grasp / Homing actions under gripper_namespace, executed by franky.Gripper
       (feedback with the width while the fingers move)
  out: /joint_states at rate_hz: the 7 arm joints and the two fingers (half the width each, read
       every 50 ms while a gripper action runs), which robot_state turns into the observation;
       /diagnostics with the robot's errors (reflexes, limits) as an ERROR, while twists are refused

The arm's errors are not recovered automatically: a reflex means the arm or the cell needs a look;
`ros2 service call /franky_robot/recover std_srvs/srv/Trigger` recovers once the operator has.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from diwa.robot_contract import ARM_JOINT_NAMES, CONTROL_RATE_HZ, FINGER_JOINT_NAMES, GRIPPER_OPEN_WIDTH_M
from diwa.sim.geometry import ROBOT_BASE_POS, TCP_OFFSET
from geometry_msgs.msg import TwistStamped
from rclpy.action import ActionServer, CancelResponse
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.node import Node
from sensor_msgs.msg import JointState
from std_srvs.srv import Trigger

from diwa_msgs.action import Grasp, Homing, Move
from diwa_robot.franky_arm import ArmError, FrankyArm
from diwa_robot.node_main import run_node
from diwa_robot.parameters import declare
from diwa_robot.safety import load_safety_limits, safety_file_or_installed

TWIST_FRAMES = ("fr3_link0", "world")
"""Frames whose axes are the base's: the scene frame is parallel to it (docs/deploy.md, step 1)."""
WIDTH_PERIOD_S = 0.05
"""How often the fingers' width is read while a gripper action runs."""
SLOW_CALL_S = 0.1
"""A franky call that blocks this long holds up /joint_states (robot_state's freshness limit): logged."""


class FrankyRobotNode(Node):
    def __init__(self) -> None:
        super().__init__("franky_robot")
        robot_ip = str(declare(self, "robot_ip", "", "the arm's FCI address (or franky-sim's); required"))
        base = [
            float(v) for v in declare(self, "base_in_scene", list(ROBOT_BASE_POS), "fr3_link0 in the scene frame (m)")
        ]
        dynamics = float(declare(self, "dynamics_factor", 0.3, "franky's relative dynamics factor, (0, 1]"))
        realtime = bool(
            declare(self, "realtime", True, "libfranka's real-time check (false: franky-sim, no PREEMPT_RT)")
        )
        rate_hz = float(declare(self, "rate_hz", CONTROL_RATE_HZ, "/joint_states rate (Hz)"))
        twist_topic = str(declare(self, "twist_topic", "servo_node/delta_twist_cmds", "the command arbiter's output"))
        namespace = str(
            declare(self, "gripper_namespace", "franka_gripper", "where the gripper actions are served")
        ).rstrip("/")
        safety_file = str(
            declare(self, "safety_file", "", "safety YAML (its franka profile's hold); empty: the installed one")
        )
        if not robot_ip:
            raise ValueError("robot_ip is required: the arm's FCI address (or franky-sim's)")
        limits = load_safety_limits(safety_file_or_installed(safety_file), "franka")
        self.hold_s = limits.robot_command_timeout
        self.arm = FrankyArm(robot_ip, tuple(base), dynamics, realtime=realtime)
        self.arm_lock = threading.Lock()  # franky's Robot and Gripper from one thread at a time
        self.errors: tuple[str, ...] = ()
        self.joint_pub = self.create_publisher(JointState, "joint_states", 10)
        self.diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        stream = MutuallyExclusiveCallbackGroup()
        self.create_subscription(TwistStamped, twist_topic, self.on_twist, 10, callback_group=stream)
        self.create_timer(1.0 / rate_hz, self.on_period, callback_group=stream)
        self.create_service(Trigger, "~/recover", self.on_recover, callback_group=stream)
        gripper = ReentrantCallbackGroup()  # a gripper motion takes seconds; the stream goes on
        # One gripper command runs at a time and only the newest waits: each waiting goal holds an
        # executor thread, and a policy toggling the fingers once held all of them, which stopped
        # /joint_states (and the twists) for seconds. An older waiting goal is superseded.
        self.gripper_turn = threading.Condition()
        self.gripper_busy = False
        self.gripper_next: object | None = None
        cancel = lambda _goal: CancelResponse.REJECT  # noqa: E731 - franky's gripper motions block
        self.gripper_servers = [
            ActionServer(self, Move, f"{namespace}/move", self.on_move, callback_group=gripper, cancel_callback=cancel),
            ActionServer(
                self, Grasp, f"{namespace}/grasp", self.on_grasp, callback_group=gripper, cancel_callback=cancel
            ),
            ActionServer(
                self, Homing, f"{namespace}/homing", self.on_homing, callback_group=gripper, cancel_callback=cancel
            ),
        ]
        self.width = self.arm.gripper_width()
        # The policies' twists move CALVIN's TCP (TCP_OFFSET beyond the flange, as robot_state
        # computes it); franky applies a twist at its end effector (the hand's, 0.1034 m).
        self.tcp_beyond_ee = TCP_OFFSET - self.arm.flange_to_end_effector()
        self.get_logger().info(f"franky robot at {robot_ip}: twists from {twist_topic}, hold {self.hold_s:.2f} s")

    # --- the command stream ---------------------------------------------------------------------
    def on_twist(self, msg: TwistStamped) -> None:
        lin, ang = msg.twist.linear, msg.twist.angular
        linear, angular = np.array([lin.x, lin.y, lin.z]), np.array([ang.x, ang.y, ang.z])
        if not (np.isfinite(linear).all() and np.isfinite(angular).all()):
            self.get_logger().warn("dropping a twist with NaN or infinite values", throttle_duration_sec=1.0)
            return
        if msg.header.frame_id not in TWIST_FRAMES:
            self.get_logger().error(
                f"dropping twists in frame {msg.header.frame_id!r}: expected one of {TWIST_FRAMES}",
                throttle_duration_sec=5.0,
            )
            return
        if self.errors:
            self.get_logger().warn(f"arm in error {self.errors}: twist refused", throttle_duration_sec=1.0)
            return
        started = time.monotonic()
        try:
            with self.arm_lock:
                self.arm.send_twist(linear, angular, self.hold_s, self.tcp_beyond_ee)
        except ArmError as err:
            self.get_logger().error(str(err), throttle_duration_sec=1.0)
        self._report_slow("take a twist", started)

    def on_period(self) -> None:
        started = time.monotonic()
        with self.arm_lock:
            state = self.arm.state()
            joints = self.arm.joint_positions()
        self._report_slow("read the state", started)
        self.errors = state.errors
        msg = JointState(name=[*ARM_JOINT_NAMES, *FINGER_JOINT_NAMES])
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.position = [*joints.tolist(), self.width / 2.0, self.width / 2.0]
        self.joint_pub.publish(msg)
        status = DiagnosticStatus(name="diwa/franky_robot", hardware_id=self.get_name())
        if state.errors:
            status.level, status.message = DiagnosticStatus.ERROR, "arm error: " + ", ".join(state.errors)
        else:
            status.level, status.message = DiagnosticStatus.OK, "streaming"
        status.values = [KeyValue(key="tcp_speed", value=f"{state.tcp_speed:.4f}")]
        self.diag_pub.publish(DiagnosticArray(header=msg.header, status=[status]))

    def _report_slow(self, what: str, started: float) -> None:
        blocked = time.monotonic() - started
        if blocked > SLOW_CALL_S:
            self.get_logger().warn(f"franky took {blocked:.2f} s to {what}: /joint_states waited as long")

    def on_recover(self, _request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        try:
            with self.arm_lock:
                self.arm.robot.recover_from_errors()
            response.success, response.message = True, "recovered"
        except Exception as err:  # franky.Exception and its kin: report, do not die
            response.success, response.message = False, f"recovery failed: {err}"
        return response

    # --- the gripper (franka_gripper's actions) -------------------------------------------------
    def _gripper(self, goal_handle, action, run: Callable[[], bool]) -> object:
        """Run one gripper action once the gripper is free, unless a newer goal arrives meanwhile;
        while the fingers move, the width goes to /joint_states and the goal's feedback
        (franka_gripper reads the state beside its running command the same way)."""
        result = action.Result()
        if not self._wait_for_the_gripper(goal_handle):
            goal_handle.abort()
            result.error = "superseded by a newer gripper goal before it started"
            return result
        try:
            return self._run_gripper(goal_handle, action, run, result)
        finally:
            with self.gripper_turn:
                self.gripper_busy = False
                self.gripper_turn.notify_all()

    def _wait_for_the_gripper(self, goal_handle) -> bool:
        """Take the gripper for `goal_handle` once free; False if a newer goal took its place."""
        with self.gripper_turn:
            self.gripper_next = goal_handle
            self.gripper_turn.notify_all()  # an older waiting goal learns that it is superseded
            while self.gripper_busy and self.gripper_next is goal_handle:
                self.gripper_turn.wait()
            if self.gripper_next is not goal_handle:
                return False
            self.gripper_busy, self.gripper_next = True, None
            return True

    def _run_gripper(self, goal_handle, action, run: Callable[[], bool], result) -> object:
        moving = threading.Event()
        moving.set()
        watcher = threading.Thread(
            target=self._follow_fingers, args=(moving, goal_handle, action.Feedback), daemon=True
        )
        watcher.start()
        try:
            result.success = bool(run())
        except ArmError as err:
            result.error = str(err)
        finally:
            moving.clear()
            watcher.join()
        self.width = self.arm.gripper_width()
        (goal_handle.succeed if result.success or not result.error else goal_handle.abort)()
        return result

    def _follow_fingers(self, moving: threading.Event, goal_handle, feedback_type) -> None:
        """Read the width every WIDTH_PERIOD_S while `moving` is set. franky's gripper calls release
        the GIL while they block; its asynchronous variants do not while they wait for the gripper,
        which froze this node when a second command followed the first."""
        while moving.is_set():
            try:
                self.width = self.arm.gripper_width()
            except Exception as err:  # franky.Exception and its kin: the action's own result reports it
                self.get_logger().warn(f"the fingers' width could not be read while they move: {err}")
                return
            feedback = feedback_type()
            feedback.current_width = self.width
            goal_handle.publish_feedback(feedback)
            time.sleep(WIDTH_PERIOD_S)

    def on_move(self, goal_handle):
        goal = goal_handle.request
        if not (np.isfinite(goal.width) and 0.0 <= goal.width <= GRIPPER_OPEN_WIDTH_M):
            goal_handle.abort()
            return Move.Result(error=f"width {goal.width} outside 0..{GRIPPER_OPEN_WIDTH_M} m")
        return self._gripper(goal_handle, Move, lambda: self.arm.move_gripper(goal.width, goal.speed))

    def on_grasp(self, goal_handle):
        g = goal_handle.request
        return self._gripper(
            goal_handle, Grasp, lambda: self.arm.grasp(g.width, g.speed, g.force, g.epsilon.inner, g.epsilon.outer)
        )

    def on_homing(self, goal_handle):
        return self._gripper(goal_handle, Homing, self.arm.home_gripper)

    def stop(self) -> None:
        """A last zero twist (franky brakes to rest after the hold anyway), then the motion thread ends."""
        try:
            with self.arm_lock:
                self.arm.send_twist(np.zeros(3), np.zeros(3), self.hold_s)
        except ArmError:
            pass
        time.sleep(self.hold_s)
        self.arm.close()


def main() -> None:
    run_node(FrankyRobotNode, threads=4, on_exit=lambda node: node.stop())


if __name__ == "__main__":
    main()
