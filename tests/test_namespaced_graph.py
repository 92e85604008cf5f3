"""A graph in a namespace over real DDS: `diwa launch collect namespace:=cell_2` records scripted
play whose commands went play -> command arbiter -> mock robot entirely inside /cell_2, so every
node resolved its peers' names there; the bag converts with `diwa data from-bag --namespace`."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from diwa.cli import main
from diwa.data.bag_reader import BagReader
from diwa.data.dataset import load_dataset

from tests.ros_graph import unique_domain_id

pytestmark = [pytest.mark.ros, pytest.mark.slow]
DOMAIN = unique_domain_id()
FRAMES = 60


def test_a_namespaced_collect_graph_records_play_that_moved_the_arm(tmp_path):
    bag = tmp_path / "bag"
    env = {**os.environ, "ROS_DOMAIN_ID": str(DOMAIN), "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "diwa.cli", "launch", "collect", "namespace:=cell_2", f"bag:={bag}"]
    done = subprocess.run(
        [*command, f"frames:={FRAMES}", "cameras:=false", "seed:=3"],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    assert "__ns:=/cell_2" in done.stdout
    topics = {message.topic for message in BagReader(bag).messages(decode=False)}
    assert "/cell_2/mock_robot/scene_state" in topics and "/cell_2/servo_node/delta_twist_cmds" in topics
    assert all(topic.startswith("/cell_2/") for topic in topics), sorted(topics)

    out = tmp_path / "dataset"
    assert main(["data", "from-bag", str(bag), "--out", str(out), "--namespace", "cell_2", "--no-images"]) == 0
    dataset = load_dataset(out)
    assert len(dataset) >= FRAMES - 1
    # The arbiter forwarded play's commands to the mock robot (both in /cell_2): the arm moved.
    assert np.abs(dataset.rel_actions[:, :3]).max() > 0.1
    assert np.ptp(dataset.robot_obs[:, :3], axis=0).max() > 0.01
