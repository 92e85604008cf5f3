"""The rosbag2 writer and reader on their own: the layout other tools read, file splitting, what a
killed writer leaves, cut-off files at every length, and clear errors for what is not a bag."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from diwa.data.bag_reader import BagError, BagReader, storage_files
from diwa.data.bag_types import MessageTypes, decoding_store, split_type_name
from diwa.data.bag_writer import BagWriter, SplitPolicy, Topic
from mcap.reader import make_reader
from rosbags.rosbag2 import Reader as RosbagsReader

SRC = Path(__file__).resolve().parents[2]
TYPES = MessageTypes([SRC])
T0 = 1_700_000_000 * 10**9
QOS = {
    "history": "unknown",
    "depth": 0,
    "reliability": "reliable",
    "durability": "volatile",
    "deadline": {"sec": 9223372036, "nsec": 854775807},
    "lifespan": {"sec": 9223372036, "nsec": 854775807},
    "liveliness": "automatic",
    "liveliness_lease_duration": {"sec": 9223372036, "nsec": 854775807},
    "avoid_ros_namespace_conventions": False,
}


def scene_state(index: int) -> bytes:
    TYPES.definition("diwa_msgs/msg/SceneState")
    store = TYPES.store
    stamp = store.types["builtin_interfaces/msg/Time"](sec=index, nanosec=0)
    msg = store.types["diwa_msgs/msg/SceneState"](
        header=store.types["std_msgs/msg/Header"](stamp=stamp, frame_id="world"),
        robot_obs=np.full(15, float(index)),
        scene_obs=np.zeros(24),
        scene_measured=True,
    )
    return bytes(store.serialize_cdr(msg, "diwa_msgs/msg/SceneState"))


def write_frames(writer: BagWriter, first: int, count: int, period_ns: int = 33_333_333) -> None:
    for i in range(first, first + count):
        writer.write("/scene", T0 + i * period_ns, scene_state(i))


def new_writer(path: Path, split: SplitPolicy | None = None) -> BagWriter:
    writer = BagWriter(path, split)
    writer.add_topic(Topic("/scene", TYPES.definition("diwa_msgs/msg/SceneState"), (QOS,)))
    return writer


def frame_indices(path: Path) -> list[int]:
    return [int(m.message.robot_obs[0]) for m in BagReader(path).messages()]


def test_a_closed_bag_has_rosbag2_metadata_and_opens_in_rosbags_and_mcap(tmp_path: Path) -> None:
    with new_writer(tmp_path / "bag") as writer:
        write_frames(writer, 0, 50)
        writer.set_custom_data("diwa.frames", "50")
    info = yaml.safe_load((tmp_path / "bag" / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    assert info["version"] == 9 and info["storage_identifier"] == "mcap" and info["message_count"] == 50
    assert info["relative_file_paths"] == ["bag_0.mcap"] and info["custom_data"] == {"diwa.frames": "50"}
    (topic,) = info["topics_with_message_count"]
    assert topic["message_count"] == 50 and topic["topic_metadata"]["offered_qos_profiles"] == [QOS]
    assert topic["topic_metadata"]["type_description_hash"].startswith("RIHS01_")

    with RosbagsReader(tmp_path / "bag") as reader:
        (connection,) = reader.connections
        assert connection.msgtype == "diwa_msgs/msg/SceneState" and connection.ext.offered_qos_profiles
        assert sum(1 for _ in reader.messages()) == 50
    with (tmp_path / "bag" / "bag_0.mcap").open("rb") as stream:
        reader = make_reader(stream)
        assert reader.get_header().profile == "ros2"
        assert reader.get_summary().statistics.message_count == 50
        assert "std_msgs/Header" in next(iter(reader.get_summary().schemas.values())).data.decode()
    assert frame_indices(tmp_path / "bag") == list(range(50))


def test_files_split_by_size_and_by_duration_and_all_are_listed(tmp_path: Path) -> None:
    with new_writer(tmp_path / "by_size", SplitPolicy(max_file_size_bytes=4000)) as writer:
        write_frames(writer, 0, 60)
    with new_writer(tmp_path / "by_time", SplitPolicy(max_file_duration_ns=10**9)) as writer:
        write_frames(writer, 0, 100)  # 3.3 s at 30 Hz
    for bag, files in (("by_size", None), ("by_time", 4)):
        info = yaml.safe_load((tmp_path / bag / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
        names = info["relative_file_paths"]
        assert names == [f"{bag}_{i}.mcap" for i in range(len(names))] and len(names) > 1
        assert files is None or len(names) == files
        assert sum(f["message_count"] for f in info["files"]) == info["message_count"]
        assert sorted(p.name for p in (tmp_path / bag).glob("*.mcap")) == sorted(names)
    assert len(list((tmp_path / "by_size").glob("*.mcap"))) >= 60 * 370 // 4000  # ~370 bytes per message
    assert frame_indices(tmp_path / "by_size") == list(range(60))
    with RosbagsReader(tmp_path / "by_time") as reader:
        assert [m[1] for m in reader.messages()] == [T0 + i * 33_333_333 for i in range(100)]


def test_what_a_killed_writer_leaves_reads_up_to_the_last_sync(tmp_path: Path) -> None:
    writer = new_writer(tmp_path / "live", SplitPolicy(max_file_size_bytes=3000))
    write_frames(writer, 0, 40)
    writer.sync()
    shutil.copytree(tmp_path / "live", tmp_path / "killed")  # the state on disk at a kill -9 now
    reader = BagReader(tmp_path / "killed")
    assert [int(m.message.robot_obs[0]) for m in reader.messages()] == list(range(40))
    assert reader.truncated and [r.truncated for r in reader.reports][:-1] == [False] * (len(reader.reports) - 1)
    info = yaml.safe_load((tmp_path / "killed" / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    assert info["message_count"] == 40
    writer.close()


def test_a_storage_file_newer_than_metadata_is_read_too(tmp_path: Path) -> None:
    with new_writer(tmp_path / "bag", SplitPolicy(max_file_size_bytes=3000)) as writer:
        write_frames(writer, 0, 40)
    metadata = tmp_path / "bag" / "metadata.yaml"
    document = yaml.safe_load(metadata.read_text())
    listed = document["rosbag2_bagfile_information"]["relative_file_paths"]
    document["rosbag2_bagfile_information"]["relative_file_paths"] = listed[:1]
    metadata.write_text(yaml.safe_dump(document))
    assert [p.name for p in storage_files(tmp_path / "bag")] == listed
    assert frame_indices(tmp_path / "bag") == list(range(40))


def test_a_file_cut_at_any_length_reads_as_a_prefix(tmp_path: Path) -> None:
    with new_writer(tmp_path / "bag") as writer:
        write_frames(writer, 0, 6)
    cut = tmp_path / "cut.mcap"
    shutil.copy(tmp_path / "bag" / "bag_0.mcap", cut)
    full = cut.stat().st_size
    following = 6
    for length in range(full, -1, -1):  # shortening in place is far cheaper than rewriting
        os.truncate(cut, length)
        reader = BagReader(cut)
        indices = [int(m.message.robot_obs[0]) for m in reader.messages()]
        assert indices == list(range(len(indices))) and len(indices) <= following, length
        assert reader.truncated == (length < full), length
        following = len(indices)
    assert following == 0


def test_what_is_not_a_readable_bag_is_refused_clearly(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        storage_files(tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(BagError, match="not a rosbag2 MCAP bag"):
        storage_files(tmp_path / "empty")
    sqlite = tmp_path / "sqlite"
    sqlite.mkdir()
    (sqlite / "metadata.yaml").write_text(
        yaml.safe_dump({"rosbag2_bagfile_information": {"storage_identifier": "sqlite3", "relative_file_paths": []}})
    )
    with pytest.raises(BagError, match="storage 'sqlite3' is not supported"):
        storage_files(sqlite)
    (sqlite / "metadata.yaml").write_text(
        yaml.safe_dump(
            {"rosbag2_bagfile_information": {"storage_identifier": "mcap", "relative_file_paths": ["x.mcap"]}}
        )
    )
    with pytest.raises(BagError, match="missing"):
        storage_files(sqlite)
    (sqlite / "metadata.yaml").write_text("rosbag2_bagfile_information: [unclosed")
    with pytest.raises(BagError, match="not valid YAML"):
        storage_files(sqlite)
    garbage = tmp_path / "garbage.mcap"
    garbage.write_bytes(b"this is not an MCAP file at all")
    with pytest.raises(BagError, match="not a readable MCAP file"):
        list(BagReader(garbage).messages())


def test_the_writer_refuses_misuse(tmp_path: Path) -> None:
    writer = new_writer(tmp_path / "bag")
    with pytest.raises(FileExistsError):
        BagWriter(tmp_path / "bag")
    with pytest.raises(ValueError, match="was not added"):
        writer.write("/unknown", T0, b"")
    with pytest.raises(ValueError, match="cannot add it as"):
        writer.add_topic(Topic("/scene", TYPES.definition("sensor_msgs/msg/Image")))
    with pytest.raises(ValueError, match="split limits"):
        SplitPolicy(max_file_size_bytes=-1)
    # A clock that jumps back is clamped: the file stays in time order for readers that insist on it.
    writer.write("/scene", T0 + 10, scene_state(0))
    writer.write("/scene", T0, scene_state(1))
    writer.close()
    with pytest.raises(ValueError, match="closed"):
        writer.write("/scene", T0, scene_state(2))
    with RosbagsReader(tmp_path / "bag") as reader:
        assert [m[1] for m in reader.messages()] == [T0 + 10, T0 + 10]


def test_message_types_come_from_jazzy_or_from_interface_packages_on_disk(tmp_path: Path) -> None:
    package = tmp_path / "share" / "demo_msgs" / "msg"
    package.mkdir(parents=True)
    (package / "Inner.msg").write_text("float64 value\n")
    (package / "Outer.msg").write_text("# comment\nstd_msgs/Header header\ndemo_msgs/Inner[] items\nuint8 A=1\n")
    types = MessageTypes([tmp_path / "share"])
    outer = types.definition("demo_msgs/msg/Outer")
    assert "MSG: demo_msgs/Inner" in outer.text and outer.rihs01.startswith("RIHS01_")
    assert types.definition("sensor_msgs/msg/Image").name == "sensor_msgs/msg/Image"
    with pytest.raises(ValueError, match="not defined in"):
        types.definition("demo_msgs/msg/Missing")
    with pytest.raises(ValueError, match="neither a standard ROS 2 Jazzy type nor found"):
        types.definition("nowhere_msgs/msg/Thing")
    with pytest.raises(ValueError, match="must read PACKAGE/msg/NAME"):
        split_type_name("sensor_msgs/Image")
    # Decoding uses the bag's own definitions; two different definitions of one type are refused.
    store = decoding_store((("demo_msgs/msg/Outer", outer.text),))
    assert "demo_msgs/msg/Inner" in store.fielddefs
    with pytest.raises(ValueError, match="unusable"):
        decoding_store((("demo_msgs/msg/Inner", "float64 value"), ("demo_msgs/msg/Inner", "int8 other")))
