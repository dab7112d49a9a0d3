"""The order the samples held on the device are visited in: one permutation per epoch.

For samples kept on the device (the resident fast path), the training dataset is only a
sequence of batch positions (0..B-1, B..2B-1, ...), which costs almost nothing to iterate; the
step maps positions to sample indices through a permutation held in a device variable, which
`ReorderEachEpoch` refreshes at the start of every epoch. Starting the shuffled index pipeline
of `tf.data` instead, once per epoch and once more for the spare iterator Keras starts at each
epoch's end, took a third of a 12k-row epoch (`python -m benchmarks --quick`, zlens row: 0.457 s
before this path, about 0.3 s with it). Epoch e's permutation depends only on (seed, e): with a
seed, a resumed run visits the samples in the order the uninterrupted run would have (without
one, each fit draws its own). (The `tf.data` paths draw a new key each time their pipeline
starts, so a run on the same samples memory-mapped visits them in another order.)
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from zlens.data.indexed import permutation


class EpochOrder:
    """The permutation of 0..n-1 each epoch visits the samples in (identity when not `shuffle`).

    Example:
        >>> order = EpochOrder(5, shuffle=True, seed=0)
        >>> sorted(order.permutation(3).numpy().tolist())
        [0, 1, 2, 3, 4]
        >>> bool(tf.reduce_all(order.permutation(3) == order.permutation(3)))
        True
    """

    def __init__(self, n: int, *, shuffle: bool = True, seed: int | None = None) -> None:
        self.n = int(n)
        self.shuffle = bool(shuffle) and self.n > 1
        self.seed = int(seed) if seed is not None else int(np.random.default_rng().integers(2**31))

    def identity(self) -> tf.Tensor:
        """0..n-1 (int64): the order before the first epoch, and every epoch's without shuffle."""
        return tf.range(self.n, dtype=tf.int64)

    def permutation(self, epoch: int) -> tf.Tensor:
        """The sample indices of epoch `epoch`, in visiting order (int64, shape (n,))."""
        if not self.shuffle:
            return self.identity()
        key = tf.random.stateless_uniform([], seed=[self.seed, int(epoch)], minval=None, maxval=None, dtype=tf.int64)
        return permutation(self.n, key)

    def positions(self, batch_size: int) -> tf.data.Dataset:
        """Batches of positions 0..n-1 in order (the last partial), for the step to map through the order."""
        untuned = tf.data.Options()
        untuned.autotune.enabled = False  # a fixed prefetch: the autotuner stalls this tiny pipeline
        return tf.data.Dataset.range(self.n).batch(batch_size).prefetch(2).with_options(untuned)


class ReorderEachEpoch(keras.callbacks.Callback):
    """Writes epoch e's permutation into `variable` before the epoch's first step runs."""

    def __init__(self, order: EpochOrder, variable: tf.Variable) -> None:
        super().__init__()
        self.order = order
        self.variable = variable

    def on_epoch_begin(self, epoch, logs=None):
        self.variable.assign(self.order.permutation(epoch))
