"""`diwa data inspect`: what a recording or a dataset holds, read back from real MCAP files."""

import json
from pathlib import Path

import imageio.v2 as imageio
import numpy as np
import pytest
from diwa.cli import main
from diwa.data.inspect import inspect_path
from diwa.sim.obs_layout import DRAWER
from test_data_rosbag import ANNOTATIONS, SCENE, STATIC, TWIST, make_play, play_messages, write_with_rosbags


def drawer_opening_play(ticks: int = 40, gap_after: int = 24):
    """Scripted-looking play: the scene still but for the drawer, opened 0.2 m over frames 2-20."""
    play = make_play(ticks, gap_after=gap_after)
    play.scene_obs[:] = play.scene_obs[0]
    play.scene_obs[:, DRAWER] = 0.0
    play.scene_obs[2:21, DRAWER] = np.linspace(0.0, 0.2, 19)
    play.scene_obs[21:, DRAWER] = 0.2
    return play


def test_a_bag_reports_its_topics_pauses_episodes_and_the_tasks_done(tmp_path: Path) -> None:
    play = drawer_opening_play()
    bag = write_with_rosbags(tmp_path / "play", play_messages(play, annotations=((2, 20, "open_drawer"),)))
    report, dataset = inspect_path(bag, max_gap_s=0.5)

    assert report["kind"] == "bag" and report["truncated_files"] == []
    topics = report["topics"]
    assert {SCENE, TWIST, STATIC, ANNOTATIONS} <= set(topics)
    assert topics[SCENE]["messages"] == 40 and topics[SCENE]["gaps_over_max"] == 1  # the 2 s pause
    assert topics[SCENE]["longest_gap_s"] == pytest.approx(2.0 + 1 / 30, abs=1e-3)
    data = report["dataset"]
    assert data["frames"] == 40 and data["episodes"] == 2
    assert data["annotations"] == {"open_drawer": 1}
    assert data["oracle_tasks"] == {"open_drawer": 1}  # the drawer opened once, in the first episode
    assert data["cameras"] == {"rgb_static": [6, 8, 3], "rgb_gripper": [4, 4, 3]}  # sizes, pixels not read
    assert dataset is not None and len(dataset) == 40 and not dataset.images


def test_a_recording_without_scene_state_still_reports_its_topics(tmp_path: Path) -> None:
    messages = [m for m in play_messages(make_play(10)) if m[0] != SCENE]  # a real cell: no simulator state
    bag = write_with_rosbags(tmp_path / "cell", messages)
    report, dataset = inspect_path(bag, max_gap_s=0.5)
    assert dataset is None and report["dataset"] is None
    assert "no diwa_msgs/msg/SceneState frames" in report["not_convertible"]
    assert report["topics"][TWIST]["messages"] == 10


def test_the_cli_inspects_a_dataset_and_writes_a_camera_preview(tmp_path: Path, capsys) -> None:
    bag = write_with_rosbags(tmp_path / "play", play_messages(drawer_opening_play()))
    dataset = tmp_path / "dataset"
    assert main(["data", "from-bag", str(bag), "--out", str(dataset)]) == 0
    capsys.readouterr()
    preview = tmp_path / "preview.gif"
    assert main(["data", "inspect", str(dataset), "--video", str(preview), "--every", "2", "--json"]) == 0
    out = capsys.readouterr().out
    report = json.loads(out.splitlines()[-1])
    assert report["kind"] == "dataset" and report["dataset"]["oracle_tasks"] == {"open_drawer": 1}
    assert report["dataset"]["cameras"] == {"rgb_gripper": [4, 4, 3], "rgb_static": [6, 8, 3]}
    assert "tasks the oracle sees completed: open_drawer 1" in out
    frames = imageio.mimread(preview)
    assert len(frames) == 20 == report["video"]["frames"]
    assert frames[0].shape[:2] == (6, 12)  # gripper 4x4 (padded to 6 rows) beside static 6x8
