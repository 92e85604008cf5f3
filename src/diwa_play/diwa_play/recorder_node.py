"""Play-data recorder: the configured topics into a rosbag2 MCAP bag (diwa.data.bag_writer).

Subscriptions are raw (the CDR bytes go into the bag untouched: no deserialisation cost) and
reliable with a deep history, and they exist from start-up, so a started recording misses nothing
that DDS delivers. Frames are the SceneState messages; with max_frames > 0 the recorder closes the
bag once that many frames (and the rest of the last tick) are in and exits, which ends the collect
graph. Every sync period the bag is flushed
and metadata.yaml rewritten, so a killed recorder loses at most that period. A bag, once stopped,
is final: each start opens a new one (output, then output_1, output_2, ...).

  services: ~/start, ~/stop (std_srvs/Trigger), ~/annotate (diwa_msgs/AnnotateEpisode: frame window
            + task, stored in the bag on annotation_topic as diwa_msgs/Annotation)
  accounting: per-topic received and recorded counts in the log and in metadata.yaml custom_data
              (what a publisher sent is only known to it: tests compare against their own counts)
"""

from __future__ import annotations

import importlib
import json
import os
import signal
from functools import partial
from typing import Any

import rclpy
from diwa.data.bag_types import MessageTypes, TypeDefinition, share_dirs_from_prefixes
from diwa.data.bag_writer import BagWriter, Topic
from rclpy.duration import Duration
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.serialization import serialize_message
from rclpy.signals import SignalHandlerOptions
from rclpy.timer import Timer
from std_srvs.srv import Trigger

from diwa_msgs.msg import Annotation
from diwa_msgs.srv import AnnotateEpisode
from diwa_play.recorder_config import (
    FLEXIBLE_PARAMETERS,
    PARAMETER_DEFAULTS,
    PARAMETER_DESCRIPTIONS,
    RecorderConfig,
)
from diwa_robot.parameters import declare

ANNOTATION_TYPE = "diwa_msgs/msg/Annotation"
# After the last frame the bag stays open until the next frame arrives, so the last tick keeps its
# images and the command that answered it; a robot that stopped publishing gets this long instead.
FINISH_TIMEOUT_S = 1.0


def message_class(type_name: str) -> type:
    package, _, name = type_name.split("/")
    try:
        return getattr(importlib.import_module(f"{package}.msg"), name)
    except (ImportError, AttributeError) as err:
        raise ValueError(f"message type {type_name} is not installed for rclpy: {err}") from err


def _duration(value: Duration) -> dict[str, int]:
    seconds, nanoseconds = divmod(value.nanoseconds, 1_000_000_000)
    return {"sec": seconds, "nsec": nanoseconds}


def qos_to_metadata(profile: QoSProfile) -> dict[str, Any]:
    """A QoS profile in rosbag2's metadata (v9) form."""
    return {
        "history": profile.history.name.lower(),
        "depth": profile.depth,
        "reliability": profile.reliability.name.lower(),
        "durability": profile.durability.name.lower(),
        "deadline": _duration(profile.deadline),
        "lifespan": _duration(profile.lifespan),
        "liveliness": profile.liveliness.name.lower(),
        "liveliness_lease_duration": _duration(profile.liveliness_lease_duration),
        "avoid_ros_namespace_conventions": bool(profile.avoid_ros_namespace_conventions),
    }


class RecorderNode(Node):
    def __init__(self) -> None:
        super().__init__("recorder")
        for name, default in PARAMETER_DEFAULTS.items():
            declare(self, name, default, PARAMETER_DESCRIPTIONS[name], dynamic_typing=name in FLEXIBLE_PARAMETERS)
        self.config = config = RecorderConfig.from_parameters(
            {n: self.get_parameter(n).value for n in PARAMETER_DEFAULTS}, self.resolve_topic_name
        )
        types = MessageTypes(share_dirs_from_prefixes(os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep)))
        self.definitions: dict[str, TypeDefinition] = {t.name: types.definition(t.type_name) for t in config.topics}
        self.definitions[self.config.annotation_topic] = types.definition(ANNOTATION_TYPE)

        self.writer: BagWriter | None = None
        self.bags_started = 0
        self.done = False  # the frame limit was reached and the bag closed: the node exits
        self.frames = 0
        self.annotations = 0
        self.received = dict.fromkeys((t.name for t in self.config.topics), 0)  # since the bag started
        self.finish_timer: Timer | None = None

        qos = QoSProfile(
            history=HistoryPolicy.KEEP_LAST,
            depth=self.config.qos_depth,
            reliability=ReliabilityPolicy.RELIABLE,
            durability=DurabilityPolicy.VOLATILE,
        )
        for spec in self.config.topics:
            # A publisher whose QoS cannot match (a best-effort camera driver) is reported by rclpy.
            self.create_subscription(
                message_class(spec.type_name), spec.name, partial(self.on_message, spec.name), qos, raw=True
            )
        self.create_service(Trigger, "~/start", self.on_start)
        self.create_service(Trigger, "~/stop", self.on_stop)
        self.create_service(AnnotateEpisode, "~/annotate", self.on_annotate)
        self.create_timer(self.config.sync_period_s, self.on_sync)
        topics = ", ".join(t.name for t in self.config.topics)
        self.get_logger().info(f"recorder ready; topics: {topics}; output: {self.config.output}")
        if self.config.autostart:
            self.start_recording()

    # --- recording ----------------------------------------------------------------------------------
    def start_recording(self) -> str:
        """Open a new bag: `output` first, then output_1, output_2, ... for later starts."""
        if self.writer is not None:
            raise ValueError(f"already recording into {self.writer.path}")
        output = self.config.output
        path = output if self.bags_started == 0 else output.with_name(f"{output.name}_{self.bags_started}")
        self.writer = BagWriter(path, self.config.split, library="diwa_play recorder")
        self.bags_started += 1
        self.frames, self.annotations, self.finish_timer = 0, 0, None
        self.received = dict.fromkeys((t.name for t in self.config.topics), 0)
        self._update_accounting()
        self.writer.sync()
        limit = f"{self.config.max_frames} frames" if self.config.max_frames else "until stopped"
        message = f"recording into {path} ({limit})"
        self.get_logger().info(message)
        return message

    def stop_recording(self) -> str:
        if self.writer is None:
            raise ValueError("not recording")
        if self.finish_timer is not None:  # the frame limit was reached: the node exits after this bag
            self.destroy_timer(self.finish_timer)
            self.finish_timer, self.done = None, True
        self._update_accounting()
        self.writer.close()
        writer, self.writer = self.writer, None
        counts = ", ".join(f"{topic} {writer.counts.get(topic, 0)}/{n}" for topic, n in self.received.items())
        message = (
            f"closed {writer.path}: {self.frames} frames, {self.annotations} annotations; "
            f"recorded/received per topic: {counts}"
        )
        self.get_logger().info(message)
        return message

    def on_message(self, topic: str, data: bytes) -> None:
        self.received[topic] += 1
        writer = self.writer
        if writer is None:
            return
        if topic == self.config.frame_topic and self.finish_timer is not None:
            self.stop_recording()  # the frame after the last one: the last tick is complete
            return
        self._write(writer, topic, self.get_clock().now().nanoseconds, data)
        if topic == self.config.frame_topic:
            self.frames += 1
            if self.config.max_frames and self.frames >= self.config.max_frames:
                self.finish_timer = self.create_timer(FINISH_TIMEOUT_S, self.on_frame_limit)

    def _write(self, writer: BagWriter, topic: str, stamp_ns: int, data: bytes) -> None:
        if topic not in writer.topics:
            # The first message proves a publisher exists: record the QoS it offers (ros2 bag play reuses it).
            offered = tuple(qos_to_metadata(i.qos_profile) for i in self.get_publishers_info_by_topic(topic))
            writer.add_topic(Topic(topic, self.definitions[topic], offered))
        writer.write(topic, stamp_ns, data)

    def on_frame_limit(self) -> None:
        self.stop_recording()

    def on_sync(self) -> None:
        if self.writer is not None:
            self._update_accounting()
            self.writer.sync()

    def _update_accounting(self) -> None:
        assert self.writer is not None
        self.writer.set_custom_data("diwa.frames", str(self.frames))
        self.writer.set_custom_data("diwa.annotations", str(self.annotations))
        self.writer.set_custom_data("diwa.received", json.dumps(self.received))

    # --- services -------------------------------------------------------------------------------------
    def on_start(self, _request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        try:
            response.message, response.success = self.start_recording(), True
        except (ValueError, OSError) as err:
            response.message, response.success = str(err), False
        return response

    def on_stop(self, _request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        try:
            response.message, response.success = self.stop_recording(), True
        except ValueError as err:
            response.message, response.success = str(err), False
        return response

    def on_annotate(
        self, request: AnnotateEpisode.Request, response: AnnotateEpisode.Response
    ) -> AnnotateEpisode.Response:
        start, end, task = int(request.start_frame), int(request.end_frame), request.task.strip()
        if self.writer is None:
            response.success, response.message = False, "not recording: annotations go into the open bag"
        elif not task:
            response.success, response.message = False, "the task is empty"
        elif not start <= end < self.frames:
            response.success = False
            response.message = f"frames {start}..{end} are not a window of the {self.frames} frames recorded so far"
        else:
            msg = Annotation(start_frame=start, end_frame=end, task=task)
            now = self.get_clock().now()
            msg.header.stamp = now.to_msg()
            self._write(self.writer, self.config.annotation_topic, now.nanoseconds, serialize_message(msg))
            self.annotations += 1
            response.success, response.message = True, f"frames {start}..{end}: {task}"
        return response


def main(args: list[str] | None = None) -> None:
    # SIGINT/SIGTERM only ask the loop to stop, so the bag is closed (and logged) while ROS is still up.
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    stop_requested: list[int] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda signum, _frame: stop_requested.append(signum))
    try:
        node = RecorderNode()
    except (ValueError, OSError) as err:
        print(f"recorder: error: {err}", flush=True)
        rclpy.try_shutdown()
        raise SystemExit(2) from err
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    try:
        while rclpy.ok() and not node.done and not stop_requested:
            executor.spin_once(timeout_sec=0.1)
    except ExternalShutdownException:
        pass
    finally:
        if node.writer is not None:
            node.stop_recording()
        node.destroy_node()
        rclpy.try_shutdown()


if __name__ == "__main__":
    main()
