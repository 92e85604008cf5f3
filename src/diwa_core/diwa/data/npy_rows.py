"""Large .npy arrays written and copied without mapping them into the process.

An hour of two 64x64 cameras is 2.6 GB. Written through a memory map, every page touched stays in the
process's resident set until the map goes (the kernel may drop clean pages, but `top` and a batch
system's memory limit count them); written row by row with pwrite, and copied with the kernel's file
copy, the process holds one row at a time.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np


class NpyRowWriter:
    """An .npy file of `shape` and `dtype` (C order), filled one row (first axis) at a time."""

    def __init__(self, path: Path, shape: tuple[int, ...], dtype: np.dtype | type) -> None:
        self.path = Path(path)
        self.shape, self.dtype = tuple(shape), np.dtype(dtype)
        self.row_bytes = int(np.prod(self.shape[1:], dtype=np.int64)) * self.dtype.itemsize
        with self.path.open("wb") as handle:
            header = {"descr": np.lib.format.dtype_to_descr(self.dtype), "fortran_order": False, "shape": self.shape}
            np.lib.format.write_array_header_1_0(handle, header)
            self.offset = handle.tell()
            handle.truncate(self.offset + self.row_bytes * self.shape[0])  # sparse until written
        self._fd = os.open(self.path, os.O_WRONLY)

    def write(self, row: int, value: np.ndarray) -> None:
        data = np.ascontiguousarray(value, dtype=self.dtype)
        if data.shape != self.shape[1:] or not 0 <= row < self.shape[0]:
            raise ValueError(
                f"{self.path.name}: row {row} of shape {data.shape}; expected {self.shape[1:]} below {self.shape[0]}"
            )
        os.pwrite(self._fd, data.tobytes(), self.offset + row * self.row_bytes)

    def close(self) -> np.ndarray:
        """Flush and close; the array, memory-mapped read-only (no page is read until used)."""
        os.fsync(self._fd)
        os.close(self._fd)
        return np.load(self.path, mmap_mode="r")


def copy_npy(array: np.ndarray, path: Path) -> None:
    """np.save(path, array), but a read-only map of a whole .npy file is copied file to file."""
    source = _whole_npy_file(array)
    if source is None:
        np.save(path, array)
    else:
        shutil.copyfile(source, path)


def _whole_npy_file(array: np.ndarray) -> Path | None:
    """The .npy file `array` maps entirely, as np.load(mmap_mode=...) gives it; None otherwise."""
    filename = getattr(array, "filename", None)
    if not isinstance(array, np.memmap) or filename is None or Path(filename).suffix != ".npy":
        return None
    readers = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
    with open(filename, "rb") as handle:
        reader = readers.get(np.lib.format.read_magic(handle))
        if reader is None:
            return None
        shape, fortran, dtype = reader(handle)
        header_end = handle.tell()
    whole = shape == array.shape and dtype == array.dtype and not fortran and array.flags.c_contiguous
    return Path(filename) if whole and array.offset == header_end else None
