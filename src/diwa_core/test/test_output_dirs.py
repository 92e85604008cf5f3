"""Outputs never destroy inputs or unrelated data: --out is checked before anything is written."""

from pathlib import Path

import pytest
import rl_tiny
from diwa.cli import main
from diwa.data.dataset import save_dataset
from diwa.world_model.synthetic import point_mass_dataset


def error(capsys: pytest.CaptureFixture) -> str:
    return capsys.readouterr().err


def demos(out: Path, *extra: str) -> list[str]:
    return [
        "data",
        "collect-demos",
        "--skill",
        "turn_on_led",
        "--episodes",
        "1",
        "--seed",
        "0",
        "--out",
        str(out),
        "--quiet",
        *extra,
    ]


def test_a_directory_with_other_data_is_never_replaced(tmp_path: Path, capsys) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "thesis.tex").write_text("years of work")
    assert main(demos(home)) == 2
    assert "already holds data; pass --overwrite" in error(capsys)
    assert main(demos(home, "--overwrite")) == 2
    assert "holds something other than a dataset" in error(capsys)
    assert (home / "thesis.tex").read_text() == "years of work"


def test_an_existing_dataset_is_replaced_only_with_overwrite(tmp_path: Path, capsys) -> None:
    out = tmp_path / "demos"
    assert main(demos(out)) == 0
    assert main(demos(out)) == 2
    assert main(demos(out, "--overwrite")) == 0
    assert (out / "meta.json").is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["demos"]  # no staging or scratch directory left behind


def test_a_file_or_an_uncreatable_out_is_refused(tmp_path: Path, capsys) -> None:
    afile = tmp_path / "afile"
    afile.write_text("x")
    assert main(demos(afile)) == 2
    assert "is a file" in error(capsys)
    assert main(demos(afile / "below")) == 2
    assert "cannot create" in error(capsys)


def test_inputs_are_never_outputs(tmp_path: Path, capsys) -> None:
    data = save_dataset(point_mass_dataset(60, 30, seed=0), tmp_path / "data")
    before = sorted(p.name for p in data.iterdir())
    for argv in (
        ["data", "concat", str(data), "--out", str(data), "--overwrite"],
        ["data", "concat", str(data), "--out", str(data / "inside"), "--overwrite"],
        ["data", "convert", str(data), str(data), "--overwrite"],
        ["data", "from-bag", str(data), "--out", str(data), "--overwrite"],
        ["train-policy", "--skill", "open_drawer", "--demos", str(data), "--out", str(data), "--overwrite"],
    ):
        assert main(argv) == 2, argv
        assert "input" in error(capsys)
    assert sorted(p.name for p in data.iterdir()) == before


def test_train_policy_never_replaces_another_skills_policy(tmp_path: Path, capsys) -> None:
    paths = rl_tiny.save_pipeline(tmp_path)  # a policy of open_drawer, cloned from paths["demos"]
    argv = ["train-policy", "--skill", "close_drawer", "--demos", str(paths["demos"]), "--out", str(paths["policy"])]
    assert main([*argv, "--overwrite"]) == 2
    assert "the policy of another skill ('open_drawer')" in error(capsys)


def test_finetune_never_writes_into_its_inputs(tmp_path: Path, capsys) -> None:
    paths = rl_tiny.save_pipeline(tmp_path)
    argv = ["finetune", "--skill", rl_tiny.SKILL, "--wm", str(paths["wm"]), "--policy", str(paths["policy"])]
    assert main([*argv, "--reward", str(paths["reward"]), "--out", str(paths["policy"])]) == 2
    assert "is, holds or lies inside the input" in error(capsys)
