"""Scripted play: a stand-in for CALVIN's teleoperated play data.

A teleoperator in CALVIN's data collection does not perform clean episodes: they try tasks in any
order, sometimes give up half-way, pause, and move about. The generator imitates this by chaining
activities drawn at random: a skill attempt by the scripted expert (usually one whose start
condition holds, sometimes any), an attempt aborted part-way, a near miss (the skill's motion a few
centimetres beside its target), idling, and free motion to a random pose. Recording is continuous;
the scene is re-randomised every `episode_frames` frames. Tasks are labelled afterwards by the
oracle over windows of at most 64 frames, as in CALVIN. A block knocked off the table ends the
episode there, and the operator puts it back on the table before play goes on.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import asdict, dataclass

import numpy as np
from tqdm import tqdm

from diwa.agent import Observation
from diwa.data.annotate import annotate_windows
from diwa.data.dataset import Dataset
from diwa.data.recorder import EpisodeRecorder
from diwa.sim.env import PlayTableEnv
from diwa.sim.expert import DEFAULT_NOISE, HOME_EULER, OPEN, ScriptedExpert, Waypoint, WaypointFollower
from diwa.sim.obs_layout import GRIPPER_ACTION
from diwa.sim.scene_bounds import blocks_off_table, first_violation
from diwa.sim.start_states import achievable_skills, replace_blocks
from diwa.skills import SKILLS

SKILL_OBJECT = {
    "open_drawer": "drawer",
    "close_drawer": "drawer",
    "move_slider_left": "slider",
    "move_slider_right": "slider",
    "turn_on_lightbulb": "switch",
    "turn_off_lightbulb": "switch",
    "turn_on_led": "button",
    "turn_off_led": "button",
}


@dataclass(frozen=True)
class PlayConfig:
    """Mix of play activities. Probabilities are per activity; the rest are skill attempts."""

    frames: int
    seed: int = 0
    # 250 frames per scene layout: a world model trained on fewer, longer layouts does not generalise
    # to new layouts (held-out loss 45 vs 0.16 with 1000-frame episodes on 50k frames).
    episode_frames: int = 250
    noise_std: float = DEFAULT_NOISE
    idle_prob: float = 0.1
    free_motion_prob: float = 0.2
    abort_prob: float = 0.15
    off_script_prob: float = 0.1
    # Near misses show a skill's motion without its effect (the oracle labels whatever the physics
    # made of them), so the world model can learn that a motion beside a handle opens nothing. Measured
    # (docs/results/fidelity_quick_wm50k_nearmiss): 1.5-5 cm misses in 20-60 % of attempts left the
    # imagination/simulator agreement on a BC policy's episodes at 0.41-0.77; 3-9 cm misses in 30 %
    # raised it on 7 of 8 skills (mean 0.62 -> 0.71) but lowered the expert's (0.97-1.0 -> 0.89-0.99)
    # and the scene's 18-step prediction. Neither reaches 0.9 for BC, so they are off by default.
    near_miss_prob: float = 0.0
    near_miss_m: tuple[float, float] = (0.015, 0.05)
    # The box free motions aim for (TCP position, metres): by default above the table and in front of
    # the cabinet. A world model knows nothing of the rest of the workspace, and a policy fine-tuned in
    # imagination that strays there meets an imagination free to invent: a box over the whole workspace,
    # (-0.45, -0.45, 0.30)..(0.40, 0.05, 0.66), gave the best fine-tuning results so far, but worse
    # open-loop fidelity (docs/results/fidelity_quick_wm50k_wideplay), so it is not the default yet.
    # It also reaches past the Franka safety box (x >= -0.40, z >= 0.32 in diwa_bringup/config/
    # safety.yaml): play driven through ROS would need it clipped to that box first.
    free_motion_low: tuple[float, float, float] = (-0.25, -0.32, 0.48)
    free_motion_high: tuple[float, float, float] = (0.30, -0.05, 0.66)
    max_attempt_steps: int = 90

    def __post_init__(self) -> None:
        if self.frames < 1 or self.episode_frames < 2:
            raise ValueError(f"need frames >= 1 and episode_frames >= 2, got {self.frames}, {self.episode_frames}")
        for name in ("idle_prob", "free_motion_prob", "abort_prob", "off_script_prob", "near_miss_prob"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be a probability, got {getattr(self, name)}")
        if self.idle_prob + self.free_motion_prob > 1.0:
            raise ValueError("idle_prob + free_motion_prob must not exceed 1")
        low, high = self.near_miss_m
        if not 0.0 <= low <= high:
            raise ValueError(f"near_miss_m must be (low, high) with 0 <= low <= high, got {self.near_miss_m}")
        box = np.array([self.free_motion_low, self.free_motion_high], dtype=float)
        if box.shape != (2, 3) or not np.isfinite(box).all() or not (box[0] < box[1]).all():
            raise ValueError(
                f"the free-motion box needs 3-d low < high, got {self.free_motion_low} and {self.free_motion_high}"
            )


class PlayAgent:
    """Chooses play activities and their actions from observations alone.

    It is what a teleoperator does, minus the recording: the offline generator below steps a
    simulator with it, and the ROS scripted-play node drives the mock robot with it over topics.
    Each activity is a generator that receives the latest observation and yields actions.
    """

    def __init__(self, config: PlayConfig) -> None:
        self.config = config
        self.rng = np.random.default_rng([config.seed, 1])
        self.expert = ScriptedExpert(config.noise_std, seed=config.seed)
        self.wanderer = WaypointFollower(config.noise_std, np.random.default_rng([config.seed, 2]))
        self.attempts: dict[str, int] = dict.fromkeys(SKILLS, 0)
        self._activity: Generator[np.ndarray, Observation, None] | None = None

    def act(self, obs: Observation) -> np.ndarray:
        """The next action; starts a new activity when the current one is over."""
        while True:
            if self._activity is None:
                self._activity = self._choose(obs)
                action = next(self._activity, None)
            else:
                action = self._send(obs)
            if action is not None:
                return action
            self._activity = None

    def interrupt(self) -> None:
        """Drop the current activity (the scene was reset under it)."""
        self._activity = None

    def _send(self, obs: Observation) -> np.ndarray | None:
        try:
            return self._activity.send(obs)
        except StopIteration:
            return None

    def _choose(self, obs: Observation) -> Generator[np.ndarray, Observation, None]:
        draw = self.rng.random()
        if draw < self.config.idle_prob:
            return self._idle(int(self.rng.integers(5, 26)), obs)
        if draw < self.config.idle_prob + self.config.free_motion_prob:
            return self._free_motion(obs)
        return self._attempt(obs)

    def _idle(self, steps: int, obs: Observation) -> Generator[np.ndarray, Observation, None]:
        gripper = float(obs["robot_obs"][GRIPPER_ACTION])
        for _ in range(steps):
            yield np.array([0, 0, 0, 0, 0, 0, gripper], dtype=np.float32)

    def _free_motion(self, obs: Observation) -> Generator[np.ndarray, Observation, None]:
        pos = self.rng.uniform(self.config.free_motion_low, self.config.free_motion_high)
        euler = HOME_EULER + np.array([0.0, 0.0, self.rng.uniform(-0.3, 0.3)])
        gripper = float(self.rng.choice([-1.0, OPEN]))
        waypoint = Waypoint(pos, euler, gripper, speed=float(self.rng.uniform(0.4, 1.0)), patience=2)
        self.wanderer.start([waypoint], obs)
        for _ in range(60):
            if self.wanderer.done:
                return
            obs = yield self.wanderer.act(obs)

    def _attempt(self, obs: Observation) -> Generator[np.ndarray, Observation, None]:
        achievable = achievable_skills(obs["scene_obs"])
        if self.rng.random() < self.config.off_script_prob:
            skill = SKILLS[int(self.rng.integers(len(SKILLS)))]
        else:
            # An object first, then one of its achievable skills: every object gets a similar share
            # of attempts, although the button is always operable and a half-open drawer both ways.
            objects = sorted({SKILL_OBJECT[skill] for skill in achievable})
            target = objects[int(self.rng.integers(len(objects)))]
            options = [skill for skill in achievable if SKILL_OBJECT[skill] == target]
            skill = options[int(self.rng.integers(len(options)))]
        self.attempts[skill] += 1
        limit = self.config.max_attempt_steps
        if self.rng.random() < self.config.abort_prob:
            limit = int(self.rng.integers(5, 30))
        self.expert.reset(skill, obs, miss=self._near_miss())
        for _ in range(limit):
            if self.expert.done:
                return
            obs = yield self.expert.act(obs)

    def _near_miss(self) -> np.ndarray | None:
        """A displacement in a uniformly random direction for a near-miss attempt, else None. With
        near misses off no random number is drawn, so play recorded before they existed reproduces."""
        if self.config.near_miss_prob == 0.0 or self.rng.random() >= self.config.near_miss_prob:
            return None
        direction = self.rng.normal(size=3)
        direction /= np.linalg.norm(direction)
        return direction * self.rng.uniform(*self.config.near_miss_m)


class PlayGenerator:
    """Steps a simulator with a PlayAgent and records every frame."""

    def __init__(self, env: PlayTableEnv, config: PlayConfig, recorder: EpisodeRecorder) -> None:
        self.env = env
        self.config = config
        self.recorder = recorder
        self.agent = PlayAgent(config)
        self.blocks_put_back = 0
        self.unphysical_states: list[str] = []
        # Its own stream, so the draws of play itself do not depend on whether a block ever fell.
        self._operator_rng = np.random.default_rng([config.seed, 3])

    def run(self, progress: bool = True) -> Dataset:
        """Record `config.frames` frames of play and label them; returns the dataset."""
        config = self.config
        with tqdm(total=config.frames, desc="play", unit="frame", disable=not progress) as bar:
            first = True
            while self.recorder.size < config.frames:
                obs, _ = self.env.reset(seed=config.seed if first else None)
                self.agent.interrupt()
                first = False
                end = min(config.frames, self.recorder.size + config.episode_frames)
                while self.recorder.size < end:
                    action = self.agent.act(obs)
                    obs, _ = self.recorder.step(self.env, obs, action)
                    bar.update(1)
                    fallen = blocks_off_table(obs["scene_obs"])
                    if fallen:
                        obs = self._put_back(obs, fallen)
                    elif (problem := first_violation(obs["robot_obs"], obs["scene_obs"])) is not None:
                        obs = self._start_over(problem)
                self.recorder.end_episode()
        recorder = self.recorder
        annotations = annotate_windows(
            recorder.robot_obs[: recorder.size],
            recorder.scene_obs[: recorder.size],
            recorder.episodes,
            progress=progress,
        )
        provenance = {
            "source": "scripted_play",
            "play": asdict(config),
            "attempts": self.agent.attempts,
            "blocks_put_back": self.blocks_put_back,
            "episodes_ended_before_unphysical_states": self.unphysical_states,
        }
        return recorder.dataset(annotations, provenance)

    def _start_over(self, problem: str) -> Observation:
        """End the episode before a state outside the scene's physical bounds (a contact can push
        the fingers or a joint past its stop in the simulator; one in about 100k frames) and go on
        from a new scene: that state is neither recorded nor a start."""
        self.recorder.end_episode()
        self.unphysical_states.append(f"after frame {self.recorder.size - 1}: {problem}")
        self.agent.interrupt()
        obs, _ = self.env.reset()
        return obs

    def _put_back(self, obs: Observation, fallen: list[str]) -> Observation:
        """End the episode at the fall and go on from the same arm and scene with the fallen blocks
        back on the table: the falling block's next state is not recorded."""
        self.recorder.end_episode()
        self.blocks_put_back += len(fallen)
        scene = replace_blocks(obs["scene_obs"], fallen, self._operator_rng)
        self.agent.interrupt()
        obs, _ = self.env.reset(options={"robot_obs": obs["robot_obs"], "scene_obs": scene})
        return obs


def generate_play(env: PlayTableEnv, config: PlayConfig, recorder: EpisodeRecorder, progress: bool = True) -> Dataset:
    """Record and label `config.frames` frames of scripted play."""
    return PlayGenerator(env, config, recorder).run(progress)
