"""The resident fast path's train function: a whole execution of steps as one XLA computation.

When the samples live on the device (`TrainingData.resident`), a batch is nothing but a run of
positions into the epoch's permutation: there is no input to fetch. Keras' own multi-step
function still runs a `tf.while` in TF's graph executor that pulls each batch from the dataset
iterator and launches the compiled step once per batch. Here the loop itself is compiled: one
call runs up to `steps_per_execution` steps inside one XLA computation, each computing its
positions from the step number, so TF's executor, the iterator and the per-step launch drop out.
The steps, their order and their results are the ones Keras' function runs (the same
`train_step` on the same positions; the tests find them bit for bit equal on CPU), and Keras
still calls back between calls with the same step numbers. It runs zlens' own step only: its
logs are the model's metrics, which is what it returns. `python -m benchmarks.capture_cost`
measures it against Keras' loop side by side.
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Callable

import keras
import tensorflow as tf


class ResidentTrainLoop:
    """Keras' `train_function` for a `TappedAutoencoder` whose samples are held on the device.

    Keras calls it once per execution (`steps_per_execution` batches) with the epoch's dataset
    iterator; a new iterator means a new epoch. It runs the execution's full batches in one
    compiled `tf.while` (one trace) and the partial last batch, if any, in a second compiled
    call (one more trace), and returns the metrics after the last step, as Keras' does.
    Anything that is not an epoch's iterator (`train_on_batch`) goes to Keras' own `fallback`.
    """

    def __init__(self, model: keras.Model, n_samples: int, batch_size: int, fallback: Callable) -> None:
        self.model = model
        self.batch_size = int(batch_size)
        self.n_batches = -(-int(n_samples) // self.batch_size)
        self.full_batches = int(n_samples) // self.batch_size
        self.remainder = int(n_samples) - self.full_batches * self.batch_size
        self.fallback = fallback
        self._iterator = lambda: None  # a weak reference to the epoch's iterator, once there is one
        self._step = 0
        # Partials, not bound methods: TF keys its "frequent retracing" warning on the code
        # object, which every model's loop shares; each loop traces once, legitimately.
        self._full_steps = tf.function(functools.partial(ResidentTrainLoop._run_full_steps, self),
                                       jit_compile=True, autograph=False)
        self._last_step = tf.function(functools.partial(ResidentTrainLoop._run_last_step, self),
                                      jit_compile=True, autograph=False)

    def __call__(self, iterator):
        if not isinstance(iterator, tf.data.Iterator):
            return self.fallback(iterator)
        if iterator is not self._iterator():  # Keras starts a new iterator each epoch
            self._iterator, self._step = weakref.ref(iterator), 0
        first = self._step
        if first >= self.n_batches:
            raise StopIteration  # what Keras' function does once the epoch's batches are spent
        count = min(int(self.model.steps_per_execution), self.n_batches - first)
        full = min(count, self.full_batches - first)
        logs = None
        if full > 0:
            logs = self._full_steps(tf.constant(first, tf.int32), tf.constant(full, tf.int32))
        if count > full:  # the epoch's partial last batch
            logs = self._last_step()
        self._step = first + count
        return logs

    def continue_epoch_of(self, previous: ResidentTrainLoop) -> None:
        """Go on with `previous`'s epoch where it stopped (the train function was rebuilt, e.g. by
        a callback calling `make_train_function(force=True)`), when the batches are the same."""
        if (previous.batch_size, previous.n_batches) == (self.batch_size, self.n_batches):
            self._iterator, self._step = previous._iterator, previous._step

    def _run_full_steps(self, first: tf.Tensor, count: tf.Tensor):
        batch = self.batch_size
        offsets = tf.range(batch, dtype=tf.int64)

        def body(i):
            self.model.train_step(tf.cast(first + i, tf.int64) * batch + offsets)
            return (i + 1,)

        tf.while_loop(lambda i: i < count, body, (tf.constant(0, tf.int32),))
        return self.model.get_metrics_result()

    def _run_last_step(self):
        start = self.full_batches * self.batch_size
        self.model.train_step(tf.range(start, start + self.remainder, dtype=tf.int64))
        return self.model.get_metrics_result()
