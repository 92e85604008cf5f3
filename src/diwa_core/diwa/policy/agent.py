"""A diffusion policy as a diwa.agent.Agent: predict a chunk, execute it, replan.

DiWA executes all `horizon` (4) actions of a predicted chunk open-loop before predicting the next
one from a fresh observation. The agent keeps the last chunk and how long it took to predict, so
the ROS policy node can publish both (RViz markers, diagnostics) without timing anything itself.
"""

from __future__ import annotations

import os
import time
from collections import deque

import numpy as np
import torch

from diwa.agent import Observation
from diwa.policy.checkpoint import load_policy
from diwa.policy.encoder import ObservationEncoder, build_encoder
from diwa.policy.policy import DiffusionPolicy
from diwa.skills import check_skill


class DiffusionAgent:
    def __init__(self, policy: DiffusionPolicy, seed: int = 0, deterministic: bool = True) -> None:
        self.policy = policy
        self.encoder: ObservationEncoder = build_encoder(policy.encoder_spec)
        self.deterministic = deterministic
        # One generator for the agent's lifetime: episodes differ from each other, yet a whole
        # evaluation run is reproducible from its seed.
        self.generator = torch.Generator().manual_seed(seed)
        self._queue: deque[np.ndarray] = deque()
        # The most recent prediction, (horizon, action_dim), and its wall-clock time in ms.
        self.last_chunk: np.ndarray | None = None
        self.last_inference_ms: float | None = None

    @classmethod
    def from_checkpoint(
        cls, path: str | os.PathLike[str], skill: str | None = None, seed: int = 0, deterministic: bool = True
    ) -> DiffusionAgent:
        """Load a policy checkpoint. If `skill` is given it must be the checkpoint's skill:
        UnknownSkillError for a name outside SKILLS, ValueError for a policy of another skill."""
        if skill is not None:
            check_skill(skill)
        policy = load_policy(path)
        if skill is not None and skill != policy.skill:
            raise ValueError(f"checkpoint {path} is a policy for {policy.skill!r}, not {skill!r}")
        return cls(policy, seed=seed, deterministic=deterministic)

    @property
    def skill(self) -> str:
        return self.policy.skill

    def reset(self, skill: str, obs: Observation, seed: int | None = None) -> None:
        check_skill(skill)
        if skill != self.policy.skill:
            raise ValueError(f"this agent runs a policy for {self.policy.skill!r}, not {skill!r}")
        self.encoder.observation_features(obs)
        if seed is not None:
            self.generator = torch.Generator().manual_seed(seed)
        self._queue.clear()
        self.last_chunk = None
        self.last_inference_ms = None

    def act(self, obs: Observation) -> np.ndarray:
        features = self.encoder.observation_features(obs)
        if not self._queue:
            start = time.perf_counter()
            chunk = self.policy.predict_chunk(features, self.generator, deterministic=self.deterministic)[0]
            self.last_inference_ms = (time.perf_counter() - start) * 1000.0
            self.last_chunk = chunk
            self._queue.extend(chunk)
        return self._queue.popleft().copy()
