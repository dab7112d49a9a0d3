"""`ValidationPass`: the validation samples' taps at each captured epoch's final weights.

Held-out samples are never trained on, so they have one kind of latent, the consistent one: an
inference-mode pass over them in sample order, written into buffers of their own at their index.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import tensorflow as tf

from zlens.capture.recorder import LatentRecorder
from zlens.data.feed import CONSISTENT_BATCH
from zlens.data.indexed import gathered_batches, row_gatherer
from zlens.data.validation import ValidationData
from zlens.errors import ZlensError
from zlens.kinds import CONSISTENT


def check_validation_placement(strategy, validation_data) -> None:
    """Refuse validation data under a `tf.distribute` strategy in one line (its z is captured on one
    device for now); call it before any data is read."""
    if strategy is not None and validation_data is not None:
        raise ZlensError("validation z is captured on one device for now: under a tf.distribute strategy, "
                         "train without validation_data and encode the validation samples after training "
                         "(zlens.encode(run, x_val)).")


class ValidationPass:
    """Encodes the validation samples once per captured epoch (what `CaptureCallback` commits
    beside the training matrices, as `validation/consistent/{tap}`).

    Args:
        infer: `infer(x, y)` -> each tap's values for a batch in inference mode (`TapPlan.infer`).
        row_shapes: each tap's per-sample shape (the training taps: the same taps for both).
        data: the prepared validation samples (`zlens.data.validation.prepare_validation`).
        storage: where the buffers live ("device", "host" or "stream"), as the training buffers.
        strategy: the run's `tf.distribute` strategy; not supported yet (one clear error).

    Example:
        >>> val = ValidationPass(tapped.plan.infer, tapped.plan.row_shapes, prepared)   # doctest: +SKIP
        >>> val.run()["z"].shape                                                        # doctest: +SKIP
        (200, 2)
    """

    def __init__(self, infer: Callable[[Any, Any], Mapping[str, Any]], row_shapes: Mapping[str, tuple[int, ...]],
                 data: ValidationData, *, storage: str = "device", strategy=None) -> None:
        check_validation_placement(strategy, data)
        self.data = data
        self.recorder = LatentRecorder(infer, row_shapes, data.n_samples, (CONSISTENT,), storage=storage)
        self._on_device = storage == "device"
        if self._on_device:  # held as constants and walked in slices in one compiled loop: no tf.data per epoch
            self._x = tf.constant(data.x)
            self._y = None if data.y is None else tf.constant(np.asarray(data.y))
            self._pass = tf.function(self._slices)
        else:  # host / stream buffers write back through Python: the dataset path of the training samples
            gather_y = None if data.y is None else row_gatherer(np.asarray(data.y))
            self.dataset = gathered_batches(data.n_samples, row_gatherer(data.x), CONSISTENT_BATCH, shuffle=False,
                                            gather_y=gather_y)

    def run(self) -> dict[str, Any]:
        """Each tap's (n_validation, ...) matrix at the model's current weights, row i = sample i."""
        if not self._on_device:
            self.recorder.consistent_pass(self.dataset)
            return self.recorder.read(CONSISTENT)
        self.recorder.reset_counts(CONSISTENT)
        self._pass()
        self.recorder.collect(CONSISTENT)  # every validation sample written exactly once
        return self.recorder.read(CONSISTENT)

    def _slices(self) -> None:
        n = self.data.n_samples
        for start in tf.range(0, n, CONSISTENT_BATCH, dtype=tf.int64):
            stop = tf.minimum(start + CONSISTENT_BATCH, n)
            x = self._x[start:stop]
            y = x if self._y is None else self._y[start:stop]
            self.recorder.record(self.recorder.infer(x, y), tf.range(start, stop), kind=CONSISTENT)
