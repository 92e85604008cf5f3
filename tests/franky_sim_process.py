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
