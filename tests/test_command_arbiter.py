"""The command arbiter over real DDS, in front of the mock robot: one source drives, another is
refused, the e-stop latches every source until reset, and a node that bypasses the arbiter on the
robot's twist topic latches the e-stop (issue 24: one command arbiter in front of the robot)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PoseStamped, TwistStamped
from std_msgs.msg import Bool
from std_srvs.srv import Trigger

from tests.ros_graph import RosTestClient, node_processes, unique_domain_id, wait_for

pytestmark = pytest.mark.ros
DOMAIN = unique_domain_id()
SPEED = 0.05  # m/s along x: 1 s moves the TCP 5 cm, well inside the box from home


class Cell:
    """The test's view: the TCP position, the arbiter's diagnostics, and two command sources."""

    def __init__(self, client: RosTestClient) -> None:
        self.node = node = client.node
        self.lock = threading.Lock()
        self.tcp: np.ndarray | None = None
        self.diagnostics: dict[str, str] = {}
        self.message = ""
        node.create_subscription(PoseStamped, "/mock_robot/tcp_pose", self.on_pose, 10)
        node.create_subscription(DiagnosticArray, "/diagnostics", self.on_diagnostics, 10)
        self.sources = {s: node.create_publisher(TwistStamped, f"/diwa/commands/{s}", 10) for s in ("play", "teleop")}
        self.estop = node.create_publisher(Bool, "/diwa/estop", 10)
        self.reset = node.create_client(Trigger, "/command_arbiter/reset_estop")

    def on_pose(self, msg: PoseStamped) -> None:
        p = msg.pose.position
        with self.lock:
            self.tcp = np.array([p.x, p.y, p.z])

    def on_diagnostics(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            if status.name == "diwa/command_arbiter":
                with self.lock:
                    self.diagnostics = {kv.key: kv.value for kv in status.values}
                    self.message = status.message

    def wait_at_rest(self, timeout: float) -> None:
        """Until two poses 0.5 s apart are within 1 mm of each other."""

        def still() -> bool:
            before = self.position()
            time.sleep(0.5)
            return bool(np.linalg.norm(self.position() - before) < 1e-3)

        wait_for(still, timeout, "the arm at rest")

    def position(self) -> np.ndarray:
        with self.lock:
            assert self.tcp is not None
            return self.tcp.copy()

    def drive(self, seconds: float, until: Callable[[], bool] = lambda: False, **speeds: float) -> None:
        """Each named source sends x-twists of its speed at 30 Hz for `seconds`, or until `until()`
        holds: a loaded machine steps the mock robot late, so motion is awaited, not timed."""
        end = time.monotonic() + seconds
        while time.monotonic() < end and not until():
            for source, x in speeds.items():
                msg = TwistStamped()
                msg.header.frame_id = "world"
                msg.twist.linear.x = x
                self.sources[source].publish(msg)
            time.sleep(1 / 30)


@pytest.fixture(scope="module")
def cell(tmp_path_factory):
    logs = tmp_path_factory.mktemp("arbiter")
    specs = [
        ("diwa_calvin_bridge", "mock_robot", {"seed": 3}),
        ("diwa_robot", "command_arbiter", {"lease_s": 0.5}),
    ]
    with node_processes(specs, logs, DOMAIN) as processes:
        client = RosTestClient(DOMAIN)
        try:
            view = Cell(client)
            wait_for(
                lambda: view.tcp is not None, 60, "the mock robot's pose\n" + "\n".join(p.output() for p in processes)
            )
            wait_for(lambda: bool(view.diagnostics), 60, "the arbiter's diagnostics")
            time.sleep(1.0)  # discovery of the command topics
            yield view
        finally:
            client.close()


def test_one_source_drives_and_a_second_is_refused(cell):
    start = cell.position()
    cell.drive(20.0, until=lambda: cell.position()[0] - start[0] > 0.02, play=SPEED, teleop=-SPEED)
    moved = cell.position() - start
    assert moved[0] > 0.02, moved  # play's direction, not teleop's
    wait_for(lambda: int(cell.diagnostics.get("refused.teleop", "0")) > 0, 5, "teleop's refusals in diagnostics")
    cell.wait_at_rest(10)  # play's lease runs out and the arm brakes to rest


def test_the_estop_stops_every_source_until_reset(cell):
    cell.estop.publish(Bool(data=True))
    wait_for(lambda: cell.diagnostics.get("estopped") == "true", 5, "the latch")
    before = cell.position()
    cell.drive(1.0, teleop=SPEED)
    cell.drive(1.0, play=SPEED)
    assert np.linalg.norm(cell.position() - before) < 2e-3
    assert cell.reset.wait_for_service(timeout_sec=10)
    future = cell.reset.call_async(Trigger.Request())
    wait_for(future.done, 10, "the reset")
    assert future.result().success
    wait_for(lambda: cell.diagnostics.get("estopped") == "false", 5, "the reset in diagnostics")
    before = cell.position()
    cell.drive(20.0, until=lambda: cell.position()[0] - before[0] > 0.01, teleop=SPEED)
    assert cell.position()[0] - before[0] > 0.01


def test_a_node_bypassing_the_arbiter_latches_the_estop(cell):
    intruder = cell.node.create_publisher(TwistStamped, "/servo_node/delta_twist_cmds", 10)
    try:
        # The message, not the flag: diagnostics from before the last test's reset may still say "true".
        wait_for(lambda: "bypassing the arbiter" in cell.message, 10, "the latch for the intruder")
        assert cell.diagnostics.get("estopped") == "true"
        before = cell.position()
        cell.drive(1.0, play=SPEED)
        assert np.linalg.norm(cell.position() - before) < 2e-3
    finally:
        cell.node.destroy_publisher(intruder)
