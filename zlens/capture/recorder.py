"""The capture engine: a buffer for every tap, written inside the compiled step.

`record` runs inside `train_step` (traced once, compiled with the step, XLA included): it
scatters each tap's batch rows into its buffer at the batch's sample indices. The host reads
each buffer once per epoch (`read`). `consistent_pass` fills a second set of buffers with an
inference-mode pass over the data at the epoch's final weights. Under a `tf.distribute`
strategy every replica scatters its own rows; across workers `collect` sums the buffers.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import tensorflow as tf

from zlens.capture.buffer import TapBuffer
from zlens.capture.buffer_protocol import CaptureBuffer
from zlens.capture.numpy_buffer import NumpyTapBuffer, block_rows
from zlens.checks import check_choice
from zlens.kinds import CONSISTENT, IN_FLIGHT
from zlens.options import TAP_STORAGES

STORAGES = TAP_STORAGES
DEFAULT_BUFFER_BUDGET = 4 * 2**30


class LatentRecorder:
    """Holds a buffer per tap and kind, and the two ways of filling them.

    Args:
        infer: `infer(x, y)` -> each tap's values for a batch in inference mode, `y` its target
            (`TapPlan.infer`): what the consistent pass records.
        row_shapes: each tap's per-sample shape, e.g. `{"z": (32,), "recon_error": ()}`.
        n_samples: N.
        kinds: which of `"in-flight"` and `"consistent"` to keep.
        strategy: the `tf.distribute` strategy the step runs under (None: one device).
        storage: where the buffers live: "device" (`TapBuffer`, a device variable), "host"
            (`NumpyTapBuffer` in host memory) or "stream" (`NumpyTapBuffer` in a scratch file:
            bounded memory whatever N).
        scratch_dir: the folder for "stream" scratch files (default: the system's temp dir).
        total: sums `[rows, counts]` over the workers of a multi-worker run (each worker's
            buffers hold the rows its replicas saw); None on one worker.
    """

    def __init__(
        self,
        infer: Callable[[Any, Any], Mapping[str, tf.Tensor]],
        row_shapes: Mapping[str, tuple[int, ...]],
        n_samples: int,
        kinds: Sequence[str],
        strategy: tf.distribute.Strategy | None = None,
        *,
        storage: str = "device",
        scratch_dir: str | None = None,
        total: Callable[[list], list] | None = None,
    ) -> None:
        check_choice("storage", storage, STORAGES, error=ValueError)
        self.infer = infer
        self.row_shapes = dict(row_shapes)
        self.n_samples = int(n_samples)
        self.kinds = tuple(kinds)
        self.storage = storage
        self._strategy = strategy
        self._total = total
        self.buffers = {
            kind: {name: _buffer(n_samples, shape, f"{kind}_{name}", storage, scratch_dir)
                   for name, shape in self.row_shapes.items()}
            for kind in self.kinds
        }
        self._consistent_fn: Callable[[Any], Any] | None = None

    def record(self, values: Mapping[str, tf.Tensor], idx, kind: str = IN_FLIGHT) -> None:
        """Scatter a batch's tap `values` into the `kind` buffers at rows `idx` (call inside the step)."""
        if kind not in self.buffers:
            return
        for name, buffer in self.buffers[kind].items():
            buffer.scatter(idx, tf.stop_gradient(values[name]))

    def consistent_pass(self, dataset) -> None:
        """Fill the consistent buffers: inference-mode taps over `dataset` of `(x, ..., idx)`.

        A batch is `(x, idx)` or `(x, y, idx)` (y: the target, when it is not x). `dataset` is a
        `tf.data` dataset, or a `tf.distribute` one whose batches are split over
        the strategy's replicas (each replica encodes and scatters its share).
        """
        if CONSISTENT not in self.buffers:
            return
        self.reset_counts(CONSISTENT)
        if self._consistent_fn is None:
            self._consistent_fn = tf.function(self._consistent_loop)
        self._consistent_fn(dataset)
        self.collect(CONSISTENT)

    def _consistent_loop(self, dataset):
        for batch in dataset:
            if self._strategy is None:
                self._record_consistent(batch)
            else:
                self._strategy.run(self._record_consistent, args=(batch,))

    def _record_consistent(self, batch):
        x, y, idx = batch[0], batch[1] if len(batch) == 3 else batch[0], batch[-1]
        self.record(self.infer(x, y), idx, kind=CONSISTENT)

    def read(self, kind: str) -> dict[str, np.ndarray | CaptureBuffer]:
        """The `kind` buffers as NumPy arrays (one host copy each); a streamed buffer itself
        (read it block by block with `blocks()`: it may not fit in memory)."""
        return {name: buf if buf.streamed else buf.read() for name, buf in self.buffers[kind].items()}

    def reset_counts(self, kind: str = IN_FLIGHT) -> None:
        """Start an epoch: forget which rows of the `kind` buffers were written (and zero the rows
        when they are summed over workers, so each row is the one worker's that wrote it)."""
        for buf in self.buffers.get(kind, {}).values():
            buf.reset_counts()
            if self._total is not None:
                buf.zero()

    def collect(self, kind: str = IN_FLIGHT) -> None:
        """End an epoch: sum the `kind` buffers over the workers (multi-worker), then check that
        every sample was written exactly once."""
        bufs = self.buffers.get(kind, {})
        if self._total is not None:
            for buf in bufs.values():
                buf.merge(self._total)
        self.check_complete(kind)

    def check_complete(self, kind: str = IN_FLIGHT) -> None:
        """Raise unless every sample was written exactly once into the `kind` buffers."""
        bufs = self.buffers.get(kind, {})
        if bufs:
            next(iter(bufs.values())).check_complete()


def _buffer(n: int, shape: tuple[int, ...], name: str, storage: str, scratch_dir: str | None):
    if storage == "device":
        return TapBuffer(n, shape, name=name)
    if storage == "stream":
        return NumpyTapBuffer(n, shape, name=name, scratch_dir=scratch_dir or tempfile.gettempdir())
    return NumpyTapBuffer(n, shape, name=name)


def choose_storage(
    tap_storage: str,
    n_samples: int,
    row_shapes: Mapping[str, tuple[int, ...]],
    kinds: Sequence[str],
    buffer_budget: int | None = None,
) -> str:
    """Resolve `tap_storage` ("device", "host", "stream" or "auto") to where the buffers live.

    "auto" keeps them on the device when they fit `buffer_budget` bytes (default 4 GiB, see
    `buffer_bytes`), and streams them to a scratch file otherwise.

    Example:
        >>> choose_storage("auto", 10**6, {"z": (32,)}, ["in-flight"], buffer_budget=2**20)
        'stream'
    """
    from zlens.errors import ZlensError

    if tap_storage != "auto":
        return check_choice("tap_storage", tap_storage, STORAGES, or_also="'auto'")
    budget = DEFAULT_BUFFER_BUDGET if buffer_budget is None else buffer_budget
    if isinstance(budget, bool) or not isinstance(budget, (int, np.integer)) or budget < 0:
        raise ZlensError(f"buffer_budget must be a number of bytes >= 0; got {buffer_budget!r}.")
    return "device" if buffer_bytes(n_samples, row_shapes, kinds) <= budget else "stream"


def buffer_bytes(n_samples: int, row_shapes: Mapping[str, tuple[int, ...]], kinds: Sequence[str]) -> int:
    """Bytes the device buffers of a capture take: float32 rows plus an int32 count per sample.

    Example:
        >>> buffer_bytes(1000, {"z": (32,), "recon_error": ()}, ["in-flight", "consistent"])
        280000
    """
    per_sample = sum(4 * int(np.prod(shape, dtype=np.int64)) + 4 for shape in row_shapes.values())
    return int(n_samples) * per_sample * len(kinds)


def blocks(value) -> Iterator[np.ndarray]:
    """An array, or a streamed buffer, as consecutive row blocks of about 8 MB."""
    if not isinstance(value, np.ndarray):  # a streamed `CaptureBuffer`
        for _, rows in value.blocks():
            yield rows
        return
    step = block_rows(value.shape[1:], value.dtype.itemsize)
    for start in range(0, len(value), step):
        yield value[start : start + step]


def drift(in_flight, consistent) -> dict[str, float]:
    """How far the in-flight matrix is from the consistent one: max and mean absolute difference
    (arrays, or streamed buffers compared block by block)."""
    top, total, count = 0.0, 0.0, 0
    for a, b in zip(blocks(in_flight), blocks(consistent), strict=True):
        diff = np.abs(np.subtract(a, b, dtype=np.float64) if a.dtype != np.float32 else a - b)
        top = max(top, float(diff.max()))
        total += float(diff.sum(dtype=np.float64))
        count += diff.size
    return {"max": top, "mean": total / max(count, 1)}
