"""Data out: write a latent matrix (or any tap) to .npy, CSV or Parquet, streaming and atomically.

Tables carry the sample index and, when the run has them, the labels, so a row can always be
traced back to its sample. Files appear only when complete (written to a temp name, then renamed).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from zlens.errors import ZlensError
from zlens.options import EXPORT_FORMATS

FORMATS = EXPORT_FORMATS


def format_of(path: str | Path, to: str | None = None) -> str:
    """The output format: `to` if given, else from the file's extension."""
    fmt = to or Path(path).suffix.lstrip(".").lower()
    if fmt == "pq":
        fmt = "parquet"
    if fmt not in FORMATS:
        raise ZlensError(f"cannot write {str(path)!r}: choose a format with --to {'|'.join(FORMATS)} "
                         "or an output ending in .npy, .csv or .parquet.")
    return fmt


class MatrixWriter:
    """Write an (N, ...) matrix block by block, with memory bounded by one block.

    `.npy` rows are appended after the header; CSV and Parquet rows become a table with an
    `index` column, a `label` column when labels are given, and one column per value
    (`z_0 ... z_{d-1}`, or `recon_error` for a scalar tap). Use as a context manager: the
    file is renamed into place only when the block writes completed without error.

    Example:
        >>> with MatrixWriter("z.parquet", n_rows=len(z), row_shape=z.shape[1:], name="z") as w:
        ...     w.write(0, z)
    """

    def __init__(self, path: str | Path, *, n_rows: int, row_shape: Sequence[int], name: str = "z",
                 labels: np.ndarray | None = None, to: str | None = None) -> None:
        self.path = Path(path)
        self.format = format_of(self.path, to)
        self.n_rows = int(n_rows)
        self.row_shape = tuple(int(s) for s in row_shape)
        self.name = name
        self.labels = labels
        self.rows_written = 0
        if not self.path.parent.exists():
            raise ZlensError(f"cannot write {str(self.path)!r}: folder {str(self.path.parent)!r} does not exist.")
        self._tmp = self.path.with_name(f".{self.path.name}.partial")
        self._sink: Any = None  # a binary file (npy), a text file (csv) or a ParquetWriter

    def __enter__(self) -> MatrixWriter:
        if self.format == "npy":  # header, then rows appended: no memory map, bounded memory
            self._sink = open(self._tmp, "wb")
            header = {"descr": np.lib.format.dtype_to_descr(np.dtype(np.float32)), "fortran_order": False,
                      "shape": (self.n_rows, *self.row_shape)}
            np.lib.format.write_array_header_1_0(self._sink, header)
        return self

    def write(self, start: int, block: np.ndarray) -> None:
        """Write rows `start : start + len(block)` (blocks must come in order)."""
        if start != self.rows_written:
            raise ValueError(f"blocks must be written in order: expected row {self.rows_written}, got {start}")
        if self.format == "npy":
            self._sink.write(np.ascontiguousarray(block, dtype=np.float32).tobytes())
        else:
            self._write_table_block(start, np.asarray(block))
        self.rows_written += len(block)

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if self._sink is not None:
                self._sink.close()
        finally:
            if exc_type is None and self.rows_written == self.n_rows:
                os.replace(self._tmp, self.path)
            else:
                self._tmp.unlink(missing_ok=True)

    def _columns(self, start: int, block: np.ndarray) -> dict[str, np.ndarray]:
        flat = block.reshape(len(block), -1)
        cols = {"index": np.arange(start, start + len(block), dtype=np.int64)}
        if self.labels is not None:
            cols["label"] = np.asarray(self.labels[start : start + len(block)])
        if not self.row_shape:
            cols[self.name] = flat[:, 0]
        else:
            for j in range(flat.shape[1]):
                cols[f"{self.name}_{j}"] = flat[:, j]
        return cols

    def _write_table_block(self, start: int, block: np.ndarray) -> None:
        import pandas as pd

        frame = pd.DataFrame(self._columns(start, block))
        if self.format == "csv":
            if self._sink is None:
                self._sink = open(self._tmp, "w", newline="")
                frame.to_csv(self._sink, index=False)
            else:
                frame.to_csv(self._sink, index=False, header=False)
            return
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(frame, preserve_index=False)
        if self._sink is None:
            self._sink = pq.ParquetWriter(self._tmp, table.schema)
        self._sink.write_table(table)


def export_tap(run, out: str | Path, *, tap: str = "z", epoch: int = -1, kind: str | None = None,
               to: str | None = None, block_rows: int = 65536, split: str = "train") -> Path:
    """Write one tap of one captured epoch of `run` to `out` (.npy, .csv or .parquet).

    `split="validation"`: the validation samples' matrix (consistent), with their index and labels.

    Example:
        >>> export_tap(zlens.open_run("runs/digits"), "z.parquet", epoch=-1, kind="consistent")
        >>> export_tap(zlens.open_run("runs/digits"), "z_val.csv", split="validation")
    """
    array = run.tap_array(tap, kind, split)
    slot = run.slot_of(epoch)
    row_shape = tuple(array.shape[2:])
    n = run.n_samples_of(split)
    with MatrixWriter(out, n_rows=n, row_shape=row_shape, name=tap, labels=run.labels_of(split), to=to) as w:
        for start in range(0, n, block_rows):
            w.write(start, array[slot, start : start + block_rows])
    return Path(out)
