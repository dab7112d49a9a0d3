"""What a Keras model needs to train under `tf.distribute` the way zlens does: a checked strategy,
and two workarounds for Keras' multi-replica step, each named with its reason."""

from __future__ import annotations

import contextlib
import warnings

import numpy as np
import tensorflow as tf

from zlens.distribute.strategy import check_built_under, is_distributed


class ReplicatedTraining:
    """A mixin for zlens' `keras.Model` (first among the bases; it has a `plan` and a `_capture`
    state) that trains over replicas.

    It finds the strategy the model was built under (refusing weights made outside its scope),
    keeps scalar logs right across workers (`_replica_logs`, for the step's return value), and
    builds the metrics from a sample instead of an average of uneven replica batches. What Keras
    cannot do over several replicas (XLA, several steps per call) is planned out by
    `zlens.capture.fit_plan`.
    """

    _logs_as_vectors = False
    # Set by keras.Model, whose methods this mixin runs beside (declared for the type checker).
    distribute_strategy: tf.distribute.Strategy
    jit_compile: bool
    steps_per_execution: int

    def _replica_strategy(self) -> tf.distribute.Strategy | None:
        """The `tf.distribute` strategy this model trains under (checked), or None for one device."""
        strategy = self.distribute_strategy
        if not is_distributed(strategy):
            return None
        check_built_under(self, strategy)
        return strategy

    def _log_as_vectors(self, multi_worker: bool) -> None:
        """Return the step's scalar logs as 1-element vectors when training across workers (see
        `_replica_logs`); a change makes Keras trace the steps again."""
        if multi_worker != self._logs_as_vectors:
            self._logs_as_vectors = multi_worker
            self.train_function = self.test_function = None

    def _replica_logs(self, logs):
        """The step's logs; across workers as 1-element vectors, because Keras averages scalar
        logs over workers along an axis they do not have (tensorflow/tensorflow#72388)."""
        if not self._logs_as_vectors:
            return logs
        return {name: tf.reshape(value, (1,)) for name, value in logs.items()}

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # Under a strategy Keras builds the metrics from the first batch averaged over replicas,
        # which fails when the replicas' batches differ in size; the model is built: use a sample.
        example = np.zeros((1, *self.plan.sample_shape), dtype="float32")
        target = self._capture.target_spec
        y = example if target is None else np.zeros((1, *target.shape), dtype=target.dtype.as_numpy_dtype)
        return super()._maybe_symbolic_build(data_batch=(example, y))


@contextlib.contextmanager
def quiet_distributed_input(distributed: bool):
    """Hide two warnings a distributed input always raises: Keras learns the number of steps of
    an epoch by running out of data once, and tf.data notes how options are kept in graphs."""
    with warnings.catch_warnings():
        if distributed:
            warnings.filterwarnings("ignore", message="Your input ran out of data")
            warnings.filterwarnings("ignore", message="To make it possible to preserve tf.data options")
        yield
