"""Attach sample indices to data, so every batch is `(x, idx)` and row i stays sample i.

The index is attached before shuffling: whatever the shuffle, batch size, partial last batch
or number of replicas, `idx` says which samples a batch holds.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from zlens.errors import DataError


def index_array(
    x: np.ndarray,
    batch_size: int,
    *,
    shuffle: bool = True,
    seed: int | None = None,
    y: np.ndarray | None = None,
) -> tf.data.Dataset:
    """A batched dataset of `(x_batch, idx)` (or `(x_batch, y_batch, idx)`) over an array.

    Batches are gathered by index from `x`, which is faster than slicing sample by sample;
    with `shuffle`, the order is new every epoch (and reproducible with `seed`). The last
    batch is partial when N is not a multiple of `batch_size`.

    Example:
        >>> ds = index_array(np.arange(10.0).reshape(5, 2), batch_size=2, shuffle=False)
        >>> [idx.numpy().tolist() for _, idx in ds]
        [[0, 1], [2, 3], [4]]
    """
    x_t = tf.constant(x)
    y_t = None if y is None else tf.constant(y)
    ds = index_batches(len(x), batch_size, shuffle, seed)
    if y_t is None:
        ds = ds.map(lambda idx: (tf.gather(x_t, idx), idx), num_parallel_calls=tf.data.AUTOTUNE)
    else:
        ds = ds.map(
            lambda idx: (tf.gather(x_t, idx), tf.gather(y_t, idx), idx),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    return ds.prefetch(tf.data.AUTOTUNE)


def index_batches(n: int, batch_size: int, shuffle: bool = True, seed: int | None = None) -> tf.data.Dataset:
    """Batches of sample indices 0..n-1, in a new order every epoch when `shuffle`."""
    ds = tf.data.Dataset.range(n)
    if shuffle:
        ds = ds.shuffle(n, seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size)


def index_dataset(
    dataset: tf.data.Dataset,
    batch_size: int,
    *,
    shuffle: bool = True,
    seed: int | None = None,
    shuffle_buffer: int | None = None,
) -> tf.data.Dataset:
    """Index an unbatched, unshuffled dataset of samples, then shuffle and batch it.

    `dataset` yields one sample per element (a tensor, or `(x, y)`), in a fixed order: the
    element's position becomes its index. The result yields `(x_batch, idx)` or
    `(x_batch, y_batch, idx)`.

    Example:
        >>> ds = tf.data.Dataset.from_tensor_slices(np.zeros((5, 3), "float32"))
        >>> x, idx = next(iter(index_dataset(ds, 4, shuffle=False)))
        >>> idx.numpy().tolist()
        [0, 1, 2, 3]
    """
    ds = dataset.enumerate()
    if shuffle:
        buffer = shuffle_buffer or _cardinality_or(dataset, 10_000)
        ds = ds.shuffle(buffer, seed=seed, reshuffle_each_iteration=True)

    def _to_batch_element(idx, sample):
        if isinstance(sample, tuple):
            return (*sample, idx)
        return sample, idx

    ds = ds.map(_to_batch_element, num_parallel_calls=tf.data.AUTOTUNE).batch(batch_size)
    return ds.prefetch(tf.data.AUTOTUNE)


def count_samples(dataset: tf.data.Dataset) -> int:
    """The number of elements of an unbatched dataset (counted once when TF cannot tell)."""
    n = int(dataset.cardinality())
    if n >= 0:
        return n
    if n == int(tf.data.INFINITE_CARDINALITY):
        raise DataError("the dataset is infinite (repeat()?): zlens needs a finite set of samples.")
    return int(dataset.reduce(np.int64(0), lambda count, _: count + 1))


def _cardinality_or(dataset: tf.data.Dataset, default: int) -> int:
    n = int(dataset.cardinality())
    return n if n > 0 else default
