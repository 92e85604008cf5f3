"""Demonstrations of one skill by the scripted expert, kept only when the oracle confirms success.

Each attempt starts from sample_start_state seeded by (seed, skill, attempt index), so a demo set
is reproducible and its start states are those evaluation draws from, never the same ones (the
evaluation harness uses its own seed).
"""

from __future__ import annotations

from dataclasses import asdict

from tqdm import tqdm

from diwa.data.dataset import Annotation, Dataset
from diwa.data.recorder import EpisodeRecorder
from diwa.sim.env import PlayTableEnv
from diwa.sim.expert import ScriptedExpert
from diwa.sim.scene_bounds import blocks_off_table, first_violation
from diwa.sim.start_states import sample_start_state, skill_seed
from diwa.skills import EPISODE_STEP_LIMIT, check_skill


def collect_demos(
    env: PlayTableEnv,
    skill: str,
    episodes: int,
    seed: int,
    noise_std: float,
    recorder: EpisodeRecorder,
    max_steps: int = EPISODE_STEP_LIMIT,
    max_attempts: int | None = None,
    progress: bool = True,
) -> Dataset:
    """Record `episodes` successful demonstrations of `skill`, each annotated (start, end, skill).

    The last frame of a demonstration is the first state in which the oracle reports success (with
    the expert's next action), so labels from the oracle and the annotation agree.
    """
    check_skill(skill)
    if episodes < 1 or max_steps < 1:
        raise ValueError(f"need episodes >= 1 and max_steps >= 1, got {episodes} and {max_steps}")
    max_attempts = max_attempts if max_attempts is not None else 3 * episodes
    expert = ScriptedExpert(noise_std=noise_std, seed=seed)
    annotations: list[Annotation] = []
    attempts = 0
    with tqdm(total=episodes, desc=f"demos {skill}", unit="demo", disable=not progress) as bar:
        while len(annotations) < episodes:
            if attempts >= max_attempts:
                raise RuntimeError(
                    f"only {len(annotations)} of {episodes} {skill} demonstrations succeeded in {attempts} attempts"
                )
            robot_obs, scene_obs = sample_start_state(skill, skill_seed(seed, skill, attempts))
            attempts += 1
            obs, _ = env.reset(options={"robot_obs": robot_obs, "scene_obs": scene_obs})
            expert.reset(skill, obs)
            success = False
            for _ in range(max_steps):
                obs, info = recorder.step(env, obs, expert.act(obs))
                # A demonstration that knocks a block off the table, or that a contact pushes past a
                # physical bound (a finger or joint past its stop), is a failed one.
                if blocks_off_table(obs["scene_obs"]) or first_violation(obs["robot_obs"], obs["scene_obs"]):
                    break
                if skill in info["completed_tasks"]:
                    success = True
                    break
            if success:
                recorder.step(env, obs, expert.act(obs))
                annotations.append(Annotation(recorder.episode_start, recorder.size - 1, skill))
                recorder.end_episode()
                bar.update(1)
            else:
                recorder.discard_episode()
    provenance = {
        "source": "scripted_demos",
        "skill": skill,
        "seed": seed,
        "noise_std": noise_std,
        "max_steps": max_steps,
        "attempts": attempts,
        "sim": asdict(env.config),
    }
    return recorder.dataset(annotations, provenance)
