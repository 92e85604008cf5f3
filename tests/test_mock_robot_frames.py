"""The mock robot's TF tree and CameraInfo over real DDS (issue 26: ROS conventions on the robot
graph): the fixed frames on the latched /tf_static, the TCP on /tf agreeing with the published pose,
and each camera's CameraInfo in the frame its images name."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from diwa.sim.cameras import GripperCamera, StaticCamera, focal_length_px, optical_frame
from diwa.sim.geometry import ROBOT_BASE_POS
from geometry_msgs.msg import PoseStamped
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image
from tf2_msgs.msg import TFMessage

from tests.ros_graph import RosTestClient, node_processes, unique_domain_id, wait_for

pytestmark = pytest.mark.ros
DOMAIN = unique_domain_id()
SIZE = 64


class Listener:
    def __init__(self, client: RosTestClient) -> None:
        self.lock = threading.Lock()
        self.static: dict[str, object] = {}
        self.dynamic: dict[float, object] = {}
        self.poses: dict[float, PoseStamped] = {}
        self.infos: dict[str, CameraInfo] = {}
        self.image_frames: dict[str, str] = {}
        node = client.node
        latched = QoSProfile(
            depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL, reliability=ReliabilityPolicy.RELIABLE
        )
        node.create_subscription(TFMessage, "/tf_static", self.on_static, latched)
        node.create_subscription(TFMessage, "/tf", self.on_tf, 50)
        node.create_subscription(PoseStamped, "/mock_robot/tcp_pose", self.on_pose, 50)
        for key in ("static", "gripper"):
            node.create_subscription(CameraInfo, f"/camera/{key}/camera_info", lambda m, k=key: self.on_info(k, m), 5)
            node.create_subscription(Image, f"/camera/{key}/image_raw", lambda m, k=key: self.on_image(k, m), 5)

    def on_static(self, msg: TFMessage) -> None:
        with self.lock:
            self.static.update({t.child_frame_id: t for t in msg.transforms})

    def on_tf(self, msg: TFMessage) -> None:
        with self.lock:
            for t in msg.transforms:
                self.dynamic[stamp(t)] = t

    def on_pose(self, msg: PoseStamped) -> None:
        with self.lock:
            self.poses[stamp(msg)] = msg

    def on_info(self, key: str, msg: CameraInfo) -> None:
        with self.lock:
            self.infos[key] = msg

    def on_image(self, key: str, msg: Image) -> None:
        with self.lock:
            self.image_frames[key] = msg.header.frame_id


def stamp(msg) -> float:
    return msg.header.stamp.sec + 1e-9 * msg.header.stamp.nanosec


def vector(t) -> np.ndarray:
    return np.array([t.transform.translation.x, t.transform.translation.y, t.transform.translation.z])


def quaternion(t) -> np.ndarray:
    r = t.transform.rotation
    return np.array([r.x, r.y, r.z, r.w])


def rotation(q: np.ndarray) -> np.ndarray:
    x, y, z, w = q
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


@pytest.fixture(scope="module")
def listener(tmp_path_factory):
    params = {"seed": 2, "rate_hz": 10.0, "cameras": True, "static_image_size": SIZE, "gripper_image_size": SIZE}
    with node_processes([("diwa_calvin_bridge", "mock_robot", params)], tmp_path_factory.mktemp("frames"), DOMAIN):
        client = RosTestClient(DOMAIN)
        try:
            view = Listener(client)
            wait_for(
                lambda: len(view.static) == 3 and len(view.infos) == 2 and len(view.image_frames) == 2, 60, "frames"
            )
            wait_for(lambda: bool(set(view.dynamic) & set(view.poses)), 30, "a TCP transform with its pose")
            yield view
        finally:
            client.close()


def test_the_fixed_frames_are_latched_on_tf_static(listener):
    frames = {child: t.header.frame_id for child, t in listener.static.items()}
    assert frames == {
        "fr3_link0": "world",
        "static_camera_optical_frame": "world",
        "gripper_camera_optical_frame": "fr3_hand_tcp",
    }
    base = listener.static["fr3_link0"]
    np.testing.assert_allclose(vector(base), ROBOT_BASE_POS)
    np.testing.assert_allclose(quaternion(base), [0, 0, 0, 1])  # axes parallel to the scene frame
    camera = listener.static["static_camera_optical_frame"]
    eye, looking = optical_frame(StaticCamera.EYE, StaticCamera.TARGET, (0.0, 0.0, 1.0))
    np.testing.assert_allclose(vector(camera), eye)
    np.testing.assert_allclose(rotation(quaternion(camera)), looking, atol=1e-9)
    mount = listener.static["gripper_camera_optical_frame"]
    eye, looking = optical_frame(GripperCamera.EYE_IN_TCP, GripperCamera.TARGET_IN_TCP, GripperCamera.UP_IN_TCP)
    np.testing.assert_allclose(vector(mount), eye)
    np.testing.assert_allclose(rotation(quaternion(mount)), looking, atol=1e-9)
    for t in listener.static.values():
        assert np.linalg.norm(quaternion(t)) == pytest.approx(1.0)


def test_the_tcp_frame_is_the_published_pose_in_the_arms_base(listener):
    with listener.lock:
        shared = sorted(set(listener.dynamic) & set(listener.poses))
        pairs = [(listener.dynamic[s], listener.poses[s]) for s in shared]
    for t, pose in pairs:
        assert (t.header.frame_id, t.child_frame_id) == ("fr3_link0", "fr3_hand_tcp")
        p, o = pose.pose.position, pose.pose.orientation
        np.testing.assert_allclose(vector(t) + ROBOT_BASE_POS, [p.x, p.y, p.z], atol=1e-9)
        np.testing.assert_allclose(quaternion(t), [o.x, o.y, o.z, o.w], atol=1e-9)


def test_each_camera_info_describes_its_images(listener):
    for key, fov in (("static", StaticCamera.FOV), ("gripper", GripperCamera.FOV)):
        info = listener.infos[key]
        assert info.header.frame_id == listener.image_frames[key] == f"{key}_camera_optical_frame"
        assert (info.width, info.height) == (SIZE, SIZE)
        f, c = focal_length_px(SIZE, fov), (SIZE - 1) / 2
        np.testing.assert_allclose(info.k, [f, 0, c, 0, f, c, 0, 0, 1])
        assert info.distortion_model == "plumb_bob" and not any(info.d)
