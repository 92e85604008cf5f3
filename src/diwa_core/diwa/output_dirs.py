"""What a command may do to its `--out`: never destroy its inputs or data it did not write.

Writers replace their output directory as a whole (staging directory, then swap), so an `--out`
that already holds something is deleted by design. Before that happens:

- an `--out` that is, contains or lies inside one of the command's inputs is refused;
- an existing file, or a directory that cannot be created or written, is refused;
- an existing non-empty directory is refused unless `--overwrite` is given, and even then only
  when it holds what this command writes (a dataset of ours or CALVIN's for the data commands, a
  policy of the same skill for train-policy): a user's home or another tool's output never is.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path


def _related(a: Path, b: Path) -> bool:
    return a == b or a in b.parents or b in a.parents


def check_distinct(out: str | os.PathLike[str], inputs: Sequence[str | os.PathLike[str]]) -> Path:
    """Raise ValueError when `out` is, holds or lies inside one of `inputs`; returns it resolved."""
    target = Path(out).resolve()
    for source in inputs:
        if _related(target, Path(source).resolve()):
            raise ValueError(f"--out {out} is, holds or lies inside the input {source}; choose another --out")
    return target


def check_output_dir(
    out: str | os.PathLike[str],
    *,
    overwrite: bool,
    inputs: Sequence[str | os.PathLike[str]] = (),
    replaceable: Callable[[Path], str | None],
) -> Path:
    """Raise ValueError unless writing `out` as a whole is safe; returns it resolved.

    `replaceable(path)` returns None when an existing `path` holds what the command writes, else
    what it holds instead (for the message)."""
    target = check_distinct(out, inputs)
    if target.exists() and not target.is_dir():
        raise ValueError(f"--out {out} is a file, not a directory")
    if target.is_dir() and any(target.iterdir()):
        if not overwrite:
            raise ValueError(f"--out {out} already holds data; pass --overwrite to replace it, or choose another --out")
        holds = replaceable(target)
        if holds is not None:
            raise ValueError(f"--out {out} holds {holds}, which this command does not write; refusing to replace it")
    parent = target.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ValueError(f"--out {out}: cannot create {parent} ({err.strerror})") from err
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ValueError(f"--out {out}: {parent} is not writable")
    return target


def dataset_dir(path: Path) -> str | None:
    """None when `path` is a dataset directory (ours or CALVIN's), else what it is."""
    from diwa.data.calvin_layout import EPISODE_IDS

    if (path / "meta.json").is_file() or (path / EPISODE_IDS).is_file():
        return None
    return "something other than a dataset"


def policy_dir(skill: str) -> Callable[[Path], str | None]:
    """For train-policy: None when `path` holds a policy checkpoint of `skill`, else what it holds."""

    def holds(path: Path) -> str | None:
        import json

        meta = path / "policy.json"
        if not meta.is_file():
            return "something other than a policy checkpoint"
        try:
            other = json.loads(meta.read_text()).get("skill")
        except (ValueError, AttributeError):
            return "an unreadable policy.json"
        return None if other == skill else f"the policy of another skill ({other!r})"

    return holds


@contextmanager
def scratch_beside(out: Path) -> Iterator[Path]:
    """A scratch directory beside `out` (its parent must exist: check_output_dir makes it), removed
    afterwards. Writers memory-map long recordings' images there: the same disk as the output, and
    the pages belong to the file system's cache rather than to the process."""
    scratch = Path(tempfile.mkdtemp(prefix=f".{Path(out).name}.scratch-", dir=Path(out).parent))
    try:
        yield scratch
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
