"""Row-by-row .npy writing and file-to-file copies give the arrays np.save would have written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from diwa.data.npy_rows import NpyRowWriter, copy_npy


def test_rows_written_in_any_order_read_back_as_the_array(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    expected = rng.integers(0, 256, size=(7, 4, 5, 3), dtype=np.uint8)
    writer = NpyRowWriter(tmp_path / "images.npy", expected.shape, np.uint8)
    for row in (3, 0, 6, 1, 5, 2, 4):
        writer.write(row, expected[row])
    array = writer.close()
    assert isinstance(array, np.memmap) and array.shape == expected.shape
    np.testing.assert_array_equal(array, expected)
    np.testing.assert_array_equal(np.load(tmp_path / "images.npy"), expected)


def test_a_row_of_the_wrong_shape_or_index_is_refused(tmp_path: Path) -> None:
    writer = NpyRowWriter(tmp_path / "x.npy", (2, 3), np.float32)
    with pytest.raises(ValueError, match=r"row 0 of shape \(4,\); expected \(3,\)"):
        writer.write(0, np.zeros(4))
    with pytest.raises(ValueError, match="below 2"):
        writer.write(2, np.zeros(3))
    writer.close()


def test_copy_npy_copies_a_whole_mapped_file_and_saves_anything_else(tmp_path: Path) -> None:
    array = np.arange(60, dtype=np.uint8).reshape(5, 4, 3)
    np.save(tmp_path / "source.npy", array)
    mapped = np.load(tmp_path / "source.npy", mmap_mode="r")
    copy_npy(mapped, tmp_path / "copy.npy")
    assert (tmp_path / "copy.npy").read_bytes() == (tmp_path / "source.npy").read_bytes()
    copy_npy(mapped[:3], tmp_path / "slice.npy")  # a part of the file: saved, not copied
    np.testing.assert_array_equal(np.load(tmp_path / "slice.npy"), array[:3])
    copy_npy(array * 2, tmp_path / "plain.npy")
    np.testing.assert_array_equal(np.load(tmp_path / "plain.npy"), array * 2)
