"""Command latency in the offline evaluation: what a real-time robot loop does to a policy.

On the ROS graph the policy node, the command arbiter and the robot each run their own 30 Hz timer,
so an action computed from an observation moves the arm one or two control periods later, and that
changes measured gains (docs/results/execute_vs_offline/). `DelayedAgent` replays the delay in
the offline evaluation: every action reaches the simulator `periods` steps after the observation it
was computed from (diwa/command_delay.py does the same for fine-tuning's batched episodes).
"""

from __future__ import annotations

import numpy as np

from diwa.agent import Agent, Observation
from diwa.command_delay import EpisodeDelay, check_periods


class DelayedAgent:
    """`agent` with its actions `periods` control periods late. Until the first one arrives the arm
    holds still and the gripper keeps the state the episode started in."""

    def __init__(self, agent: Agent, periods: int) -> None:
        self.agent = agent
        self.periods = check_periods(periods)
        self._line: EpisodeDelay | None = None

    def reset(self, skill: str, obs: Observation, seed: int | None = None) -> None:
        self.agent.reset(skill, obs, seed)
        self._line = EpisodeDelay(self.periods, obs["robot_obs"])

    def act(self, obs: Observation) -> np.ndarray:
        if self._line is None:
            raise RuntimeError("DelayedAgent.act called before reset")
        return self._line(self.agent.act(obs))
