"""A device-side buffer that a compiled step scatters per-sample rows into, by sample index.

This is the whole trick behind zlens' capture: row i of the buffer is written by whichever
step saw sample i, from inside the `tf.function`, so no batch ever travels to the host.
Under a `tf.distribute` strategy it is still ONE plain variable: each replica writes its rows.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import tensorflow as tf

from zlens.distribute.variables import local_variable


class TapBuffer:
    """A preallocated (N, *row_shape) buffer on the device, written row by row by index.

    Use it from your own `tf.function` training step: call `scatter(idx, values)` with the
    batch's sample indices (from `zlens.data.index_array` / `index_dataset`) and its per-sample
    values; after the epoch, `read()` returns the aligned matrix once, as NumPy. It also counts
    how often each row was written, so `check_complete()` can prove that every sample was seen
    exactly once in the epoch.

    Under a `tf.distribute` strategy (even created inside `strategy.scope()`) the buffer is one
    plain variable on the current device, never mirrored: every replica scatters its own rows
    into it, so nothing is averaged across replicas.

    Args:
        n_samples: N, the number of samples in the dataset.
        row_shape: shape of one sample's value, e.g. `(32,)` for z, `()` for a scalar.
        dtype: the buffer's dtype (float32 by default).
        name: a name for error messages and the variable.

    Example:
        >>> buf = TapBuffer(4, (2,))
        >>> buf.scatter(tf.constant([3, 1]), tf.constant([[1., 1.], [2., 2.]]))
        >>> buf.read()[[1, 3]]
        array([[2., 2.],
               [1., 1.]], dtype=float32)
    """

    def __init__(
        self,
        n_samples: int,
        row_shape: Sequence[int] = (),
        dtype: tf.DType = tf.float32,
        name: str = "tap",
    ) -> None:
        self.n_samples = int(n_samples)
        self.row_shape = tuple(int(s) for s in row_shape)
        self.name = name
        self.values = local_variable(tf.zeros((self.n_samples, *self.row_shape), dtype=dtype), f"zlens_{_safe(name)}")
        self.counts = local_variable(tf.zeros((self.n_samples,), dtype=tf.int32), f"zlens_{_safe(name)}_counts")

    def scatter(self, idx: tf.Tensor, values: tf.Tensor) -> None:
        """Write `values[k]` into row `idx[k]` (inside or outside a `tf.function`)."""
        idx = tf.cast(tf.reshape(idx, (-1,)), tf.int32)
        values = tf.cast(values, self.values.dtype)
        self.values.scatter_update(tf.IndexedSlices(values, idx))
        self.counts.scatter_add(tf.IndexedSlices(tf.ones_like(idx), idx))

    @property
    def streamed(self) -> bool:
        """False: the matrix fits the device, so it fits the host (see `CaptureBuffer`)."""
        return False

    def read(self) -> np.ndarray:
        """The buffer as a NumPy array, (N, *row_shape): one device-to-host copy."""
        return self.values.numpy()

    def blocks(self) -> Iterator[tuple[int, np.ndarray]]:
        """`(0, matrix)`: one block, read once (a device buffer's matrix fits the host)."""
        yield 0, self.read()

    def reset_counts(self) -> None:
        """Start a new epoch: forget which rows were written."""
        self.counts.assign(tf.zeros_like(self.counts))

    def zero(self) -> None:
        """Set every row to 0 (before an epoch whose rows are summed over workers)."""
        self.values.assign(tf.zeros_like(self.values))

    def merge(self, total) -> None:
        """Replace rows and counts by `total([values, counts])`, e.g. their sum over workers."""
        values, counts = total([self.values, self.counts])
        self.values.assign(values)
        self.counts.assign(counts)

    def check_complete(self) -> None:
        """Raise `RuntimeError` unless every row was written exactly once since `reset_counts`."""
        check_counts(self.counts.numpy(), self.name)


def check_counts(counts: np.ndarray, name: str, n_samples: int | None = None) -> None:
    """Raise `RuntimeError` unless every entry of `counts` (writes per row of a tap) is 1."""
    missing = int(np.sum(counts == 0))
    repeated = int(np.sum(counts > 1))
    if missing or repeated:
        raise RuntimeError(
            f"tap '{name}': {missing} of {n_samples or len(counts)} samples were not seen this "
            f"epoch and {repeated} were seen more than once; every sample must pass through "
            "the step exactly once per epoch (do not set steps_per_epoch or repeat() the data)."
        )


def _safe(name: str) -> str:
    """A variable-name-safe version of a tap name."""
    return "".join(c if c.isalnum() or c == "_" else "_" for c in name)
