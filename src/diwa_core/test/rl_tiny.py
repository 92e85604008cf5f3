"""Tiny world models, policies, reward classifiers and configs for the fast tests of diwa.rl."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch
from diwa.data.dataset import Dataset, save_dataset
from diwa.policy.checkpoint import save_policy
from diwa.policy.config import NetworkConfig, load_policy_config
from diwa.policy.encoder import FeatureEncoder, StateEncoder
from diwa.policy.network import Critic
from diwa.policy.normalizer import ActionNormalizer, FeatureNormalizer
from diwa.policy.policy import DiffusionPolicy, build_network
from diwa.rl.conditioning import imagined_reader
from diwa.rl.config import FinetuneConfig, load_finetune_config
from diwa.rl.imagination import ImaginationEnv, StartStates
from diwa.rl.ppo import DenoisingPPO
from diwa.world_model.config import ObservationConfig, RSSMConfig, load_world_model_config
from diwa.world_model.model import WorldModel
from diwa.world_model.reward import RewardClassifier, RewardConfig, save_reward_classifier
from diwa.world_model.store import save_world_model
from diwa.world_model.synthetic import point_mass_dataset

SKILL = "open_drawer"
REWARD_CONFIG = RewardConfig(encoder=(8,), head=(8,))


def world_model(seed: int = 0) -> WorldModel:
    config = load_world_model_config("quick")
    config = dataclasses.replace(
        config,
        rssm=RSSMConfig(deter=16, stoch_vars=4, stoch_classes=4, hidden=16, unimix=0.01, learned_start=True),
        observation=ObservationConfig(kind="state", state_keys=("robot_obs", "scene_obs"), mlp_layers=1, mlp_units=16),
    )
    torch.manual_seed(seed)
    return WorldModel(config).eval()


def camera_world_model(seed: int = 0) -> WorldModel:
    """The camera route's model at toy size: the camera profile (a frozen image encoder per 64x64
    camera, depth 4, 8-d codes) and robot_obs."""
    config = load_world_model_config("camera")
    config = dataclasses.replace(
        config,
        rssm=RSSMConfig(deter=16, stoch_vars=4, stoch_classes=4, hidden=16, unimix=0.01, learned_start=True),
        observation=dataclasses.replace(config.observation, mlp_layers=1, mlp_units=16, cnn_depth=4, image_code=8),
    )
    torch.manual_seed(seed)
    return WorldModel(config).eval()


def policy(feat_dim: int, latent: bool = True, seed: int = 0, skill: str = SKILL) -> DiffusionPolicy:
    """A 6-step DDPM policy with a 16-wide network; `latent` conditions it on world-model features."""
    config = load_policy_config("quick")
    config = dataclasses.replace(
        config,
        network=NetworkConfig(widths=(16, 16, 16), time_dim=4, critic_widths=(16, 16, 16)),
        diffusion=dataclasses.replace(config.diffusion, steps=6),
    )
    dim = feat_dim if latent else StateEncoder.feature_dim
    spec = FeatureEncoder(dim).spec() if latent else StateEncoder().spec()
    torch.manual_seed(seed)
    return DiffusionPolicy(
        config,
        skill,
        spec,
        FeatureNormalizer(mean=np.zeros(dim, np.float32), std=np.ones(dim, np.float32)),
        ActionNormalizer(low=-np.ones(7, np.float32), high=np.ones(7, np.float32)),
        build_network(config, dim),
    )


def config(**run: int) -> FinetuneConfig:
    """Quick profile shrunk: 4 episodes x 5 chunks per iteration, 3 fine-tuned steps of 6."""
    base = load_finetune_config("quick")
    base = base.replace("ppo", ft_denoising_steps=3, batch_size=20, update_epochs=2, critic_warmup_iterations=1)
    base = base.replace("rollout", num_envs=4, chunks_per_iteration=5, max_episode_steps=12)
    return base.replace("run", **{"iterations": 4, "checkpoint_every": 2, "eval_every": 0, "eval_episodes": 0, **run})


def starts(frames: int = 16, seed: int = 0) -> StartStates:
    generator = torch.Generator().manual_seed(seed)
    return StartStates(
        {
            "robot_obs": torch.randn(frames, 15, generator=generator),
            "scene_obs": torch.randn(frames, 24, generator=generator),
        }
    )


class ScriptedReward(torch.nn.Module):
    """A stand-in classifier: its first call (the start-frame filter) says "not done"; the
    verdicts of later calls come from `script(call_index, batch)`."""

    def __init__(self, feat_dim: int, script) -> None:
        super().__init__()
        self.feat_dim = feat_dim
        self.script = script
        self.calls = 0

    def reward(self, features: torch.Tensor) -> torch.Tensor:
        verdict = torch.zeros(len(features)) if self.calls == 0 else self.script(self.calls, len(features))
        self.calls += 1
        return verdict


def never(call: int, batch: int) -> torch.Tensor:
    return torch.zeros(batch)


def imagination(
    model: WorldModel, tuned: DiffusionPolicy, run: FinetuneConfig, reward=None, seed: int = 0, guard=None
) -> ImaginationEnv:
    classifier = reward if reward is not None else ScriptedReward(model.feat_dim, never)
    return ImaginationEnv(
        model, classifier, starts(), imagined_reader(tuned, model), run.rollout, run.imagination, seed, guard
    )


def ppo(base: DiffusionPolicy, run: FinetuneConfig, seed: int = 0) -> DenoisingPPO:
    tuned = base.with_finetuned_copy(run.ppo.ft_denoising_steps)
    torch.manual_seed(seed)
    return DenoisingPPO(tuned, Critic(base.feature_dim, base.config.network.critic_widths), run.ppo, seed)


def random_reward(feat_dim: int, seed: int = 0, threshold: float = 0.175) -> RewardClassifier:
    """An untrained classifier whose "done" margin is shifted by `threshold`: with the tiny world
    model about one imagined state in eight counts as done, and few start frames do."""
    torch.manual_seed(seed)
    classifier = RewardClassifier(feat_dim, REWARD_CONFIG).eval()
    with torch.no_grad():
        classifier.head[-1].bias[1] -= threshold
    return classifier


def save_pipeline(root: Path, latent: bool = True, seed: int = 0) -> dict[str, Path]:
    """Checkpoints of a tiny pipeline on disk: world model (initialised with `seed`), demonstrations,
    policy, reward."""
    model = world_model(seed)
    dataset = point_mass_dataset(frames=120, episode_frames=30, seed=0)
    demos = Dataset(
        robot_obs=dataset.robot_obs,
        scene_obs=dataset.scene_obs,
        actions=dataset.actions,
        rel_actions=dataset.rel_actions,
        episodes=dataset.episodes,
        provenance={"source": "test"},
    )
    paths = {"wm": root / "wm", "demos": root / "demos", "policy": root / "policy", "reward": root / "reward"}
    save_dataset(demos, paths["demos"])
    model.codec.fit({"robot_obs": dataset.robot_obs, "scene_obs": dataset.scene_obs})
    wm_json = save_world_model(model, paths["wm"], step=1, seed=0, provenance={"dataset_path": str(paths["demos"])})
    import json

    wm_sha = json.loads(wm_json.read_text())["files"]["weights"]["sha256"]
    base = policy(model.feat_dim, latent=latent)
    base.provenance = {"dataset": str(paths["demos"]), "dataset_hash": demos.content_hash()}
    if latent:
        base.provenance["world_model"] = {"weights_sha256": wm_sha}
    save_policy(base, paths["policy"])
    save_reward_classifier(
        random_reward(model.feat_dim),
        paths["reward"],
        SKILL,
        {
            "config": dataclasses.asdict(REWARD_CONFIG),
            "feat_dim": model.feat_dim,
            "world_model": {"weights_sha256": wm_sha},
        },
    )
    return paths
