"""Bags -> consolidated dataset, on synthetic play bags written without ROS: actions come back from
the twist stream, images and annotations land on the right frames, episodes split at pauses, a
cut-off bag converts up to the cut, and bags without what is needed are refused clearly."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from diwa.cli import main
from diwa.data.bag_reader import BagError
from diwa.data.bag_types import MessageTypes
from diwa.data.bag_writer import BagWriter, Topic
from diwa.data.dataset import load_dataset, save_dataset, scene_absent
from diwa.data.rosbag import BagTopics, ConversionConfig, bags_to_dataset
from diwa.robot_contract import action_to_twist
from diwa.sim.start_states import sample_states
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import get_types_from_msg

SRC = Path(__file__).resolve().parents[2]  # src/<package>/msg has the layout of share/<package>/msg
TYPES = MessageTypes([SRC])
PERIOD_NS = 33_333_333
T0 = 1_700_000_000 * 10**9
SCENE, TWIST, ANNOTATIONS = "/mock_robot/scene_state", "/servo_node/delta_twist_cmds", "/diwa/annotations"
STATIC, GRIPPER = "/camera/static/image_raw", "/camera/gripper/image_raw"
TOPIC_TYPES = {
    SCENE: "diwa_msgs/msg/SceneState",
    TWIST: "geometry_msgs/msg/TwistStamped",
    ANNOTATIONS: "diwa_msgs/msg/Annotation",
    STATIC: "sensor_msgs/msg/Image",
    GRIPPER: "sensor_msgs/msg/Image",
}


def _message(type_name: str, **fields: object) -> object:
    TYPES.definition(type_name)  # loads diwa_msgs from the source tree on first use
    return TYPES.store.types[type_name](**fields)


def _header(stamp_ns: int) -> object:
    time = _message("builtin_interfaces/msg/Time", sec=stamp_ns // 10**9, nanosec=stamp_ns % 10**9)
    return _message("std_msgs/msg/Header", stamp=time, frame_id="world")


def _serialize(type_name: str, msg: object) -> bytes:
    return bytes(TYPES.store.serialize_cdr(msg, type_name))


@dataclass
class Play:
    """A synthetic recording: per tick a frame, two camera images and the command that answers it."""

    actions: np.ndarray
    robot_obs: np.ndarray
    scene_obs: np.ndarray
    images: dict[str, np.ndarray]
    frame_times: np.ndarray


def make_play(ticks: int, gap_after: int | None = None, seed: int = 0) -> Play:
    rng = np.random.default_rng(seed)
    actions = rng.uniform(-1, 1, size=(ticks, 7))
    actions[:, 6] = np.where(rng.random(ticks) < 0.5, -1.0, 1.0)
    robot_obs, scene_obs = (states.astype(np.float64) for states in sample_states(rng, ticks))
    robot_obs[0, 14] = 1.0
    robot_obs[1:, 14] = actions[:-1, 6]  # the gripper action the robot applied on the way to each frame
    offsets = np.arange(ticks) * PERIOD_NS
    if gap_after is not None:
        offsets[gap_after + 1 :] += 2 * 10**9
    return Play(
        actions=actions,
        robot_obs=robot_obs,
        scene_obs=scene_obs,
        images={
            "rgb_static": rng.integers(0, 256, size=(ticks, 6, 8, 3), dtype=np.uint8),
            "rgb_gripper": rng.integers(0, 256, size=(ticks, 4, 4, 3), dtype=np.uint8),
        },
        frame_times=T0 + offsets,
    )


def play_messages(
    play: Play,
    annotations: tuple[tuple[int, int, str], ...] = (),
    images: bool = True,
    frame_delay_ns: int = 1_000_000,
    command_delay_ns: int = 5_000_000,
    stamp_clock_offset_ns: int = 0,
    scene_measured: bool = True,
) -> list[tuple[str, int, bytes]]:
    """(topic, receive time, CDR) in the order the recorder receives them. Tick k starts at
    frame_times[k] (its stamp, on a clock offset by stamp_clock_offset_ns), its frame arrives
    frame_delay_ns later and the command answering it command_delay_ns after the tick start."""
    messages = []
    for k, t in enumerate(play.frame_times.tolist()):
        stamp = t + stamp_clock_offset_ns
        scene = _message(
            "diwa_msgs/msg/SceneState",
            header=_header(stamp),
            robot_obs=play.robot_obs[k],
            scene_obs=play.scene_obs[k] if scene_measured else np.zeros(24),
            scene_measured=scene_measured,
        )
        messages.append((SCENE, t + frame_delay_ns, _serialize(TOPIC_TYPES[SCENE], scene)))
        if images:
            for topic, key in ((STATIC, "rgb_static"), (GRIPPER, "rgb_gripper")):
                rgb = play.images[key][k]
                image = _message(
                    "sensor_msgs/msg/Image",
                    header=_header(stamp),
                    height=rgb.shape[0],
                    width=rgb.shape[1],
                    encoding="rgb8",
                    is_bigendian=0,
                    step=rgb.shape[1] * 3,
                    data=rgb.reshape(-1).copy(),
                )
                messages.append((topic, t + frame_delay_ns + 1_000_000, _serialize(TOPIC_TYPES[topic], image)))
        twist = action_to_twist(play.actions[k])
        vector = "geometry_msgs/msg/Vector3"
        command = _message(
            "geometry_msgs/msg/TwistStamped",
            header=_header(stamp + command_delay_ns),
            twist=_message(
                "geometry_msgs/msg/Twist",
                linear=_message(vector, x=twist.linear[0], y=twist.linear[1], z=twist.linear[2]),
                angular=_message(vector, x=twist.angular[0], y=twist.angular[1], z=twist.angular[2]),
            ),
        )
        messages.append((TWIST, t + command_delay_ns, _serialize(TOPIC_TYPES[TWIST], command)))
    messages.sort(key=lambda m: m[1])  # the recorder receives them in time order
    end = int(play.frame_times[-1]) + 50_000_000
    for start, stop, task in annotations:
        note = _message("diwa_msgs/msg/Annotation", header=_header(end), start_frame=start, end_frame=stop, task=task)
        messages.append((ANNOTATIONS, end, _serialize(TOPIC_TYPES[ANNOTATIONS], note)))
    return messages


def write_with_rosbags(path: Path, messages: list[tuple[str, int, bytes]], types: dict[str, str] = TOPIC_TYPES) -> Path:
    """A chunked, indexed MCAP bag from another writer than ours (rosbags')."""
    with Writer(path, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        connections = {
            topic: writer.add_connection(topic, types[topic], typestore=TYPES.store)
            for topic in dict.fromkeys(t for t, _, _ in messages)
        }
        for topic, time, data in messages:
            writer.write(connections[topic], time, data)
    return path


def write_with_diwa(path: Path, messages: list[tuple[str, int, bytes]]) -> BagWriter:
    writer = BagWriter(path)
    for topic, time, data in messages:
        writer.add_topic(Topic(topic, TYPES.definition(TOPIC_TYPES[topic])))
        writer.write(topic, time, data)
    return writer


def expected_rel_actions(play: Play, episodes: list[tuple[int, int]]) -> np.ndarray:
    expected = np.clip(play.actions, -1, 1)
    for _, end in episodes:
        expected[end, :6] = 0.0  # no successor frame: hold
        expected[end, 6] = play.robot_obs[end, 14]
    return expected


def test_actions_images_episodes_and_annotations_come_back_from_a_rosbags_bag(tmp_path: Path) -> None:
    play = make_play(40, gap_after=24)
    bag = write_with_rosbags(tmp_path / "play", play_messages(play, annotations=((2, 20, "open_drawer"),)))
    dataset = bags_to_dataset([bag])

    assert len(dataset) == 40 and dataset.episodes == [(0, 24), (25, 39)]
    np.testing.assert_allclose(dataset.robot_obs, play.robot_obs.astype(np.float32))
    np.testing.assert_allclose(dataset.scene_obs, play.scene_obs.astype(np.float32))
    np.testing.assert_allclose(dataset.rel_actions, expected_rel_actions(play, dataset.episodes), atol=1e-6)
    successor = [min(k + 1, 24) if k <= 24 else min(k + 1, 39) for k in range(40)]
    np.testing.assert_allclose(dataset.actions[:, :6], play.robot_obs[successor, :6].astype(np.float32))
    for key in ("rgb_static", "rgb_gripper"):
        np.testing.assert_array_equal(dataset.images[key], play.images[key])
    assert [tuple(a) for a in dataset.annotations] == [(2, 20, "open_drawer")]
    (bag_report,) = dataset.provenance["bags"]
    assert bag_report["truncated_files"] == [] and bag_report["frames_dropped_without_images"] == 0


def test_several_bags_concatenate_with_shifted_episodes_and_annotations(tmp_path: Path) -> None:
    first, second = make_play(10, seed=1), make_play(12, seed=2)
    bag_a = write_with_rosbags(tmp_path / "a", play_messages(first, annotations=((0, 9, "turn_on_led"),)))
    writer = write_with_diwa(tmp_path / "b", play_messages(second, annotations=((3, 8, "open_drawer"),)))
    writer.close()
    dataset = bags_to_dataset([bag_a, tmp_path / "b"])
    assert dataset.episodes == [(0, 9), (10, 21)]
    assert [tuple(a) for a in dataset.annotations] == [(0, 9, "turn_on_led"), (13, 18, "open_drawer")]
    np.testing.assert_allclose(dataset.rel_actions[10:], expected_rel_actions(second, [(0, 11)]), atol=1e-6)


def test_images_stream_to_memory_mapped_files_across_bags(tmp_path: Path) -> None:
    """With a scratch directory the pixels are written where each frame goes (a second pass over
    each bag), never collected in memory; the dataset is the one converted in memory."""
    first, second = make_play(9, seed=3), make_play(14, seed=4)
    bags = [
        write_with_rosbags(tmp_path / "a", play_messages(first)),
        write_with_diwa(tmp_path / "b", play_messages(second)).file_paths[0].parent,
    ]
    in_memory = bags_to_dataset(bags)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    streamed = bags_to_dataset(bags, image_dir=scratch)
    for key in ("rgb_static", "rgb_gripper"):
        assert isinstance(streamed.images[key], np.memmap) and Path(streamed.images[key].filename).parent == scratch
        np.testing.assert_array_equal(streamed.images[key], in_memory.images[key])
        np.testing.assert_array_equal(streamed.images[key], np.concatenate([first.images[key], second.images[key]]))
    np.testing.assert_array_equal(streamed.rel_actions, in_memory.rel_actions)
    assert streamed.episodes == in_memory.episodes == [(0, 8), (9, 22)]


def test_a_camera_running_slow_gives_one_image_to_two_frames(tmp_path: Path) -> None:
    play = make_play(8)
    # The static camera misses tick 5 and stamps tick 4's image a quarter period late; tick 5's
    # state is stamped 0.3 periods early. That image is then the nearest, within half a period, to
    # both frames.
    stamped = {(STATIC, 4): PERIOD_NS // 4, (SCENE, 5): -3 * PERIOD_NS // 10}
    messages = []
    for topic, time, data in play_messages(play):
        tick = _tick(time)
        if (topic, tick) == (STATIC, 5):
            continue
        if (topic, tick) in stamped:
            msg = TYPES.store.deserialize_cdr(data, TOPIC_TYPES[topic])
            stamp = T0 + tick * PERIOD_NS + stamped[topic, tick]
            msg.header.stamp.sec, msg.header.stamp.nanosec = stamp // 10**9, stamp % 10**9
            data = _serialize(TOPIC_TYPES[topic], msg)
        messages.append((topic, time, data))
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    dataset = bags_to_dataset([write_with_rosbags(tmp_path / "slow", messages)], image_dir=scratch)
    static = dataset.images["rgb_static"]
    np.testing.assert_array_equal(static[:5], play.images["rgb_static"][:5])
    np.testing.assert_array_equal(static[5], play.images["rgb_static"][4])
    np.testing.assert_array_equal(static[6:], play.images["rgb_static"][6:])
    np.testing.assert_array_equal(dataset.images["rgb_gripper"], play.images["rgb_gripper"])


def test_a_real_cells_bag_converts_with_the_scene_recorded_as_absent(tmp_path: Path) -> None:
    play = make_play(12)
    bag = write_with_rosbags(tmp_path / "cell", play_messages(play, scene_measured=False))
    dataset = bags_to_dataset([bag])
    assert scene_absent(dataset) and not dataset.scene_obs.any()
    np.testing.assert_allclose(dataset.robot_obs, play.robot_obs.astype(np.float32))
    saved = load_dataset(save_dataset(dataset, tmp_path / "dataset"))  # only the robot's bounds are checked
    assert scene_absent(saved)
    sim = write_with_rosbags(tmp_path / "sim", play_messages(play))
    with pytest.raises(BagError, match="some bags measure the scene state"):
        bags_to_dataset([bag, sim])
    mixed = [m for m in play_messages(play) if not (m[0] == SCENE and _tick(m[1]) >= 6)]
    mixed += [m for m in play_messages(play, scene_measured=False) if m[0] == SCENE and _tick(m[1]) >= 6]
    with pytest.raises(BagError, match=r"measured in some frames and not in others \(from frame 6\)"):
        bags_to_dataset([write_with_rosbags(tmp_path / "mixed", sorted(mixed, key=lambda m: m[1]))])


def test_streams_under_other_topics_are_found_or_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A real cell's recorder takes its frames from robot_state's topic; a `ros2 bag record` of a
    user's own topics names its command topic otherwise. SceneState is found by type; others are
    named with --topic."""
    play = make_play(10)
    cell = {SCENE: "/robot_state/scene_state", TWIST: "/my_arm/twist"}
    messages = [(cell.get(topic, topic), time, data) for topic, time, data in play_messages(play, images=False)]
    types = {cell.get(topic, topic): name for topic, name in TOPIC_TYPES.items()}
    bag = write_with_rosbags(tmp_path / "cell", messages, types)
    out = tmp_path / "dataset"
    assert main(["data", "from-bag", str(bag), "--out", str(out), "--topic", "twist=/my_arm/twist"]) == 0
    dataset = load_dataset(out)
    assert dataset.provenance["bags"][0]["frame_topic"] == "/robot_state/scene_state"
    np.testing.assert_allclose(dataset.rel_actions[:-1, :6], play.actions[:-1, :6], atol=1e-6)
    assert main(["data", "from-bag", str(bag), "--out", str(tmp_path / "x")]) == 2
    assert "no twist commands (/servo_node/delta_twist_cmds)" in capsys.readouterr().err
    assert main(["data", "from-bag", str(bag), "--out", str(tmp_path / "x"), "--topic", "joints=/j"]) == 2
    assert "unknown streams ['joints']" in capsys.readouterr().err
    twice = messages + [("/other/scene_state", time, data) for topic, time, data in messages if topic == cell[SCENE]]
    types["/other/scene_state"] = TOPIC_TYPES[SCENE]
    with pytest.raises(BagError, match=r"several topics \['/other/scene_state', '/robot_state/scene_state'\]"):
        bags_to_dataset(
            [write_with_rosbags(tmp_path / "twice", sorted(twice, key=lambda m: m[1]), types)],
            ConversionConfig(topics=BagTopics().renamed({"twist": "/my_arm/twist"})),
        )


def test_a_bag_recorded_in_a_namespace_converts_with_namespace(tmp_path: Path) -> None:
    """collect.launch.yaml namespace:=cell_2 puts every recorded stream under /cell_2, images too."""
    play = make_play(8)
    messages = [("/cell_2" + topic, time, data) for topic, time, data in play_messages(play)]
    bag = write_with_rosbags(tmp_path / "cell", messages, {"/cell_2" + t: name for t, name in TOPIC_TYPES.items()})
    out = tmp_path / "dataset"
    assert main(["data", "from-bag", str(bag), "--out", str(out), "--namespace", "cell_2/"]) == 0
    dataset = load_dataset(out)
    assert dataset.provenance["bags"][0]["frame_topic"] == "/cell_2/mock_robot/scene_state"
    np.testing.assert_allclose(dataset.rel_actions[:-1, :6], play.actions[:-1, :6], atol=1e-6)
    assert set(dataset.images) == {"rgb_static", "rgb_gripper"}
    assert BagTopics().in_namespace("") == BagTopics()


def test_a_bag_recorded_before_scene_measured_existed_is_the_simulators(tmp_path: Path) -> None:
    """Older bags carry SceneState's older definition (no scene_measured): they came from the
    simulator, which measures the scene. The reader decodes with the bag's own definition."""
    play = make_play(6)
    old_types = MessageTypes([])
    old_types.store.register(
        get_types_from_msg(
            "std_msgs/Header header\nfloat64[15] robot_obs\nfloat64[24] scene_obs\n", "diwa_msgs/msg/SceneState"
        )
    )
    messages = []
    for topic, time, data in play_messages(play, images=False):
        if topic == SCENE:
            msg = TYPES.store.deserialize_cdr(data, TOPIC_TYPES[SCENE])
            old = old_types.store.types["diwa_msgs/msg/SceneState"](
                header=_header(time), robot_obs=msg.robot_obs, scene_obs=msg.scene_obs
            )
            data = bytes(old_types.store.serialize_cdr(old, TOPIC_TYPES[SCENE]))
        messages.append((topic, time, data))
    with Writer(tmp_path / "old", version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        connections = {
            topic: writer.add_connection(topic, TOPIC_TYPES[topic], typestore=store)
            for topic, store in ((SCENE, old_types.store), (TWIST, TYPES.store))
        }
        for topic, time, data in messages:
            writer.write(connections[topic], time, data)
    dataset = bags_to_dataset([tmp_path / "old"])
    assert not scene_absent(dataset)
    np.testing.assert_allclose(dataset.scene_obs, play.scene_obs.astype(np.float32))


def test_a_cut_off_bag_converts_up_to_the_cut(tmp_path: Path) -> None:
    play = make_play(30)
    messages = play_messages(play)  # per tick: frame, static image, gripper image, command
    writer = write_with_diwa(tmp_path / "killed", messages[: 20 * 4 + 2])
    writer.sync()  # what a killed recorder leaves: flushed records, no summary, no footer
    (storage,) = writer.file_paths
    before = storage.stat().st_size
    for topic, time, data in messages[20 * 4 + 2 : 20 * 4 + 3]:
        writer.write(topic, time, data)
    writer.sync()
    # Cut inside the gripper image of the 21st tick: its frame survives, its image does not.
    cut_at = (before + storage.stat().st_size) // 2
    storage.write_bytes(storage.read_bytes()[:cut_at])
    dataset = bags_to_dataset([tmp_path / "killed"])
    assert len(dataset) == 20  # the 21st frame lost an image and is dropped as a trailing frame
    np.testing.assert_allclose(dataset.robot_obs, play.robot_obs[:20].astype(np.float32))
    np.testing.assert_array_equal(dataset.images["rgb_gripper"], play.images["rgb_gripper"][:20])
    # The last frame kept still acts towards the dropped frame, which was recorded.
    np.testing.assert_allclose(dataset.rel_actions[:, :6], play.actions[:20, :6], atol=1e-6)
    assert dataset.episodes == [(0, 19)]
    (report,) = dataset.provenance["bags"]
    assert report["truncated_files"] == ["killed_0.mcap"] and report["frames_dropped_without_images"] == 1


def test_a_recording_that_starts_between_a_ticks_images_and_its_state_drops_that_frame(tmp_path: Path) -> None:
    """The recorder can start after the mock robot published a tick's images but before its state
    (seen in a teleop session): that first frame has no images and goes; the recorder's frame
    numbers (annotation windows) then count from the next one."""
    play = make_play(12)
    messages = [
        m
        for m in play_messages(play, annotations=((1, 5, "open_drawer"),))
        if not (m[0] in (STATIC, GRIPPER) and _tick(m[1]) == 0)
    ]
    dataset = bags_to_dataset([write_with_rosbags(tmp_path / "late", messages)])
    assert len(dataset) == 11 and dataset.episodes == [(0, 10)]
    np.testing.assert_allclose(dataset.robot_obs, play.robot_obs[1:].astype(np.float32))
    np.testing.assert_array_equal(dataset.images["rgb_static"], play.images["rgb_static"][1:])
    assert [tuple(a) for a in dataset.annotations] == [(0, 4, "open_drawer")]
    assert dataset.provenance["bags"][0]["frames_dropped_without_images"] == 1


def test_a_stale_or_missing_command_means_the_robot_held_still(tmp_path: Path) -> None:
    play = make_play(12)
    messages = [m for m in play_messages(play, images=False) if not (m[0] == TWIST and 3 <= _tick(m[1]) <= 8)]
    bag = write_with_rosbags(tmp_path / "idle", messages)
    dataset = bags_to_dataset([bag], ConversionConfig(command_timeout_s=0.05))
    # Ticks 3..8 sent nothing; the command of tick 2 is older than the timeout by the next frames.
    assert np.all(dataset.rel_actions[3:9, :6] == 0.0)
    np.testing.assert_allclose(dataset.rel_actions[:3, :6], play.actions[:3, :6], atol=1e-6)
    assert dataset.provenance["bags"][0]["frames_without_fresh_command"] == 7  # 3..8 and the last frame


def test_a_command_arriving_while_the_robot_computes_a_step_belongs_to_the_next_step(tmp_path: Path) -> None:
    # Rendering makes each frame arrive 25 ms after its tick started; the play script's commands come
    # 10 ms into a tick, while the robot is still busy, so the robot applies them at the next tick.
    play = make_play(20)
    slow = play_messages(play, images=False, frame_delay_ns=25_000_000, command_delay_ns=10_000_000)
    dataset = bags_to_dataset([write_with_rosbags(tmp_path / "slow", slow)])
    assert dataset.provenance["bags"][0]["frame_clock"] == "header stamps"
    np.testing.assert_allclose(dataset.rel_actions[:-1, :6], play.actions[:-1, :6], atol=1e-6)
    # Stamps on another clock (simulated time) cannot be compared with receive times: those are used.
    shifted = play_messages(play, images=False, stamp_clock_offset_ns=-T0)
    dataset = bags_to_dataset([write_with_rosbags(tmp_path / "sim_time", shifted)])
    assert dataset.provenance["bags"][0]["frame_clock"] == "receive times"
    np.testing.assert_allclose(dataset.rel_actions[:-1, :6], play.actions[:-1, :6], atol=1e-6)


def _tick(receive_ns: int) -> int:
    return int((receive_ns - T0) // PERIOD_NS)


def test_bags_without_what_is_needed_are_refused_clearly(tmp_path: Path) -> None:
    play = make_play(5)
    messages = play_messages(play, images=False)
    no_frames = write_with_rosbags(tmp_path / "no_frames", [m for m in messages if m[0] != SCENE])
    with pytest.raises(BagError, match="no diwa_msgs/msg/SceneState frames"):
        bags_to_dataset([no_frames])
    no_commands = write_with_rosbags(tmp_path / "no_commands", [m for m in messages if m[0] != TWIST])
    with pytest.raises(BagError, match="no twist commands"):
        bags_to_dataset([no_commands])
    # Frames recorded under the command topic's name: the types tell.
    swapped = [(TWIST if topic == SCENE else SCENE, time, data) for topic, time, data in messages]
    mixed_up = write_with_rosbags(
        tmp_path / "mixed_up", swapped, {SCENE: TOPIC_TYPES[TWIST], TWIST: TOPIC_TYPES[SCENE]}
    )
    with pytest.raises(BagError, match=r"topic /\S+ holds (diwa|geometry)_msgs/msg/\w+, expected"):
        bags_to_dataset([mixed_up])
    with pytest.raises(ValueError, match="one topic for two streams"):
        ConversionConfig(topics=BagTopics(twist=SCENE))
    with pytest.raises(FileNotFoundError):
        bags_to_dataset([tmp_path / "absent"])
    with pytest.raises(ValueError, match="no bag"):
        bags_to_dataset([])


def test_lost_images_inside_a_recording_are_an_error(tmp_path: Path) -> None:
    play = make_play(10)
    messages = play_messages(play)
    lost = [m for m in messages if not (m[0] == STATIC and _tick(m[1]) == 4)]
    bag = write_with_rosbags(tmp_path / "lost", lost)
    with pytest.raises(BagError, match="1 frames have no rgb_static image"):
        bags_to_dataset([bag])
    assert "rgb_static" not in bags_to_dataset([bag], ConversionConfig(images=False)).images


def test_the_cli_writes_a_dataset_and_refuses_to_overwrite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bag = write_with_rosbags(tmp_path / "play", play_messages(make_play(8)))
    out = tmp_path / "dataset"
    assert main(["data", "from-bag", str(bag), "--out", str(out), "--json"]) == 0
    assert '"frames": 8' in capsys.readouterr().out.splitlines()[-1]
    assert len(load_dataset(out)) == 8
    np.testing.assert_array_equal(load_dataset(out).images["rgb_static"], make_play(8).images["rgb_static"])
    assert not list(tmp_path.glob(".*scratch-*")), "the images' scratch directory is removed"
    assert main(["data", "from-bag", str(bag), "--out", str(out)]) == 2
    assert "already holds data; pass --overwrite" in capsys.readouterr().err
    # --overwrite replaces a dataset, never the recording it was converted from.
    assert main(["data", "from-bag", str(bag), "--out", str(out), "--overwrite"]) == 0
    assert main(["data", "from-bag", str(bag), "--out", str(bag), "--overwrite"]) == 2
    assert "lies inside the input" in capsys.readouterr().err
    assert (bag / "metadata.yaml").is_file() or any(bag.glob("*.mcap"))
    assert main(["data", "from-bag", str(tmp_path / "nothing"), "--out", str(tmp_path / "x")]) == 2


def test_resets_and_pauses_start_new_episodes():
    from diwa.data.rosbag import _split_episodes

    stamps = np.arange(10, dtype=np.int64) * 33_000_000
    stamps[7:] += 2_000_000_000  # a 2 s pause before frame 7
    resets = np.array([stamps[3] + 1_000_000])  # announced while frame 3 was the latest
    assert _split_episodes(stamps, 0.5, resets) == [(0, 3), (4, 6), (7, 9)]
    assert _split_episodes(stamps, 0.5, np.zeros(0, dtype=np.int64)) == [(0, 6), (7, 9)]
