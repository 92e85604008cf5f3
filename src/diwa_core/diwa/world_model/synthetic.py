"""A synthetic play dataset with known dynamics, for tests and benchmarks without the simulator.

A point "end effector" moves by 0.02 m per unit of relative action, its orientation by 0.05 rad
(the roll starts near pi, so it wraps as CALVIN's does), and it drags a drawer when it is at the
handle. The drawer's joint therefore depends on the history of actions, which a model must learn
to predict; annotations mark windows in which the drawer was opened or closed by 0.12 m, the
CALVIN oracle's threshold.
"""

from __future__ import annotations

import numpy as np

from diwa.data.dataset import Annotation, Dataset
from diwa.sim.geometry import HOME_JOINTS

HANDLE_X = (0.06, 0.30)
HANDLE_Z = (0.30, 0.42)
DRAWER_TRAVEL = 0.22
LOW = np.array([-0.1, -0.45, 0.3])
HIGH = np.array([0.4, 0.0, 0.6])


def _play_actions(rng: np.random.Generator, frames: int) -> np.ndarray:
    """Smooth random relative actions: an AR(1) process clipped to [-1, 1], gripper +-1."""
    actions = np.zeros((frames, 7), dtype=np.float32)
    current = np.zeros(6)
    gripper = 1.0
    for t in range(frames):
        current = np.clip(0.85 * current + 0.45 * rng.standard_normal(6), -1.0, 1.0)
        if rng.random() < 0.03:
            gripper = -gripper
        actions[t, :6] = current
        actions[t, 6] = gripper
    return actions


def point_mass_dataset(
    frames: int,
    episode_frames: int,
    seed: int,
    image_size: int | None = None,
    annotation_frames: int = 32,
) -> Dataset:
    """`frames` frames of play in episodes of `episode_frames`; images (random, uint8) only when
    `image_size` is given, to exercise the image pipeline."""
    if frames < 2 or episode_frames < 2:
        raise ValueError("frames and episode_frames must be at least 2")
    rng = np.random.default_rng(seed)
    actions = _play_actions(rng, frames)
    robot = np.zeros((frames, 15), dtype=np.float32)
    scene = np.zeros((frames, 24), dtype=np.float32)
    episodes = [(s, min(s + episode_frames, frames) - 1) for s in range(0, frames, episode_frames)]
    scene[:, 6:24] = np.tile([0.1, -0.1, 0.46, 0.0, 0.0, 0.3], 3)
    mixing = rng.standard_normal((3, 7)) * 0.5
    for start, end in episodes:
        pos = rng.uniform(LOW, HIGH)
        euler = np.array([np.pi - 0.05, 0.0, 1.5]) + rng.normal(0, 0.02, 3)
        width, drawer = 0.08, float(rng.uniform(0, DRAWER_TRAVEL))
        for t in range(start, end + 1):
            robot[t, 0:3] = pos
            robot[t, 3:6] = (euler + np.pi) % (2 * np.pi) - np.pi
            robot[t, 6] = width
            robot[t, 7:14] = np.asarray(HOME_JOINTS) + 0.2 * (pos @ mixing)  # near home: inside the arm's joint ranges
            robot[t, 14] = actions[t - 1, 6] if t > start else 1.0
            scene[t, 1] = drawer
            a = actions[t]
            new_pos = np.clip(pos + 0.02 * a[:3], LOW, HIGH)
            if HANDLE_X[0] < pos[0] < HANDLE_X[1] and HANDLE_Z[0] < pos[2] < HANDLE_Z[1]:
                # At the handle bar, motion along y drags the drawer (it opens towards -y).
                drawer = float(np.clip(drawer - (new_pos[1] - pos[1]), 0.0, DRAWER_TRAVEL))
            pos = new_pos
            euler = euler + 0.05 * a[3:6]
            width = float(np.clip(width + 0.02 * a[6], 0.0, 0.08))
    annotations = _drawer_annotations(scene[:, 1], episodes, annotation_frames)
    images = {}
    if image_size is not None:
        images = {
            key: rng.integers(0, 256, (frames, image_size, image_size, 3), dtype=np.uint8)
            for key in ("rgb_static", "rgb_gripper")
        }
    absolute = np.concatenate([robot[:, 0:6], actions[:, 6:7]], axis=1)
    return Dataset(
        robot_obs=robot,
        scene_obs=scene,
        actions=absolute,
        rel_actions=actions,
        episodes=episodes,
        annotations=annotations,
        images=images,
        provenance={"source": "diwa.world_model.synthetic.point_mass_dataset", "seed": seed},
    )


def _drawer_annotations(drawer: np.ndarray, episodes: list[tuple[int, int]], window: int) -> list[Annotation]:
    """A window ending at the first frame where the drawer moved 0.12 m since the window began."""
    annotations = []
    for start, end in episodes:
        t = start + window - 1
        while t <= end:
            change = drawer[t] - drawer[t - window + 1]
            task = "open_drawer" if change > 0.12 else "close_drawer" if change < -0.12 else None
            if task is None:
                t += 1
                continue
            annotations.append(Annotation(t - window + 1, t, task))
            t += window
    return annotations
