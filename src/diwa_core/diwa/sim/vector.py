"""Many simulator episodes stepped a chunk at a time, in this process or spread over worker processes.

gymnasium's vector environments run one sub-environment per worker; here each sub-environment is
a `SimulatorGroup` of several simulators, so N workers step B episodes (B >= N) with N processes,
not B. A worker runs its episodes' whole action chunks and sends back every observation, so one
round trip per chunk, and the caller sees exactly what stepping the simulators itself would show:
the same simulators, the same actions, in the same order. The result does not depend on N.
"""

from __future__ import annotations

import functools
from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces
from gymnasium.vector import AsyncVectorEnv, SyncVectorEnv

from diwa.sim.config import SimConfig

Observation = dict[str, np.ndarray]


class SimulatorGroup(gymnasium.Env):
    """Several simulators of one skill's episodes, driven through `start` and `run_chunks` (the
    vector environment's `call`); gymnasium's own reset/step are not used."""

    observation_space = spaces.Discrete(1)  # unused: results come back through `call`
    action_space = spaces.Discrete(1)

    def __init__(self, skill: str, count: int, config: SimConfig) -> None:
        from diwa.sim.make import make_env  # pybullet is imported in the worker

        self.skill = skill
        self.envs = [make_env(config) for _ in range(count)]
        self.pending: Any = None

    def start(self) -> list[Observation]:
        """Reset the simulators named in `pending` = [(index, robot_obs, scene_obs), ...]."""
        observations = []
        for i, robot_obs, scene_obs in self.pending:
            obs, _ = self.envs[i].reset(options={"robot_obs": robot_obs, "scene_obs": scene_obs})
            observations.append(obs)
        return observations

    def run_chunks(self) -> list[tuple[list[Observation], bool]]:
        """Execute `pending` = (chunks (k, H, 7), budgets (k,)): each simulator runs its chunk until
        the skill succeeds or its step budget is spent. Per simulator: its observations after
        each executed action, and whether it succeeded."""
        chunks, budgets = self.pending
        results = []
        for env, chunk, budget in zip(self.envs, chunks, budgets, strict=True):
            observations: list[Observation] = []
            success = False
            for action in chunk[: max(int(budget), 0)]:
                obs, _, _, _, info = env.step(action)
                observations.append(obs)
                success = self.skill in info["completed_tasks"]
                if success:
                    break
            results.append((observations, success))
        return results

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[int, dict]:
        return 0, {}

    def step(self, action: Any) -> tuple[int, float, bool, bool, dict]:
        raise NotImplementedError("a SimulatorGroup is driven through start and run_chunks")

    def close(self) -> None:
        for env in self.envs:
            env.close()


class VectorSimulators:
    """`count` simulators of `skill` in `workers` processes (1: in this process), rendering
    what `config` says (SimConfig.rendering: the cameras a reader needs)."""

    def __init__(self, skill: str, count: int, workers: int = 1, config: SimConfig | None = None) -> None:
        config = config or SimConfig()
        if workers < 1 or count < 1:
            raise ValueError(f"simulators and workers must be positive, got {count} and {workers}")
        workers = min(workers, count)
        sizes = [len(part) for part in np.array_split(np.arange(count), workers)]
        self.groups = [(sum(sizes[:g]), size) for g, size in enumerate(sizes)]  # (first simulator, count)
        makers = [functools.partial(SimulatorGroup, skill, size, config) for size in sizes]
        if workers == 1:
            self.vector: gymnasium.vector.VectorEnv = SyncVectorEnv(makers)
        else:  # spawn: torch threads in this process must not be forked
            self.vector = AsyncVectorEnv(makers, shared_memory=False, context="spawn")

    def _per_group(self, values: list[Any]) -> list[Any]:
        return [values[first : first + size] for first, size in self.groups]

    def start(self, starts: list[tuple[int, np.ndarray, np.ndarray]]) -> list[Observation]:
        """Reset simulators [(index, robot_obs, scene_obs), ...]; their first observations, in order."""
        pending: list[list[tuple[int, np.ndarray, np.ndarray]]] = [[] for _ in self.groups]
        order = []
        for index, robot_obs, scene_obs in starts:
            group = next(g for g, (first, size) in enumerate(self.groups) if first <= index < first + size)
            pending[group].append((index - self.groups[group][0], robot_obs, scene_obs))
            order.append((group, len(pending[group]) - 1))
        self.vector.set_attr("pending", pending)
        observations = self.vector.call("start")
        return [observations[g][k] for g, k in order]

    def run_chunks(self, chunks: np.ndarray, budgets: np.ndarray) -> list[tuple[list[Observation], bool]]:
        """Every simulator runs its chunk (see SimulatorGroup.run_chunks); results in simulator order."""
        self.vector.set_attr(
            "pending", list(zip(self._per_group(list(chunks)), self._per_group(list(budgets)), strict=True))
        )
        return [result for group in self.vector.call("run_chunks") for result in group]

    def close(self) -> None:
        self.vector.close()
