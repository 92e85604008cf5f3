"""The recorder's parameters: config/recorder.yaml and the node agree, and bad values are refused
before anything is recorded."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from diwa_play.recorder_config import (
    DEFAULT_CAMERA_TOPICS,
    DEFAULT_TOPICS,
    PARAMETER_DEFAULTS,
    PARAMETER_DESCRIPTIONS,
    RecorderConfig,
    TopicSpec,
    parse_topic,
)

RECORDER_YAML = Path(__file__).resolve().parents[2] / "diwa_bringup" / "config" / "recorder.yaml"


def test_the_bringup_parameter_file_names_exactly_the_node_parameters() -> None:
    params = yaml.safe_load(RECORDER_YAML.read_text())["recorder"]["ros__parameters"]
    assert set(params) == set(PARAMETER_DEFAULTS)
    assert set(PARAMETER_DESCRIPTIONS) == set(PARAMETER_DEFAULTS) and all(PARAMETER_DESCRIPTIONS.values())
    for name, value in params.items():
        assert type(value) is type(PARAMETER_DEFAULTS[name]), name  # ROS parameters keep their declared type
    config = RecorderConfig.from_parameters({**params, "output": "bag"})
    assert [t.name for t in config.topics] == [parse_topic(e).name for e in DEFAULT_TOPICS]
    assert config.split.max_file_size_bytes == 0 and config.max_frames == 0 and not config.autostart


def test_cameras_add_the_camera_topics_and_limits_convert_to_bytes_and_nanoseconds() -> None:
    config = RecorderConfig.from_parameters(
        {"output": "~/bags/play", "cameras": True, "max_file_size_mb": 1.5, "max_file_duration_s": 2.5}
    )
    assert config.topics[-2:] == tuple(parse_topic(e) for e in DEFAULT_CAMERA_TOPICS)
    assert config.split.max_file_size_bytes == 1572864 and config.split.max_file_duration_ns == 2_500_000_000
    assert config.output == Path.home() / "bags" / "play"
    assert RecorderConfig.from_parameters({"output": 2024, "sync_period_s": 2}).output == Path("2024")
    assert RecorderConfig.from_parameters({}).output.name.startswith("play_")


def test_topic_entries_name_a_topic_and_a_full_type_and_resolve_in_the_recorders_namespace() -> None:
    assert parse_topic("/joint_states:sensor_msgs/msg/JointState") == TopicSpec(
        "/joint_states", "sensor_msgs/msg/JointState"
    )
    assert parse_topic("joint_states:sensor_msgs/msg/JointState").name == "/joint_states"
    in_cell = RecorderConfig.from_parameters({"output": "bag"}, resolve=lambda name: "/cell_2/" + name.lstrip("/"))
    assert (
        in_cell.frame_topic == "/cell_2/mock_robot/scene_state"
        and in_cell.annotation_topic == "/cell_2/diwa/annotations"
    )
    assert "/cell_2/joint_states" in [t.name for t in in_cell.topics]
    for bad in (
        "/joint_states",
        "~/x:sensor_msgs/msg/JointState",
        ":sensor_msgs/msg/JointState",
        "/j:sensor_msgs/JointState",
    ):
        with pytest.raises(ValueError):
            parse_topic(bad)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"frame_topic": "/joint_states"}, "frame_topic"),
        ({"topics": ["/joint_states:sensor_msgs/msg/JointState"]}, "frame_topic"),
        ({"topics": [*DEFAULT_TOPICS, DEFAULT_TOPICS[0]]}, "listed twice"),
        ({"annotation_topic": "/joint_states"}, "annotation_topic"),
        ({"max_frames": -1}, "max_frames"),
        ({"qos_depth": 0}, "qos_depth"),
        ({"sync_period_s": 0.0}, "sync_period_s"),
        ({"max_file_duration_s": "ten"}, "must be a number"),
        ({"max_file_size_mb": -1.0}, "split limits"),
        ({"max_frame": 3}, "unknown recorder parameter"),
    ],
)
def test_bad_parameters_are_refused(overrides: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RecorderConfig.from_parameters({"output": "bag", **overrides})
