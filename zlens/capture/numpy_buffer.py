"""A tap buffer in a NumPy array, in host memory or in a scratch file, written from inside the step.

For latent matrices too large for the device: the step hands each batch's `(idx, rows)` to the
host through `tf.numpy_function`, which writes them at their rows. Read back block by block.
"""

from __future__ import annotations

import os
import tempfile
import threading
import weakref
from collections.abc import Iterator, Sequence

import numpy as np
import tensorflow as tf

from zlens.capture.buffer import check_counts
from zlens.data.file_rows import consecutive_runs

BLOCK_BYTES = 8 * 2**20  # rows handed out per `blocks()` step: about one store chunk


class NumpyTapBuffer:
    """A (N, *row_shape) NumPy array, in memory or mapped from a scratch file, written by index
    from inside a `tf.function` (formerly `HostTapBuffer`: it does more than host memory).

    The same contract as `TapBuffer` (`scatter`, `reset_counts`, `check_complete`), for a matrix
    that does not fit the device: each `scatter` sends the batch's indices and rows to the host
    (one `tf.numpy_function` call per batch, so the step cannot be XLA-compiled), where they are
    written into a NumPy array (`scratch_dir=None`: host memory, N x row bytes of RSS) or into a
    scratch file (streamed: the rows go to the page cache and disk, and the process keeps only
    one batch plus one byte per sample for the counts). The file is unlinked on creation, so
    nothing is left behind whatever happens to the process.

    Args:
        n_samples: N.
        row_shape: one sample's shape, e.g. `(32,)`.
        dtype: a NumPy float dtype (float32 by default).
        name: a name for error messages.
        scratch_dir: a folder for the scratch file, or None to keep the rows in memory.

    Example:
        >>> buf = NumpyTapBuffer(4, (2,), scratch_dir="/tmp")
        >>> tf.function(buf.scatter)(tf.constant([3, 1]), tf.constant([[1., 1.], [2., 2.]]))
        >>> buf.rows(1, 4)
        array([[2., 2.],
               [0., 0.],
               [1., 1.]], dtype=float32)
    """

    def __init__(
        self,
        n_samples: int,
        row_shape: Sequence[int] = (),
        dtype=np.float32,
        name: str = "tap",
        scratch_dir: str | os.PathLike | None = None,
    ) -> None:
        self.n_samples = int(n_samples)
        self.row_shape = tuple(int(s) for s in row_shape)
        self.dtype = np.dtype(dtype)
        self.name = name
        self.shape = (self.n_samples, *self.row_shape)
        self.row_bytes = int(np.prod(self.row_shape, dtype=np.int64)) * self.dtype.itemsize
        self.counts = np.zeros(self.n_samples, dtype=np.uint8)
        self._lock = threading.Lock()
        self._values: np.ndarray | None = None
        self._fd: int | None = None
        if scratch_dir is None:
            self._values = np.zeros(self.shape, dtype=self.dtype)
        else:
            fd, path = tempfile.mkstemp(prefix=f"zlens-{name.replace('/', '_')}-", suffix=".rows", dir=scratch_dir)
            os.unlink(path)  # gone with the last descriptor: nothing to clean up after a crash
            os.ftruncate(fd, self.n_samples * self.row_bytes)
            self._fd = fd
            weakref.finalize(self, os.close, fd)

    @property
    def _file(self) -> int:
        """The scratch file's descriptor (a streamed buffer only)."""
        assert self._fd is not None, "a buffer in host memory has no scratch file"
        return self._fd

    @property
    def streamed(self) -> bool:
        """True when the rows live in a scratch file, False when in host memory."""
        return self._fd is not None

    # -- written from the step ------------------------------------------------------------
    def scatter(self, idx: tf.Tensor, values: tf.Tensor) -> None:
        """Write `values[k]` into row `idx[k]`: one host call per batch (inside or outside a tf.function)."""
        idx = tf.reshape(tf.cast(idx, tf.int64), (-1,))
        values = tf.cast(values, tf.as_dtype(self.dtype))
        tf.numpy_function(self._write, [idx, values], [], stateful=True,
                          name=f"zlens_host_{self.name}".replace("/", "_"))

    def _write(self, idx: np.ndarray, values: np.ndarray) -> None:
        if not len(idx):
            return
        values = np.ascontiguousarray(values, dtype=self.dtype).reshape(len(idx), -1)
        if self._values is not None:
            self._values.reshape(self.n_samples, -1)[idx] = values
        else:
            order = np.argsort(idx, kind="stable")
            ranked = idx[order]
            for a, b in consecutive_runs(ranked):
                os.pwrite(self._file, values[order[a:b]].tobytes(), int(ranked[a]) * self.row_bytes)
        with self._lock:  # replicas of a strategy call this from several threads
            np.add.at(self.counts, idx, 1)

    # -- read on the host -----------------------------------------------------------------
    def rows(self, start: int, stop: int, out: np.ndarray | None = None) -> np.ndarray:
        """Rows `start:stop` as an array (a view in memory, or read from the scratch file into
        `out` when given: a buffer of at least that many rows, reused)."""
        stop = min(stop, self.n_samples)
        if self._values is not None:
            return self._values[start:stop]
        if out is None:
            out = np.empty((stop - start, *self.row_shape), dtype=self.dtype)
        out = out[: stop - start]
        view = out.reshape(-1).view(np.uint8).data
        done, size = 0, (stop - start) * self.row_bytes
        while done < size:  # preadv may return fewer bytes per call
            got = os.preadv(self._file, [view[done:size]], start * self.row_bytes + done)
            if got <= 0:
                raise OSError(f"tap '{self.name}': the scratch file ended early")
            done += got
        return out

    def blocks(self) -> Iterator[tuple[int, np.ndarray]]:
        """`(start, rows)` over the whole buffer, about 8 MB at a time. A streamed buffer reads
        every block into the same array: use each block before asking for the next."""
        step = block_rows(self.row_shape, self.dtype.itemsize)
        out = None if self._values is not None else np.empty((min(step, self.n_samples), *self.row_shape), self.dtype)
        for start in range(0, self.n_samples, step):
            yield start, self.rows(start, start + step, out)

    def read(self) -> np.ndarray:
        """The whole matrix, as a copy of its own (the next epoch overwrites the buffer while the
        run's writer may still be storing this one): of the array in memory, or of the scratch file."""
        return self._values.copy() if self._values is not None else self.rows(0, self.n_samples)

    def reset_counts(self) -> None:
        """Start a new epoch: forget which rows were written."""
        self.counts[:] = 0

    def zero(self) -> None:
        """Set every row to 0 (before an epoch whose rows are summed over workers)."""
        if self._values is not None:
            self._values[...] = 0
        else:
            os.ftruncate(self._file, 0)
            os.ftruncate(self._file, self.n_samples * self.row_bytes)

    def merge(self, total) -> None:
        """Replace rows and counts by `total([rows, counts])`, block by block (e.g. a sum over workers)."""
        for start, rows in self.blocks():
            stop = start + len(rows)
            values, counts = total([rows, self.counts[start:stop].astype(np.int32)])
            values = np.asarray(values, dtype=self.dtype)
            if self._values is not None:
                self._values[start:stop] = values
            else:
                os.pwrite(self._file, values.tobytes(), start * self.row_bytes)
            self.counts[start:stop] = np.minimum(np.asarray(counts), 255)

    def check_complete(self) -> None:
        """Raise `RuntimeError` unless every row was written exactly once since `reset_counts`."""
        check_counts(self.counts, self.name)


def block_rows(row_shape: Sequence[int], itemsize: int) -> int:
    """Rows in one block of about `BLOCK_BYTES`."""
    return max(1, BLOCK_BYTES // max(1, int(np.prod(row_shape, dtype=np.int64)) * itemsize))
