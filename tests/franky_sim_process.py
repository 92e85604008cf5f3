"""franky-sim for the tests: tests/franky_sim_server.py in its own process, on a loopback address. (Not
named franky_sim: the server script would import it in place of the franky_sim package.)"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def franky_sim() -> Iterator[str]:
    """The simulated FR3's address while the server runs; it is killed afterwards."""
    server = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("franky_sim_server.py"))],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        address = server.stdout.readline().strip()
        assert address.startswith("127."), f"franky-sim did not start: {address}"
        yield address
    finally:
        server.kill()
        server.wait()


MOVE_TO_START = """
import sys
import numpy as np
from diwa.sim.geometry import ROBOT_BASE_POS
from diwa_robot.franka_config import FrankaConfig
from diwa_robot.franky_arm import FrankyArm
arm = FrankyArm(sys.argv[1], ROBOT_BASE_POS, 0.3, realtime=False)
arm.move_to(np.array(FrankaConfig().start_position) + ROBOT_BASE_POS, 0.2)
"""


def move_to_start(address: str) -> None:
    """franky-sim's FR3 starts above the Franka profile's box: a planned move (as robot-check
    --move-to-start does), in its own process so that no franky connection stays open here."""
    subprocess.run([sys.executable, "-c", MOVE_TO_START, address], check=True, timeout=120)
