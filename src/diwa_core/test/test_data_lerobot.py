"""LeRobot v3.0 export and import (diwa.data.lerobot_export, diwa.data.lerobot_import).

The export is checked with readers that share no code with the writer: Hugging Face `datasets`
for the Parquet tables, pandas for the task table (as LeRobot reads it), and av for the videos. The
import is checked on our own export (a round trip) and on a dataset laid out as a Franka recording
made with LeRobot would be, written here by hand."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from diwa.cli import main
from diwa.data.dataset import Annotation, Dataset, load_dataset, save_dataset
from diwa.data.franka_kinematics import tcp_pose
from diwa.data.lerobot_export import export_lerobot
from diwa.data.lerobot_format import ABS_ACTION_NAMES, REL_ACTION_NAMES, ROBOT_OBS_NAMES, SCENE_OBS_NAMES
from diwa.data.lerobot_import import _applied_gripper_actions, import_lerobot
from diwa.sim import geometry as g
from diwa.world_model.synthetic import point_mass_dataset

FPS = 30
SIZE = 64
EPISODES = 3
EPISODE_FRAMES = 20
STATIC, WRIST = "observation.images.static", "observation.images.wrist"


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """`datasets` must never reach for the network in a test."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")


def camera(n: int, shift: int, height: int = SIZE, width: int = SIZE) -> np.ndarray:
    """Smooth frames with a moving bright square: what a codec compresses well, as camera images are
    (random pixels would measure the codec, not the export)."""
    yy, xx = np.mgrid[0:height, 0:width]
    frames = np.empty((n, height, width, 3), dtype=np.uint8)
    for i in range(n):
        frames[i, ..., 0] = (xx * 3 + i * 2 + shift) % 256
        frames[i, ..., 1] = (yy * 3 + shift) % 256
        frames[i, ..., 2] = 100
        column = (i + shift) % (width - 12)
        frames[i, height // 3 : height // 3 + 12, column : column + 12] = 240
    return frames


def play(images: bool = True) -> Dataset:
    dataset = point_mass_dataset(EPISODES * EPISODE_FRAMES, EPISODE_FRAMES, seed=3)
    n = len(dataset)
    return dataclasses.replace(
        dataset,
        images={"rgb_static": camera(n, 0), "rgb_gripper": camera(n, 9)} if images else {},
        annotations=[Annotation(2, 12, "open_drawer"), Annotation(8, 19, "turn_on_led"), Annotation(41, 55, "stack")],
    )


def decode(path: Path) -> tuple[list[float], np.ndarray, str, str]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        codec, pix_fmt = stream.codec_context.codec.canonical_name, stream.codec_context.pix_fmt
        decoded = [(float(frame.time), frame.to_ndarray(format="rgb24")) for frame in container.decode(video=0)]
    return [t for t, _ in decoded], np.stack([f for _, f in decoded]), codec, pix_fmt


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Dataset, Path]:
    dataset = play()
    out = tmp_path_factory.mktemp("lerobot") / "export"
    assert export_lerobot(dataset, out) == out
    return dataset, out


def test_export_info_json(exported: tuple[Dataset, Path]) -> None:
    dataset, out = exported
    info = json.loads((out / "meta" / "info.json").read_text())
    assert info["codebase_version"] == "v3.0"
    assert info["fps"] == FPS and info["robot_type"] == "franka"
    assert info["total_frames"] == len(dataset) and info["total_episodes"] == EPISODES
    assert info["splits"] == {"train": f"0:{EPISODES}"}
    assert info["data_path"] == "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
    assert info["video_path"] == "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"
    assert (info["chunks_size"], info["data_files_size_in_mb"], info["video_files_size_in_mb"]) == (1000, 100, 200)
    features = info["features"]
    expected = {
        "observation.state": ("float32", [15], list(ROBOT_OBS_NAMES)),
        "observation.environment_state": ("float32", [24], list(SCENE_OBS_NAMES)),
        "action": ("float32", [7], list(REL_ACTION_NAMES)),
        "absolute_action": ("float32", [7], list(ABS_ACTION_NAMES)),
        "timestamp": ("float32", [1], None),
        "frame_index": ("int64", [1], None),
        "episode_index": ("int64", [1], None),
        "index": ("int64", [1], None),
        "task_index": ("int64", [1], None),
        STATIC: ("video", [SIZE, SIZE, 3], ["height", "width", "channels"]),
        WRIST: ("video", [SIZE, SIZE, 3], ["height", "width", "channels"]),
    }
    assert {key: (f["dtype"], f["shape"], f["names"]) for key, f in features.items()} == expected
    video = features[STATIC]["info"]
    assert video["video.codec"] == "av1" and video["video.pix_fmt"] == "yuv420p"
    assert (video["video.height"], video["video.width"], video["video.fps"], video["video.channels"]) == (64, 64, 30, 3)
    # Nothing but the documented layout (and our sidecar, which LeRobot ignores).
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert files == [
        "data/chunk-000/file-000.parquet",
        "meta/diwa.json",
        "meta/episodes/chunk-000/file-000.parquet",
        "meta/info.json",
        "meta/stats.json",
        "meta/tasks.parquet",
        f"videos/{STATIC}/chunk-000/file-000.mp4",
        f"videos/{WRIST}/chunk-000/file-000.mp4",
    ]


def test_export_tables_read_by_hugging_face_datasets(exported: tuple[Dataset, Path], tmp_path: Path) -> None:
    from datasets import load_dataset as hf_load

    dataset, out = exported
    frames = hf_load(
        "parquet", data_files=str(out / "data/chunk-000/file-000.parquet"), split="train", cache_dir=str(tmp_path)
    )
    assert frames.num_rows == len(dataset)
    assert set(frames.column_names) == {
        "observation.state",
        "observation.environment_state",
        "action",
        "absolute_action",
        "timestamp",
        "frame_index",
        "episode_index",
        "index",
        "task_index",
    }
    table = frames.with_format("numpy")
    np.testing.assert_array_equal(np.stack(table["observation.state"]), dataset.robot_obs)
    np.testing.assert_array_equal(np.stack(table["observation.environment_state"]), dataset.scene_obs)
    np.testing.assert_array_equal(np.stack(table["action"]), dataset.rel_actions)
    np.testing.assert_array_equal(np.stack(table["absolute_action"]), dataset.actions)
    frame_index = np.tile(np.arange(EPISODE_FRAMES), EPISODES)
    np.testing.assert_array_equal(table["frame_index"], frame_index)
    np.testing.assert_array_equal(table["episode_index"], np.repeat(np.arange(EPISODES), EPISODE_FRAMES))
    np.testing.assert_array_equal(table["index"], np.arange(len(dataset)))
    np.testing.assert_allclose(table["timestamp"], frame_index / FPS, rtol=0, atol=1e-6)

    # Tasks as LeRobot reads them: pandas, the text as the index.
    tasks = pd.read_parquet(out / "meta/tasks.parquet")
    text = [tasks.index[tasks["task_index"] == i][0] for i in table["task_index"]]
    assert text[0] == "play" and text[2] == "open the drawer" and text[12] == "open the drawer"
    assert text[13] == "turn on the led" and text[20] == "play" and text[41] == "stack"

    episodes = hf_load(
        "parquet",
        data_files=str(out / "meta/episodes/chunk-000/file-000.parquet"),
        split="train",
        cache_dir=str(tmp_path),
    )
    rows = episodes.to_list()
    assert [r["episode_index"] for r in rows] == [0, 1, 2]
    assert [r["length"] for r in rows] == [EPISODE_FRAMES] * EPISODES
    assert [(r["dataset_from_index"], r["dataset_to_index"]) for r in rows] == [(0, 20), (20, 40), (40, 60)]
    assert rows[0]["tasks"] == ["play", "open the drawer", "turn on the led"] and rows[1]["tasks"] == ["play"]
    assert all((r["data/chunk_index"], r["data/file_index"]) == (0, 0) for r in rows)
    assert rows[1]["stats/observation.state/mean"] == pytest.approx(dataset.robot_obs[20:40].mean(axis=0), abs=1e-6)

    stats = json.loads((out / "meta/stats.json").read_text())
    assert stats["observation.state"]["mean"] == pytest.approx(dataset.robot_obs.mean(axis=0), abs=1e-6)
    assert stats["action"]["max"] == pytest.approx(dataset.rel_actions.max(axis=0), abs=1e-6)
    assert stats["observation.state"]["count"] == [len(dataset)]
    assert np.asarray(stats[STATIC]["mean"]).shape == (3, 1, 1)


def test_export_videos_read_by_av(exported: tuple[Dataset, Path]) -> None:
    dataset, out = exported
    rows = pq.read_table(out / "meta/episodes/chunk-000/file-000.parquet").to_pylist()
    for image_key, video_key in (("rgb_static", STATIC), ("rgb_gripper", WRIST)):
        times, frames, codec, pix_fmt = decode(out / f"videos/{video_key}/chunk-000/file-000.mp4")
        assert (codec, pix_fmt) == ("av1", "yuv420p")
        assert frames.shape == (len(dataset), SIZE, SIZE, 3)
        for row, (start, end) in zip(rows, dataset.episodes, strict=True):
            begin, stop = row[f"videos/{video_key}/from_timestamp"], row[f"videos/{video_key}/to_timestamp"]
            inside = [i for i, t in enumerate(times) if begin - 1e-4 <= t < stop - 1e-4]
            assert len(inside) == end - start + 1
            error = np.abs(frames[inside].astype(float) - dataset.images[image_key][start : end + 1]).mean()
            assert error < 6.0, (video_key, row["episode_index"], error)


def test_round_trip_export_import(exported: tuple[Dataset, Path], tmp_path: Path) -> None:
    dataset, out = exported
    back = import_lerobot(out)
    for key in ("robot_obs", "scene_obs", "actions", "rel_actions"):
        np.testing.assert_array_equal(getattr(back, key), getattr(dataset, key))
    assert back.episodes == dataset.episodes
    assert back.annotations == dataset.annotations  # exact windows, overlaps included (meta/diwa.json)
    for key, frames in dataset.images.items():
        assert back.images[key].shape == frames.shape and back.images[key].dtype == np.uint8
        assert np.abs(back.images[key].astype(float) - frames).mean() < 6.0
    assert back.provenance["scene_state"] == "read from observation.environment_state"
    assert back.provenance["exported_from"] == dataset.provenance
    assert load_dataset(save_dataset(back, tmp_path / "back")).episodes == dataset.episodes

    # Without our sidecar (a dataset edited by other tools), annotations come from the frames' tasks:
    # a frame holds one task, so of two overlapping windows the later one starts where the first ends.
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    (copy / "meta/diwa.json").unlink()
    assert import_lerobot(copy).annotations == [
        Annotation(2, 12, "open_drawer"),
        Annotation(13, 19, "turn_on_led"),
        Annotation(41, 55, "stack"),
    ]


def test_cli_export_and_import(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = save_dataset(play(), tmp_path / "play")
    out, back = tmp_path / "lerobot", tmp_path / "back"
    assert main(["data", "export-lerobot", str(source), "--out", str(out), "--quiet"]) == 0
    assert main(["data", "import-lerobot", str(out), "--out", str(back), "--quiet"]) == 0
    assert "wrote 60 frames, 3 episodes, 3 annotations" in capsys.readouterr().out
    original, copy = load_dataset(source), load_dataset(back)
    np.testing.assert_array_equal(copy.robot_obs, original.robot_obs)
    np.testing.assert_array_equal(copy.rel_actions, original.rel_actions)
    assert copy.episodes == original.episodes and copy.annotations == original.annotations
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging or scratch left

    # --out holding other data is refused, with or without --overwrite; a LeRobot export is replaced
    # only with --overwrite, and an import replaces only a dataset.
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    for command in ("export-lerobot", "import-lerobot"):
        src = source if command == "export-lerobot" else out
        assert main(["data", command, str(src), "--out", str(other), "--quiet"]) == 2
        assert main(["data", command, str(src), "--out", str(other), "--overwrite", "--quiet"]) == 2
    assert [p.name for p in other.iterdir()] == ["notes.txt"]
    assert main(["data", "export-lerobot", str(source), "--out", str(out), "--quiet"]) == 2
    assert main(["data", "export-lerobot", str(source), "--out", str(out), "--overwrite", "--quiet"]) == 0
    assert main(["data", "export-lerobot", str(back), "--out", str(source), "--overwrite", "--quiet"]) == 2
    assert "holds something other than a LeRobot dataset" in capsys.readouterr().err
    assert main(["data", "import-lerobot", str(out), "--out", str(out), "--overwrite", "--quiet"]) == 2
    assert "is, holds or lies inside the input" in capsys.readouterr().err
    assert load_dataset(source).episodes == original.episodes


def test_import_refuses_bad_input(exported: tuple[Dataset, Path], tmp_path: Path) -> None:
    _, out = exported
    with pytest.raises(FileNotFoundError, match="no meta/info.json"):
        import_lerobot(tmp_path)
    with pytest.raises(FileNotFoundError, match="not a directory"):
        import_lerobot(tmp_path / "nowhere")

    def broken(name: str) -> Path:
        copy = tmp_path / name
        shutil.copytree(out, copy)
        return copy

    old = broken("v21")
    info = json.loads((old / "meta/info.json").read_text())
    (old / "meta/info.json").write_text(json.dumps({**info, "codebase_version": "v2.1"}))
    with pytest.raises(ValueError, match="unsupported LeRobot codebase_version 'v2.1'"):
        import_lerobot(old)

    garbled = broken("garbled")
    (garbled / "meta/info.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        import_lerobot(garbled)

    truncated = broken("truncated")
    data = truncated / "data/chunk-000/file-000.parquet"
    data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])
    with pytest.raises(ValueError, match="truncated or corrupt"):
        import_lerobot(truncated)

    cut_video = broken("cut_video")
    video = cut_video / f"videos/{WRIST}/chunk-000/file-000.mp4"
    video.write_bytes(video.read_bytes()[: video.stat().st_size // 2])
    with pytest.raises(ValueError, match="truncated"):
        import_lerobot(cut_video)

    no_video = broken("no_video")
    (no_video / f"videos/{STATIC}/chunk-000/file-000.mp4").unlink()
    with pytest.raises(FileNotFoundError, match="missing video"):
        import_lerobot(no_video)

    no_episodes = broken("no_episodes")
    shutil.rmtree(no_episodes / "meta/episodes")
    with pytest.raises(FileNotFoundError, match="no episode metadata"):
        import_lerobot(no_episodes)

    slow = broken("slow")
    (slow / "meta/info.json").write_text(json.dumps({**info, "fps": 15}))
    with pytest.raises(ValueError, match="recorded at 15 fps"):
        import_lerobot(slow)

    # A failed import through the command writes nothing.
    assert main(["data", "import-lerobot", str(truncated), "--out", str(tmp_path / "out"), "--quiet"]) == 2
    assert not (tmp_path / "out").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_export_refuses_what_lerobot_cannot_hold(tmp_path: Path) -> None:
    gap = dataclasses.replace(play(images=False), episodes=[(0, 19), (25, 59)], annotations=[])
    with pytest.raises(ValueError, match=r"frames 20\.\.24 belong to no episode"):
        export_lerobot(gap, tmp_path / "gap")
    odd = play(images=False)
    odd = dataclasses.replace(odd, images={"rgb_static": camera(len(odd), 0, 63, 64)})
    with pytest.raises(ValueError, match="even width and height"):
        export_lerobot(odd, tmp_path / "odd")
    assert not list(tmp_path.iterdir())


# --- a Franka recording, laid out as LeRobot records one -----------------------------------------


def franka_motion(n_episodes: int = 2, length: int = 30) -> tuple[np.ndarray, np.ndarray, list[tuple[int, int]]]:
    """Joint angles from CALVIN's home pose, swaying smoothly; the gripper open, closing half-way."""
    t = np.arange(length) / FPS
    joints, width = [], []
    for e in range(n_episodes):
        sway = 0.15 * np.sin(2 * np.pi * 0.5 * t + e)[:, None] * np.linspace(1.0, 0.3, 7)[None, :]
        joints.append(np.asarray(g.HOME_JOINTS) + sway - sway[0])
        w = np.full(length, 0.08)
        w[length // 2 :] = np.maximum(0.08 - 0.01 * np.arange(1, length - length // 2 + 1), 0.03)
        width.append(w)
    episodes = [(e * length, (e + 1) * length - 1) for e in range(n_episodes)]
    return np.concatenate(joints), np.concatenate(width), episodes


def write_franka_dataset(
    root: Path,
    state: np.ndarray,
    state_names: list[str] | None,
    episodes: list[tuple[int, int]],
    extra: dict[str, np.ndarray] | None = None,
    cameras: tuple[str, ...] = ("observation.images.front", "observation.images.wrist"),
    fps: int = FPS,
) -> None:
    """A v3.0 dataset as lerobot 0.4 writes one (h264 videos, tasks with pandas' unnamed index, a
    joint-space action), written here without the diwa.data.lerobot_* modules."""
    n = len(state)
    lengths = [end - start + 1 for start, end in episodes]
    frame_index = np.concatenate([np.arange(length) for length in lengths])
    joint_targets = np.concatenate([state[:, :7], np.zeros((n, 1))], axis=1)  # not read: its units vary
    columns = {"observation.state": state.astype(np.float32), "action": joint_targets.astype(np.float32)}
    columns.update({key: value.astype(np.float32) for key, value in (extra or {}).items()})
    features = {
        "observation.state": {"dtype": "float32", "shape": [state.shape[1]], "names": state_names},
        "action": {"dtype": "float32", "shape": [8], "names": [f"motor_{i}" for i in range(8)]},
    }
    for key, value in (extra or {}).items():
        features[key] = {"dtype": "float32", "shape": [value.shape[1]], "names": None}
    table = {
        key: pa.FixedSizeListArray.from_arrays(pa.array(value.reshape(-1)), value.shape[1])
        for key, value in columns.items()
    }
    table["timestamp"] = pa.array((frame_index / fps).astype(np.float32))
    table["frame_index"] = pa.array(frame_index)
    table["episode_index"] = pa.array(np.repeat(np.arange(len(episodes)), lengths))
    table["index"] = pa.array(np.arange(n))
    table["task_index"] = pa.array(np.zeros(n, dtype=np.int64))
    (root / "data/chunk-000").mkdir(parents=True)
    pq.write_table(pa.table(table), root / "data/chunk-000/file-000.parquet")
    rows = [
        {
            "episode_index": e,
            "tasks": ["pick up the block"],
            "length": end - start + 1,
            "data/chunk_index": 0,
            "data/file_index": 0,
            "dataset_from_index": start,
            "dataset_to_index": end + 1,
        }
        for e, (start, end) in enumerate(episodes)
    ]
    for number, key in enumerate(cameras):
        path = root / f"videos/{key}/chunk-000/file-000.mp4"
        path.parent.mkdir(parents=True)
        frames = camera(n, 5 * number, height=48, width=80)
        with av.open(str(path), "w") as container:
            stream = container.add_stream("libx264", rate=fps)
            stream.pix_fmt, stream.width, stream.height = "yuv420p", 80, 48
            for i, image in enumerate(frames):
                frame = av.VideoFrame.from_ndarray(image, format="rgb24")
                frame.pts, frame.time_base = i, Fraction(1, fps)
                for packet in stream.encode(frame):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
        for row, (start, end) in zip(rows, episodes, strict=True):
            row[f"videos/{key}/chunk_index"], row[f"videos/{key}/file_index"] = 0, 0
            row[f"videos/{key}/from_timestamp"], row[f"videos/{key}/to_timestamp"] = start / fps, (end + 1) / fps
        features[key] = {"dtype": "video", "shape": [48, 80, 3], "names": ["height", "width", "channels"]}
    (root / "meta/episodes/chunk-000").mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(rows), root / "meta/episodes/chunk-000/file-000.parquet")
    pd.DataFrame({"task_index": [0]}, index=["pick up the block"]).to_parquet(root / "meta/tasks.parquet")
    for key in ("timestamp", "frame_index", "episode_index", "index", "task_index"):
        features[key] = {"dtype": "float32" if key == "timestamp" else "int64", "shape": [1], "names": None}
    info = {
        "codebase_version": "v3.0",
        "robot_type": "franka",
        "total_episodes": len(episodes),
        "total_frames": n,
        "total_tasks": 1,
        "chunks_size": 1000,
        "fps": fps,
        "data_path": "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet",
        "video_path": "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4",
        "features": features,
    }
    (root / "meta/info.json").write_text(json.dumps(info))


JOINT_NAMES = [f"fr3_joint{i}" for i in range(1, 8)]


@pytest.mark.parametrize("layout", ["width", "fingers", "separate"])
def test_import_franka_recording(layout: str, tmp_path: Path) -> None:
    joints, width, episodes = franka_motion()
    extra = None
    if layout == "width":
        state, names = np.concatenate([joints, width[:, None]], axis=1), [*JOINT_NAMES, "gripper_width"]
    elif layout == "fingers":
        fingers = np.repeat(width[:, None] / 2, 2, axis=1)
        state, names = np.concatenate([joints, fingers], axis=1), [*JOINT_NAMES, "finger1", "finger2"]
    else:
        state, names, extra = joints, None, {"observation.gripper_width": width[:, None]}
    write_franka_dataset(tmp_path / "franka", state, names, episodes, extra)
    dataset = import_lerobot(tmp_path / "franka")

    n = len(joints)
    joints32 = joints.astype(np.float32).astype(np.float64)
    position, euler = tcp_pose(joints32)
    np.testing.assert_allclose(dataset.robot_obs[:, 7:14], joints32, atol=1e-6)
    np.testing.assert_allclose(dataset.robot_obs[:, 6], width, atol=1e-6)
    np.testing.assert_allclose(dataset.robot_obs[:, 0:3], position, atol=1e-5)
    np.testing.assert_allclose(dataset.robot_obs[:, 3:6], euler, atol=1e-5)
    np.testing.assert_allclose(dataset.robot_obs[0, 0:3], g.HOME_TCP_POS, atol=2e-4)  # starts at CALVIN's home
    assert dataset.episodes == episodes
    # Relative actions are the recorded TCP motion in CALVIN's units; an episode's last frame holds.
    start, end = episodes[0]
    np.testing.assert_allclose(
        dataset.rel_actions[start:end, 0:3], np.diff(position[start : end + 1], axis=0) / 0.02, atol=1e-4
    )
    assert not dataset.rel_actions[end, :6].any()
    np.testing.assert_allclose(dataset.actions[start:end, 0:3], position[start + 1 : end + 1], atol=1e-5)
    # The gripper opens until the width starts to shrink, then closes; robot_obs[14] lags by a frame.
    closing = start + 30 // 2 - 1
    assert (dataset.rel_actions[start:closing, 6] == 1).all() and (dataset.rel_actions[closing:end, 6] == -1).all()
    np.testing.assert_array_equal(dataset.robot_obs[start + 1 : end + 1, 14], dataset.rel_actions[start:end, 6])
    assert dataset.robot_obs[start, 14] == 1
    # No scene state: zeros, marked absent; cameras at their native size, the wrist one found by name.
    assert not dataset.scene_obs.any() and dataset.scene_obs.shape == (n, 24)
    assert dataset.provenance["scene_state"] == "absent"
    assert dataset.provenance["lerobot"]["cameras"] == {
        "rgb_static": "observation.images.front",
        "rgb_gripper": "observation.images.wrist",
    }
    assert dataset.images["rgb_static"].shape == (n, 48, 80, 3)
    assert np.abs(dataset.images["rgb_gripper"].astype(float) - camera(n, 5, 48, 80)).mean() < 6.0
    assert dataset.annotations == [Annotation(s, e, "pick up the block") for s, e in episodes]
    saved = load_dataset(save_dataset(dataset, tmp_path / "saved"))
    np.testing.assert_array_equal(saved.robot_obs, dataset.robot_obs)
    assert saved.provenance["scene_state"] == "absent"


def test_import_franka_refusals(tmp_path: Path) -> None:
    joints, width, episodes = franka_motion(1, 10)
    state = np.concatenate([joints, width[:, None]], axis=1)

    def attempt(name: str, **kwargs: object) -> Path:
        root = tmp_path / name
        write_franka_dataset(root, **{"state": state, "state_names": None, "episodes": episodes, **kwargs})
        return root

    with pytest.raises(ValueError, match="has 6 values"):
        import_lerobot(attempt("short", state=state[:, :6]))
    with pytest.raises(ValueError, match="end-effector pose"):
        import_lerobot(attempt("pose", state_names=["x", "y", "z", "roll", "pitch", "yaw", "w", "g"]))
    with pytest.raises(ValueError, match="gripper width"):
        import_lerobot(attempt("no_gripper", state=joints))
    with pytest.raises(ValueError, match=r"no observation.images.wrist \(rgb_gripper\)"):
        import_lerobot(attempt("one_camera", cameras=("observation.images.front",)))
    with pytest.raises(ValueError, match="is it in metres"):
        import_lerobot(attempt("normalised", state=np.concatenate([joints, width[:, None] * 12], axis=1)))
    ambiguous = attempt("ambiguous", cameras=("observation.images.left", "observation.images.right"))
    with pytest.raises(ValueError, match="--static-camera"):
        import_lerobot(ambiguous)
    chosen = {"rgb_static": "observation.images.left", "rgb_gripper": "observation.images.right"}
    assert sorted(import_lerobot(ambiguous, cameras=chosen).images) == ["rgb_gripper", "rgb_static"]


def test_forward_kinematics_gives_calvins_home_tcp() -> None:
    position, euler = tcp_pose(np.asarray([g.HOME_JOINTS]))
    np.testing.assert_allclose(position[0], g.HOME_TCP_POS, atol=1e-4)
    np.testing.assert_allclose(euler[0], g.HOME_TCP_EULER, atol=1e-4)


def test_gripper_action_inferred_from_width() -> None:
    width = np.array([0.03, 0.03, 0.05, 0.08, 0.08, 0.0805, 0.08, 0.06, 0.04, 0.04, 0.04])
    spans = [(0, 6), (7, 10)]
    # Episode 1 opens from frame 1 (so it was closed before); episode 2 closes from its first frame.
    expected = [-1, -1, 1, 1, 1, 1, 1, 1, -1, -1, -1]
    np.testing.assert_array_equal(_applied_gripper_actions(width, spans), expected)
    # A gripper that never moves is open when its width is at least half of 0.08 m.
    np.testing.assert_array_equal(
        _applied_gripper_actions(np.array([0.07, 0.07, 0.01, 0.01]), [(0, 1), (2, 3)]), [1, 1, -1, -1]
    )


def test_export_splits_files_and_chunks_as_v3_does(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """With tiny size limits every episode gets its own data and video file, two files per chunk;
    the metadata still finds every frame."""
    import diwa.data.lerobot_export as lerobot_export

    monkeypatch.setattr(lerobot_export, "DATA_FILES_SIZE_IN_MB", 0.001)
    monkeypatch.setattr(lerobot_export, "VIDEO_FILES_SIZE_IN_MB", 1e-6)
    monkeypatch.setattr(lerobot_export, "CHUNKS_SIZE", 2)
    dataset = play()
    out = export_lerobot(dataset, tmp_path / "split")
    places = ["chunk-000/file-000", "chunk-000/file-001", "chunk-001/file-000"]
    assert sorted(str(p.relative_to(out / "data"))[:-8] for p in (out / "data").rglob("*.parquet")) == places
    assert (
        sorted(str(p.relative_to(out / "videos" / STATIC))[:-4] for p in (out / "videos" / STATIC).rglob("*.mp4"))
        == places
    )
    episode_files = sorted((out / "meta/episodes").rglob("*.parquet"))
    assert [str(p.relative_to(out / "meta/episodes"))[:-8] for p in episode_files] == places
    rows = [row for path in episode_files for row in pq.read_table(path).to_pylist()]
    assert [(r["data/chunk_index"], r["data/file_index"]) for r in rows] == [(0, 0), (0, 1), (1, 0)]
    assert [(r[f"videos/{STATIC}/chunk_index"], r[f"videos/{STATIC}/file_index"]) for r in rows] == [
        (0, 0),
        (0, 1),
        (1, 0),
    ]
    assert [(r["meta/episodes/chunk_index"], r["meta/episodes/file_index"]) for r in rows] == [(0, 0), (0, 1), (1, 0)]
    assert [r[f"videos/{WRIST}/from_timestamp"] for r in rows] == [0.0, 0.0, 0.0]
    back = import_lerobot(out)
    np.testing.assert_array_equal(back.robot_obs, dataset.robot_obs)
    for key, frames in dataset.images.items():
        assert np.abs(back.images[key].astype(float) - frames).mean() < 6.0


def test_encoding_leaves_the_callers_scheduling_policy_alone(tmp_path: Path) -> None:
    """SVT-AV1 makes the encoding thread real-time; processes it starts later would inherit that."""
    before = (os.sched_getscheduler(0), os.sched_getparam(0))
    export_lerobot(play(), tmp_path / "out")
    assert (os.sched_getscheduler(0), os.sched_getparam(0)) == before
