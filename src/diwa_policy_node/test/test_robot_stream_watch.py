"""The policy node deactivates the robot (pausing Servo) only once the arbiter's own stream is at rest."""

import threading
import time

from geometry_msgs.msg import TwistStamped

from diwa_policy_node.policy_node import RobotStreamWatch


def twist(vx: float) -> TwistStamped:
    msg = TwistStamped()
    msg.twist.linear.x = vx
    return msg


def test_a_robot_that_never_received_a_twist_is_at_rest() -> None:
    assert RobotStreamWatch().wait_at_rest(timeout=0.0)


def test_a_moving_stream_is_waited_for_until_a_zero_twist_arrives() -> None:
    watch = RobotStreamWatch()
    watch.on_twist(twist(0.05))
    assert not watch.wait_at_rest(timeout=0.05)
    threading.Timer(0.1, watch.on_twist, args=(twist(0.0),)).start()
    started = time.monotonic()
    assert watch.wait_at_rest(timeout=5.0)
    assert 0.05 < time.monotonic() - started < 4.0
