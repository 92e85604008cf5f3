"""The camera route's commands chained on disk: a BC policy cloned on the latent of demonstrations
recorded with cameras starts its imagined episodes from those demonstrations, cameras included."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import rl_tiny
from diwa.cli import main
from diwa.data.dataset import Annotation, save_dataset
from diwa.policy.checkpoint import load_policy
from diwa.rl.config import load_finetune_config
from diwa.rl.imagination import policy_start_states
from diwa.world_model.store import load_world_model, save_world_model
from diwa.world_model.synthetic import point_mass_dataset


def test_a_policy_cloned_from_camera_demos_finds_them_unchanged_as_start_states(tmp_path: Path) -> None:
    demos = point_mass_dataset(frames=60, episode_frames=20, seed=0, image_size=64)
    demos = dataclasses.replace(demos, annotations=[Annotation(s, e, rl_tiny.SKILL) for s, e in demos.episodes])
    save_dataset(demos, tmp_path / "demos")
    model = rl_tiny.camera_world_model()
    model.codec.fit({"robot_obs": demos.robot_obs})
    save_world_model(model, tmp_path / "wm", step=1, seed=0, provenance={"dataset_path": "synthetic"})
    features = tmp_path / "features.npy"
    assert (
        main(["featurize", "--wm", str(tmp_path / "wm"), "--data", str(tmp_path / "demos"), "--out", str(features)])
        == 0
    )
    args = ["--skill", rl_tiny.SKILL, "--demos", str(tmp_path / "demos"), "--features", str(features)]
    assert main(["train-policy", *args, "--out", str(tmp_path / "bc"), "--epochs", "1", "--no-progress"]) == 0
    model, _ = load_world_model(tmp_path / "wm")
    imagination = load_finetune_config("quick").imagination
    path, _, starts = policy_start_states(load_policy(tmp_path / "bc"), model, rl_tiny.SKILL, None, imagination)
    assert path == tmp_path / "demos"
    assert {"rgb_static", "rgb_gripper", "robot_obs"} <= set(starts.observations)
