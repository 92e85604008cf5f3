"""Policy rollouts recorded as world-model data, and joining them to play."""

import json
from pathlib import Path

import numpy as np
import pytest
from diwa.cli import main
from diwa.data.dataset import Annotation, Dataset, concat_datasets, frames_by_source, load_dataset
from diwa.data.recorder import EpisodeRecorder
from diwa.data.rollouts import collect_rollouts
from diwa.eval.harness import evaluate
from diwa.sim import make_env
from diwa.sim.expert import ScriptedExpert
from diwa.sim.start_states import sample_start_state, skill_seed
from diwa.skills import SKILLS, UnknownSkillError, parse_skill_list


def dataset_of(n: int, episodes: list[tuple[int, int]], annotations: list[Annotation], value: float) -> Dataset:
    return Dataset(
        robot_obs=np.full((n, 15), value, np.float32),
        scene_obs=np.full((n, 24), value, np.float32),
        actions=np.zeros((n, 7), np.float32),
        rel_actions=np.zeros((n, 7), np.float32),
        episodes=episodes,
        annotations=annotations,
        provenance={"source": f"part {value}"},
    )


def test_concatenation_shifts_episodes_and_annotations_and_names_every_part() -> None:
    first = dataset_of(5, [(0, 4)], [Annotation(1, 3, "open_drawer")], 1.0)
    second = dataset_of(6, [(0, 2), (3, 5)], [Annotation(3, 5, "turn_on_led")], 2.0)
    joined = concat_datasets([first, second])
    assert len(joined) == 11
    assert joined.episodes == [(0, 4), (5, 7), (8, 10)]
    assert joined.annotations == [Annotation(1, 3, "open_drawer"), Annotation(8, 10, "turn_on_led")]
    np.testing.assert_array_equal(joined.scene_obs[:, 0], [1.0] * 5 + [2.0] * 6)
    parts = joined.provenance["parts"]
    assert [p["frames"] for p in parts] == [5, 6]
    assert [p["provenance"]["source"] for p in parts] == ["part 1.0", "part 2.0"]
    assert parts[1]["content_hash"] == second.content_hash()


def test_concatenation_refuses_mismatched_cameras_and_nothing() -> None:
    plain = dataset_of(4, [(0, 3)], [], 0.0)
    with_camera = dataset_of(4, [(0, 3)], [], 0.0)
    with_camera.images = {"rgb_static": np.zeros((4, 8, 8, 3), np.uint8)}
    with pytest.raises(ValueError, match="different cameras"):
        concat_datasets([plain, with_camera])
    with pytest.raises(ValueError, match="nothing"):
        concat_datasets([])


def test_rollouts_start_where_evaluation_does_and_run_their_full_length() -> None:
    env = make_env()
    steps, episodes = 60, 2
    dataset = collect_rollouts(
        env,
        lambda skill: ScriptedExpert(noise_std=0.0, seed=0),
        ["turn_on_led"],
        episodes,
        seed=4,
        steps=steps,
        recorder=EpisodeRecorder(episodes * steps),
        provenance={"policy": "scripted"},
        progress=False,
    )
    report = evaluate(ScriptedExpert(noise_std=0.0, seed=0), "turn_on_led", episodes, 4, steps, env, progress=False)
    env.close()
    assert len(dataset) == episodes * steps
    assert dataset.episodes == [(0, steps - 1), (steps, 2 * steps - 1)]
    for index, (start, _) in enumerate(dataset.episodes):
        robot, scene = sample_start_state("turn_on_led", skill_seed(4, "turn_on_led", index))
        np.testing.assert_allclose(dataset.robot_obs[start, :3], robot[:3], atol=2e-3)
        np.testing.assert_allclose(dataset.scene_obs[start, :6], scene[:6], atol=2e-3)
    # The same successes as the harness on the same seeded episodes, and the oracle's labels mark them.
    assert dataset.provenance["successes"] == {"turn_on_led": report.successes}
    assert report.successes > 0
    assert sum(a.task == "turn_on_led" for a in dataset.annotations) == report.successes
    assert dataset.provenance["source"] == "policy_rollouts" and dataset.provenance["policy"] == "scripted"


def test_rollouts_refuse_bad_settings() -> None:
    env = make_env()
    try:
        with pytest.raises(UnknownSkillError):
            collect_rollouts(env, lambda s: ScriptedExpert(), ["open_the_door"], 1, 0, 5, EpisodeRecorder(5))
        with pytest.raises(ValueError, match="steps"):
            collect_rollouts(env, lambda s: ScriptedExpert(), ["open_drawer"], 1, 0, 0, EpisodeRecorder(5))
    finally:
        env.close()


def test_skill_lists_parse_like_the_command_line() -> None:
    assert parse_skill_list("all") == list(SKILLS)
    assert parse_skill_list("open_drawer, turn_on_led") == ["open_drawer", "turn_on_led"]
    with pytest.raises(UnknownSkillError):
        parse_skill_list("open_drawer,fly")
    with pytest.raises(ValueError, match="no skill"):
        parse_skill_list(" , ")


def test_cli_records_rollouts_and_joins_them_to_play(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rollouts = tmp_path / "rollouts"
    args = ["--policy", "scripted", "--skills", "close_drawer", "--episodes", "1", "--steps", "20"]
    assert main(["data", "collect-rollouts", *args, "--out", str(rollouts), "--seed", "2", "--quiet"]) == 0
    assert "close_drawer" in capsys.readouterr().out
    assert len(load_dataset(rollouts)) == 20
    play = ["--frames", "30", "--out", str(tmp_path / "play"), "--seed", "1", "--quiet"]
    assert main(["data", "collect-play", *play]) == 0
    assert main(["data", "concat", str(tmp_path / "play"), str(rollouts), "--out", str(tmp_path / "both")]) == 0
    joined = load_dataset(tmp_path / "both")
    assert len(joined) == 50 and joined.episodes[-1] == (30, 49)
    meta = json.loads((tmp_path / "both" / "meta.json").read_text())
    assert [p["provenance"]["source"] for p in meta["provenance"]["parts"]] == ["scripted_play", "policy_rollouts"]
    assert main(["data", "concat", str(tmp_path / "play"), str(rollouts), "--out", str(rollouts)]) == 2
    assert "lies inside the input" in capsys.readouterr().err and len(load_dataset(rollouts)) == 20
    # A missing checkpoint fails before any simulator step, and writes nothing.
    missing = ["--policy", str(tmp_path / "nope"), "--episodes", "1", "--out", str(tmp_path / "x"), "--seed", "0"]
    assert main(["data", "collect-rollouts", *missing]) == 2
    assert "does not exist" in capsys.readouterr().err and not (tmp_path / "x").exists()


def test_frames_are_counted_by_source_through_nested_concatenations() -> None:
    play = dataset_of(5, [(0, 4)], [], 1.0)
    play.provenance = {"source": "scripted_play"}
    rollouts = dataset_of(3, [(0, 2)], [], 2.0)
    rollouts.provenance = {"source": "policy_rollouts"}
    nested = concat_datasets([concat_datasets([play, rollouts]), play])
    assert frames_by_source(nested) == {"scripted_play": 10, "policy_rollouts": 3}
    assert frames_by_source(dataset_of(4, [(0, 3)], [], 0.0)) == {"part 0.0": 4}
