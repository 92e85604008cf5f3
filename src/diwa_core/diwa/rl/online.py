"""The model-free baseline's environment: DPPO stepping real simulator episodes.

B simulator instances are stepped a chunk at a time, in this process or spread over worker
processes (diwa.sim.vector; the result does not depend on how many), through the same ChunkEnv
interface as imagination, so PPO runs unchanged. Episodes start from
seeded feasible start states (a random stream of their own, never the evaluation episodes'), end
on the oracle's success (the remaining actions of the chunk are not executed) and are truncated at
72 steps; actions reach the arm the rollout's `action_delay` periods late. Every simulator step is
counted: that count is the baseline's cost in robot time.

A latent policy sees the world model's posterior filtered along each episode, as LatentTracker
does for one episode; here the B episodes are filtered together, one batched model step per
action, which costs about as much as filtering one.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from diwa.command_delay import CommandDelay, hold_actions
from diwa.policy.encoder import FeatureEncoder, StateEncoder
from diwa.policy.policy import DiffusionPolicy
from diwa.rl.config import RolloutConfig
from diwa.rl.ppo import ChunkStep
from diwa.sim.start_states import sample_start_state
from diwa.skills import SKILLS, check_skill
from diwa.world_model.model import ACTION_DIM, WorldModel
from diwa.world_model.rssm import RSSMState

TRAINING_STREAM = 1
"""Start states come from default_rng([seed, skill, TRAINING_STREAM, 0]); evaluation episodes use
three-element keys (diwa.sim.start_states.skill_seed), so the two streams never coincide."""

Observation = dict[str, np.ndarray]


class EpisodeFeatures:
    """The policy's features of B real episodes: filtered world-model latents or the raw state."""

    def __init__(self, policy: DiffusionPolicy, model: WorldModel | None, num_envs: int, seed: int) -> None:
        kind = policy.encoder_spec.get("kind")
        if kind == FeatureEncoder.kind and model is None:
            raise ValueError("a policy conditioned on world-model features needs its world model to run")
        if kind not in (FeatureEncoder.kind, StateEncoder.kind):
            raise ValueError(f"no simulator features for a policy with encoder {kind!r}")
        self.model = model.eval() if kind == FeatureEncoder.kind and model is not None else None
        if self.model is not None and self.model.feat_dim != policy.feature_dim:
            raise ValueError(f"world model features are {self.model.feat_dim}-d, the policy reads {policy.feature_dim}")
        self.generator = torch.Generator().manual_seed(seed)
        self.features = torch.zeros(num_envs, policy.feature_dim)
        self.state: RSSMState | None = None

    @staticmethod
    def _tensors(model: WorldModel, observations: list[Observation]) -> dict[str, torch.Tensor]:
        stacked = {k: np.stack([o[k] for o in observations]) for k in model.observation_keys}
        return {k: v[:, None] for k, v in model.to_tensors(stacked).items()}

    @torch.no_grad()
    def update(self, index: list[int], observations: list[Observation], actions: np.ndarray | None) -> None:
        """Episodes `index` observed `observations` after `actions` (None: they just started)."""
        if not index:
            return
        rows = torch.tensor(index)
        model = self.model
        if model is None:
            state = StateEncoder()
            self.features[rows] = torch.from_numpy(np.stack([state.observation_features(o) for o in observations]))
            return
        previous = None if actions is None or self.state is None else self.state.index(rows)
        prev_actions = torch.zeros(len(index), 1, ACTION_DIM)
        if actions is not None:
            prev_actions[:, 0] = torch.from_numpy(np.asarray(actions, dtype=np.float32))
        posts, _ = model.observe(self._tensors(model, observations), prev_actions, previous, self.generator)
        post = posts.index((slice(None), 0))
        if self.state is None:
            if len(index) != len(self.features):
                raise RuntimeError("the first update must start every episode")
            self.state = post
        else:
            self.state = RSSMState(*(part.index_copy(0, rows, new) for part, new in zip(self.state, post, strict=True)))
        self.features[rows] = post.features()


class SimulatorChunkEnv:
    """B simulator episodes of one skill, stepped a chunk at a time (a ChunkEnv for ppo.py)."""

    def __init__(
        self,
        skill: str,
        policy: DiffusionPolicy,
        model: WorldModel | None,
        rollout: RolloutConfig,
        seed: int,
        workers: int = 1,
    ) -> None:
        from diwa.sim.config import SimConfig
        from diwa.sim.vector import VectorSimulators  # pybullet only where the simulator is used

        self.skill = check_skill(skill)
        self.num_envs = rollout.num_envs
        self.max_steps = rollout.max_episode_steps
        self.features = EpisodeFeatures(policy, model, self.num_envs, seed)
        reads = () if self.features.model is None else self.features.model.observation_keys
        self.simulators = VectorSimulators(self.skill, self.num_envs, workers, SimConfig.rendering(reads))
        self.rng = np.random.default_rng([seed, SKILLS.index(skill), TRAINING_STREAM, 0])
        self.steps = np.zeros(self.num_envs, dtype=np.int64)
        self.delay = CommandDelay(rollout.action_delay, torch.zeros(self.num_envs, 7, dtype=torch.float64))

    def _start(self, index: list[int]) -> None:
        if not index:
            return
        starts = [(i, *sample_start_state(self.skill, self.rng)) for i in index]
        self.steps[index] = 0
        observations = self.simulators.start(starts)
        robot_obs = torch.from_numpy(np.stack([o["robot_obs"] for o in observations]).astype(np.float64))
        self.delay.restart(torch.tensor(index), hold_actions(robot_obs))
        self.features.update(index, observations, None)

    def reset(self) -> torch.Tensor:
        self._start(list(range(self.num_envs)))
        return self.features.features.clone()

    def step(self, chunks: torch.Tensor) -> ChunkStep:
        if chunks.ndim != 3 or chunks.shape[0] != self.num_envs:
            raise ValueError(f"expected ({self.num_envs}, horizon, 7) chunks, got {tuple(chunks.shape)}")
        actions = self.delay.delay(chunks.double()).numpy()  # what the arm executes in these steps
        results = self.simulators.run_chunks(actions, self.max_steps - self.steps)
        success = np.array([succeeded for _, succeeded in results], bool)
        executed = np.array([len(observations) for observations, _ in results], np.int64)
        for j in range(actions.shape[1]):  # the latent filter follows every episode action by action
            active = [i for i in range(self.num_envs) if executed[i] > j]
            self.features.update(active, [results[i][0][j] for i in active], actions[active, j])
        final = self.features.features.clone()
        self.steps += executed
        truncated = ~success & (self.steps >= self.max_steps)
        ended = success | truncated
        self._start([i for i in range(self.num_envs) if ended[i]])
        return ChunkStep(
            features=self.features.features.clone(),
            final_features=final,
            reward=torch.from_numpy(success.astype(np.float32)),
            terminated=torch.from_numpy(success),
            truncated=torch.from_numpy(truncated),
            success=torch.from_numpy(success),
            steps=torch.from_numpy(executed),
        )

    def state_dict(self) -> dict[str, Any]:
        """Episodes restart at every iteration: the random streams are all there is to resume."""
        return {"rng": self.rng.bit_generator.state, "latent": self.features.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rng.bit_generator.state = state["rng"]
        self.features.generator.set_state(state["latent"])

    def close(self) -> None:
        self.simulators.close()
