"""A gamepad for the DDS tests: sensor_msgs/Joy on /joy at 30 Hz from a thread, in teleop.yaml's
mapping (axis 1 drives +y, button 4 is the enable button, button 0 toggles the gripper)."""

from __future__ import annotations

import threading
import time

from rclpy.node import Node
from sensor_msgs.msg import Joy

ENABLE, GRIPPER = 4, 0


class Joystick:
    def __init__(self, node: Node) -> None:
        self.lock = threading.Lock()
        self.forward, self.enable, self.gripper = 0.0, False, False
        self.publisher = node.create_publisher(Joy, "/joy", 10)
        self.running = True
        threading.Thread(target=self._publish, daemon=True).start()

    def set(self, forward: float = 0.0, enable: bool = False, gripper: bool = False) -> None:
        with self.lock:
            self.forward, self.enable, self.gripper = forward, enable, gripper

    def stop(self) -> None:
        self.running = False

    def _publish(self) -> None:
        while self.running:
            axes, buttons = [0.0] * 6, [0] * 8
            with self.lock:
                axes[1], buttons[ENABLE], buttons[GRIPPER] = self.forward, int(self.enable), int(self.gripper)
            self.publisher.publish(Joy(axes=axes, buttons=buttons))
            time.sleep(1 / 30)
