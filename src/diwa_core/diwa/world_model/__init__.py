"""The world model DiWA fine-tunes policies in, and the reward classifiers that score imagination.

Pipeline stage: play data -> `diwa train-wm` -> `diwa eval-wm` (open-loop error vs no change)
-> `diwa featurize` (latent features for behaviour cloning) -> `diwa train-reward` per skill.

What the imagination environment and the policy need:
- `load_world_model(path)` -> (WorldModel, WorldModelInfo)
- `WorldModel.encode_start(obs)` -> posterior states of single observations (imagination starts)
- `WorldModel.step(state, action)` / `.imagine(state, actions)` -> prior states (temperature 1)
- `RSSMState.features()` -> concat(h, z) for the policy, critic and reward classifier
- `load_reward_classifier(path, skill, world_model_sha256)` -> RewardClassifier; `.reward(features)`
- `featurize_dataset(model, dataset)` and `LatentTracker` for recorded and live observations
"""

from diwa.world_model.featurize import LatentTracker, featurize_dataset
from diwa.world_model.model import WorldModel
from diwa.world_model.reward import RewardClassifier, load_reward_classifier
from diwa.world_model.rssm import RSSMState
from diwa.world_model.store import WorldModelInfo, load_world_model

__all__ = [
    "LatentTracker",
    "RSSMState",
    "RewardClassifier",
    "WorldModel",
    "WorldModelInfo",
    "featurize_dataset",
    "load_reward_classifier",
    "load_world_model",
]
