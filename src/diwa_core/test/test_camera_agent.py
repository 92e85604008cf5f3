"""The camera route's agent reads only cameras and proprioception: a latent policy on an image world
model acts the same whatever scene_obs holds, and runs without it (a real cell has none)."""

from __future__ import annotations

import numpy as np
import rl_tiny
from diwa.policy.closed_loop import ClosedLoopAgent


def observations(steps: int, scene: np.ndarray | None) -> list[dict[str, np.ndarray]]:
    rng = np.random.default_rng(0)
    out = []
    for _ in range(steps):
        obs = {
            "robot_obs": rng.normal(size=15).astype(np.float32),
            "rgb_static": rng.integers(0, 256, (64, 64, 3), dtype=np.uint8),
            "rgb_gripper": rng.integers(0, 256, (64, 64, 3), dtype=np.uint8),
        }
        obs["robot_obs"][:3] = (0.03, -0.23, 0.57)  # a TCP inside the workspace
        if scene is not None:
            obs["scene_obs"] = scene
        out.append(obs)
    return out


def actions(agent: ClosedLoopAgent, episode: list[dict[str, np.ndarray]]) -> np.ndarray:
    agent.reset(rl_tiny.SKILL, episode[0])
    return np.stack([agent.act(obs) for obs in episode])


def test_a_camera_policy_never_reads_scene_obs() -> None:
    model = rl_tiny.camera_world_model()
    policy = rl_tiny.policy(model.feat_dim, latent=True)
    runs = {
        name: actions(ClosedLoopAgent(policy, model, seed=3), observations(9, scene))
        for name, scene in (
            ("zeros", np.zeros(24, np.float32)),
            ("garbage", np.full(24, np.nan, np.float32)),
            ("absent", None),
        )
    }
    assert np.isfinite(runs["zeros"]).all()
    np.testing.assert_array_equal(runs["zeros"], runs["garbage"])
    np.testing.assert_array_equal(runs["zeros"], runs["absent"])


def test_the_policy_and_the_latent_filter_receive_no_scene_obs() -> None:
    model = rl_tiny.camera_world_model()
    agent = ClosedLoopAgent(rl_tiny.policy(model.feat_dim, latent=True), model, seed=3)
    seen: list[set[str]] = []
    policy_act, filter_step = agent.agent.act, agent.features.step

    def record_policy(obs):
        seen.append(set(obs))
        return policy_act(obs)

    def record_filter(action, obs):
        seen.append(set(obs))
        return filter_step(action, obs)

    agent.agent.act, agent.features.step = record_policy, record_filter
    actions(agent, observations(6, np.zeros(24, np.float32)))
    assert seen and all("scene_obs" not in keys for keys in seen)
    assert {"features"} in seen and {"robot_obs", "rgb_static", "rgb_gripper"} in seen
