"""Imagination fidelity (`diwa eval-fidelity`): does imagination agree with the simulator about which
episodes succeed?

Fine-tuning in imagination can only improve a skill if the world model and the reward classifier
tell a successful attempt from a failed one. This measures exactly that, per skill: an agent (the
scripted expert or a policy) runs closed-loop in the simulator from the evaluation harness's seeded
start states for the full step limit; its actions are then replayed open-loop in the world model
from the encoded first observation, and the classifier judges the last latent of every chunk as
the imagination environment does. The classifier also judges the same chunk ends filtered from the
episode's real observations (the posterior, as on the robot): where the filtered verdict is right
and the imagined one wrong, the dynamics are at fault, where both are wrong, the classifier is. The
simulator oracle's verdict (success at any step) is compared with the imagined one (success at any
chunk end). Imagination samples the prior, so each episode is imagined several times and agreement
is averaged over episodes x samples; the confusion table counts every sample. A good world model
agrees on an agent's failures as well as its successes, which is why a policy that often fails
(behaviour cloning) is the harder test.

`--replay-noise STD [STD ...]` also replays each episode's actions open-loop in the simulator
itself, with Gaussian noise of each STD (action units) on their motion components: how often the
simulator then agrees with its own closed-loop verdict is the most an open-loop imagination that
imprecise can reach, which tells a world model's error apart from outcomes that hang on a
millimetre.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from diwa.action_semantics import CommandedTarget
from diwa.agent import Agent
from diwa.eval.harness import DEFAULT_MAX_STEPS
from diwa.sim.obs_layout import TCP_POS
from diwa.sim.start_states import sample_start_state, skill_seed
from diwa.skills import CHUNK_STEPS
from diwa.world_model.model import WorldModel
from diwa.world_model.reward import RewardClassifier

TARGET_AGREEMENT = 0.9


@dataclass(frozen=True)
class FidelityEpisode:
    index: int
    real_success: bool
    real_step: int | None  # first step at which the oracle reported the skill
    imagined_success: list[bool]  # one verdict per imagined sample
    imagined_step: list[int | None]  # first chunk-end step judged a success, per sample
    filtered_step: int | None  # the same from the posterior of the real observations
    # Noisy open-loop replays in the simulator: verdicts per noise level (its str), one per sample.
    replayed_success: dict[str, list[bool]] = field(default_factory=dict)


@dataclass
class SkillFidelity:
    skill: str
    agent: str
    episodes: list[FidelityEpisode]

    def summary(self) -> dict[str, Any]:
        real = np.array([e.real_success for e in self.episodes])
        imagined = np.array([e.imagined_success for e in self.episodes])  # (episodes, samples)
        agree = imagined == real[:, None]
        table = [[int(((imagined == i) & (real[:, None] == r)).sum()) for i in (False, True)] for r in (False, True)]
        summary = {
            "skill": self.skill,
            "agent": self.agent,
            "episodes": len(self.episodes),
            "samples_per_episode": int(imagined.shape[1]),
            "real_success_rate": float(real.mean()),
            "imagined_success_rate": float(imagined.mean()),
            "agreement": float(agree.mean()),
            "agreement_first_sample": float(agree[:, 0].mean()),
            "false_imagined_success": table[0][1],
            "missed_real_success": table[1][0],
            "table_real_x_imagined": table,
            "meets_target": bool(agree.mean() >= TARGET_AGREEMENT),
        }
        filtered = np.array([e.filtered_step is not None for e in self.episodes])
        summary["filtered_success_rate"] = float(filtered.mean())
        summary["filtered_agreement"] = float((filtered == real).mean())
        summary["false_filtered_success"] = int((filtered & ~real).sum())
        levels = self.episodes[0].replayed_success if self.episodes else {}
        if levels:
            summary["simulator_replay_agreement"] = {
                level: float(np.mean([r == e.real_success for e in self.episodes for r in e.replayed_success[level]]))
                for level in levels
            }
        return summary


def run_in_simulator(
    env: Any, agent: Agent, skill: str, robot: np.ndarray, scene: np.ndarray, max_steps: int
) -> tuple[dict[str, np.ndarray], np.ndarray, int | None]:
    """Run `agent` for `max_steps` steps (not stopping at success, as imagination replays them all).
    Returns the observations (max_steps + 1 per key, the first one first), the (max_steps, 7)
    actions and the first successful step."""
    obs, _ = env.reset(options={"robot_obs": robot, "scene_obs": scene})
    observations = {k: [np.array(v)] for k, v in obs.items()}
    agent.reset(skill, obs)
    actions, success_step = [], None
    for step in range(1, max_steps + 1):
        action = np.asarray(agent.act(obs), dtype=np.float32)
        actions.append(action)
        obs, _, _, _, info = env.step(action)
        for key, value in obs.items():
            observations[key].append(np.array(value))
        if success_step is None and skill in info["completed_tasks"]:
            success_step = step
    return {k: np.stack(v) for k, v in observations.items()}, np.stack(actions), success_step


def replay_in_simulator(
    env: Any,
    skill: str,
    robot: np.ndarray,
    scene: np.ndarray,
    actions: np.ndarray,
    noise_std: float,
    rng: np.random.Generator,
) -> bool:
    """Replay recorded `actions` open-loop from the start state, with Gaussian noise of `noise_std`
    (action units: 0.05 is 1 mm of TCP target per step) on the six motion components; True if the
    oracle reports `skill` at any step. The gripper command is replayed as recorded."""
    env.reset(options={"robot_obs": robot, "scene_obs": scene})
    noisy = np.array(actions, dtype=np.float64)
    noisy[:, :6] += noise_std * rng.normal(size=(len(noisy), 6))
    for action in np.clip(noisy, -1.0, 1.0).astype(np.float32):
        *_, info = env.step(action)
        if skill in info["completed_tasks"]:
            return True
    return False


@torch.no_grad()
def imagine_verdicts(
    model: WorldModel,
    classifier: RewardClassifier,
    first: dict[str, np.ndarray],
    actions: np.ndarray,
    samples: int,
    generator: torch.Generator,
    temperature: float = 1.0,
) -> list[int | None]:
    """Replay `actions` from the encoded first observation `samples` times, as the simulator would
    have executed them (CommandedTarget); per sample, the first chunk-end step the classifier judges
    a success (None if it never does). `temperature` is the prior's sampling temperature, as in
    fine-tuning's imagination config."""
    start = model.encode_start(
        {k: np.repeat(first[k][None], samples, axis=0) for k in model.observation_keys}, generator
    )
    chunks = -(-len(actions) // CHUNK_STEPS)
    padded = np.concatenate([actions, np.repeat(actions[-1:], chunks * CHUNK_STEPS - len(actions), axis=0)])
    raw = torch.from_numpy(padded).to(model.device)[None].expand(samples, -1, -1)
    tcp = torch.as_tensor(first["robot_obs"][TCP_POS], dtype=torch.float32, device=model.device)
    sequence = CommandedTarget(tcp[None].expand(samples, -1).clone()).effective(raw)
    states = model.imagine(start, sequence, generator, temperature)
    chunk_ends = states.features()[:, CHUNK_STEPS - 1 :: CHUNK_STEPS]
    done = (classifier.reward(chunk_ends) > 0).cpu().numpy()  # (samples, chunks)
    return [int(np.argmax(row)) * CHUNK_STEPS + CHUNK_STEPS if row.any() else None for row in done]


def filtered_verdict(
    model: WorldModel,
    classifier: RewardClassifier,
    observations: dict[str, np.ndarray],
    actions: np.ndarray,
    generator: torch.Generator,
) -> int | None:
    """The first chunk-end step whose posterior, filtered from the real `observations` (T + 1 per
    key) after the executed `actions` (T), the classifier judges a success; None if none is."""
    tcp = torch.as_tensor(observations["robot_obs"][0][TCP_POS], dtype=torch.float32, device=model.device)
    executed = CommandedTarget(tcp[None].clone()).effective(torch.from_numpy(actions).to(model.device)[None])
    prev_actions = torch.cat([torch.zeros_like(executed[:, :1]), executed], dim=1)
    sequence = {k: v[None] for k, v in model.to_tensors(observations).items()}
    posts, _ = model.observe(sequence, prev_actions, None, generator)
    chunk_ends = posts.features()[:, CHUNK_STEPS::CHUNK_STEPS]  # the state after each whole chunk
    done = (classifier.reward(chunk_ends) > 0).cpu().numpy()[0]
    return int(np.argmax(done)) * CHUNK_STEPS + CHUNK_STEPS if done.any() else None


def measure_skill(
    model: WorldModel,
    classifier: RewardClassifier,
    agent: Agent,
    agent_name: str,
    skill: str,
    episodes: int,
    seed: int,
    samples: int,
    max_steps: int = DEFAULT_MAX_STEPS,
    progress: bool = True,
    temperature: float = 1.0,
    replay_noise: tuple[float, ...] = (),
) -> SkillFidelity:
    """Fidelity of one skill over `episodes` harness start states (seeded like `diwa eval`); each
    episode is also replayed `samples` times in the simulator at each noise level in
    `replay_noise` (see replay_in_simulator)."""
    from diwa.sim.config import SimConfig
    from diwa.sim.make import make_env

    env = make_env(SimConfig.rendering(model.observation_keys))  # as evaluation renders them
    generator = torch.Generator(device=model.device).manual_seed(seed)
    result = SkillFidelity(skill, agent_name, [])
    try:
        for index in tqdm(range(episodes), desc=f"fidelity {skill}", unit="ep", disable=not progress):
            robot, scene = sample_start_state(skill, skill_seed(seed, skill, index))
            observations, actions, real_step = run_in_simulator(env, agent, skill, robot, scene, max_steps)
            first = {k: v[0] for k, v in observations.items()}
            imagined = imagine_verdicts(model, classifier, first, actions, samples, generator, temperature)
            filtered = filtered_verdict(model, classifier, observations, actions, generator)
            rng = np.random.default_rng(skill_seed(seed, skill, index))
            replayed = {
                str(noise): [replay_in_simulator(env, skill, robot, scene, actions, noise, rng) for _ in range(samples)]
                for noise in replay_noise
            }
            result.episodes.append(
                FidelityEpisode(
                    index,
                    real_step is not None,
                    real_step,
                    [s is not None for s in imagined],
                    imagined,
                    filtered,
                    replayed,
                )
            )
    finally:
        env.close()
    return result
