"""Command delay for batched chunks: the same actions, as late as a per-step delayed agent's."""

import numpy as np
import pytest
import torch
from diwa.command_delay import CommandDelay, hold_actions
from diwa.eval.latency import DelayedAgent


class Numbered:
    """Emits action number k (1, 2, ...) in x and opens the gripper only on the first one."""

    def reset(self, skill, obs, seed=None) -> None:
        self.k = 0

    def act(self, obs) -> np.ndarray:
        self.k += 1
        return np.array([self.k, 0, 0, 0, 0, 0, 1 if self.k == 1 else -1], dtype=np.float64)


def robot_obs(gripper: float) -> np.ndarray:
    obs = np.zeros(15)
    obs[14] = gripper
    return obs


@pytest.mark.parametrize("periods", [0, 1, 3, 6])
@pytest.mark.parametrize("horizon", [1, 4])
def test_chunks_arrive_as_late_as_a_delayed_agent_would_send_them(periods, horizon):
    """Any delay, shorter or longer than a chunk: the executed stream equals DelayedAgent's."""
    start = robot_obs(-1.0)
    agent = DelayedAgent(Numbered(), periods)
    agent.reset("open_drawer", {"robot_obs": start})
    expected = np.array([agent.act({"robot_obs": start}) for _ in range(5 * horizon)])
    source = Numbered()
    source.reset("open_drawer", {})
    delay = CommandDelay(periods, hold_actions(torch.from_numpy(start)[None]))
    executed = []
    for _ in range(5):
        chunk = torch.from_numpy(np.stack([source.act({}) for _ in range(horizon)]))[None]
        executed.append(delay.delay(chunk)[0])
    np.testing.assert_array_equal(torch.cat(executed).numpy(), expected)


def test_a_restarted_row_holds_again_while_the_others_keep_their_actions_in_flight():
    starts = torch.from_numpy(np.stack([robot_obs(1.0), robot_obs(-1.0)]))
    delay = CommandDelay(2, hold_actions(starts))
    first = torch.arange(1.0, 9.0).reshape(2, 4, 1).repeat(1, 1, 7)  # row 0: 1..4, row 1: 5..8
    out = delay.delay(first)
    assert out[:, :2, :6].eq(0).all() and out[:, :2, 6].tolist() == [[1.0, 1.0], [-1.0, -1.0]]
    delay.restart(torch.tensor([1]), hold_actions(torch.from_numpy(robot_obs(1.0))[None]))
    out = delay.delay(first + 10)
    assert out[0, :, 0].tolist() == [3.0, 4.0, 11.0, 12.0], "row 0's last actions were still in flight"
    assert out[1, :2, :6].eq(0).all() and out[1, :2, 6].tolist() == [1.0, 1.0], "row 1 starts over"
    assert out[1, 2:, 0].tolist() == [15.0, 16.0]


def test_bad_delays_and_shapes_are_refused():
    hold = torch.zeros(2, 7)
    for periods in (-1, 1.5, True):
        with pytest.raises(ValueError, match="control periods >= 0"):
            CommandDelay(periods, hold)
    with pytest.raises(ValueError, match=r"\(B, 7\)"):
        CommandDelay(1, torch.zeros(2, 6))
    with pytest.raises(ValueError, match=r"B=2"):
        CommandDelay(1, hold).delay(torch.zeros(3, 4, 7))
