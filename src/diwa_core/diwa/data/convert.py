"""Conversion between the consolidated training format and CALVIN's per-frame layout."""

from __future__ import annotations

import os
from pathlib import Path

from diwa.data.calvin_layout import EPISODE_IDS, read_calvin, write_calvin
from diwa.data.dataset import Dataset, load_dataset, save_dataset

LAYOUTS = ("consolidated", "calvin")


def detect_layout(path: str | os.PathLike[str]) -> str:
    """ "consolidated" (meta.json) or "calvin" (ep_start_end_ids.npy); FileNotFoundError otherwise."""
    root = Path(path)
    if (root / "meta.json").is_file():
        return "consolidated"
    if (root / EPISODE_IDS).is_file():
        return "calvin"
    raise FileNotFoundError(f"{root} holds neither a consolidated dataset (meta.json) nor a CALVIN one ({EPISODE_IDS})")


def read_any(path: str | os.PathLike[str], progress: bool = True) -> Dataset:
    """Load a dataset in either layout, fully into memory."""
    if detect_layout(path) == "consolidated":
        return load_dataset(path, mmap=False)
    return read_calvin(path, progress=progress)


def write_layout(dataset: Dataset, path: str | os.PathLike[str], layout: str, progress: bool = True) -> Path:
    """Write `dataset` to `path` in `layout` ("consolidated" or "calvin")."""
    if layout == "consolidated":
        return save_dataset(dataset, path)
    if layout == "calvin":
        return write_calvin(dataset, path, progress=progress)
    raise ValueError(f"unknown dataset layout {layout!r}; expected one of {LAYOUTS}")


def convert(src: str | os.PathLike[str], dst: str | os.PathLike[str], layout: str, progress: bool = True) -> Path:
    """Copy the dataset at `src` (either layout) to `dst` in `layout`."""
    if layout not in LAYOUTS:
        raise ValueError(f"unknown dataset layout {layout!r}; expected one of {LAYOUTS}")
    if Path(src).resolve() == Path(dst).resolve():
        raise ValueError(f"source and destination are the same directory: {src}")
    return write_layout(read_any(src, progress), dst, layout, progress)
