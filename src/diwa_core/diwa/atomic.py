"""The one way DiWA writes a file: into a temporary file beside the target, flushed to disk, then
moved over the target with os.replace. A reader (the promotion gate, a report script, a resumed
training) sees the old file or the new one, never half of one.

A writer killed outright (kill -9, power loss) cannot remove its temporary file, so the next write of
the same target removes what an earlier one left behind. The temporaries carry the target's name,
the writing process's id and a `.partial` marker; only those of processes no longer alive are
removed, so concurrent writers of one target (the shared simulator asset cache) never lose a file
in flight.

A directory (a dataset, a release) is written the same way as a whole: filled beside the target,
then swapped in with two renames.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

PARTIAL = ".partial"


def leftovers(path: Path) -> list[Path]:
    """Temporary files of interrupted writes of `path`: their writer is no longer running."""
    path = Path(path)
    if not path.parent.is_dir():
        return []
    stale = []
    for candidate in sorted(path.parent.glob(f".{path.name}.*{PARTIAL}{path.suffix}")):
        writer = candidate.name[len(path.name) + 2 :].split(".", 1)[0]
        if writer.isdigit() and not _alive(int(writer)):
            stale.append(candidate)
    return stale


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True  # another thread of this process may be writing it
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def write_file_atomically(path: Path, write: Callable[[Path], None], mode: int = 0o644) -> None:
    """Call `write(temporary)` (np.save, safetensors, savefig: anything that writes a file by name),
    then move the finished file to `path`. The temporary keeps the target's suffix, which some
    writers read to choose the format."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in leftovers(path):
        stale.unlink(missing_ok=True)
    prefix = f".{path.name}.{os.getpid()}."
    handle, name = tempfile.mkstemp(prefix=prefix, suffix=f"{PARTIAL}{path.suffix}", dir=path.parent)
    os.close(handle)
    temporary = Path(name)
    try:
        write(temporary)
        descriptor = os.open(temporary, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        os.chmod(temporary, mode)  # mkstemp makes files private; checkpoints and results are shared
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def write_atomically(path: Path, data: bytes | str) -> None:
    """Write `data` (text is UTF-8 encoded) to `path` atomically."""
    payload = data.encode() if isinstance(data, str) else data
    write_file_atomically(Path(path), lambda temporary: temporary.write_bytes(payload))


def write_directory_atomically(path: Path, fill: Callable[[Path], None]) -> Path:
    """Call `fill(staging)` on a new directory beside `path`, then swap it in whole: the old directory
    is renamed aside, the new one renamed into place, and the old one removed. A failed fill leaves
    the old directory untouched and no staging directory behind."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(staging, 0o777 & ~umask)  # mkdtemp makes directories private; datasets are shared
        fill(staging)
        if path.exists():
            old = path.with_name(f".{path.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            path.rename(old)
            staging.rename(path)
            shutil.rmtree(old)
        else:
            staging.rename(path)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return path
