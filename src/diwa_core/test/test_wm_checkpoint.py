"""World-model checkpoints: exact round trip, crash-safe layout, clear errors for bad files."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from diwa.world_model.checkpoint import CheckpointError
from diwa.world_model.config import load_world_model_config
from diwa.world_model.featurize import featurize_dataset
from diwa.world_model.model import WorldModel
from diwa.world_model.store import load_world_model, save_world_model
from diwa.world_model.synthetic import point_mass_dataset

TINY = Path(__file__).with_name("wm_tiny.yaml")


@pytest.fixture
def saved(tmp_path: Path) -> tuple[WorldModel, Path]:
    torch.manual_seed(0)
    model = WorldModel(load_world_model_config(TINY))
    dataset = point_mass_dataset(200, 50, seed=0)
    model.codec.fit({"robot_obs": dataset.robot_obs, "scene_obs": dataset.scene_obs})
    save_world_model(model, tmp_path, step=7, seed=3, provenance={"dataset_hash": dataset.content_hash()})
    return model, tmp_path


def test_round_trip_gives_identical_features(saved: tuple[WorldModel, Path]) -> None:
    model, directory = saved
    loaded, info = load_world_model(directory)
    assert info.step == 7 and info.seed == 3 and info.config == model.config
    dataset = point_mass_dataset(120, 40, seed=1)
    assert np.array_equal(featurize_dataset(model, dataset, seed=2), featurize_dataset(loaded, dataset, seed=2))
    for key, value in model.state_dict().items():
        assert torch.equal(value, loaded.state_dict()[key]), key


def test_a_new_save_replaces_the_old_files(saved: tuple[WorldModel, Path]) -> None:
    model, directory = saved
    save_world_model(model, directory, step=8, seed=3, provenance={})
    names = sorted(p.name for p in directory.iterdir())
    assert names == ["world_model-step00000008.safetensors", "world_model.json"]
    assert load_world_model(directory)[1].step == 8


def test_truncated_weights_are_reported(saved: tuple[WorldModel, Path]) -> None:
    _, directory = saved
    weights = next(directory.glob("*.safetensors"))
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="checksum"):
        load_world_model(directory)


def test_corrupt_json_is_reported(saved: tuple[WorldModel, Path]) -> None:
    _, directory = saved
    (directory / "world_model.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="corrupt"):
        load_world_model(directory)


def test_weights_that_do_not_fit_the_config_are_reported(saved: tuple[WorldModel, Path]) -> None:
    _, directory = saved
    meta_path = directory / "world_model.json"
    meta = json.loads(meta_path.read_text())
    meta["config"]["rssm"]["deter"] = 48
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="does not fit"):
        load_world_model(directory)


def test_missing_and_foreign_checkpoints_are_reported(saved: tuple[WorldModel, Path], tmp_path: Path) -> None:
    _, directory = saved
    with pytest.raises(FileNotFoundError):
        load_world_model(tmp_path / "nowhere")
    meta_path = directory / "world_model.json"
    meta = json.loads(meta_path.read_text())
    meta_path.write_text(json.dumps({**meta, "format": "something-else"}))
    with pytest.raises(CheckpointError, match="not a diwa-world-model"):
        load_world_model(directory)
    meta_path.write_text(json.dumps(meta))
    next(directory.glob("*.safetensors")).unlink()
    with pytest.raises(CheckpointError, match="missing file"):
        load_world_model(directory)


def test_non_finite_weights_are_refused_at_load(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = WorldModel(load_world_model_config(TINY))
    dataset = point_mass_dataset(200, 50, seed=0)
    model.codec.fit({"robot_obs": dataset.robot_obs, "scene_obs": dataset.scene_obs})
    with torch.no_grad():
        next(model.parameters()).view(-1)[0] = float("nan")
    save_world_model(model, tmp_path, step=1, seed=0, provenance={})
    with pytest.raises(CheckpointError, match="holds NaN or infinite values"):
        load_world_model(tmp_path)


@pytest.mark.parametrize(
    ("section", "key", "value"),
    [("rssm", "deter", 10**9), ("rssm", "stoch_classes", 10**6), ("observation", "mlp_units", 10**9)],
)
def test_unbounded_config_values_are_refused_before_allocation(
    saved: tuple[WorldModel, Path], section: str, key: str, value: int
) -> None:
    _, directory = saved
    meta_path = directory / "world_model.json"
    meta = json.loads(meta_path.read_text())
    meta["config"][section][key] = value
    meta_path.write_text(json.dumps(meta))
    with pytest.raises((CheckpointError, ValueError), match="beyond"):
        load_world_model(directory)
