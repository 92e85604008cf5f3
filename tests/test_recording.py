"""Play-data recording over real DDS: the recorder runs as its own process (the installed
executable), this process publishes robot streams at 30 Hz and checks what reached the bag
(issue #7, part 3)."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from diwa.data.bag_reader import BagReader
from diwa.data.rosbag import bags_to_dataset
from diwa.robot_contract import action_to_twist
from geometry_msgs.msg import TwistStamped
from mcap.reader import make_reader
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rosbags.rosbag2 import Reader as RosbagsReader
from sensor_msgs.msg import Image, JointState
from std_srvs.srv import Trigger

from diwa_msgs.msg import SceneState
from diwa_msgs.srv import AnnotateEpisode
from tests.ros_graph import NodeProcess, RosTestClient, unique_domain_id, wait_for

pytestmark = pytest.mark.ros
DOMAIN = unique_domain_id()
# A recorder killed with -9 stays matched in its domain until its DDS lease runs out (tens of
# seconds): new publishers there would count it as a subscriber. The kill test gets its own domain.
KILL_DOMAIN = unique_domain_id()
RATE_HZ = 30.0
IMAGE_SIZE = 84
STREAMS = {
    "/joint_states": JointState,
    "/mock_robot/scene_state": SceneState,
    "/camera/static/image_raw": Image,
    "/camera/gripper/image_raw": Image,
    "/servo_node/delta_twist_cmds": TwistStamped,
}
RELIABLE_DEEP = QoSProfile(
    history=HistoryPolicy.KEEP_LAST,
    depth=1000,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.VOLATILE,
)


def play_action(tick: int) -> np.ndarray:
    """A known relative action per tick, so the conversion of the recorded bag can be checked."""
    phase = tick * 0.2
    return np.array([np.sin(phase), np.cos(phase), 0.5, 0.0, 0.0, -0.25, 1.0 if (tick // 20) % 2 == 0 else -1.0])


class Robot:
    """Publishes what the mock robot and a play script would, one tick at a time, and counts it."""

    def __init__(self, client: RosTestClient) -> None:
        self.client = client
        self.publishers = {topic: client.node.create_publisher(t, topic, RELIABLE_DEEP) for topic, t in STREAMS.items()}
        self.published = dict.fromkeys(STREAMS, 0)
        self.rng = np.random.default_rng(0)

    def wait_for_recorder(self, timeout: float = 30.0) -> None:
        """Until every publisher has matched the recorder: from then on nothing published is missed."""
        wait_for(
            lambda: all(p.get_subscription_count() > 0 for p in self.publishers.values()),
            timeout,
            "the recorder's subscriptions",
        )

    def tick(self, index: int) -> None:
        stamp = self.client.node.get_clock().now().to_msg()
        action = play_action(index)
        robot_obs = np.zeros(15)
        robot_obs[:3] = [0.01 * index, 0.0, 0.5]
        robot_obs[14] = action[6]
        joints = JointState(name=[f"fr3_joint{i}" for i in range(1, 8)], position=[0.1 * index] * 7)
        joints.header.stamp = stamp
        scene = SceneState(robot_obs=robot_obs, scene_obs=np.full(24, float(index)), scene_measured=True)
        scene.header.stamp = stamp
        self._publish("/joint_states", joints)
        self._publish("/mock_robot/scene_state", scene)
        for topic in ("/camera/static/image_raw", "/camera/gripper/image_raw"):
            image = Image(height=IMAGE_SIZE, width=IMAGE_SIZE, encoding="rgb8", step=IMAGE_SIZE * 3)
            image.header.stamp = stamp
            image.data = self.rng.integers(0, 256, IMAGE_SIZE * IMAGE_SIZE * 3, dtype=np.uint8).tobytes()
            self._publish(topic, image)
        # The play script answers the state it saw with the command for the next step.
        twist = action_to_twist(action, RATE_HZ)
        command = TwistStamped()
        command.header.stamp = stamp
        command.twist.linear.x, command.twist.linear.y, command.twist.linear.z = twist.linear.tolist()
        command.twist.angular.x, command.twist.angular.y, command.twist.angular.z = twist.angular.tolist()
        self._publish("/servo_node/delta_twist_cmds", command)

    def _publish(self, topic: str, msg: object) -> None:
        self.publishers[topic].publish(msg)
        self.published[topic] += 1

    def play(self, ticks: int) -> None:
        """Publish `ticks` ticks at RATE_HZ on a fixed schedule (no drift from sleep jitter)."""
        start = time.monotonic()
        for i in range(ticks):
            delay = start + i / RATE_HZ - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            self.tick(i)


def call(client: RosTestClient, srv_type: type, name: str, request: object, timeout: float = 10.0):
    service = client.node.create_client(srv_type, name)
    assert service.wait_for_service(timeout_sec=timeout), f"service {name} not available"
    future = service.call_async(request)
    wait_for(future.done, timeout, f"the reply of {name}")
    return future.result()


def recorded_counts(bag: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    for message in BagReader(bag).messages():
        counts[message.topic] = counts.get(message.topic, 0) + 1
    return counts


def recorder(tmp_path: Path, domain: int, **params: object) -> NodeProcess:
    return NodeProcess("diwa_play", "recorder", {"cameras": True, **params}, tmp_path, domain)


@pytest.fixture(scope="module")
def client():
    test_client = RosTestClient(DOMAIN, "recording_test")
    yield test_client
    test_client.close()


def test_recording_at_30_hz_loses_nothing_and_the_bag_opens_everywhere(client: RosTestClient, tmp_path: Path) -> None:
    bag = tmp_path / "play"
    process = recorder(tmp_path, DOMAIN, output=str(bag), autostart=False)
    robot = Robot(client)
    try:
        robot.wait_for_recorder()
        reply = call(client, Trigger, "/recorder/start", Trigger.Request())
        assert reply.success, reply.message + process.output()
        ticks = int(5 * RATE_HZ)
        started = time.monotonic()
        robot.play(ticks)
        elapsed = time.monotonic() - started
        outside = AnnotateEpisode.Request(start_frame=5, end_frame=10**6, task="open_drawer")
        bad = call(client, AnnotateEpisode, "/recorder/annotate", outside)
        assert not bad.success and "not a window" in bad.message
        good = AnnotateEpisode.Request(start_frame=10, end_frame=40, task="open_drawer")
        assert call(client, AnnotateEpisode, "/recorder/annotate", good).success
        time.sleep(0.5)  # let reliable delivery finish before closing the bag
        reply = call(client, Trigger, "/recorder/stop", Trigger.Request())
        assert reply.success, reply.message
        assert not call(client, Trigger, "/recorder/stop", Trigger.Request()).success
        # A stopped bag is final; the next start opens a new bag beside it.
        assert call(client, Trigger, "/recorder/start", Trigger.Request()).success
        assert call(client, Trigger, "/recorder/stop", Trigger.Request()).success
        assert (tmp_path / "play_1" / "metadata.yaml").is_file()
    finally:
        assert process.stop() == 0, process.output()

    recorded = recorded_counts(bag)
    messages = sum(robot.published.values())
    print(f"recorded {messages} messages in {elapsed:.2f} s ({messages / elapsed:.0f} msg/s): {recorded}")
    for topic, count in robot.published.items():
        assert recorded.get(topic) == count, f"{topic}: published {count}, recorded {recorded.get(topic)}"
    assert recorded["/diwa/annotations"] == 1

    metadata = yaml.safe_load((bag / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    listed = {t["topic_metadata"]["name"]: t for t in metadata["topics_with_message_count"]}
    assert {name: t["message_count"] for name, t in listed.items()} == recorded
    assert json.loads(metadata["custom_data"]["diwa.received"]) == {
        topic: robot.published.get(topic, 0)
        for topic in (
            "/joint_states",
            "/mock_robot/scene_state",
            "/mock_robot/resets",
            "/mock_robot/tcp_pose",
            *STREAMS,
        )
    }
    assert metadata["custom_data"]["diwa.frames"] == str(ticks)
    # The stored type hashes are the ones ROS itself computes for these types.
    for info in client.node.get_publishers_info_by_topic("/mock_robot/scene_state"):
        assert listed["/mock_robot/scene_state"]["topic_metadata"]["type_description_hash"] == str(info.topic_type_hash)
    assert listed["/mock_robot/scene_state"]["topic_metadata"]["offered_qos_profiles"][0]["reliability"] == "reliable"

    # Two independent readers open the bag: the mcap library (indexed summary) and rosbags.
    (storage,) = metadata["relative_file_paths"]
    with (bag / storage).open("rb") as stream:
        reader = make_reader(stream)
        summary = reader.get_summary()
        assert summary is not None and summary.statistics.message_count == messages + 1
        assert sum(1 for _ in reader.iter_messages()) == messages + 1
    with RosbagsReader(bag) as rosbags_reader:
        assert rosbags_reader.message_count == messages + 1

    dataset = bags_to_dataset([bag])
    assert len(dataset) == ticks and dataset.episodes == [(0, ticks - 1)]
    assert dataset.images["rgb_static"].shape == (ticks, IMAGE_SIZE, IMAGE_SIZE, 3)
    assert [tuple(a) for a in dataset.annotations] == [(10, 40, "open_drawer")]
    expected = np.array([play_action(k) for k in range(ticks)])
    expected[:-1, 6] = expected[1:, 6]  # the gripper channel is what the next frame shows
    matched = np.all(np.abs(dataset.rel_actions[:-1] - expected[:-1]) < 1e-5, axis=1)
    assert matched.mean() > 0.95, f"only {matched.mean():.0%} of the actions were recovered"


def test_kill_9_loses_at_most_about_a_second(tmp_path: Path) -> None:
    bag = tmp_path / "killed"
    client = RosTestClient(KILL_DOMAIN, "recording_kill_test")
    process = recorder(tmp_path, KILL_DOMAIN, output=str(bag), autostart=True, sync_period_s=1.0)
    try:
        robot = Robot(client)
        robot.wait_for_recorder()
        wait_for(lambda: (bag / "metadata.yaml").is_file(), 10, "the bag to be created")
        robot.play(int(3.5 * RATE_HZ))
        os.kill(process.process.pid, signal.SIGKILL)
        process.process.wait(timeout=10)
    finally:
        process.stop()
        client.close()

    reader = BagReader(bag)
    recorded: dict[str, int] = {}
    for message in reader.messages():
        recorded[message.topic] = recorded.get(message.topic, 0) + 1
    assert reader.truncated  # no footer: the recorder never closed the file
    lost = {topic: count - recorded.get(topic, 0) for topic, count in robot.published.items()}
    print(f"kill -9: published {robot.published}, recorded {recorded}, lost {lost}")
    assert all(0 <= n <= 1.2 * RATE_HZ for n in lost.values()), lost
    # metadata.yaml, rewritten every sync period, lists the file and is at most about a period behind.
    metadata = yaml.safe_load((bag / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    assert metadata["relative_file_paths"] == [r.path.name for r in reader.reports]
    assert metadata["message_count"] >= sum(recorded.values()) - 1.2 * RATE_HZ * len(STREAMS)
    # The cut-off bag still converts, up to the last complete tick.
    dataset = bags_to_dataset([bag])
    assert len(dataset) >= robot.published["/mock_robot/scene_state"] - 1.2 * RATE_HZ - 1


def test_max_frames_closes_the_bag_and_exits(client: RosTestClient, tmp_path: Path) -> None:
    bag = tmp_path / "limited"
    frames = 20
    process = recorder(tmp_path, DOMAIN, output=str(bag), autostart=True, max_frames=frames)
    robot = Robot(client)
    try:
        robot.wait_for_recorder()
        wait_for(lambda: (bag / "metadata.yaml").is_file(), 10, "the bag to be created")
        robot.play(frames + 10)
        wait_for(lambda: process.process.poll() is not None, 10, "the recorder to exit")
    finally:
        code = process.stop()
    assert code == 0, process.output()
    reader = BagReader(bag)
    frames_recorded = sum(1 for m in reader.messages() if m.topic == "/mock_robot/scene_state")
    assert frames_recorded == frames
    assert reader.reports and not reader.truncated
    dataset = bags_to_dataset([bag])
    assert len(dataset) == frames and set(dataset.images) == {"rgb_static", "rgb_gripper"}
