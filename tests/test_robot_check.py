"""`diwa robot-check --backend franky` against franky-sim, the FR3 that speaks the robot's own
network protocol (libfranka through franky), started by the test on a loopback address.

Limits are the check's own (RobotCheckConfig); on a loaded machine the simulator runs behind real
time, which slows the arm but does not bend its path, so the test asserts on the check's verdict
and never on timing beyond the check's limits."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from diwa.sim.geometry import ROBOT_BASE_POS

from diwa_robot.franka_config import FrankaConfig
from diwa_robot.franky_arm import FrankyArm
from diwa_robot.robot_check import RobotCheckConfig
from diwa_robot.safety import load_safety_limits
from tests.franky_sim_process import franky_sim

pytestmark = [pytest.mark.ros, pytest.mark.slow]
SAFETY = Path(__file__).resolve().parents[1] / "src/diwa_bringup/config/safety.yaml"


@pytest.fixture(scope="module")
def franky_sim_address():
    with franky_sim() as address:
        yield address


def check(*args: str) -> tuple[int, dict]:
    """`diwa robot-check` as a user runs it: in its own process, so that franky's connection (a
    libfranka thread per robot) ends with it and never outlives the simulator in the test process."""
    command = [sys.executable, "-m", "diwa", "robot-check", "--backend", "franky", "--no-realtime"]
    command += ["--safety-file", str(SAFETY), *args, "--json"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    return done.returncode, json.loads(done.stdout.strip().splitlines()[-1])


def test_the_arm_is_refused_outside_the_safety_box_until_moved_to_the_start(franky_sim_address) -> None:
    # franky-sim's FR3 starts with the TCP at z 0.76 m in the scene frame, above the Franka box (0.75 m).
    code, result = check("--robot-ip", franky_sim_address)
    assert code == 1 and result["connected"] and not result["ok"]
    assert "outside the safety box" in result["problems"][0] and result["tracking_error_mm"] is None

    code, result = check("--robot-ip", franky_sim_address, "--move-to-start")
    assert code == 0 and result["ok"], result
    limits = RobotCheckConfig()
    assert 0 < result["tracking_error_mm"] <= limits.tracking_limit_mm
    assert result["returned_to_start_mm"] <= limits.return_limit_mm
    assert result["gripper_ok"] and result["gripper_widths_mm"][0] > result["gripper_widths_mm"][1]
    assert 0 < result["estop_stop_ms"] <= limits.estop_limit_ms


def test_no_robot_at_the_address_is_a_clear_failure() -> None:
    code, result = check("--robot-ip", "127.0.0.254")
    assert code == 1 and not result["connected"] and not result["ok"]
    assert "cannot connect" in result["problems"][0]


def test_the_planned_start_move_keeps_to_the_safety_profiles_speed(franky_sim_address) -> None:
    """The one motion franky plans itself (the filter cannot shape it) stays under the profile's
    speed, sampled at ~200 Hz from the robot's own state."""
    limits = load_safety_limits(SAFETY, "franka")
    earlier = set(os.listdir("/proc/self/task"))  # other tests' threads: in full runs one was real-time already
    arm = FrankyArm(franky_sim_address, ROBOT_BASE_POS, 0.3, realtime=False)
    speeds, policies, moving = [], set(), threading.Event()
    moving.set()

    def watch() -> None:
        while moving.is_set():
            speeds.append(arm.state().tcp_speed)
            policies.update(thread_policies(earlier))
            time.sleep(0.005)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        arm.move_to(np.array(FrankaConfig().start_position) + ROBOT_BASE_POS, limits.max_linear_speed)
    finally:
        moving.clear()
        watcher.join()
        arm.close()
    assert 0.05 < max(speeds) <= limits.max_linear_speed, max(speeds)
    # realtime=False: no thread the arm started (franky's control thread included) ran real-time.
    assert policies == {os.SCHED_OTHER}, (policies, realtime_threads())


def realtime_threads() -> list[str]:
    """Every thread of this process not on the normal scheduler, by name, for a failure message."""
    found = []
    for tid in os.listdir("/proc/self/task"):
        with contextlib.suppress(OSError):
            if os.sched_getscheduler(int(tid)) != os.SCHED_OTHER:
                found.append(f"{tid} {Path(f'/proc/self/task/{tid}/comm').read_text().strip()}")
    return found


def thread_policies(earlier: set[str]) -> set[int]:
    found = set()
    for tid in set(os.listdir("/proc/self/task")) - earlier:
        with contextlib.suppress(OSError):  # the thread ended meanwhile
            found.add(os.sched_getscheduler(int(tid)))
    return found
