"""Machine-readable progress of long-running commands.

Trainers call `report(...)` where they log their TensorBoard scalars. When the environment variable
DIWA_PROGRESS_FILE names a file, each report is appended to it as one JSON line; otherwise nothing
happens. The ROS training action servers run trainers as child processes and follow that file to
publish action feedback, so training code stays free of ROS and of any IPC beyond a file.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

ENV_VAR = "DIWA_PROGRESS_FILE"


def report(kind: str, **values: Any) -> None:
    """Append {"kind": kind, **values} to the progress file, if one is configured."""
    path = os.environ.get(ENV_VAR)
    if not path:
        return
    record = {"kind": kind, **{k: _plain(v) for k, v in values.items()}}
    with open(path, "a", encoding="utf-8") as stream:
        stream.write(json.dumps(record) + "\n")
        stream.flush()


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy and torch scalars
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


class ProgressFollower:
    """Reads the records appended to a progress file since the last call (tolerates a partial last line)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._offset = 0
        self._partial = ""

    def new_records(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        with self.path.open(encoding="utf-8") as stream:
            stream.seek(self._offset)
            text = stream.read()
            self._offset = stream.tell()
        lines = (self._partial + text).split("\n")
        self._partial = lines.pop()
        return [json.loads(line) for line in lines if line.strip()]
