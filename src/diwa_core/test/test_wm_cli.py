"""The world-model commands end to end on a small synthetic dataset, and their input errors."""

import json
from pathlib import Path

import numpy as np
import pytest
from diwa.cli import main
from diwa.data.dataset import save_dataset
from diwa.world_model.synthetic import point_mass_dataset

TINY = Path(__file__).with_name("wm_tiny.yaml")


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("wm_cli")
    data = save_dataset(point_mass_dataset(1200, 100, seed=0), root / "play")
    out = root / "wm"
    assert main(["train-wm", "--data", str(data), "--out", str(out), "--profile", str(TINY), "--no-progress"]) == 0
    return data, out


def last_json(capsys: pytest.CaptureFixture[str]) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_train_then_resume_to_more_steps(trained: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    data, out = trained
    code = main(
        [
            "train-wm",
            "--data",
            str(data),
            "--out",
            str(out),
            "--profile",
            str(TINY),
            "--steps",
            "7",
            "--resume",
            "--no-progress",
            "--json",
        ]
    )
    assert code == 0
    summary = last_json(capsys)
    assert summary["step"] == 7 and summary["samples_per_s"] > 0
    # The held-out loss has a counterpart computed the same way on training windows.
    assert set(summary["train_windows"]) == set(summary["val"])
    assert (out / "tensorboard").is_dir()


def test_eval_reports_every_horizon(trained: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    data, out = trained
    assert main(["eval-wm", "--wm", str(out), "--data", str(data), "--starts", "20", "--json"]) == 0
    report = last_json(capsys)
    assert report["where"].startswith("held-out")
    assert set(report["horizons"]) == {"4", "18", "72"}
    assert report["horizons"]["72"]["baseline"]["robot_obs"]["mae"] > 0


def test_featurize_writes_aligned_features(trained: tuple[Path, Path], tmp_path: Path) -> None:
    data, out = trained
    target = tmp_path / "features.npy"
    assert main(["featurize", "--wm", str(out), "--data", str(data), "--out", str(target)]) == 0
    features = np.load(target)
    assert features.shape[0] == 1200 and features.dtype == np.float32
    assert json.loads(target.with_suffix(".json").read_text())["shape"] == list(features.shape)


@pytest.mark.parametrize("labels", ["oracle", "annotations"])
def test_train_reward_prints_held_out_scores(
    trained: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str], labels: str
) -> None:
    data, out = trained
    args = ["train-reward", "--skill", "open_drawer", "--wm", str(out), "--data", str(data), "--out", str(tmp_path)]
    assert main([*args, "--epochs", "1", "--labels", labels, "--json"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert any("precision" in line or "no positive" in line for line in lines)
    summary = json.loads(lines[-1])
    assert summary["labels"] == labels and set(summary["train"]) >= {"precision", "recall", "f1"}
    assert (tmp_path / "reward_open_drawer.json").is_file()


def test_play_of_one_episode_trains_a_reward_only_without_layout_copies(
    trained: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out = trained
    data = save_dataset(point_mass_dataset(200, 200, seed=3), tmp_path / "one_episode")
    args = ["train-reward", "--skill", "open_drawer", "--wm", str(out), "--data", str(data), "--out", str(tmp_path)]
    assert main([*args, "--epochs", "1"]) == 2
    assert "--layout-shuffles 0" in capsys.readouterr().err
    assert not (tmp_path / "reward_open_drawer.json").exists()
    assert main([*args, "--epochs", "1", "--layout-shuffles", "0", "--json"]) == 0
    meta = json.loads((tmp_path / "reward_open_drawer.json").read_text())
    assert meta["config"]["layout_shuffles"] == 0
    assert main([*args, "--layout-shuffles", "-1"]) == 2
    assert "layout_shuffles must be non-negative" in capsys.readouterr().err


def test_bad_input_exits_with_a_message(
    trained: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data, out = trained
    assert (
        main(["train-reward", "--skill", "open_fridge", "--wm", str(out), "--data", str(data), "--out", str(tmp_path)])
        == 2
    )
    assert "unknown skill" in capsys.readouterr().err
    assert main(["eval-wm", "--wm", str(tmp_path / "none"), "--data", str(data)]) == 2
    assert "no checkpoint" in capsys.readouterr().err
    assert main(["train-wm", "--data", str(data), "--out", str(out), "--profile", str(TINY)]) == 2
    assert "--resume" in capsys.readouterr().err


def test_a_missing_device_is_refused_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    data = save_dataset(point_mass_dataset(120, 60, seed=0), tmp_path / "play")
    argv = ["train-wm", "--data", str(data), "--out", str(tmp_path / "wm"), "--profile", str(TINY)]
    assert main([*argv, "--device", "cuda"]) == 2
    assert "has no CUDA GPU" in capsys.readouterr().err
    assert main([*argv, "--device", "warp-drive"]) == 2
    assert "not a torch device" in capsys.readouterr().err
    assert not (tmp_path / "wm").exists()
