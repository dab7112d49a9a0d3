"""The capture engine: device buffers for every tap, written inside the compiled step.

`record` runs inside `train_step` (traced once, compiled with the step, XLA included): it
scatters each tap's batch rows into its buffer at the batch's sample indices. The host reads
each buffer once per epoch (`read`). `consistent_pass` fills a second set of buffers with an
inference-mode pass over the data at the epoch's final weights.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import tensorflow as tf

from zlens.capture.buffer import TapBuffer
from zlens.capture.taps import RECON_ERROR, RECONSTRUCTION, per_sample_error
from zlens.kinds import CONSISTENT, IN_FLIGHT


class LatentRecorder:
    """Holds a `TapBuffer` per tap and kind, and the two ways of filling them.

    Args:
        tap_model: model returning `{"reconstruction": ..., <tap>: ...}` (see `build_tap_model`).
        row_shapes: each tap's per-sample shape, e.g. `{"z": (32,), "recon_error": ()}`.
        n_samples: N.
        kinds: which of `"in-flight"` and `"consistent"` to keep.
        strategy: the `tf.distribute` strategy the buffers live under.
    """

    def __init__(
        self,
        tap_model,
        row_shapes: Mapping[str, tuple[int, ...]],
        n_samples: int,
        kinds: Sequence[str],
        strategy: tf.distribute.Strategy | None = None,
    ) -> None:
        self.tap_model = tap_model
        self.row_shapes = dict(row_shapes)
        self.n_samples = int(n_samples)
        self.kinds = tuple(kinds)
        strategy = strategy or tf.distribute.get_strategy()
        with strategy.scope():
            self.buffers = {
                kind: {name: TapBuffer(n_samples, shape, name=f"{kind}_{name}") for name, shape in self.row_shapes.items()}
                for kind in self.kinds
            }
        self._consistent_fn = None

    def tap_values(self, x, outputs: Mapping[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        """Each tap's per-sample values for a batch, from the tap model's outputs."""
        values = {}
        for name in self.row_shapes:
            if name == RECON_ERROR:
                values[name] = per_sample_error(x, outputs[RECONSTRUCTION])
            else:
                values[name] = outputs[name]
        return values

    def record(self, x, outputs: Mapping[str, tf.Tensor], idx, kind: str = IN_FLIGHT) -> None:
        """Scatter a batch's taps into the `kind` buffers at rows `idx` (call inside the step)."""
        if kind not in self.buffers:
            return
        for name, value in self.tap_values(x, outputs).items():
            self.buffers[kind][name].scatter(idx, tf.stop_gradient(value))

    def consistent_pass(self, dataset: tf.data.Dataset) -> None:
        """Fill the consistent buffers: inference-mode taps over `dataset` of `(x, ..., idx)`."""
        if CONSISTENT not in self.buffers:
            return
        self.reset_counts(CONSISTENT)
        if self._consistent_fn is None:
            self._consistent_fn = tf.function(self._consistent_loop)
        self._consistent_fn(dataset)
        self.check_complete(CONSISTENT)

    def _consistent_loop(self, dataset):
        for batch in dataset:
            x, idx = batch[0], batch[-1]
            self.record(x, self.tap_model(x, training=False), idx, kind=CONSISTENT)

    def read(self, kind: str) -> dict[str, np.ndarray]:
        """The `kind` buffers as NumPy arrays, one host copy each."""
        return {name: buf.read() for name, buf in self.buffers[kind].items()}

    def reset_counts(self, kind: str = IN_FLIGHT) -> None:
        """Forget which rows of the `kind` buffers were written (start of an epoch)."""
        for buf in self.buffers.get(kind, {}).values():
            buf.reset_counts()

    def check_complete(self, kind: str = IN_FLIGHT) -> None:
        """Raise unless every sample was written exactly once into the `kind` buffers."""
        bufs = self.buffers.get(kind, {})
        if bufs:
            next(iter(bufs.values())).check_complete()


def drift(in_flight: np.ndarray, consistent: np.ndarray) -> dict[str, float]:
    """How far the in-flight matrix is from the consistent one: max and mean absolute difference."""
    diff = np.abs(in_flight.astype(np.float64) - consistent.astype(np.float64))
    return {"max": float(diff.max()), "mean": float(diff.mean())}
