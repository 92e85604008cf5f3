"""Which policy runs a goal, and how one skill execution is tracked (ROS-free).

The policy node asks this module for an Episode; the Episode hides whether a diffusion policy or the
simulator's scripted expert acts, knows when the skill's success condition holds, and keeps what the
node publishes (the predicted chunk, its latency).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import torch
from diwa.agent import Agent, Observation
from diwa.eval.agents import load_agent
from diwa.policy.closed_loop import ClosedLoopAgent, recorded_world_model
from diwa.promotion import DEFAULT_MIN_EPISODES
from diwa.released import resolve
from diwa.sim.oracle import completed_tasks
from diwa.skills import check_skill
from diwa.world_model.config import IMAGE_KEYS
from diwa.world_model.reward import RewardClassifier, load_reward_classifier

from diwa_policy_node.promotion import check_promotion

DONE_PROBABILITY = 0.5
"""The classifier's verdict: done at P(done) >= 0.5, its argmax, as in imagination."""


class Logger(Protocol):
    def warn(self, message: str) -> object: ...


@dataclass
class Episode:
    skill: str
    agent: Agent
    start: Observation
    last_chunk: np.ndarray = field(default_factory=lambda: np.zeros((0, 7), dtype=np.float32))
    last_latency_ms: float = 0.0
    new_chunk: bool = False
    classifier: Callable[[], float] | None = None
    """The skill's reward classifier on the policy's current latent: P(done). The verdict where no
    oracle exists (a real cell has no scene state)."""
    image_keys: tuple[str, ...] = ()  # the cameras the policy reads

    def act(self, obs: Observation) -> np.ndarray:
        check_images(self.start, obs, self.image_keys)
        action = np.asarray(self.agent.act(obs), dtype=np.float64)
        if action.shape != (7,) or not np.isfinite(action).all():
            raise ValueError(f"the policy returned an invalid action {action!r}")
        chunk = getattr(self.agent, "last_chunk", None)
        if chunk is None:  # agents without chunks (the scripted expert): the action is the chunk
            chunk, latency = action[None, :], 0.0
        else:
            latency = float(getattr(self.agent, "last_inference_ms", None) or 0.0)
        self.new_chunk = chunk is not self.last_chunk
        self.last_chunk, self.last_latency_ms = chunk, latency
        return action

    def succeeded(self, obs: Observation) -> bool:
        """The simulator's oracle where the scene state exists; otherwise the reward classifier's
        verdict on the latent (P(done) >= 0.5), and never a success without either."""
        start, now = self.start, obs
        if "scene_obs" in start and "scene_obs" in now:
            done = completed_tasks(
                start["robot_obs"], start["scene_obs"], now["robot_obs"], now["scene_obs"], tasks=[self.skill]
            )
            return bool(done)
        return self.success_probability() >= DONE_PROBABILITY

    def success_probability(self) -> float:
        """The skill's reward classifier on the policy's current latent, or -1 when none is loaded."""
        return -1.0 if self.classifier is None else float(self.classifier())


class SkillRunner:
    def __init__(
        self,
        configured: dict[str, str],
        seed: int,
        allow_unpromoted: bool,
        real_arm: bool,
        log: Logger,
        min_episodes: int = DEFAULT_MIN_EPISODES,
    ) -> None:
        if min_episodes < 1:
            raise ValueError(f"promotion_min_episodes must be at least 1, got {min_episodes}")
        self.configured = configured
        self.seed = seed
        self.allow_unpromoted = allow_unpromoted
        self.min_episodes = min_episodes
        self.real_arm = real_arm  # the promotion gate applies
        self.log = log
        self._agents: dict[tuple[str, str], Agent] = {}
        self._classifiers: dict[tuple[str, str], RewardClassifier | None] = {}

    def resolve_policy(self, skill: str, requested: str) -> str:
        spec = requested or self.configured.get(skill, "")
        if not spec:
            raise ValueError(
                f"no policy configured for {skill!r}: set policies.{skill} or name a checkpoint in the goal"
            )
        return spec

    def start(self, skill: str, requested_policy: str, observe: Callable[[tuple[str, ...]], Observation]) -> Episode:
        """Validate the goal, load (or reuse) its agent and reset it on `observe(image_keys)`, the
        observation with the cameras the policy reads; raises ValueError with a reason."""
        check_skill(skill)
        spec = self.resolve_policy(skill, requested_policy)
        if spec != "scripted":
            path = resolve(spec)  # a release name or a path
            if not path.exists():
                raise FileNotFoundError(f"policy checkpoint {spec} does not exist")
            if self.real_arm:
                check_promotion(
                    path,
                    allow_unpromoted=self.allow_unpromoted,
                    warn=self.log.warn,
                    min_episodes=self.min_episodes,
                )
        key = (skill, spec)
        if key not in self._agents:
            self._agents[key] = load_agent(spec, skill, self.seed)
        agent = self._agents[key]
        keys = getattr(agent, "observation_keys", ("robot_obs", "scene_obs"))  # state agents and the expert
        image_keys = tuple(k for k in keys if k in IMAGE_KEYS)
        obs = observe(image_keys)
        if "scene_obs" in keys and "scene_obs" not in obs:
            raise ValueError(
                f"{spec} reads the scene state (scene_obs), which this robot does not measure (a real cell "
                "publishes robot_obs only); run a camera-route policy here"
            )
        check_images(obs, obs, image_keys)
        agent.reset(skill, obs)
        return Episode(
            skill=skill,
            agent=agent,
            start={k: v.copy() for k, v in obs.items()},
            classifier=self._classifier(skill, spec, agent),
            image_keys=image_keys,
        )

    def _classifier(self, skill: str, spec: str, agent: Agent) -> Callable[[], float] | None:
        """P(done) from the reward classifier a fine-tuned latent policy was trained against (its
        provenance names it, bound to the world model's weights); None for other policies."""
        if not isinstance(agent, ClosedLoopAgent) or agent.features.tracker is None:
            return None
        key = (skill, spec)
        if key not in self._classifiers:
            recorded = agent.agent.policy.provenance.get("reward")
            model = recorded_world_model(agent.agent.policy)
            if not isinstance(recorded, dict) or not recorded.get("path") or model is None:
                self._classifiers[key] = None
            else:
                classifier, _ = load_reward_classifier(resolve(recorded["path"]), skill, model["weights_sha256"])
                self._classifiers[key] = classifier
        classifier = self._classifiers[key]
        if classifier is None:
            return None

        def done_probability() -> float:
            features = agent.current_features
            if features is None:
                return -1.0
            with torch.no_grad():
                _, logits = classifier(torch.as_tensor(features, dtype=torch.float32)[None])
            return float(torch.softmax(logits, dim=-1)[0, 1])

        return done_probability


def check_images(start: Observation, obs: Observation, keys: tuple[str, ...]) -> None:
    """Camera frames a policy may act on: square RGB, of the size they had when the skill started
    (a camera reconfigured mid-skill would feed the world model another view)."""
    for key in keys:
        shape, first = tuple(obs[key].shape), tuple(start[key].shape)
        if len(shape) != 3 or shape[2] != 3 or shape[0] != shape[1]:
            raise ValueError(f"{key} images must be square RGB, got {shape}")
        if shape != first:
            raise ValueError(f"{key} images changed size from {first[0]}x{first[1]} to {shape[0]}x{shape[1]}")
