"""`diwa report`: fields per skill, DPPO steps to match DiWA, files written."""

import json
from pathlib import Path

import pytest
import rl_tiny
from diwa.cli import main
from diwa.rl.report import build_report, markdown_table
from diwa.world_model.store import read_world_model_info, save_world_model


def fake_run(
    directory: Path,
    skill: str,
    base: float,
    final: float,
    training: dict,
    seed: int = 0,
    observation: str | None = None,
) -> Path:
    directory.mkdir(parents=True)
    evaluation = {
        "skill": skill,
        "success_rate": final,
        "base_success_rate": base,
        "episodes": 100,
        "seed": seed,
        "base_checkpoint": "bc",
        "eval_env_steps": 9000,
    }
    (directory / "evaluation.json").write_text(json.dumps(evaluation))
    provenance = {} if observation is None else {"finetune": {"observation": observation}}
    (directory / "policy.json").write_text(json.dumps({"training": training, "provenance": provenance}))
    return directory


def diwa_run(directory: Path, skill: str, base: float, final: float, observation: str | None = None) -> Path:
    training = {
        "method": "diwa-imagination",
        "iterations": 50,
        "imagined_steps": 360_000,
        "wall_s": 120.5,
        "evaluations": [],
    }
    return fake_run(directory, skill, base, final, training, observation=observation)


def dppo_run(directory: Path, skill: str, curve: list[tuple[int, float]], seed: int = 0) -> Path:
    evaluations = [
        {"iteration": i, "label": "periodic", "success_rate": s, "episodes": 100, "env_steps": steps}
        for i, (steps, s) in enumerate(curve)
    ]
    training = {
        "method": "dppo-online",
        "iterations": len(curve),
        "env_steps": curve[-1][0],
        "wall_s": 900.0,
        "evaluations": evaluations,
    }
    return fake_run(directory, skill, curve[0][1], curve[-1][1], training, seed=seed)


def test_report_rows_and_steps_to_match(tmp_path):
    runs = [diwa_run(tmp_path / "a", "open_drawer", 0.5, 0.8), diwa_run(tmp_path / "b", "turn_on_led", 0.6, 0.9)]
    online = [
        dppo_run(tmp_path / "c", "open_drawer", [(0, 0.5), (7200, 0.7), (14400, 0.82), (21600, 0.85)]),
        dppo_run(tmp_path / "d", "turn_on_led", [(0, 0.6), (7200, 0.8)]),
    ]
    report = build_report("t", runs, online)
    drawer, led = report["skills"]
    assert drawer["skill"] == "open_drawer" and drawer["bc_success"] == 0.5 and drawer["finetuned_success"] == 0.8
    assert drawer["finetune_env_steps"] == 0 and drawer["imagined_steps"] == 360_000 and drawer["wall_s"] == 120.5
    assert drawer["eval_episodes"] == 100
    assert drawer["dppo_env_steps_to_match"] == 14400, "first evaluation at or above DiWA's 0.8"
    assert led["dppo_env_steps_to_match"] is None and led["dppo_budget_env_steps"] == 7200
    assert report["mean_finetuned_success"] == pytest.approx(0.85)
    assert drawer["verdict"] is None, "no verdict.json: none shown"


def test_report_names_the_observation_route_and_refuses_to_mix_routes(tmp_path):
    camera = [diwa_run(tmp_path / s, s, 0.5, 0.7, "camera") for s in ("open_drawer", "turn_on_led")]
    assert build_report("camera_t", camera, [])["observation"] == "camera"
    older = diwa_run(tmp_path / "older", "close_drawer", 0.5, 0.7)
    assert build_report("t", [older], [])["observation"] == "state", "runs from before the route was recorded"
    with pytest.raises(ValueError, match="mix observation routes"):
        build_report("t", [*camera, older], [])


def test_report_shows_the_world_models_verdict(tmp_path):
    run = diwa_run(tmp_path / "a", "open_drawer", 0.5, 0.3)
    (run / "verdict.json").write_text(json.dumps({"verdict": "worse"}))
    report = build_report("t", [run], [])
    assert report["skills"][0]["verdict"] == "worse"
    assert markdown_table(report["skills"]).splitlines()[-1].endswith("| worse |")


def test_dppo_evaluated_on_other_episodes_is_not_compared(tmp_path):
    runs = [diwa_run(tmp_path / "a", "open_drawer", 0.5, 0.8)]
    online = [dppo_run(tmp_path / "c", "open_drawer", [(0, 0.5), (7200, 0.9)], seed=1)]
    with pytest.raises(ValueError, match="not comparable"):
        build_report("t", runs, online)


def test_report_command_writes_json_markdown_and_chart(tmp_path, capsys):
    run = diwa_run(tmp_path / "a", "open_drawer", 0.5, 0.8)
    out = tmp_path / "results"
    assert main(["report", "--name", "quick", "--runs", str(run), "--out-dir", str(out)]) == 0
    document = json.loads((out / "quick.json").read_text())
    assert [row["skill"] for row in document["skills"]] == ["open_drawer"]
    assert document["skills"][0]["dppo_env_steps_to_match"] is None
    assert "| open_drawer | 50% | 80% |" in (out / "quick.md").read_text()
    assert (out / "quick.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "open_drawer" in capsys.readouterr().out


def test_report_refuses_a_directory_that_is_not_an_evaluated_run(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["report", "--name", "x", "--runs", str(tmp_path / "empty"), "--out-dir", str(tmp_path)]) == 2
    assert "evaluation.json missing" in capsys.readouterr().err


def test_report_counts_the_frames_the_world_model_learnt_from(tmp_path, capsys):
    sources = {"scripted_play": 50_000, "policy_rollouts": 28_800}
    wm = save_world_model(
        rl_tiny.world_model(),
        tmp_path / "wm",
        step=1,
        seed=0,
        provenance={"frames": 78_800, "frames_by_source": sources},
    )
    sha = read_world_model_info(wm)[0].weights_sha256
    run = diwa_run(tmp_path / "a", "open_drawer", 0.5, 0.8)
    (run / "finetune.json").write_text(json.dumps({"identity": {"world_model_sha256": sha}}))
    online = [dppo_run(tmp_path / "c", "open_drawer", [(0, 0.5), (39_400, 0.8)])]
    report = build_report("t", [run], online, wm)
    assert report["world_model_data"]["frames_by_source"] == sources
    assert report["skills"][0]["dppo_steps_per_world_model_frame"] == pytest.approx(0.5)
    out = tmp_path / "results"
    args = ["report", "--name", "q", "--runs", str(run), "--wm", str(wm), "--out-dir", str(out)]
    assert main(args) == 0
    assert "78,800 simulator frames" in (out / "q.md").read_text()
    # A run fine-tuned in another world model (or one that does not say) is refused.
    other = diwa_run(tmp_path / "b", "turn_on_led", 0.5, 0.8)
    assert main([*args[:4], str(other), *args[5:]]) == 2
    assert "not in" in capsys.readouterr().err


def test_frames_by_source_of_an_older_checkpoint_come_from_its_dataset_when_unchanged(tmp_path):
    from diwa.data.dataset import save_dataset
    from diwa.world_model.checkpoint import data_provenance
    from diwa.world_model.synthetic import point_mass_dataset

    dataset = point_mass_dataset(40, 20, seed=0)
    save_dataset(dataset, tmp_path / "data")
    old = {k: v for k, v in data_provenance(dataset, tmp_path / "data").items() if k != "frames_by_source"}
    wm = save_world_model(rl_tiny.world_model(), tmp_path / "wm", step=1, seed=0, provenance=old)
    run = diwa_run(tmp_path / "a", "open_drawer", 0.5, 0.8)
    sha = read_world_model_info(wm)[0].weights_sha256
    (run / "finetune.json").write_text(json.dumps({"identity": {"world_model_sha256": sha}}))
    source = dataset.provenance["source"]
    assert build_report("t", [run], [], wm)["world_model_data"]["frames_by_source"] == {source: 40}
    save_dataset(point_mass_dataset(40, 20, seed=1), tmp_path / "data")  # the data changed since
    assert build_report("t", [run], [], wm)["world_model_data"]["frames_by_source"] == {"unrecorded": 40}
