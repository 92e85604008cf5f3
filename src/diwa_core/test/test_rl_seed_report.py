"""`diwa report-seeds`: per-skill gains across seed sets and the verdict scored against the simulator."""

import json
from pathlib import Path

import pytest
from diwa.cli import main
from diwa.rl.seed_report import build_report

SKILLS = ("open_drawer", "move_slider_left")


def write_run(root: Path, skill: str, before: list[int], after: list[int], verdict: str | None) -> None:
    run = root / skill
    run.mkdir(parents=True)
    evaluation = {
        "skill": skill,
        "success_rate": sum(after) / len(after),
        "base_success_rate": sum(before) / len(before),
        "episodes": len(after),
        "seed": 8080,
        "outcomes": after,
        "base_outcomes": before,
    }
    (run / "evaluation.json").write_text(json.dumps(evaluation))
    (run / "policy.json").write_text(json.dumps({"training": {"method": "diwa-imagination"}}))
    if verdict is not None:
        document = {"verdict": verdict, "trusted_gain": 0.1, "finetuned": {"imagined_success": 1.0}}
        (run / "verdict.json").write_text(json.dumps(document))


@pytest.fixture
def sets(tmp_path: Path) -> list[Path]:
    one, two = tmp_path / "set1", tmp_path / "set2"
    # Set 1: the drawer got clearly worse (flagged), the slider clearly better.
    write_run(one, "open_drawer", [1] * 60 + [0] * 40, [1] * 30 + [0] * 70, "worse")
    write_run(one, "move_slider_left", [1] * 50 + [0] * 50, [1] * 90 + [0] * 10, "improved")
    # Set 2: both better; the drawer's verdict flags it anyway (a false alarm).
    write_run(two, "open_drawer", [1] * 50 + [0] * 50, [1] * 70 + [0] * 30, "uncertain")
    write_run(two, "move_slider_left", [1] * 40 + [0] * 60, [1] * 80 + [0] * 20, "improved")
    return [one, two]


def test_gains_per_set_and_across_sets(sets: list[Path]) -> None:
    report = build_report("r", sets)
    by_skill = {row["skill"]: row for row in report["skills"]}
    drawer, slider = by_skill["open_drawer"], by_skill["move_slider_left"]
    assert [e["gain"] for e in drawer["sets"]] == pytest.approx([-0.3, 0.2])
    assert drawer["sets"][0]["significantly_worse"] and not drawer["sets"][1]["significantly_worse"]
    assert drawer["mean_gain"] == pytest.approx(-0.05)
    assert (drawer["gain_min"], drawer["gain_max"]) == pytest.approx((-0.3, 0.2))
    low, high = drawer["mean_gain_ci95"]
    assert low < -0.05 < high
    assert slider["mean_gain"] == pytest.approx(0.4) and slider["mean_gain_ci95"][0] > 0
    first, second = report["sets"]
    assert (first["skills_improved"], first["skills_significantly_worse"]) == (1, 1)
    assert (second["skills_improved"], second["skills_significantly_worse"]) == (2, 0)
    assert first["finetune_env_steps"] == 0


def test_the_verdict_is_scored_against_the_simulator(sets: list[Path]) -> None:
    scores = build_report("r", sets)["verdict_vs_simulator"]
    assert scores["judged"] == 4
    assert (scores["got_worse"], scores["got_worse_flagged"]) == (1, 1)
    assert (scores["did_not_get_worse"], scores["did_not_get_worse_flagged"]) == (3, 1)


def test_command_writes_json_markdown_and_png(sets: list[Path], tmp_path: Path, capsys) -> None:
    out = tmp_path / "results"
    assert main(["report-seeds", "--name", "x", "--sets", *map(str, sets), "--out-dir", str(out)]) == 0
    assert json.loads((out / "x.json").read_text())["name"] == "x"
    assert (out / "x.png").read_bytes()[:4] == b"\x89PNG"
    text = (out / "x.md").read_text()
    assert "**worse**" in text and "flagged 1 of the 1 that got worse" in text
    assert "flagged 1 of the 1 that got worse" in capsys.readouterr().out


def test_sets_with_other_skills_or_old_evaluations_are_refused(sets: list[Path], tmp_path: Path) -> None:
    other = tmp_path / "other"
    write_run(other, "open_drawer", [1, 0], [1, 1], None)
    with pytest.raises(ValueError, match="holds runs of"):
        build_report("r", [sets[0], other])
    old = tmp_path / "old" / "open_drawer"
    old.mkdir(parents=True)
    (old / "evaluation.json").write_text(json.dumps({"skill": "open_drawer"}))
    with pytest.raises(ValueError, match="no per-episode outcomes"):
        build_report("r", [old.parent])
    with pytest.raises(FileNotFoundError, match="no evaluated fine-tuning runs"):
        build_report("r", [tmp_path / "set1" / "open_drawer"])
