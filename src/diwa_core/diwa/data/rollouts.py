"""Recorded rollouts of a policy: a policy's own attempts as world-model training data.

Play shows a skill's motion done right and a few centimetres off, but not the ways a behaviour-cloned
policy actually fails (its fingers sliding down in front of a drawer handle, say), and a world model
trained on play alone imagines those failures as successes. Users evaluate their BC policy on the
robot before fine-tuning anyway; recording those evaluation episodes gives the world model the
policy's own mistakes. Every recorded frame is a simulator (robot) step and must be counted as such.

Each episode starts from sample_start_state seeded by (seed, skill, index), like the evaluation
harness, and runs `steps` actions: it is not cut at success, so every episode yields full
training windows (only a block knocked off the table ends it early), and the oracle labels (the
same annotator as play's) mark where a task completed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any

from tqdm import tqdm

from diwa.agent import Agent
from diwa.data.annotate import annotate_windows
from diwa.data.dataset import Dataset
from diwa.data.recorder import EpisodeRecorder
from diwa.sim.env import PlayTableEnv
from diwa.sim.scene_bounds import blocks_off_table, first_violation
from diwa.sim.start_states import sample_start_state, skill_seed
from diwa.skills import check_skill


def collect_rollouts(
    env: PlayTableEnv,
    make_agent: Callable[[str], Agent],
    skills: Sequence[str],
    episodes: int,
    seed: int,
    steps: int,
    recorder: EpisodeRecorder,
    provenance: dict[str, Any] | None = None,
    progress: bool = True,
) -> Dataset:
    """Record `episodes` rollouts of `steps` actions for each skill, with a fresh agent per skill.

    `provenance` (which policy, for example) is stored in the dataset beside the collection settings
    and the number of successful episodes per skill.
    """
    for skill in skills:
        check_skill(skill)
    if not skills or episodes < 1 or steps < 1:
        raise ValueError(f"need at least one skill, episodes >= 1 and steps >= 1, got {skills}, {episodes}, {steps}")
    successes: dict[str, int] = {}
    with tqdm(total=len(skills) * episodes, desc="rollouts", unit="ep", disable=not progress) as bar:
        for skill in skills:
            agent = make_agent(skill)
            successes[skill] = 0
            for index in range(episodes):
                robot_obs, scene_obs = sample_start_state(skill, skill_seed(seed, skill, index))
                obs, _ = env.reset(options={"robot_obs": robot_obs, "scene_obs": scene_obs})
                agent.reset(skill, obs)
                succeeded = False
                for _ in range(steps):
                    obs, info = recorder.step(env, obs, agent.act(obs))
                    succeeded = succeeded or skill in info["completed_tasks"]
                    # The episode ends where a block left the table, as in play, and before a state
                    # a contact pushed past a physical bound (that state is not recorded).
                    if blocks_off_table(obs["scene_obs"]) or first_violation(obs["robot_obs"], obs["scene_obs"]):
                        break
                recorder.end_episode()
                successes[skill] += succeeded
                bar.update(1)
    annotations = annotate_windows(
        recorder.robot_obs[: recorder.size], recorder.scene_obs[: recorder.size], recorder.episodes
    )
    record = {
        "source": "policy_rollouts",
        **(provenance or {}),
        "skills": list(skills),
        "episodes_per_skill": episodes,
        "steps_per_episode": steps,
        "seed": seed,
        "successes": successes,
        "sim": asdict(env.config),
    }
    return recorder.dataset(annotations, record)
