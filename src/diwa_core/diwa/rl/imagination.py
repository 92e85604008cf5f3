"""The imagination environment: DiWA's batched episodes inside the world model.

Each parallel episode starts from a recorded frame encoded by the world model (the posterior of a
single observation), then every action chunk is stepped through the model's prior, one model step
per action (4 per chunk), each action as the robot would have executed it (action_semantics.py),
and as late as the rollout's `action_delay` says a real-time loop executes it (command_delay.py).
The skill's reward classifier scores only the last latent of the chunk, and a positive verdict ends
the episode as a success; episodes are truncated at 72 primitive steps (18 chunks). Ended episodes
restart at once from new recorded frames, so every call returns B transitions. Nothing here
touches the simulator.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from diwa.action_semantics import CommandedTarget
from diwa.command_delay import CommandDelay, hold_actions
from diwa.data.dataset import Dataset, load_dataset
from diwa.policy.policy import DiffusionPolicy
from diwa.released import resolve
from diwa.rl.config import ImaginationConfig, RolloutConfig
from diwa.rl.guard import ModelErrorGuard
from diwa.rl.ppo import ChunkStep
from diwa.sim.obs_layout import TCP_POS
from diwa.world_model.config import IMAGE_KEYS
from diwa.world_model.model import WorldModel
from diwa.world_model.reward import RewardClassifier
from diwa.world_model.rssm import RSSMState

PolicyReader = Callable[[RSSMState], torch.Tensor]
"""Turns imagined states into the features the policy is conditioned on (see conditioning.py)."""


def start_frames(dataset: Dataset, skill: str, frames_per_start: int) -> np.ndarray:
    """Frame indices where recorded attempts at `skill` begin: the first `frames_per_start` frames
    of each annotation window of the skill (a demonstration dataset annotates whole episodes), or
    of each episode when the dataset has no annotation of the skill."""
    windows = [(a.start, a.end) for a in dataset.annotations if a.task == skill] or list(dataset.episodes)
    if not windows:
        raise ValueError("the start-state dataset has no episodes")
    return np.unique(
        np.concatenate([np.arange(start, min(start + frames_per_start, end + 1)) for start, end in windows])
    )


class StartStates:
    """Recorded observations that imagined episodes start from, kept as tensors for encoding."""

    def __init__(self, observations: dict[str, torch.Tensor]) -> None:
        sizes = {len(v) for v in observations.values()}
        if len(sizes) != 1 or 0 in sizes:
            raise ValueError("start states need the same, positive number of frames for every observation key")
        self.observations = observations

    @classmethod
    def from_dataset(cls, dataset: Dataset, model: WorldModel, frames: np.ndarray) -> StartStates:
        arrays = {}
        for key in model.observation_keys:
            source = dataset.images.get(key) if key in IMAGE_KEYS else getattr(dataset, key)
            if source is None:
                raise ValueError(f"the start-state dataset lacks {key!r}, which this world model reads")
            arrays[key] = np.asarray(source[frames])
        return cls(model.to_tensors(arrays))

    def __len__(self) -> int:
        return len(next(iter(self.observations.values())))

    def robot_obs(self, index: torch.Tensor) -> torch.Tensor:
        """(len(index), 15) proprioception: where the command target starts, what the gripper holds."""
        if "robot_obs" not in self.observations:
            raise ValueError("start states need robot_obs to place the commanded TCP target")
        return self.observations["robot_obs"][index].float()

    def subset(self, keep: torch.Tensor) -> StartStates:
        return StartStates({k: v[keep] for k, v in self.observations.items()})

    def encode(self, model: WorldModel, index: torch.Tensor, generator: torch.Generator) -> RSSMState:
        return model.encode_start({k: v[index] for k, v in self.observations.items()}, generator)


def policy_start_states(
    policy: DiffusionPolicy, model: WorldModel, skill: str, starts: Path | None, config: ImaginationConfig
) -> tuple[Path, str, StartStates]:
    """Where a policy's imagined episodes start: the recorded attempts of `starts`, by default the
    demonstrations the policy was cloned from (refused if they changed since). Returns the dataset's
    path, its content hash and the start states."""
    path = starts or (resolve(policy.provenance["dataset"]) if "dataset" in policy.provenance else None)
    if path is None:
        raise ValueError("the policy does not record its demonstrations; name a dataset of start states with --starts")
    dataset = load_dataset(path)  # with any images: the hash train-policy recorded covers them
    content_hash = dataset.content_hash()
    recorded = policy.provenance.get("dataset_hash")
    if starts is None and recorded is not None and recorded != content_hash:
        raise ValueError(f"{path} changed since the policy was cloned from it (dataset hash differs)")
    frames = start_frames(dataset, skill, config.start_frames)
    return path, content_hash, StartStates.from_dataset(dataset, model, frames)


class ImaginationEnv:
    """B imagined episodes of one skill, stepped a chunk at a time (a ChunkEnv for ppo.py)."""

    def __init__(
        self,
        model: WorldModel,
        reward: RewardClassifier,
        starts: StartStates,
        reader: PolicyReader,
        rollout: RolloutConfig,
        imagination: ImaginationConfig,
        seed: int,
        guard: ModelErrorGuard | None = None,
    ) -> None:
        if reward.feat_dim != model.feat_dim:
            raise ValueError(
                f"the reward classifier reads {reward.feat_dim}-d features, the world model has {model.feat_dim}"
            )
        self.model = model.eval()
        self.reward = reward.eval()
        self.reader = reader
        self.num_envs = rollout.num_envs
        self.max_steps = rollout.max_episode_steps
        self.temperature = imagination.temperature
        self.guard = guard
        self.device = model.device
        self.generator = torch.Generator(device=self.device).manual_seed(seed)
        self.starts, self.starts_dropped = self._without_finished(starts, seed)
        self.state: RSSMState | None = None
        self.target: CommandedTarget | None = None  # set with the start states by reset()
        self.delay: CommandDelay | None = None  # likewise
        self.action_delay = rollout.action_delay
        self.steps = torch.zeros(self.num_envs, dtype=torch.long, device=self.device)
        self.halts = 0

    @torch.no_grad()
    def _without_finished(self, starts: StartStates, seed: int) -> tuple[StartStates, int]:
        """Drop start frames the classifier already calls done: an episode starting there pays
        its reward for any action and teaches nothing."""
        generator = torch.Generator(device=self.device).manual_seed(seed)
        every = torch.arange(len(starts), device=self.device)
        done = self.reward.reward(self.model.features(starts.encode(self.model, every, generator)))
        keep = torch.nonzero(done <= 0).flatten()
        if len(keep) == 0:
            raise ValueError(f"the reward classifier calls all {len(starts)} start frames already done")
        return starts.subset(keep), len(starts) - len(keep)

    def _start(self, count: int) -> tuple[RSSMState, torch.Tensor]:
        """Encoded start frames for `count` new episodes, and their proprioception."""
        index = torch.randint(len(self.starts), (count,), generator=self.generator, device=self.device)
        return self.starts.encode(self.model, index, self.generator), self.starts.robot_obs(index)

    @torch.no_grad()
    def reset(self) -> torch.Tensor:
        self.state, robot_obs = self._start(self.num_envs)
        self.target = CommandedTarget(robot_obs[:, TCP_POS])
        self.delay = CommandDelay(self.action_delay, hold_actions(robot_obs))
        self.steps.zero_()
        return self.reader(self.state)

    @torch.no_grad()
    def step(self, chunks: torch.Tensor) -> ChunkStep:
        if self.state is None or self.target is None or self.delay is None:
            raise RuntimeError("ImaginationEnv.step called before reset")
        if chunks.ndim != 3 or chunks.shape[0] != self.num_envs:
            raise ValueError(f"expected ({self.num_envs}, horizon, 7) chunks, got {tuple(chunks.shape)}")
        # The world model learnt from the actions the robot executed, not from what was asked of it.
        state, disagreement = self._advance(self.state, self.target.effective(self.delay.delay(chunks)))
        self.steps += chunks.shape[1]
        success = self.reward.reward(state.features()) > 0
        reward = success.float()
        halted = torch.zeros_like(success)
        if self.guard is not None:
            halted = disagreement > self.guard.threshold
            success = success & ~halted
            reward = torch.where(halted, self.guard.halt_reward, reward)
            self.halts += int(halted.sum())
        terminated = success | halted
        truncated = ~terminated & (self.steps >= self.max_steps)
        final_features = self.reader(state)
        ended = terminated | truncated
        if ended.any():
            index = torch.nonzero(ended).flatten()
            fresh, robot_obs = self._start(len(index))
            self.target.restart(index, robot_obs[:, TCP_POS])
            self.delay.restart(index, hold_actions(robot_obs))
            state = RSSMState(*(part.index_copy(0, index, new) for part, new in zip(state, fresh, strict=True)))
            self.steps[index] = 0
        self.state = state
        features = self.reader(state) if ended.any() else final_features
        return ChunkStep(
            features=features,
            final_features=final_features,
            reward=reward,
            terminated=terminated,
            truncated=truncated,
            success=success,
            steps=torch.full((self.num_envs,), chunks.shape[1], dtype=torch.long, device=self.device),
        )

    def _advance(self, state: RSSMState, chunks: torch.Tensor) -> tuple[RSSMState, torch.Tensor]:
        """The chunk's prior steps from `state`: (last state, the guard's largest disagreement).

        They run in inference mode, which spares every operation autograd's bookkeeping; the
        results are copied out of it (a few small tensors) so the episode state stays ordinary.
        """
        disagreement = torch.zeros(self.num_envs, device=self.device)
        with torch.inference_mode():
            for t in range(chunks.shape[1]):
                if self.guard is not None:
                    disagreement = torch.maximum(disagreement, self.guard.disagreement(state.features(), chunks[:, t]))
                state = self.model.step(state, chunks[:, t], self.generator, self.temperature)
        return RSSMState(*(part.clone() for part in state)), disagreement.clone()

    def state_dict(self) -> dict[str, Any]:
        """Episodes restart at every iteration, so the random stream is all there is to resume."""
        return {"generator": self.generator.get_state(), "halts": self.halts}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])
        self.halts = int(state["halts"])
