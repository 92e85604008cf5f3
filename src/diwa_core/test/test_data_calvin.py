"""CALVIN layout round trip, conversion, malformed files, annotation windows, demos and the data CLI."""

import json
import os
from pathlib import Path

import numpy as np
import pytest
from diwa.cli import main
from diwa.data.annotate import annotate_windows
from diwa.data.calvin_layout import EPISODE_IDS, LANG_FILE, frame_file, instruction, read_calvin, write_calvin
from diwa.data.convert import convert, detect_layout
from diwa.data.dataset import Annotation, Dataset, load_dataset
from diwa.data.demos import collect_demos
from diwa.data.recorder import EpisodeRecorder
from diwa.sim import make_env
from diwa.sim.obs_layout import DRAWER, LED
from diwa.sim.oracle import completed_tasks
from diwa.sim.start_states import sample_states


def small_dataset(images: bool = True) -> Dataset:
    rng = np.random.default_rng(0)
    n = 12
    robot_obs, scene_obs = sample_states(rng, n)
    return Dataset(
        robot_obs=robot_obs,
        scene_obs=scene_obs,
        actions=np.concatenate([robot_obs[:, :6], robot_obs[:, 14:15]], axis=1),
        rel_actions=rng.uniform(-1, 1, size=(n, 7)).astype(np.float32),
        episodes=[(0, 4), (5, 11)],
        annotations=[Annotation(0, 4, "open_drawer"), Annotation(6, 11, "turn_on_led")],
        images={"rgb_static": rng.integers(0, 256, size=(n, 8, 8, 3), dtype=np.uint8)} if images else {},
        provenance={"source": "test"},
    )


def assert_same(a: Dataset, b: Dataset) -> None:
    for key in ("robot_obs", "scene_obs", "actions", "rel_actions"):
        np.testing.assert_array_equal(getattr(a, key), getattr(b, key))
    assert a.episodes == b.episodes and a.annotations == b.annotations
    assert sorted(a.images) == sorted(b.images)
    for key in a.images:
        np.testing.assert_array_equal(a.images[key], b.images[key])


def test_calvin_layout_round_trip(tmp_path: Path) -> None:
    original = small_dataset()
    root = write_calvin(original, tmp_path / "calvin", progress=False)
    assert sorted(p.name for p in root.glob("episode_*.npz"))[0] == "episode_0000000.npz"
    with np.load(frame_file(root, 3)) as frame:
        assert set(frame.files) == {"actions", "rel_actions", "robot_obs", "scene_obs", "rgb_static"}
    np.testing.assert_array_equal(np.load(root / EPISODE_IDS), [[0, 4], [5, 11]])
    language = np.load(root / LANG_FILE, allow_pickle=True).item()
    assert language["info"]["indx"] == [(0, 4), (6, 11)]
    assert language["language"]["task"] == ["open_drawer", "turn_on_led"]
    assert language["language"]["ann"] == ["open the drawer", "turn on the led"]
    back = read_calvin(root, progress=False)
    assert_same(original, back)
    assert back.provenance == {"source": "test"}


def test_reading_renumbers_frame_ids_that_do_not_start_at_zero(tmp_path: Path) -> None:
    root = write_calvin(small_dataset(images=False), tmp_path / "calvin", progress=False)
    for i in reversed(range(12)):
        frame_file(root, i).rename(frame_file(root, 1000 + i))
    np.save(root / EPISODE_IDS, np.array([[1000, 1004], [1005, 1011]]))
    language = np.load(root / LANG_FILE, allow_pickle=True).item()
    language["info"]["indx"] = [(1000, 1004), (1006, 1011)]
    np.save(root / LANG_FILE, np.asarray(language, dtype=object), allow_pickle=True)
    assert_same(small_dataset(images=False), read_calvin(root, progress=False))


def test_truncated_and_missing_files_raise_clear_errors(tmp_path: Path) -> None:
    root = write_calvin(small_dataset(), tmp_path / "calvin", progress=False)
    victim = frame_file(root, 7)
    victim.write_bytes(victim.read_bytes()[:100])
    with pytest.raises(ValueError, match=r"episode_0000007\.npz.*truncated or corrupt"):
        read_calvin(root, progress=False)
    victim.unlink()
    with pytest.raises(FileNotFoundError, match="episode_0000007"):
        read_calvin(root, progress=False)
    (root / EPISODE_IDS).write_bytes(b"\x93NUMPY garbage")
    with pytest.raises(ValueError, match="ep_start_end_ids"):
        read_calvin(root, progress=False)
    with pytest.raises(FileNotFoundError, match="not a CALVIN dataset"):
        read_calvin(tmp_path / "nowhere", progress=False)


class _RunsCode:
    """Pickles to a call of os.system, as a crafted annotation file would."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_crafted_annotation_pickle_is_refused_without_running_it(tmp_path: Path, capsys) -> None:
    root = write_calvin(small_dataset(images=False), tmp_path / "calvin", progress=False)
    marker = tmp_path / "code_ran"
    crafted = {"info": {"indx": [(0, 4)]}, "language": {"task": [_RunsCode(marker)], "ann": ["x"]}}
    np.save(root / LANG_FILE, np.asarray(crafted, dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="refusing to load posix.system"):
        read_calvin(root, progress=False)
    assert main(["data", "convert", str(root), str(tmp_path / "out")]) == 2
    assert "refusing to load" in capsys.readouterr().err
    assert not marker.exists()


def test_frame_missing_a_key_is_rejected(tmp_path: Path) -> None:
    root = write_calvin(small_dataset(images=False), tmp_path / "calvin", progress=False)
    np.savez(frame_file(root, 2), actions=np.zeros(7), robot_obs=np.zeros(15), scene_obs=np.zeros(24))
    with pytest.raises(ValueError, match="lacks 'rel_actions'"):
        read_calvin(root, progress=False)


def test_convert_between_layouts(tmp_path: Path) -> None:
    from diwa.data.dataset import save_dataset

    original = small_dataset()
    save_dataset(original, tmp_path / "consolidated")
    assert detect_layout(tmp_path / "consolidated") == "consolidated"
    convert(tmp_path / "consolidated", tmp_path / "calvin", "calvin", progress=False)
    assert detect_layout(tmp_path / "calvin") == "calvin"
    convert(tmp_path / "calvin", tmp_path / "back", "consolidated", progress=False)
    assert_same(original, load_dataset(tmp_path / "back"))
    with pytest.raises(ValueError, match="layout"):
        convert(tmp_path / "calvin", tmp_path / "x", "hdf5")
    with pytest.raises(FileNotFoundError):
        detect_layout(tmp_path)


def test_annotation_windows_end_at_the_completion() -> None:
    n = 100
    robot = np.zeros((n, 15))
    scene = np.zeros((n, 24))
    scene[:, 6:24:6] = np.arange(3) * 0.1  # blocks apart
    scene[:, 8:24:6] = 0.46
    scene[:, DRAWER] = np.clip((np.arange(n) - 40) * 0.01, 0.0, 0.2)  # opens 1 cm per frame from frame 40
    scene[70:, LED] = 1.0
    annotations = annotate_windows(robot, scene, [(0, n - 1)])
    assert Annotation(0, 53, "open_drawer") in annotations  # first frame where the change exceeds 0.12
    assert Annotation(7, 70, "turn_on_led") in annotations
    assert len(annotations) == 2
    # In 10-frame windows the drawer moves at most 0.09: too slow to count as opening it.
    assert annotate_windows(robot, scene, [(0, n - 1)], window=10) == [Annotation(61, 70, "turn_on_led")]


def test_demos_are_successful_and_annotated() -> None:
    env = make_env()
    dataset = collect_demos(env, "turn_on_led", 2, seed=3, noise_std=0.1, recorder=EpisodeRecorder(200), progress=False)
    env.close()
    assert len(dataset.episodes) == 2 and [a.task for a in dataset.annotations] == ["turn_on_led"] * 2
    for (start, end), annotation in zip(dataset.episodes, dataset.annotations, strict=True):
        assert (annotation.start, annotation.end) == (start, end)
        assert dataset.scene_obs[start, LED] == 0.0 and dataset.scene_obs[end, LED] == 1.0
        assert dataset.scene_obs[end - 1, LED] == 0.0  # the episode ends at the first success frame
        first = (dataset.robot_obs[start], dataset.scene_obs[start])
        assert completed_tasks(*first, dataset.robot_obs[end], dataset.scene_obs[end]) == ["turn_on_led"]
    assert dataset.provenance["skill"] == "turn_on_led"


def test_data_cli_collects_and_converts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "demos"
    demo_args = ["--skill", "turn_off_led", "--episodes", "1", "--out", str(out), "--seed", "0", "--layout", "calvin"]
    image_args = ["--cameras", "--static-size", "32", "--gripper-size", "16"]
    assert main(["data", "collect-demos", *demo_args, *image_args, "--quiet"]) == 0
    dataset = read_calvin(out, progress=False)
    assert dataset.images["rgb_static"].shape[1:] == (32, 32, 3)
    assert dataset.images["rgb_gripper"].shape[1:] == (16, 16, 3)
    assert [a.task for a in dataset.annotations] == ["turn_off_led"]
    assert not list(tmp_path.glob(".*scratch-*")), "scratch directory left behind"
    assert main(["data", "convert", str(out), str(tmp_path / "consolidated")]) == 0
    assert len(load_dataset(tmp_path / "consolidated")) == len(dataset)
    assert (
        main(["data", "collect-play", "--frames", "40", "--out", str(tmp_path / "play"), "--seed", "1", "--quiet"]) == 0
    )
    assert len(load_dataset(tmp_path / "play")) == 40
    near_miss = ["--near-miss-prob", "0.5", "--near-miss-m", "0.03", "0.08", "--seed", "1", "--quiet"]
    box = ["--free-motion-box", "-0.4", "-0.4", "0.3", "0.4", "0.0", "0.6"]
    assert main(["data", "collect-play", "--frames", "40", "--out", str(tmp_path / "nm"), *near_miss, *box]) == 0
    recorded = json.loads((tmp_path / "nm" / "meta.json").read_text())["provenance"]["play"]
    assert recorded["near_miss_prob"] == 0.5 and recorded["near_miss_m"] == [0.03, 0.08]
    assert recorded["free_motion_low"] == [-0.4, -0.4, 0.3] and recorded["free_motion_high"] == [0.4, 0.0, 0.6]
    assert main(["data", "collect-play", "--frames", "0", "--out", str(tmp_path / "x"), "--seed", "1"]) == 2
    assert "frames" in capsys.readouterr().err


def test_instructions_read_naturally() -> None:
    assert instruction("move_slider_left") == "slide the door to the left"
    assert instruction("turn_off_lightbulb") == "turn off the lightbulb"
    assert instruction("push_red_block_right") == "push the red block to the right"
    assert instruction("lift_blue_block_slider") == "lift the blue block from the slider"
