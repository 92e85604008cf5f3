"""The tests' behaviour-cloning data and profile: synthetic demonstrations a tiny policy can learn."""

import dataclasses

import numpy as np
from diwa.data.dataset import Annotation, Dataset
from diwa.policy.config import NetworkConfig, load_policy_config
from diwa.sim.start_states import sample_states


def synthetic_demos(episodes_per_skill: int = 6, length: int = 12, seed: int = 0) -> Dataset:
    """Demos whose actions are a smooth function of the observation, so they can be learned."""
    rng = np.random.default_rng(seed)
    skills = ["open_drawer"] * episodes_per_skill + ["turn_on_led"] * 2
    n = len(skills) * length
    robot_obs, scene_obs = sample_states(rng, n)
    rel_actions = np.tanh((robot_obs[:, :7] - robot_obs[:, :7].mean(0)) * 20).astype(np.float32)
    rel_actions[:, 6] = np.where(scene_obs[:, 0] > 0.14, 1.0, -1.0)
    episodes = [(i * length, (i + 1) * length - 1) for i in range(len(skills))]
    annotations = [Annotation(s, e, task) for (s, e), task in zip(episodes, skills, strict=True)]
    return Dataset(
        robot_obs=robot_obs,
        scene_obs=scene_obs,
        actions=np.zeros((n, 7), np.float32),
        rel_actions=rel_actions,
        episodes=episodes,
        annotations=annotations,
    )


def tiny_config(epochs: int):
    config = load_policy_config("quick")
    return dataclasses.replace(
        config,
        network=NetworkConfig(widths=(64, 64, 64), critic_widths=(32, 32, 32)),
        train=dataclasses.replace(config.train, epochs=epochs, batch_size=16, lr=1e-3, val_every=5),
    )
