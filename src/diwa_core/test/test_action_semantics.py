"""CommandedTarget turns raw actions into the relative actions the simulator records."""

import numpy as np
import pytest
import rl_tiny
import torch
from diwa.action_semantics import CommandedTarget
from diwa.policy.closed_loop import ObservationFeatures
from diwa.sim.make import make_env
from diwa.sim.obs_layout import TCP_POS
from diwa.world_model.featurize import LatentTracker


def test_effective_actions_match_the_simulators_rel_action_against_the_workspace_edge():
    env = make_env()
    obs, _ = env.reset(seed=3)
    rng = np.random.default_rng(0)
    # Pull toward -y and down, beyond the workspace box, with out-of-range values and a soft gripper.
    raw = np.tile(np.array([0.3, -1.6, -1.2, 0.0, 0.0, 0.4, -0.3], np.float32), (40, 1))
    raw[:, :6] += rng.normal(0.0, 0.2, size=(40, 6)).astype(np.float32)
    raw[25:, 6] = 0.2
    recorded = []
    target = CommandedTarget(torch.from_numpy(obs["robot_obs"][TCP_POS].copy())[None])
    for action in raw:
        _, _, _, _, info = env.step(action)
        recorded.append(info["rel_action"])
    env.close()
    recorded = np.stack(recorded)
    effective = target.effective(torch.from_numpy(raw)[None])[0].numpy()
    assert np.abs(recorded[:, 1]).min() < 0.5, "the pull must have reached the workspace edge"
    np.testing.assert_allclose(effective, recorded, atol=1e-4)


def test_targets_advance_across_calls_and_restart_per_row():
    target = CommandedTarget(torch.tensor([[0.0, -0.54, 0.5], [0.0, 0.0, 0.5]]))
    first = target.effective(torch.tensor([[[0.0, -1.0, 0, 0, 0, 0, 1]], [[0.0, -1.0, 0, 0, 0, 0, 1]]]))
    assert first[:, 0, 1].tolist() == pytest.approx([-0.5, -1.0])  # 1 cm left before y = -0.55
    second = target.effective(torch.tensor([[[0.0, -1.0, 0, 0, 0, 0, 1]], [[0.0, -1.0, 0, 0, 0, 0, 1]]]))
    assert second[:, 0, 1].tolist() == pytest.approx([0.0, -1.0])
    target.restart(torch.tensor([0]), torch.tensor([[0.0, 0.0, 0.5]]))
    third = target.effective(torch.tensor([[[0.0, -1.0, 0, 0, 0, 0, 1]], [[0.0, -1.0, 0, 0, 0, 0, 1]]]))
    assert third[:, 0, 1].tolist() == pytest.approx([-1.0, -1.0])
    with pytest.raises(ValueError, match="actions must be"):
        target.effective(torch.zeros(3, 1, 7))


def test_closed_loop_latent_filter_sees_the_executed_actions_not_the_raw_ones():
    model = rl_tiny.world_model()
    features = ObservationFeatures(rl_tiny.policy(model.feat_dim), model, seed=5)
    reference = LatentTracker(model, seed=5)
    env = make_env()
    obs, _ = env.reset(seed=1)
    np.testing.assert_array_equal(features.reset(obs), reference.reset(obs))
    raw = np.array([0.0, -1.8, -1.5, 0.0, 0.0, 0.0, -0.4], np.float32)
    for _ in range(30):
        obs, _, _, _, info = env.step(raw)
        np.testing.assert_allclose(features.step(raw, obs), reference.step(info["rel_action"], obs), atol=1e-5)
    env.close()
