"""Read rows of an array from its file: a pass over a huge `.npy` keeps resident memory bounded.

Slicing a NumPy memory map leaves every page it touched counted in the process' resident
memory until the kernel reclaims it; these helpers read the bytes with plain file I/O instead.
TensorFlow-free, so data loading and validation stay light.
"""

from __future__ import annotations

import os
import weakref

import numpy as np

from zlens.errors import DataError


def read_rows(x: np.ndarray, start: int, stop: int) -> np.ndarray:
    """Rows `start:stop` of `x`; from a memory-mapped file they are read with plain file I/O.

    Slicing a memory map leaves its pages counted in the process' resident memory until the
    kernel reclaims them; reading the bytes instead keeps a pass over a huge `.npy` bounded.

    Example:
        >>> read_rows(np.arange(6).reshape(3, 2), 1, 3).tolist()
        [[2, 3], [4, 5]]
    """
    stop = min(stop, x.shape[0])
    region = _file_region(x)
    if region is None:
        return x[start:stop]
    filename, offset = region
    row_items = int(np.prod(x.shape[1:], dtype=np.int64))
    count = max(0, stop - start) * row_items
    rows = np.fromfile(filename, dtype=x.dtype, count=count, offset=offset + start * row_items * x.itemsize)
    return rows.reshape(-1, *x.shape[1:])


def read_rows_into(x: np.ndarray, start: int, stop: int, out: np.ndarray) -> np.ndarray:
    """Rows `start:stop` of `x` written into `out[:n]` (converted to `out`'s dtype); returns it.

    A C-ordered memory-mapped file of `out`'s dtype is read straight into `out` (no page stays
    mapped and no intermediate array is made); anything else is copied and converted.

    Example:
        >>> out = np.empty((2, 2), "float32")
        >>> read_rows_into(np.arange(6).reshape(3, 2), 1, 3, out).tolist()
        [[2.0, 3.0], [4.0, 5.0]]
    """
    stop = min(stop, x.shape[0])
    target = out[: max(0, stop - start)]
    region = _file_region(x)
    if region is None or x.dtype != out.dtype or not target.flags.c_contiguous or target.shape[1:] != x.shape[1:]:
        np.copyto(target, read_rows(x, start, stop), casting="unsafe")  # a file's rows read, not mapped in
        return target
    filename, offset = region
    row_bytes = int(np.prod(x.shape[1:], dtype=np.int64)) * x.itemsize
    fd = os.open(filename, os.O_RDONLY)
    try:
        pread_into(fd, target.reshape(-1).view(np.uint8).data, offset + start * row_bytes)
    finally:
        os.close(fd)
    return target


def is_memory_mapped(x) -> bool:
    """Whether `x` is a C-ordered view of a memory-mapped file whose rows can be read from it."""
    return _file_region(x) is not None


def _file_region(x) -> tuple[str, int] | None:
    """(file name, byte offset of row 0) of a C-ordered array inside a memory map, else None."""
    if not isinstance(x, np.ndarray) or not x.flags.c_contiguous:
        return None
    root = x
    while isinstance(root.base, np.ndarray):
        root = root.base
    if not isinstance(root, np.memmap) or root.filename is None:
        return None
    # np.memmap maps the file so that its own data pointer sits at byte `offset` of the file.
    return root.filename, int(root.offset) + (x.ctypes.data - root.ctypes.data)


class MemmapRows:
    """Reads rows of a memory-mapped array by index with `os.pread`: no page stays mapped.

    Slicing a memory map leaves every page it touched counted in the process' resident memory;
    reading the bytes keeps a pass over a file larger than memory at one batch of RSS. Runs of
    consecutive indices (an ordered pass) are read with one call each.

    Example:
        >>> np.save("/tmp/a.npy", np.arange(12, dtype="float32").reshape(6, 2))  # doctest: +SKIP
        >>> MemmapRows(np.load("/tmp/a.npy", mmap_mode="r"))(np.array([4, 1])).tolist()  # doctest: +SKIP
        [[8.0, 9.0], [2.0, 3.0]]
    """

    def __init__(self, x: np.ndarray) -> None:
        region = _file_region(x)
        if region is None:
            raise DataError("MemmapRows needs a C-ordered memory-mapped array (np.load(path, mmap_mode='r')).")
        filename, self.offset = region
        self.dtype = x.dtype
        self.row_shape = tuple(x.shape[1:])
        self.row_bytes = int(np.prod(self.row_shape, dtype=np.int64)) * x.itemsize
        self.n = int(x.shape[0])
        self._fd = os.open(filename, os.O_RDONLY)
        weakref.finalize(self, os.close, self._fd)

    def __call__(self, idx) -> np.ndarray:
        idx = np.asarray(idx, dtype=np.int64).reshape(-1)
        out = np.empty((len(idx), *self.row_shape), dtype=self.dtype)
        if not len(idx):
            return out
        order = np.argsort(idx, kind="stable")
        ranked = idx[order]
        if ranked[0] < 0 or ranked[-1] >= self.n:
            raise IndexError(f"sample index out of range 0..{self.n - 1}")
        flat = out.reshape(len(idx), -1).view(np.uint8)
        for a, b in consecutive_runs(ranked):
            data = pread_exact(self._fd, (b - a) * self.row_bytes, self.offset + int(ranked[a]) * self.row_bytes)
            flat[order[a:b]] = np.frombuffer(data, np.uint8).reshape(b - a, self.row_bytes)
        return out


def consecutive_runs(ranked: np.ndarray) -> list[tuple[int, int]]:
    """`(a, b)` slices of a sorted index vector whose values are consecutive (one I/O call each).

    Example:
        >>> consecutive_runs(np.array([2, 3, 4, 9, 11, 12]))
        [(0, 3), (3, 4), (4, 6)]
    """
    starts = np.flatnonzero(np.r_[True, np.diff(ranked) != 1])
    return list(zip(starts.tolist(), np.r_[starts[1:], len(ranked)].tolist(), strict=True))


def pread_exact(fd: int, size: int, offset: int) -> bytearray:
    """`size` bytes at `offset` of an open file."""
    data = bytearray(size)
    pread_into(fd, memoryview(data), offset)
    return data


def pread_into(fd: int, view: memoryview, offset: int) -> None:
    """Fill `view` (writable bytes) from `offset` of an open file (`os.preadv` may read fewer
    bytes per call than asked)."""
    done = 0
    while done < len(view):
        got = os.preadv(fd, [view[done:]], offset + done)
        if got <= 0:
            raise DataError(f"the memory-mapped file ended early (wanted {len(view)} bytes at offset {offset}).")
        done += got
