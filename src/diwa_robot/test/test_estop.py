"""The e-stop latch: triggering holds at once, releasing needs the reset and an idle node."""

import os
from pathlib import Path

import pytest
import rclpy
from rclpy.context import Context
from rclpy.node import Node
from std_msgs.msg import Bool

from diwa_robot.estop import EStop
from diwa_robot.safety import SafetyFilter, load_safety_limits

SAFETY_YAML = Path(__file__).resolve().parents[2] / "diwa_bringup" / "config" / "safety.yaml"


@pytest.fixture
def estop():
    context = Context()
    rclpy.init(context=context, domain_id=1 + (os.getpid() + 73) % 100)
    node = Node("estop_test", context=context)
    held: list[int] = []
    running = [False]
    safety = SafetyFilter(load_safety_limits(SAFETY_YAML, "franka"))
    try:
        yield EStop(node, safety, lambda: held.append(1), lambda: running[0]), safety, held, running
    finally:
        node.destroy_node()
        rclpy.shutdown(context=context)


def test_trigger_latches_the_filter_and_holds_the_arm(estop):
    stop, safety, held, _ = estop
    stop.on_topic(Bool(data=True))
    assert safety.estopped and held == [1]


def test_false_on_the_topic_does_not_release_the_latch(estop):
    stop, safety, _, _ = estop
    stop.trigger("test")
    stop.on_topic(Bool(data=False))
    assert safety.estopped


def test_reset_is_refused_while_a_goal_is_finishing(estop):
    stop, safety, _, running = estop
    stop.trigger("test")
    running[0] = True
    released, message = stop.reset()
    assert not released and "finishing" in message and safety.estopped
    running[0] = False
    assert stop.reset() == (True, "e-stop released")
    assert not safety.estopped
