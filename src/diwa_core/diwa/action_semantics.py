"""What a CALVIN relative action actually does, for models that predict its effect off the robot.

A relative action moves an internal TCP target (docs/reference.md §3): the motion part is clipped to [-1, 1]
and scaled, the target position is then clipped to the workspace box, and the gripper command is
the sign of the last component. Play data records the *effective* action (the target's actual
change, the simulator's rel_action), so the world model has only ever seen effective actions. A
policy that keeps pulling against the workspace edge emits raw actions the simulator ignores;
fed those raw actions, imagination moved the arm 10-20 cm past where the real one stopped and
imagined a drawer opened that the real fingers had slid under. `CommandedTarget` replays the
target so imagination receives what the simulator would have executed.
"""

from __future__ import annotations

import torch
from torch import Tensor

from diwa.sim import geometry as g

POSITION = slice(0, 3)
ORIENTATION = slice(3, 6)
GRIPPER = 6


class CommandedTarget:
    """The TCP position targets of B parallel episodes, advanced by raw relative actions."""

    def __init__(self, tcp_position: Tensor) -> None:
        """Start from the measured TCP positions (B, 3): the simulator's target after a reset."""
        if tcp_position.ndim != 2 or tcp_position.shape[-1] != 3:
            raise ValueError(f"tcp_position must be (B, 3), got {tuple(tcp_position.shape)}")
        self.low = torch.tensor(g.WORKSPACE_LOW, dtype=tcp_position.dtype, device=tcp_position.device)
        self.high = torch.tensor(g.WORKSPACE_HIGH, dtype=tcp_position.dtype, device=tcp_position.device)
        self.position = tcp_position.clamp(self.low, self.high)

    def restart(self, index: Tensor, tcp_position: Tensor) -> None:
        """New episodes begin in the rows `index` from measured TCP positions (len(index), 3)."""
        self.position[index] = tcp_position.clamp(self.low, self.high)

    def effective(self, actions: Tensor) -> Tensor:
        """(B, T, 7) raw actions -> the (B, T, 7) actions the simulator would record, advancing the
        targets by T steps."""
        if actions.ndim != 3 or actions.shape[0] != self.position.shape[0] or actions.shape[-1] != 7:
            raise ValueError(f"actions must be (B={self.position.shape[0]}, T, 7), got {tuple(actions.shape)}")
        clipped = actions.clamp(-1.0, 1.0)
        out = torch.empty_like(clipped)
        out[..., ORIENTATION] = clipped[..., ORIENTATION]
        out[..., GRIPPER] = torch.where(actions[..., GRIPPER] >= 0, 1.0, -1.0)
        position = self.position
        for t in range(actions.shape[1]):
            moved = position + g.REL_POS_SCALE * clipped[:, t, POSITION]
            moved = moved.clamp(self.low, self.high)
            out[:, t, POSITION] = ((moved - position) / g.REL_POS_SCALE).clamp(-1.0, 1.0)
            position = moved
        self.position = position
        return out
