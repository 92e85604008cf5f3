"""Open-loop evaluation: error bookkeeping, the no-change baseline, held-out selection."""

from pathlib import Path

import numpy as np
import pytest
import torch
from diwa.world_model.config import load_world_model_config
from diwa.world_model.evaluate import format_report, held_out_ranges, open_loop_errors
from diwa.world_model.model import WorldModel
from diwa.world_model.observation import state_difference
from diwa.world_model.store import WorldModelInfo
from diwa.world_model.synthetic import point_mass_dataset

TINY = Path(__file__).with_name("wm_tiny.yaml")


@pytest.fixture(scope="module")
def model() -> WorldModel:
    torch.manual_seed(0)
    return WorldModel(load_world_model_config(TINY)).eval()


def test_angle_differences_wrap() -> None:
    a = torch.zeros(15)
    b = torch.zeros(15)
    a[3], b[3] = 3.1, -3.1
    a[0], b[0] = 3.1, -3.1
    diff = state_difference(a, b, "robot_obs")
    assert float(diff[3]) == pytest.approx(6.2 - 2 * np.pi, abs=1e-5)
    assert float(diff[0]) == pytest.approx(6.2)


def test_baseline_error_is_the_recorded_change(model: WorldModel) -> None:
    dataset = point_mass_dataset(200, 100, seed=0)
    report = open_loop_errors(model, dataset, [(0, 99)], horizons=(2, 5), max_starts=1000, seed=0)
    assert report["starts"] == 100 - 5
    starts = np.arange(95)
    for h in (2, 5):
        change = torch.from_numpy(dataset.robot_obs[starts + h] - dataset.robot_obs[starts])
        wrapped = state_difference(change, torch.zeros_like(change), "robot_obs")
        expected = float(wrapped.abs().mean())
        assert report["horizons"][h]["baseline"]["robot_obs"]["mae"] == pytest.approx(expected, rel=1e-5)
        assert report["horizons"][h]["model"]["scene_obs"]["mse"] >= 0
        assert len(report["horizons"][h]["model"]["scene_obs"]["mae_per_dim"]) == 24
    assert "no-change" in format_report(report, "test data")


def test_evaluation_needs_long_enough_held_out_play(model: WorldModel) -> None:
    dataset = point_mass_dataset(100, 50, seed=0)
    with pytest.raises(ValueError, match="72 steps"):
        open_loop_errors(model, dataset, [(0, 49), (50, 99)])


def test_training_data_is_evaluated_on_its_held_out_segments(model: WorldModel) -> None:
    dataset = point_mass_dataset(100, 50, seed=0)
    info = WorldModelInfo(
        path=Path("x.json"),
        config=model.config,
        step=0,
        seed=0,
        provenance={"dataset_hash": dataset.content_hash(), "split": {"train": [[0, 49]], "val": [[50, 99]]}},
        weights_sha256="0",
    )
    assert held_out_ranges(info, dataset)[0] == [(50, 99)]
    other = point_mass_dataset(100, 50, seed=1)
    assert held_out_ranges(info, other)[0] == [(0, 49), (50, 99)]
