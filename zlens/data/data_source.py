"""`DataSource`: validated samples (and labels) with what was done to them on the way in.

Its own module so that every reader of data (files, the embedded digits, arrays) can make one
without importing the others.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from zlens.data.chunked import is_chunked_array
from zlens.data.file_rows import MemmapRows, is_memory_mapped, read_rows, read_rows_into
from zlens.data.fingerprint import array_fingerprint
from zlens.data.preprocess import Preprocessing, by_factor


@dataclass
class DataSource:
    """Samples (N, ...) with optional labels, where they came from, and how they were scaled.

    `x` is float32 with its final values, in memory or memory-mapped; or, for a `.npy` too
    large to convert in memory (see `MATERIALIZE_BYTES`) or a Zarr array, the stored values,
    prepared per batch by `rows` / `batches` with `preprocessing` (then `lazy` is True). Read
    samples through `rows` / `batches` / `to_numpy` and both cases look the same.

    Args:
        x: the samples, one row per sample.
        labels: one label per sample (numbers or strings), or None.
        name: the absolute path of the file, "digits", or "array".
        scaled: the values were (or, when lazy, will be) scaled (`preprocessing` is not "none").
        original_dtype: the dtype of the data as stored; defaults to `x`'s dtype.
        scale_factor: a single factor the stored values are multiplied by (1/255 for 8-bit
            pixels), or None: shorthand for a `preprocessing` of that factor.
        preprocessing: the rule that makes the stored values the model's
            (`zlens.data.preprocess`), or None when they are taken as they are.
        prepared: `x` holds the prepared values already; False: `x` holds stored values that
            `rows` prepares per batch (a large file, a Zarr array).
        columns: for a table, `{"feature_columns": [...], "label_column": name or None,
            "label_picked": bool}` (picked: taken as labels for its name), else None.

    Example:
        >>> src = DataSource(np.zeros((4, 3), "float32"))
        >>> src.n_samples, src.fingerprint()["shape"]
        (4, [4, 3])
    """

    x: np.ndarray
    labels: np.ndarray | None = None
    name: str = "array"
    scaled: bool = False
    original_dtype: str = ""
    scale_factor: float | None = None
    preprocessing: Preprocessing | None = None
    prepared: bool = True
    columns: dict | None = None
    _fingerprint: dict | None = field(default=None, init=False, repr=False, compare=False)
    _reader: MemmapRows | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.original_dtype:
            self.original_dtype = str(self.x.dtype)
        if self.preprocessing is None and self.scale_factor is not None:
            self.preprocessing = by_factor(self.scale_factor, self.original_dtype)
        elif self.preprocessing is not None and self.scale_factor is None:
            self.scale_factor = self.preprocessing.scale_factor

    @property
    def n_samples(self) -> int:
        """The number of samples N."""
        return int(self.x.shape[0])

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """The shape of one sample: `(features,)` or `(H, W[, C])`."""
        return tuple(int(d) for d in self.x.shape[1:])

    @property
    def memory_mapped(self) -> bool:
        """`x` is read from its file on demand rather than held in memory."""
        return isinstance(self.x, np.memmap) or isinstance(getattr(self.x, "base", None), np.memmap)

    @property
    def chunked(self) -> bool:
        """`x` is a chunked on-disk array (Zarr), read a group of chunks at a time."""
        return is_chunked_array(self.x)

    @property
    def lazy(self) -> bool:
        """`x` holds stored values that `rows` converts (and prepares) to float32 per batch."""
        return self.x.dtype != np.float32 or not self.prepared

    def rows(self, start: int, stop: int) -> np.ndarray:
        """Samples `start:stop` as float32, scaled: a view when `x` is already float32.

        Example:
            >>> DataSource(np.full((3, 2), 255, "uint8"), scale_factor=1 / 255).rows(0, 2)
            array([[1., 1.],
                   [1., 1.]], dtype=float32)
        """
        chunk = read_rows(self.x, start, stop)
        if not self.lazy:
            return np.asarray(chunk)
        return self._prepare(chunk)

    def rows_into(self, start: int, stop: int, out: np.ndarray) -> np.ndarray:
        """Samples `start:stop` as float32, scaled, written into `out[:n]` (float32); returns it.

        A memory-mapped float32 `.npy` is read straight into `out`, with no array in between
        (what a streaming encode stages its blocks with).

        Example:
            >>> out = np.empty((2, 2), "float32")
            >>> DataSource(np.full((3, 2), 255, "uint8"), scale_factor=1 / 255).rows_into(1, 3, out).tolist()
            [[1.0, 1.0], [1.0, 1.0]]
        """
        if not self.lazy:
            return read_rows_into(self.x, start, stop, out)
        chunk = read_rows(self.x, start, stop)
        if self.preprocessing is None:
            return as_float32(chunk, None, out=out[: len(chunk)])
        return self.preprocessing.apply_into(chunk, out)

    def take(self, idx) -> np.ndarray:
        """The samples at indices `idx`, as float32, scaled; a memory-mapped file is read, not mapped in.

        Example:
            >>> DataSource(np.arange(6, dtype="uint8").reshape(3, 2), scale_factor=0.5).take([2, 0]).tolist()
            [[2.0, 2.5], [0.0, 0.5]]
        """
        idx = np.asarray(idx, dtype=np.int64)
        if is_memory_mapped(self.x):
            if self._reader is None:
                self._reader = MemmapRows(self.x)
            chunk = self._reader(idx)
        else:
            chunk = self.x[idx]
        return self._prepare(chunk) if self.lazy else np.asarray(chunk)

    def _prepare(self, chunk) -> np.ndarray:
        """Stored values as the model's float32 values."""
        return as_float32(chunk, None) if self.preprocessing is None else self.preprocessing.apply(chunk)

    def batches(self, batch_size: int) -> Iterator[np.ndarray]:
        """Float32 batches in sample order; the last one is partial when N % batch_size > 0.

        Example:
            >>> [len(b) for b in DataSource(np.zeros((5, 2), "float32")).batches(2)]
            [2, 2, 1]
        """
        for start in range(0, self.n_samples, batch_size):
            yield self.rows(start, start + batch_size)

    def to_numpy(self) -> np.ndarray:
        """All samples as one float32 array (a lazy source is read whole: mind its size)."""
        return self.rows(0, self.n_samples)

    def fingerprint(self) -> dict:
        """Identify the data as stored (before scaling and flattening) by its content.

        Returns `{"shape", "dtype", "sha256", "n_samples"}`; the hash covers the stored
        values, read in row chunks, so a memory-mapped file is never loaded whole. Computed
        once and cached.

        Example:
            >>> DataSource(np.zeros((2, 2), "float32")).fingerprint()["dtype"]
            'float32'
        """
        if self._fingerprint is None:
            self._fingerprint = array_fingerprint(self.x)
        return dict(self._fingerprint)

    def describe(self) -> dict:
        """A JSON-ready summary for run configs, logs and the report."""
        labels = self.labels
        return {
            "name": self.name,
            "n_samples": self.n_samples,
            "sample_shape": list(self.sample_shape),
            "original_dtype": self.original_dtype,
            "scaled": self.scaled,
            "scale_factor": self.scale_factor,
            "preprocess": None if self.preprocessing is None else self.preprocessing.describe(),
            "memory_mapped": self.memory_mapped,
            "lazy": self.lazy,
            "n_classes": None if labels is None else int(len(np.unique(labels))),
            "columns": self.columns,
        }


def as_float32(x: np.ndarray, factor: float | None, out: np.ndarray | None = None) -> np.ndarray:
    """`x` as float32, times `factor` (in float32) when given; written into `out` when given."""
    if factor is None:
        if out is None:
            return np.asarray(x, dtype=np.float32)
        np.copyto(out, x, casting="unsafe")
        return out
    return np.multiply(x, np.float32(factor), out=out, dtype=np.float32, casting="unsafe")
