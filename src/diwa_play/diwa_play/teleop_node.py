"""Teleoperation for play-data collection: keyboard in a terminal, or sensor_msgs/Joy (gamepad,
3D mouse), publishing the same command stream as scripted play and the policy node."""

from __future__ import annotations

import os
import select
import sys
import termios
import threading
import time
import tty

import rclpy
from rclpy.node import Node
from sensor_msgs.msg import Joy

from diwa_play.play_driver import PlayDriver, declare_driver_parameters
from diwa_play.teleop_mapping import HELP, JoyMapping, JoyTeleop, KeyboardTeleop
from diwa_robot.node_main import run_node
from diwa_robot.parameters import declare


class TeleopNode(Node):
    def __init__(self) -> None:
        super().__init__("teleop")
        declare_driver_parameters(self, "teleop")
        declare(self, "input", "keyboard", "keyboard (this terminal) | joy (sensor_msgs/Joy on joy)")
        declare(self, "speed", 0.5, "keyboard: the relative action of a key press, in [0, 1]")
        declare(self, "joy_axes", list(JoyMapping.axes), "joy: the axes of x, y, z, roll, pitch, yaw")
        declare(self, "joy_signs", list(JoyMapping.signs), "joy: the sign of each of those axes")
        declare(self, "joy_gripper_button", JoyMapping.gripper_button, "joy: the button that toggles the gripper")
        declare(self, "joy_deadzone", JoyMapping.deadzone, "joy: axis values below this are zero")
        declare(self, "joy_enable_button", JoyMapping.enable_button, "joy: the arm moves only while this is held")
        declare(self, "joy_timeout_s", JoyMapping.timeout_s, "joy: older input stops the arm (s)")
        self.driver = PlayDriver(self)
        self.input = str(self.get_parameter("input").value)
        self.keyboard = KeyboardTeleop(speed=float(self.get_parameter("speed").value))
        mapping = JoyMapping(
            axes=tuple(int(a) for a in self.get_parameter("joy_axes").value),
            signs=tuple(float(s) for s in self.get_parameter("joy_signs").value),
            gripper_button=int(self.get_parameter("joy_gripper_button").value),
            deadzone=float(self.get_parameter("joy_deadzone").value),
            enable_button=int(self.get_parameter("joy_enable_button").value),
            timeout_s=float(self.get_parameter("joy_timeout_s").value),
        )
        self.joy = JoyTeleop(mapping)
        if self.input == "joy":
            self.create_subscription(Joy, "joy", self._on_joy, 10)
        elif self.input == "keyboard":
            if not sys.stdin.isatty():
                raise RuntimeError("input:=keyboard needs a terminal; run the node in one, or use input:=joy")
            threading.Thread(target=self._read_keys, daemon=True).start()
            print(HELP, flush=True)
        else:
            raise ValueError(f"unknown input {self.input!r}; expected keyboard or joy")
        self.create_timer(1.0 / self.driver.rate_hz, self.on_tick)

    def _on_joy(self, msg: Joy) -> None:
        self.joy.update(list(msg.axes), list(msg.buttons), time.monotonic())

    def _read_keys(self) -> None:
        fd = sys.stdin.fileno()
        saved = termios.tcgetattr(fd)
        try:
            tty.setcbreak(fd)
            while rclpy.ok(context=self.context):
                ready, _, _ = select.select([fd], [], [], 0.1)
                if ready:
                    self.keyboard.press(os.read(fd, 1).decode(errors="ignore"), time.monotonic())
        finally:
            termios.tcsetattr(fd, termios.TCSADRAIN, saved)

    def on_tick(self) -> None:
        obs = self.driver.observation()
        if obs is None:
            self.driver.hold()
            return
        now = time.monotonic()
        action = self.keyboard.action(now) if self.input == "keyboard" else self.joy.action(now)
        self.driver.send_action(action, obs["robot_obs"][:3])


def main() -> None:
    run_node(TeleopNode, threads=2, on_exit=lambda node: node.driver.hold())


if __name__ == "__main__":
    main()
