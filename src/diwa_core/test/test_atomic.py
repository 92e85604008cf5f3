"""diwa.atomic: old or new file, never half; temporaries of killed writers are removed by the next
write, those of live writers are kept."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from diwa.atomic import leftovers, write_atomically, write_directory_atomically, write_file_atomically

KILLED_MID_WRITE = """
import os, signal, sys
from pathlib import Path
from diwa.atomic import write_file_atomically

def write(temporary):
    temporary.write_bytes(b"half of the new")
    os.kill(os.getpid(), signal.SIGKILL)

write_file_atomically(Path(sys.argv[1]), write)
"""


def test_a_write_killed_midway_leaves_the_old_file_and_the_next_write_cleans_up(tmp_path: Path) -> None:
    target = tmp_path / "evaluation.json"
    write_atomically(target, '{"old": true}')
    killed = subprocess.run([sys.executable, "-c", KILLED_MID_WRITE, str(target)], check=False)
    assert killed.returncode == -signal.SIGKILL
    assert target.read_text() == '{"old": true}'
    assert len(leftovers(target)) == 1  # the killed writer's temporary
    write_atomically(target, '{"new": true}')
    assert target.read_text() == '{"new": true}'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["evaluation.json"]


def test_a_live_writers_temporary_is_kept_and_failed_writes_leave_nothing(tmp_path: Path) -> None:
    target = tmp_path / "features.npy"
    # A temporary named for a running process (this one's parent) is another writer's file in flight.
    in_flight = tmp_path / f".features.npy.{os.getppid()}.abc.partial.npy"
    in_flight.write_bytes(b"")
    write_file_atomically(target, lambda temporary: np.save(temporary, np.arange(3)))
    np.testing.assert_array_equal(np.load(target), np.arange(3))
    assert in_flight.exists() and leftovers(target) == []

    def fail(temporary: Path) -> None:
        temporary.write_bytes(b"partial")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        write_file_atomically(target, fail)
    np.testing.assert_array_equal(np.load(target), np.arange(3))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([target.name, in_flight.name])
    assert oct(target.stat().st_mode & 0o777) == "0o644"


def test_a_directory_is_replaced_whole_or_not_at_all(tmp_path: Path) -> None:
    target = tmp_path / "dataset"
    write_directory_atomically(target, lambda staging: (staging / "a.npy").write_text("old"))
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o777 & ~umask  # not mkdtemp's private 0700

    def failing(staging: Path) -> None:
        (staging / "a.npy").write_text("half")
        raise RuntimeError("killed mid-write")

    with pytest.raises(RuntimeError):
        write_directory_atomically(target, failing)
    assert (target / "a.npy").read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["dataset"]
    write_directory_atomically(target, lambda staging: (staging / "b.npy").write_text("new"))
    assert [p.name for p in target.iterdir()] == ["b.npy"] and sorted(p.name for p in tmp_path.iterdir()) == ["dataset"]
