"""`CaptureBuffer`: what every tap buffer does, whichever memory its rows live in.

A compiled step scatters each tap's rows into one at the batch's sample indices; at the epoch's
end the host checks that every row was written exactly once and reads the matrix, whole or
block by block. `TapBuffer` keeps the rows in a device variable; `NumpyTapBuffer` in host
memory or (streamed) in a scratch file. tests/capture/test_buffer_contract.py runs one suite
of tests against every implementation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class CaptureBuffer(Protocol):
    """An (n_samples, *row_shape) matrix written row by row, by sample index, from a training step."""

    n_samples: int
    row_shape: tuple[int, ...]
    name: str

    @property
    def streamed(self) -> bool:
        """True when the matrix may not fit in memory: read it with `blocks()`, not `read()`."""

    def scatter(self, idx: Any, values: Any) -> None:
        """Write `values[k]` into row `idx[k]` and count the write (inside or outside a `tf.function`)."""

    def read(self) -> np.ndarray:
        """The whole matrix as a NumPy array of its own (one copy to the host)."""

    def blocks(self) -> Iterator[tuple[int, np.ndarray]]:
        """`(start, rows)` over the matrix in order, a few MB at a time; use each before the next."""

    def reset_counts(self) -> None:
        """Start an epoch: forget which rows were written."""

    def zero(self) -> None:
        """Set every row to 0 (before an epoch whose rows are summed over workers)."""

    def merge(self, total: Callable[[list], list]) -> None:
        """Replace rows and counts by `total([rows, counts])` (e.g. their sum over workers)."""

    def check_complete(self) -> None:
        """Raise `RuntimeError` unless every row was written exactly once since `reset_counts`."""
