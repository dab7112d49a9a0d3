"""Fingerprint an array: shape, dtype and a SHA-256 of its content, read in row chunks.

A run records its data's fingerprint, so a resume on different data is refused; memory-mapped
arrays are hashed chunk by chunk, never loaded whole.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import numpy as np

from zlens.data.file_rows import read_rows

_HASH_CHUNK_BYTES = 64 * 1024 * 1024


def row_chunks(x: np.ndarray) -> Iterator[np.ndarray]:
    """`x` in contiguous row blocks of about 64 MiB (a memory-mapped file is read, not mapped in;
    a Zarr array is read chunk by chunk)."""
    row_bytes = max(1, int(np.prod(x.shape[1:], dtype=np.int64)) * np.dtype(x.dtype).itemsize)
    step = max(1, _HASH_CHUNK_BYTES // row_bytes)
    for start in range(0, x.shape[0], step):
        yield np.ascontiguousarray(read_rows(x, start, start + step))


def array_fingerprint(x: np.ndarray) -> dict:
    """`{"shape", "dtype", "sha256", "n_samples"}` of `x` as stored.

    Example:
        >>> array_fingerprint(np.zeros((2, 3), "float32"))["shape"]
        [2, 3]
    """
    digest = hashlib.sha256()
    for chunk in row_chunks(x):
        digest.update(chunk.data)
    return {
        "shape": [int(d) for d in x.shape],
        "dtype": str(x.dtype),
        "sha256": digest.hexdigest(),
        "n_samples": int(x.shape[0]),
    }
