"""Scripted play on the robot graph: the simulator's play agent drives the mock robot over topics,
so play data is recorded exactly as a teleoperator's would be (the recorder cannot tell them apart).
"""

from __future__ import annotations

import numpy as np
from diwa.sim.play import PlayAgent, PlayConfig
from rclpy.node import Node

from diwa_msgs.srv import ResetSim
from diwa_play.play_driver import PlayDriver, declare_driver_parameters
from diwa_robot.node_main import run_node
from diwa_robot.parameters import declare


class ScriptedPlayNode(Node):
    def __init__(self) -> None:
        super().__init__("scripted_play")
        declare_driver_parameters(self, "play")
        seed = int(declare(self, "seed", 0, "seed of the play agent and the scene resets"))
        self.episode_frames = int(declare(self, "episode_frames", 250, "frames of play between scene resets"))
        reset_service = str(declare(self, "reset_service", "mock_robot/reset", "the simulator's ResetSim service"))
        self.driver = PlayDriver(self)
        # Frames count from 0 here and in the recorder; the scene is re-randomised every episode.
        self.agent = PlayAgent(PlayConfig(frames=self.episode_frames, seed=seed, episode_frames=self.episode_frames))
        self.rng = np.random.default_rng(seed)
        self.reset_client = self.create_client(ResetSim, reset_service)
        self.pending_reset = None
        self.frames = 0
        self.create_timer(1.0 / self.driver.rate_hz, self.on_tick)

    def on_tick(self) -> None:
        if self.pending_reset is not None:
            if not self.pending_reset.done():
                return
            self.pending_reset = None
            self.agent.interrupt()
        obs = self.driver.observation()
        if obs is None or "scene_obs" not in obs:
            if obs is not None:
                message = "scripted play needs the simulator's scene state; this robot measures none: teleoperate"
                self.get_logger().error(message, throttle_duration_sec=5.0)
            self.driver.hold()
            return
        self.driver.send_action(self.agent.act(obs), obs["robot_obs"][:3])
        self.frames += 1
        if (
            self.frames % self.episode_frames == 0
            and self.reset_client.service_is_ready()
            and not self.driver.safety.estopped
        ):
            request = ResetSim.Request(seed=int(self.rng.integers(2**31)))
            self.pending_reset = self.reset_client.call_async(request)


def main() -> None:
    run_node(ScriptedPlayNode, threads=2, on_exit=lambda node: node.driver.hold())


if __name__ == "__main__":
    main()
