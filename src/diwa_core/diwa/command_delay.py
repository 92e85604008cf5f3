"""Command delay for batched episodes: actions reach the arm control periods after their observation.

A real-time loop (policy node, command arbiter and robot, each on its own 30 Hz timer) executes an
action one or two control periods after the observation it was computed from, and that changes
which policy does better (docs/results/execute_vs_offline/). `CommandDelay` replays the delay for B
parallel episodes stepped a chunk at a time, so that fine-tuning, in imagination or online, and
its simulator evaluations judge the policy in the loop it will run in. Until an episode's first
action arrives the arm holds still and the gripper keeps the state the episode started in.
"""

from __future__ import annotations

import numpy as np
import torch

from diwa.sim.obs_layout import GRIPPER_ACTION


def check_periods(periods: int) -> int:
    if isinstance(periods, bool) or not isinstance(periods, int) or periods < 0:
        raise ValueError(f"an action delay is a number of control periods >= 0, got {periods!r}")
    return periods


def hold_actions(robot_obs: torch.Tensor) -> torch.Tensor:
    """(B, 7) relative actions that keep each arm still and its gripper as `robot_obs` (B, >=15) has it."""
    hold = torch.zeros(robot_obs.shape[0], 7, dtype=robot_obs.dtype, device=robot_obs.device)
    hold[:, 6] = torch.where(robot_obs[:, GRIPPER_ACTION] >= 0, 1.0, -1.0)
    return hold


class CommandDelay:
    """B delay lines of `periods` control periods for actions stepped a chunk at a time.

    `delay(chunks)` returns the (B, H, 7) actions executed during the next H steps: the `periods`
    actions still in flight, then the first H - `periods` of the chunk; the chunk's last `periods`
    actions stay in flight into the next call. `restart` starts the rows of new episodes with
    nothing in flight but hold actions.
    """

    def __init__(self, periods: int, hold: torch.Tensor) -> None:
        self.periods = check_periods(periods)
        if hold.ndim != 2 or hold.shape[-1] != 7:
            raise ValueError(f"hold actions must be (B, 7), got {tuple(hold.shape)}")
        self.pending = hold[:, None, :].repeat(1, periods, 1)

    def restart(self, index: torch.Tensor, hold: torch.Tensor) -> None:
        self.pending[index] = hold[:, None, :].to(self.pending.dtype).repeat(1, self.periods, 1)

    def delay(self, chunks: torch.Tensor) -> torch.Tensor:
        if chunks.ndim != 3 or chunks.shape[0] != self.pending.shape[0] or chunks.shape[-1] != 7:
            raise ValueError(f"chunks must be (B={self.pending.shape[0]}, H, 7), got {tuple(chunks.shape)}")
        if self.periods == 0:
            return chunks
        line = torch.cat([self.pending.to(chunks.dtype), chunks], dim=1)
        horizon = chunks.shape[1]
        self.pending = line[:, horizon:].clone()
        return line[:, :horizon]


class EpisodeDelay:
    """One episode's delay line, an action at a time (a CommandDelay of one row and one-step chunks)."""

    def __init__(self, periods: int, robot_obs: np.ndarray) -> None:
        start = torch.as_tensor(np.asarray(robot_obs, dtype=np.float64))[None]
        self.line = CommandDelay(periods, hold_actions(start))

    def __call__(self, action: np.ndarray) -> np.ndarray:
        """The action executed now, as `action` is sent (`action` itself without delay: the policy
        node's control loop pays nothing for a delay it does not replay)."""
        if self.line.periods == 0:
            return action
        sent = torch.as_tensor(np.asarray(action, dtype=np.float64))[None, None]
        return self.line.delay(sent)[0, 0].numpy().copy()
