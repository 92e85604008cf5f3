"""The agent that runs a fine-tunable policy on real observations, in the simulator or on the robot.

DiWA's policy reads the world model's latent concat(h, z): on a real episode that is the posterior
LatentTracker filters along the observations. A policy cloned on the simulator state (the "state"
encoder: robot_obs + scene_obs) reads the observation directly. The checkpoint's encoder spec
decides. Evaluation, fine-tuning's evaluation and the policy node all run policies through
ClosedLoopAgent; how a policy reads imagined states is rl/conditioning.py's.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch

from diwa.action_semantics import CommandedTarget
from diwa.agent import Observation
from diwa.command_delay import EpisodeDelay, check_periods
from diwa.policy.agent import DiffusionAgent
from diwa.policy.encoder import FeatureEncoder, StateEncoder
from diwa.policy.policy import DiffusionPolicy
from diwa.sim.obs_layout import TCP_POS
from diwa.skills import check_skill
from diwa.world_model.featurize import LatentTracker
from diwa.world_model.model import WorldModel


def recorded_world_model(policy: DiffusionPolicy) -> dict[str, str] | None:
    """{"path", "weights_sha256"} of the world model whose features a latent policy was trained
    on: recorded by fine-tuning under provenance["world_model"], or by `diwa featurize` beside the
    feature file that behaviour cloning read. None when neither is available."""
    recorded = policy.provenance.get("world_model")
    if isinstance(recorded, dict) and recorded.get("weights_sha256"):
        return {k: str(v) for k, v in recorded.items()}
    features = policy.provenance.get("features")
    if features:
        sidecar = Path(features).with_suffix(".json")
        if sidecar.is_file():
            model = json.loads(sidecar.read_text()).get("world_model", {})
            if model.get("weights_sha256"):
                return {k: str(v) for k, v in model.items()}
    return None


def world_model_of(policy: DiffusionPolicy, path: str | Path) -> WorldModel | None:
    """The world model a latent policy (loaded from `path`) reads, as its provenance records it,
    refused if that file no longer holds those weights; None for a state policy."""
    if policy.encoder_spec.get("kind") != FeatureEncoder.kind:
        return None
    from diwa.world_model.store import load_world_model

    recorded = recorded_world_model(policy) or {}
    if not recorded.get("path"):
        raise ValueError(f"{path} is conditioned on world-model features but does not name its world model")
    model, info = load_world_model(recorded["path"])
    if info.weights_sha256 != recorded["weights_sha256"]:
        raise ValueError(f"{recorded['path']} no longer holds the world model {path} was trained with")
    return model


class ObservationFeatures:
    """The policy's conditioning features along one real episode (simulator or robot)."""

    def __init__(self, policy: DiffusionPolicy, model: WorldModel | None, seed: int) -> None:
        kind = policy.encoder_spec.get("kind")
        if kind == FeatureEncoder.kind:
            if model is None:
                raise ValueError("a policy conditioned on world-model features needs its world model to run")
            if model.feat_dim != policy.feature_dim:
                raise ValueError(f"world model features are {model.feat_dim}-d, the policy reads {policy.feature_dim}")
            self.tracker: LatentTracker | None = LatentTracker(model, seed)
        elif kind == StateEncoder.kind:
            self.tracker = None
        else:
            raise ValueError(f"no closed-loop features for a policy with encoder {kind!r}")
        self.state_encoder = StateEncoder()
        self.target: CommandedTarget | None = None

    def reset(self, obs: Mapping[str, np.ndarray], seed: int | None = None) -> np.ndarray:
        """Features of an episode's first observation; `seed` restarts the latent filter's noise."""
        if self.tracker is None:
            return self.state_encoder.observation_features(dict(obs))
        if seed is not None:
            self.tracker.reseed(seed)
        tcp = torch.as_tensor(np.asarray(obs["robot_obs"], dtype=np.float32)[TCP_POS])
        self.target = CommandedTarget(tcp[None])
        return self.tracker.reset(obs)

    def step(self, action: np.ndarray, obs: Mapping[str, np.ndarray]) -> np.ndarray:
        """Features after `action` led to `obs` (the latent filter must see every step). The
        filter is given the action as the robot executed it, which is what it was trained on."""
        if self.tracker is None:
            return self.state_encoder.observation_features(dict(obs))
        if self.target is None:
            raise RuntimeError("ObservationFeatures.step called before reset")
        raw = torch.as_tensor(np.asarray(action, dtype=np.float32)).reshape(1, 1, -1)
        return self.tracker.step(self.target.effective(raw)[0, 0].numpy(), obs)


class ClosedLoopAgent:
    """A diwa.agent.Agent for any fine-tunable policy: features from ObservationFeatures, actions
    from DiffusionAgent (which replans every chunk with the policy's base/fine-tuned split).

    A latent policy sees its features and nothing else, and the latent filter sees only what its
    world model reads: on the camera route (an image world model on cameras + robot_obs) nothing
    downstream can read the simulator's scene_obs, which a real cell does not have.

    With `action_delay` periods (diwa/command_delay.py) each action returned is the one sent that
    many steps before, and the latent filter steps on it: the action the arm executed."""

    def __init__(self, policy: DiffusionPolicy, model: WorldModel | None, seed: int, action_delay: int = 0) -> None:
        self.agent = DiffusionAgent(policy, seed=seed, deterministic=True)
        self.features = ObservationFeatures(policy, model, seed)
        self.action_delay = check_periods(action_delay)
        self._delay: EpisodeDelay | None = None
        self._last_action: np.ndarray | None = None
        self._current: np.ndarray | None = None

    def reset(self, skill: str, obs: Observation, seed: int | None = None) -> None:
        obs = self._visible(obs)
        self._current = self.features.reset(obs, seed)
        self._last_action = None
        self._delay = EpisodeDelay(self.action_delay, obs["robot_obs"])
        self.agent.reset(skill, self._policy_input(obs), seed)

    @classmethod
    def from_checkpoint(cls, path: str | Path, skill: str, seed: int = 0, action_delay: int = 0) -> ClosedLoopAgent:
        """Load a policy checkpoint and, for a latent policy, the world model its provenance
        names (refused if that file no longer holds the weights the policy was trained with)."""
        from diwa.policy.checkpoint import load_policy

        policy = load_policy(path)
        if policy.skill != check_skill(skill):
            raise ValueError(f"checkpoint {path} is a policy for {policy.skill!r}, not {skill!r}")
        return cls(policy, world_model_of(policy, path), seed, action_delay)

    @property
    def observation_keys(self) -> tuple[str, ...]:
        """What this agent reads of an observation: the simulator state for a state policy; for a
        latent policy, what its world model reads (plus robot_obs, for the commanded target)."""
        tracker = self.features.tracker
        if tracker is None:
            return ("robot_obs", "scene_obs")
        return tuple(sorted({*tracker.model.observation_keys, "robot_obs"}))

    def _visible(self, obs: Observation) -> Observation:
        if self.features.tracker is None:
            return obs
        return {k: v for k, v in obs.items() if k in self.observation_keys}

    def _policy_input(self, obs: Observation) -> Observation:
        if self.features.tracker is None:
            return {**obs, "features": self._current}
        return {"features": self._current}

    def act(self, obs: Observation) -> np.ndarray:
        if self._delay is None:
            raise RuntimeError("ClosedLoopAgent.act called before reset")
        obs = self._visible(obs)
        if self._last_action is not None:
            self._current = self.features.step(self._last_action, obs)
        action = self._delay(self.agent.act(self._policy_input(obs)))
        self._last_action = action
        return action

    @property
    def current_features(self) -> np.ndarray | None:
        """What the policy reads at the latest observation: for a latent policy the filtered
        world-model features, which the skill's reward classifier also reads."""
        return self._current

    @property
    def last_chunk(self) -> np.ndarray | None:
        """The most recent predicted chunk (horizon x 7), for the ROS node's feedback and markers."""
        return self.agent.last_chunk

    @property
    def last_inference_ms(self) -> float | None:
        return self.agent.last_inference_ms
