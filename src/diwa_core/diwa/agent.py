"""The one interface every controller of the robot implements.

The evaluation harness, the simulator's scripted expert, learned diffusion policies and the ROS
policy node all talk to controllers through this protocol, so a skill can be evaluated in the
simulator and executed on a robot by the same object.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

Observation = dict[str, np.ndarray]
"""CALVIN-style observation: `robot_obs` (15), `scene_obs` (24), optional camera images."""


class Agent(Protocol):
    """Produces CALVIN relative actions (7-d, each in [-1, 1]) one control step at a time."""

    def reset(self, skill: str, obs: Observation, seed: int | None = None) -> None:
        """Start a new episode of `skill` from observation `obs`. `seed`: the episode's own noise
        (the evaluation harness gives one per episode, so an outcome that flips on the last bit of a
        float does not change the noise of every later episode); None continues the agent's stream."""

    def act(self, obs: Observation) -> np.ndarray:
        """Return the next relative action (dx, dy, dz, droll, dpitch, dyaw, gripper)."""
