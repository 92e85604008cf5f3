"""ExecuteSkill action server: runs one skill's policy at the control rate on a robot backend.

ROS plumbing only: observations come from topics into an ObservationCache, the policy is a
diwa Agent, every command passes the SafetyFilter, and a RobotBackend carries it to the robot.
"""

from __future__ import annotations

import threading
import time
import traceback
from dataclasses import dataclass
from functools import partial

import numpy as np
import torch
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from diwa.promotion import DEFAULT_MIN_EPISODES
from diwa.robot_contract import GRIPPER_CLOSED_WIDTH_M, GRIPPER_OPEN_WIDTH_M, action_to_twist
from diwa.skills import EPISODE_STEP_LIMIT, SKILLS, check_skill
from geometry_msgs.msg import TwistStamped
from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image
from visualization_msgs.msg import MarkerArray

from diwa_msgs.action import ExecuteSkill
from diwa_msgs.msg import PolicyStatus, SceneState
from diwa_policy_node.markers import chunk_markers
from diwa_policy_node.skill_runner import SkillRunner
from diwa_robot.backends import (
    REAL_ARM_SAFETY_PROFILES,
    BackendError,
    ServoTopics,
    make_backend,
    safety_profile_for,
    scene_state_topic_for,
)
from diwa_robot.estop import EStop
from diwa_robot.image_conversion import image_msg_to_rgb
from diwa_robot.node_main import run_node
from diwa_robot.observation_cache import ObservationCache, ObservationUnavailableError
from diwa_robot.parameters import declare
from diwa_robot.safety import (
    CartesianCommand,
    GripperRequest,
    SafetyFilter,
    load_safety_limits,
    safety_file_or_installed,
)

DEFAULT_MAX_STEPS = EPISODE_STEP_LIMIT


@dataclass
class RunStats:
    skill: str = ""
    state: int = PolicyStatus.IDLE
    rate_hz: float = 0.0
    latency_ms: float = 0.0
    safety_flags: tuple[str, ...] = ()


CONFLICT_CHECK_EVERY = 30
"""Control periods between checks for other command or state publishers during a skill (1 s at 30 Hz)."""


CAMERA_TOPICS = {"rgb_static": "camera/static/image_raw", "rgb_gripper": "camera/gripper/image_raw"}
"""Where each camera a world model reads arrives (the mock robot's topics; remap for a real cell)."""
ROBOT_REST_MARGIN_S = 0.5
"""Allowance beyond the arbiter's braking time for its zero twist to arrive on a loaded machine."""


class RobotStreamWatch:
    """The twist stream the robot receives (the arbiter's output), seen from the policy node: whether
    its last twist was zero, that is, whether the arbiter has finished braking."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._moving: bool | None = None  # None: the robot has received no twist yet

    def on_twist(self, msg: TwistStamped) -> None:
        values = (msg.twist.linear.x, msg.twist.linear.y, msg.twist.linear.z)
        values += (msg.twist.angular.x, msg.twist.angular.y, msg.twist.angular.z)
        with self._lock:
            self._moving = any(v != 0.0 for v in values)
            self._lock.notify_all()

    def wait_at_rest(self, timeout: float) -> bool:
        """True once the last twist the robot received is zero (the arbiter then falls silent), or if
        it has received none; False if it is still moving after `timeout`."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._moving:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._lock.wait(remaining)
            return True


class PolicyNode(Node):
    def __init__(self) -> None:
        super().__init__("policy_node")
        p = partial(declare, self)
        p("backend", "sim", "sim | franka | franky: the robot the skills run on")
        p("control_rate_hz", 30.0, "policy steps per second (Hz)")
        p("observation_max_age_s", 0.25, "an older observation stops the goal, arm held (s)")
        p("default_max_steps", DEFAULT_MAX_STEPS, "steps of a goal that gives max_steps 0")
        p("safety_file", "", "safety YAML; empty: share/diwa_bringup/config/safety.yaml")
        p("safety_profile", "", "profile in the safety file; empty: the backend's (a real arm refuses others)")
        p("scene_state_topic", "", "the observation; empty: the backend's source")
        p("twist_topic", "diwa/commands/policy", "this source's commands, which the command arbiter forwards")
        p("robot_twist_topic", "servo_node/delta_twist_cmds", "the arbiter's output, watched until the arm rests")
        for key, topic in CAMERA_TOPICS.items():
            p(f"camera_topics.{key}", topic, f"sensor_msgs/Image topic of {key} (rgb8 or bgr8)")
        p("image_max_skew_s", 0.1, "largest gap between a camera frame and the robot state it goes with (s)")
        p("gripper_namespace", "franka_gripper", "the gripper's Move and Grasp actions")
        p("planning_frame", "world", "frame of the twists sent")
        p("gripper_speed", 0.1, "finger speed of gripper commands (m/s)")
        p("gripper_force", 20.0, "grasp force (N)")
        p("seed", 0, "seed of the policies' sampling noise")
        p("inference_threads", 1, "torch threads for inference")
        p("allow_unpromoted", False, "backend franka/franky: deploy checkpoints that failed the promotion gate")
        p("promotion_min_episodes", DEFAULT_MIN_EPISODES, "evaluation episodes the promotion gate needs")
        for skill in SKILLS:
            p(f"policies.{skill}", "", f"checkpoint of {skill} (a path or released:NAME); goals may name another")

        value = lambda name: self.get_parameter(name).value  # noqa: E731
        self.rate_hz = float(value("control_rate_hz"))
        threads = int(value("inference_threads"))
        if threads < 1:
            raise ValueError(f"inference_threads must be at least 1, got {threads}")
        # torch's default, one OpenMP thread per core, spins between inferences and takes the cores
        # the robot, the arbiter and this node's own control loop need to keep their 30 Hz.
        torch.set_num_threads(threads)
        self.max_age_s = float(value("observation_max_age_s"))
        self.image_max_skew_s = float(value("image_max_skew_s"))
        self.default_max_steps = int(value("default_max_steps"))
        self.frame = str(value("planning_frame"))
        self.gripper_speed, self.gripper_force = float(value("gripper_speed")), float(value("gripper_force"))
        backend_name = str(value("backend"))
        profile = safety_profile_for(backend_name, str(value("safety_profile")))
        self.safety = SafetyFilter(load_safety_limits(safety_file_or_installed(str(value("safety_file"))), profile))
        topics = ServoTopics(
            twist_topic=str(value("twist_topic")),
            gripper_namespace=str(value("gripper_namespace")),
            planning_frame=self.frame,
        )
        self.backend = make_backend(self, backend_name, topics, self.safety.limits)
        self.runner = SkillRunner(
            configured={skill: str(value(f"policies.{skill}")) for skill in SKILLS},
            seed=int(value("seed")),
            allow_unpromoted=bool(value("allow_unpromoted")),
            min_episodes=int(value("promotion_min_episodes")),
            real_arm=backend_name in REAL_ARM_SAFETY_PROFILES,
            log=self.get_logger(),
        )
        self.observations = ObservationCache()
        self.stats = RunStats()
        self.busy = threading.Lock()
        self.streaming = False  # the backend is activated and receiving commands

        group = ReentrantCallbackGroup()
        self.estop = EStop(self, self.safety, self.backend.hold, self.busy.locked, group)
        self.scene_state_topic = self.resolve_topic_name(
            scene_state_topic_for(backend_name, str(value("scene_state_topic")))
        )
        self.twist_topic = self.resolve_topic_name(str(value("twist_topic")))
        self.create_subscription(SceneState, self.scene_state_topic, self.on_scene_state, 10, callback_group=group)
        for key in CAMERA_TOPICS:
            topic = str(value(f"camera_topics.{key}"))
            # Sensor-data QoS (best effort) matches camera drivers that publish best effort and reliable ones.
            self.create_subscription(
                Image, topic, lambda msg, k=key: self.on_image(k, msg), qos_profile_sensor_data, callback_group=group
            )
        self.robot_stream = RobotStreamWatch()
        self.create_subscription(
            TwistStamped, str(value("robot_twist_topic")), self.robot_stream.on_twist, 10, callback_group=group
        )
        self.status_pub = self.create_publisher(PolicyStatus, "~/status", 10)
        self.marker_pub = self.create_publisher(MarkerArray, "~/predicted_path", 10)
        self.diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.create_timer(1.0, self.publish_diagnostics, callback_group=group)
        self.server = ActionServer(
            self,
            ExecuteSkill,
            "execute_skill",
            execute_callback=self.execute,
            goal_callback=self.on_goal,
            cancel_callback=lambda _goal: CancelResponse.ACCEPT,
            callback_group=group,
        )
        self.get_logger().info(f"policy node ready (backend {backend_name}, {self.rate_hz:.0f} Hz)")

    # --- inputs -------------------------------------------------------------------------------
    def on_image(self, key: str, msg: Image) -> None:
        try:
            self.observations.update_image(key, image_msg_to_rgb(msg), time.monotonic())
        except ValueError as err:
            self.observations.reject_image(key, str(err), time.monotonic())
            self.get_logger().warn(f"rejected a {key} image: {err}", throttle_duration_sec=1.0)

    def on_scene_state(self, msg: SceneState) -> None:
        if not self.observations.update_from_scene_state(msg, time.monotonic()):
            self.get_logger().warn("rejected an observation with NaN/inf values", throttle_duration_sec=1.0)

    def on_goal(self, _goal) -> GoalResponse:
        # One skill at a time: a second goal would fight the first for the arm.
        return GoalResponse.REJECT if self.busy.locked() or self.safety.estopped else GoalResponse.ACCEPT

    # --- the control loop -----------------------------------------------------------------------
    def execute(self, goal_handle) -> ExecuteSkill.Result:
        with self.busy:
            try:
                return self._run(goal_handle)
            except Exception as err:  # the client must learn of any failure; the arm is braked
                message = f"aborted, arm held: internal error: {type(err).__name__}: {err}"
                self.get_logger().error(f"{message}\n{traceback.format_exc()}")
                if goal_handle.is_active:
                    return self._finish(goal_handle, "abort", False, 0, message)
                return ExecuteSkill.Result(success=False, steps=0, message=message)
            finally:
                self.stats.state = PolicyStatus.IDLE
                self._publish_status()

    def _finish(self, goal_handle, outcome: str, success: bool, steps: int, message: str) -> ExecuteSkill.Result:
        if self.streaming:
            self._brake_to_rest()
            self._wait_for_robot_at_rest()
            self.backend.deactivate()
            self.streaming = False
        result = ExecuteSkill.Result(success=success, steps=steps, message=message)
        getattr(goal_handle, outcome)()
        # rclpy fixes a log call site's severity on first use, hence two call sites.
        if success:
            self.get_logger().info(f"{self.stats.skill}: {message}")
        else:
            self.get_logger().warn(f"{self.stats.skill}: {message}")
        return result

    def _conflicting_publishers(self) -> str | None:
        """Another source of robot commands, or of the state the policy acts on, makes the run unsafe:
        its twists would reach the arm beside ours (the e-stop cannot latch them), or the policy would
        act on two robots' states interleaved. Make MoveIt Servo listen to this node alone (docs/deploy.md)."""
        state = self.count_publishers(self.scene_state_topic)
        if state > 1:
            return f"{state} nodes publish on {self.scene_state_topic}; the policy needs exactly one robot state"
        twists = self.count_publishers(self.twist_topic) - 1  # our backend's own publisher
        if twists > 0:
            return f"another node publishes twist commands on {self.twist_topic}; stop it before a skill runs"
        return None

    def _brake_to_rest(self) -> None:
        """Ramp the twist down through the safety filter, one control period at a time, so that no
        ending of a goal sends a step the rate limits forbid (the e-stop alone cuts to zero)."""
        period = 1.0 / self.rate_hz
        for _ in range(self.safety.stop_periods()):
            output = self.safety.stop(time.monotonic())
            self.backend.send(output)
            if not (output.linear.any() or output.angular.any()):
                return
            time.sleep(period)
        self.backend.hold()

    def _wait_for_robot_at_rest(self) -> None:
        """The arbiter brakes on its own after our last command: the backend (on the Franka, pausing
        Servo) is deactivated only once the robot's own stream is at rest, so it never cuts a ramp."""
        timeout = (self.safety.stop_periods() + 3) * self.safety.limits.control_period + ROBOT_REST_MARGIN_S
        if not self.robot_stream.wait_at_rest(timeout):
            self.get_logger().warn(f"the robot's twist stream was still moving {timeout:.2f} s after the skill ended")

    def _run(self, goal_handle) -> ExecuteSkill.Result:
        goal = goal_handle.request
        self.stats = RunStats(skill=goal.skill, state=PolicyStatus.RUNNING)
        try:
            # The goal itself is judged first: a bad skill name is refused whatever the robot's state.
            check_skill(goal.skill)
            conflict = self._conflicting_publishers()
            if conflict is not None:
                raise ValueError(conflict)
            episode = self.runner.start(goal.skill, goal.policy, self._observation)
        except (ValueError, FileNotFoundError, ObservationUnavailableError) as err:
            return self._finish(goal_handle, "abort", False, 0, f"refused: {err}")
        max_steps = int(goal.max_steps) or self.default_max_steps
        period = 1.0 / self.rate_hz
        if not goal.dry_run:  # a dry run commands nothing: no planned move, no unpaused Servo
            try:
                self.backend.activate()
            except BackendError as err:
                self.backend.hold()
                return self._finish(goal_handle, "abort", False, 0, f"refused: robot not ready: {err}")
            self.streaming = True
        started = next_tick = time.monotonic()
        for step in range(max_steps):
            if self.safety.estopped:
                return self._finish(goal_handle, "abort", False, step, "e-stopped")
            if goal_handle.is_cancel_requested:
                return self._finish(goal_handle, "canceled", False, step, "cancelled")
            if step % CONFLICT_CHECK_EVERY == CONFLICT_CHECK_EVERY - 1:
                conflict = self._conflicting_publishers()
                if conflict is not None:
                    return self._finish(goal_handle, "abort", False, step, f"aborted, arm held: {conflict}")
            try:
                timed = self.observations.latest(
                    time.monotonic(), self.max_age_s, episode.image_keys, self.image_max_skew_s
                )
            except ObservationUnavailableError as err:
                self.stats.state = PolicyStatus.HOLDING
                return self._finish(goal_handle, "abort", False, step, f"aborted, arm held: {err}")
            obs = timed.as_dict()
            if episode.succeeded(obs):
                return self._finish(goal_handle, "succeed", True, step, f"success after {step} steps")
            try:
                action = episode.act(obs)
            except ValueError as err:
                return self._finish(goal_handle, "abort", False, step, f"aborted, arm held: policy failed: {err}")
            command = self._command(action)
            filtered = self.safety.filter(command, obs["robot_obs"][:3], time.monotonic(), timed.received_at)
            self.stats.safety_flags = filtered.reasons
            if not goal.dry_run:
                self.backend.send(filtered)
            self._feedback(goal_handle, step + 1, episode, obs)
            # After a stall, skip the missed periods instead of catching up back to back.
            next_tick = max(next_tick + period, time.monotonic())
            time.sleep(max(0.0, next_tick - time.monotonic()))
            self.stats.rate_hz = (step + 1) / max(time.monotonic() - started, 1e-6)
        obs = self._observation_or_none(episode.image_keys)
        success = obs is not None and episode.succeeded(obs)
        outcome = "succeed" if success else "abort"
        return self._finish(
            goal_handle,
            outcome,
            success,
            max_steps,
            "success at the step limit" if success else f"not done after {max_steps} steps",
        )

    def _observation(self, image_keys: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
        """The current observation, with the frames of `image_keys`; raises if any part is unusable."""
        now = time.monotonic()
        return self.observations.latest(now, self.max_age_s, image_keys, self.image_max_skew_s).as_dict()

    def _observation_or_none(self, image_keys: tuple[str, ...] = ()) -> dict[str, np.ndarray] | None:
        try:
            return self._observation(image_keys)
        except ObservationUnavailableError:
            return None

    def _command(self, action: np.ndarray) -> CartesianCommand:
        twist = action_to_twist(action, self.rate_hz)
        opening = action[6] >= 0.0
        width = GRIPPER_OPEN_WIDTH_M if opening else GRIPPER_CLOSED_WIDTH_M
        gripper = GripperRequest(width=width, speed=self.gripper_speed, force=self.gripper_force)
        return CartesianCommand(linear=twist.linear, angular=twist.angular, gripper=gripper)

    def _feedback(self, goal_handle, step: int, episode, obs: dict[str, np.ndarray]) -> None:
        feedback = ExecuteSkill.Feedback(step=step)
        chunk = episode.last_chunk
        feedback.predicted_chunk.header.stamp = self.get_clock().now().to_msg()
        feedback.predicted_chunk.header.frame_id = self.frame
        feedback.predicted_chunk.skill = self.stats.skill
        feedback.predicted_chunk.horizon, feedback.predicted_chunk.action_dim = chunk.shape
        feedback.predicted_chunk.actions = chunk.astype(np.float32).ravel().tolist()
        feedback.success_probability = float(episode.success_probability())
        feedback.inference_latency_ms = float(episode.last_latency_ms)
        self.stats.latency_ms = feedback.inference_latency_ms
        goal_handle.publish_feedback(feedback)
        if episode.new_chunk:
            self.marker_pub.publish(
                chunk_markers(obs["robot_obs"][:3], chunk, self.frame, feedback.predicted_chunk.header.stamp)
            )

    # --- monitoring -----------------------------------------------------------------------------
    def _publish_status(self) -> None:
        msg = PolicyStatus(
            skill=self.stats.skill, rate_hz=self.stats.rate_hz, latency_ms=self.stats.latency_ms, state=self.stats.state
        )
        msg.header.stamp = self.get_clock().now().to_msg()
        self.status_pub.publish(msg)

    def publish_diagnostics(self) -> None:
        self._publish_status()
        status = DiagnosticStatus(name="diwa/policy_node", hardware_id=self.get_name())
        status.level = DiagnosticStatus.OK if self.stats.state != PolicyStatus.HOLDING else DiagnosticStatus.WARN
        status.message = {0: "idle", 1: "running", 2: "holding", 3: "e-stopped"}[self.stats.state]
        status.values = [
            KeyValue(key="skill", value=self.stats.skill),
            KeyValue(key="rate_hz", value=f"{self.stats.rate_hz:.1f}"),
            KeyValue(key="inference_latency_ms", value=f"{self.stats.latency_ms:.2f}"),
            KeyValue(key="rejected_observations", value=str(self.observations.rejected)),
            KeyValue(key="safety", value=",".join(self.stats.safety_flags) or "unmodified"),
        ]
        msg = DiagnosticArray(status=[status])
        msg.header.stamp = self.get_clock().now().to_msg()
        self.diag_pub.publish(msg)


def main() -> None:
    run_node(PolicyNode, threads=4, on_exit=lambda node: node.backend.hold())


if __name__ == "__main__":
    main()
