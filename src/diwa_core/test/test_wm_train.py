"""World-model training: it learns the dynamics of a synthetic system, and resuming is exact."""

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
from diwa.world_model.checkpoint import CheckpointError
from diwa.world_model.config import load_world_model_config
from diwa.world_model.evaluate import open_loop_errors
from diwa.world_model.store import load_world_model
from diwa.world_model.synthetic import point_mass_dataset
from diwa.world_model.trainer import WorldModelTrainer
from wm_point_mass import TINY, point_mass_config


def test_resuming_an_interrupted_run_gives_the_same_weights(tmp_path: Path) -> None:
    dataset = point_mass_dataset(600, 100, seed=0)
    config = load_world_model_config(TINY)
    WorldModelTrainer(dataset, tmp_path / "straight", config, seed=1, progress=False).train()
    # "Interrupted" after the step-3 checkpoint, then resumed to the same total.
    WorldModelTrainer(dataset, tmp_path / "resumed", config.with_train(steps=3), seed=1, progress=False).train()
    resumed = WorldModelTrainer(dataset, tmp_path / "resumed", config, seed=1, resume=True, progress=False)
    assert resumed.step == 3
    resumed.train()
    straight, info = load_world_model(tmp_path / "straight")
    again, info_again = load_world_model(tmp_path / "resumed")
    assert info.step == info_again.step == config.train.steps
    for key, value in straight.state_dict().items():
        assert torch.equal(value, again.state_dict()[key]), key


def test_resume_refuses_other_data_seed_or_config(tmp_path: Path) -> None:
    dataset = point_mass_dataset(600, 100, seed=0)
    config = load_world_model_config(TINY)
    WorldModelTrainer(dataset, tmp_path, config, seed=1, progress=False).train()
    with pytest.raises(ValueError, match="--resume"):
        WorldModelTrainer(dataset, tmp_path, config, seed=1, progress=False)
    with pytest.raises(CheckpointError, match="different data"):
        WorldModelTrainer(point_mass_dataset(600, 100, seed=9), tmp_path, config, seed=1, resume=True, progress=False)
    with pytest.raises(CheckpointError, match="seed"):
        WorldModelTrainer(dataset, tmp_path, config, seed=2, resume=True, progress=False)
    other = dataclasses.replace(config, loss=dataclasses.replace(config.loss, kl_weight=1.0))
    with pytest.raises(CheckpointError, match="different config"):
        WorldModelTrainer(dataset, tmp_path, other, seed=1, resume=True, progress=False)
    with pytest.raises(FileNotFoundError, match="nothing to resume"):
        WorldModelTrainer(dataset, tmp_path / "empty", config, seed=1, resume=True, progress=False)


def test_training_learns_point_mass_dynamics_better_than_no_change(tmp_path: Path) -> None:
    """The point's position follows the actions; after a short training the model's open-loop
    position prediction on held-out episodes must clearly beat predicting no change."""
    dataset = point_mass_dataset(3000, 300, seed=0)
    trainer = WorldModelTrainer(dataset, tmp_path, point_mass_config(steps=150, seq_len=8), seed=0, progress=False)
    initial = trainer.validate()["loss"]
    result = trainer.train()
    assert result.val["loss"] < 0.3 * initial
    held_out = [tuple(r) for r in trainer.provenance["split"]["val"]]
    assert trainer.provenance["frames_by_source"] == {dataset.provenance["source"]: 3000}
    report = open_loop_errors(trainer.model, dataset, held_out, horizons=(18, 72), max_starts=128, seed=0)
    for horizon in (18, 72):
        errors = report["horizons"][horizon]
        model = np.mean(errors["model"]["robot_obs"]["mae_per_dim"][:3])
        no_change = np.mean(errors["baseline"]["robot_obs"]["mae_per_dim"][:3])
        assert model < 0.75 * no_change, (horizon, model, no_change)
