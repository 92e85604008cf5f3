"""The evaluation harness: run an agent on seeded start states and count oracle successes.

Start states come from sample_start_state seeded by (seed, skill, episode index), so two policies
evaluated with the same seed face identical episodes and their success rates can be compared
pairwise. An episode succeeds when the oracle reports the skill within the step limit, and ends
there. This function is the single judge used by the CLI, by fine-tuning and by the ROS nodes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import gymnasium
import numpy as np
from tqdm import tqdm

from diwa.agent import Agent
from diwa.eval.stats import wilson_interval
from diwa.sim.start_states import sample_start_state, skill_seed
from diwa.skills import EPISODE_STEP_LIMIT, SKILLS, check_skill

DEFAULT_MAX_STEPS = EPISODE_STEP_LIMIT


def episode_noise_seed(seed: int, skill: str, episode: int) -> int:
    """The agent's noise seed for one episode: its own, so that an outcome flipped by a float's last
    bit (another thread count, a reloaded copy of the weights) does not reshuffle every later
    episode, and the same for every policy evaluated on that episode (docs/results/seed_sets)."""
    return int(np.random.default_rng([seed, SKILLS.index(check_skill(skill)), episode, 1]).integers(2**63))


@dataclass(frozen=True)
class EpisodeResult:
    index: int
    success: bool
    steps: int  # actions taken: up to and including the successful one, else the step limit


@dataclass
class SkillReport:
    skill: str
    seed: int
    max_steps: int
    results: list[EpisodeResult]
    videos: dict[int, list[np.ndarray]] = field(default_factory=dict, repr=False)

    @property
    def episodes(self) -> int:
        return len(self.results)

    @property
    def successes(self) -> int:
        return sum(r.success for r in self.results)

    @property
    def success_rate(self) -> float:
        return self.successes / self.episodes

    @property
    def interval(self) -> tuple[float, float]:
        return wilson_interval(self.successes, self.episodes)

    def to_dict(self) -> dict[str, Any]:
        low, high = self.interval
        steps = [r.steps for r in self.results if r.success]
        return {
            "skill": self.skill,
            "episodes": self.episodes,
            "successes": self.successes,
            "success_rate": self.success_rate,
            "ci95_low": low,
            "ci95_high": high,
            "mean_steps_to_success": float(np.mean(steps)) if steps else None,
            "seed": self.seed,
            "max_steps": self.max_steps,
        }


def simulator_for(agent: Agent) -> gymnasium.Env:
    """A simulator rendering what `agent` reads (SimConfig.rendering)."""
    from diwa.sim.config import SimConfig
    from diwa.sim.make import make_env

    return make_env(SimConfig.rendering(getattr(agent, "observation_keys", ())))


def evaluate(
    agent: Agent,
    skill: str,
    episodes: int,
    seed: int,
    max_steps: int = DEFAULT_MAX_STEPS,
    env: gymnasium.Env | None = None,
    video_episodes: int = 0,
    progress: bool = True,
) -> SkillReport:
    """Success of `agent` on `skill` over `episodes` seeded episodes of at most `max_steps` steps.

    env: a simulator from make_env (when None, simulator_for(agent) makes one and closes it after).
    video_episodes: keep static-camera frames of the first K episodes in report.videos.
    """
    check_skill(skill)
    if episodes < 1 or max_steps < 1:
        raise ValueError(f"need episodes >= 1 and max_steps >= 1, got {episodes} and {max_steps}")
    own_env = env is None
    if env is None:
        env = simulator_for(agent)
    report = SkillReport(skill=skill, seed=seed, max_steps=max_steps, results=[])
    try:
        for index in tqdm(range(episodes), desc=f"eval {skill}", unit="ep", disable=not progress):
            robot_obs, scene_obs = sample_start_state(skill, skill_seed(seed, skill, index))
            obs, _ = env.reset(options={"robot_obs": robot_obs, "scene_obs": scene_obs})
            agent.reset(skill, obs, episode_noise_seed(seed, skill, index))
            frames = [env.render()] if index < video_episodes else None
            success, steps = False, max_steps
            for step in range(1, max_steps + 1):
                obs, _, _, _, info = env.step(agent.act(obs))
                if frames is not None:
                    frames.append(env.render())
                if skill in info["completed_tasks"]:
                    success, steps = True, step
                    break
            report.results.append(EpisodeResult(index, success, steps))
            if frames is not None:
                report.videos[index] = frames
    finally:
        if own_env:
            env.close()
    return report


def evaluate_skills(
    make_agent: Callable[[str], Agent],
    skills: Sequence[str],
    episodes: int,
    seed: int,
    max_steps: int = DEFAULT_MAX_STEPS,
    video_episodes: int = 0,
    progress: bool = True,
) -> list[SkillReport]:
    """evaluate() for each skill, with a fresh agent and a fresh simulator per skill, so a skill's
    result is the same whether or not other skills are evaluated in the same run."""
    return [
        evaluate(make_agent(skill), skill, episodes, seed, max_steps, None, video_episodes, progress)
        for skill in skills
    ]


def summary(reports: Sequence[SkillReport]) -> dict[str, Any]:
    """The JSON object for one skill, or for several: {"skills": [...], "mean_success_rate": ...}."""
    if len(reports) == 1:
        return reports[0].to_dict()
    return {
        "skills": [r.to_dict() for r in reports],
        "mean_success_rate": float(np.mean([r.success_rate for r in reports])),
        "episodes": sum(r.episodes for r in reports),
        "successes": sum(r.successes for r in reports),
    }
