"""Teleop on the Franka backend over real DDS, as collect.yaml starts it with robot:=franka: the state
comes from robot_state (the mock robot's joints stand in for the arm's), the commands go through the
command arbiter to MoveIt Servo, the gripper through franka_gripper; Servo and franka_gripper are
stand-ins in this process. Nothing reaches the robot until the enable button is first held with a
stick deflected; then the gripper is homed, Servo switched to twists and unpaused, and the arm moves."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from geometry_msgs.msg import PoseStamped

from tests.franka_standins import EventLog, GripperStandIn, ServoStandIn
from tests.joystick import Joystick
from tests.ros_graph import RosTestClient, node_processes, unique_domain_id, wait_for

pytestmark = pytest.mark.ros
DOMAIN = unique_domain_id()


class Cell:
    """A joystick at 30 Hz, the Servo and franka_gripper stand-ins, and the simulated arm's pose."""

    def __init__(self, client: RosTestClient) -> None:
        node = client.node
        self.log = EventLog()
        self.servo = ServoStandIn(node, self.log)
        self.gripper = GripperStandIn(node, self.log)
        self.lock = threading.Lock()
        self.tcp: np.ndarray | None = None
        node.create_subscription(PoseStamped, "/mock_robot/tcp_pose", self.on_pose, 10)
        self.joystick = Joystick(node)

    def on_pose(self, msg: PoseStamped) -> None:
        p = msg.pose.position
        with self.lock:
            self.tcp = np.array([p.x, p.y, p.z])

    def set(self, forward: float = 0.0, enable: bool = False, gripper: bool = False) -> None:
        self.joystick.set(forward, enable, gripper)

    def position(self) -> np.ndarray:
        with self.lock:
            assert self.tcp is not None
            return self.tcp.copy()

    def robot_calls(self) -> list[tuple[str, object]]:
        return [c for c in self.log.calls() if c[0] != "twist"]


@pytest.fixture(scope="module")
def cell(tmp_path_factory):
    logs = tmp_path_factory.mktemp("teleop_franka")
    specs = [
        # The simulated arm follows the twists; its own pause service and gripper actions move aside
        # for the stand-ins. Its /joint_states feed robot_state, the real cell's state source.
        (
            "diwa_calvin_bridge",
            "mock_robot",
            {"seed": 6, "pause_service": "/mock_robot/pause", "gripper_namespace": "/mock_gripper"},
        ),
        ("diwa_robot", "robot_state", {}),
        ("diwa_robot", "command_arbiter", {"backend": "franka", "lease_s": 0.5}),
        (
            "diwa_play",
            "teleop",
            {"input": "joy", "backend": "franka", "franka.move_to_start": False, "observation_max_age_s": 1.0},
        ),
    ]
    with node_processes(specs, logs, DOMAIN) as processes:
        client = RosTestClient(DOMAIN)
        view = Cell(client)
        try:
            outputs = lambda: "\n".join(p.output() for p in processes)  # noqa: E731
            wait_for(lambda: view.tcp is not None, 60, "the mock robot\n" + outputs())
            time.sleep(2.0)  # discovery
            yield view, outputs
        finally:
            view.joystick.stop()
            client.close()


def test_the_robot_is_left_alone_until_the_first_enabled_motion_then_servo_streams(cell):
    view, outputs = cell
    start = view.position()
    view.set(forward=0.3, enable=False)
    time.sleep(1.0)
    assert view.robot_calls() == [], "nothing reaches the robot before the enable button is held"
    assert np.linalg.norm(view.position() - start) < 2e-3
    view.set(forward=0.3, enable=True)
    wait_for(lambda: (view.position() - start)[1] > 0.02, 20, f"the arm to move forward\n{outputs()}")
    view.set(forward=0.0, enable=False)
    assert view.robot_calls()[:3] == [("homing", None), ("switch", 1), ("pause", False)]
    twists = view.log.twists()
    assert twists and {t.value.frame_id for t in twists} == {"fr3_link0"}, "Servo reads twists in fr3_link0"


def test_the_gripper_button_closes_the_gripper_through_franka_gripper(cell):
    view, outputs = cell
    since = time.monotonic()
    view.set(enable=True)  # the gripper button, like the sticks, acts only while enable is held
    time.sleep(0.2)
    view.set(enable=True, gripper=True)
    time.sleep(0.3)
    view.set(enable=True)
    time.sleep(0.2)
    view.set()
    wait_for(
        lambda: any(kind == "grasp" for kind, _ in view.log.calls(since)), 10, f"a franka_gripper Grasp\n{outputs()}"
    )
    (grasp,) = [value for kind, value in view.log.calls(since) if kind == "grasp"]
    assert grasp == pytest.approx((0.0, 0.1, 20.0, 0.08, 0.08))
