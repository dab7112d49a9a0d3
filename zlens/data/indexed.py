"""Attach sample indices to data, so every batch is `(x, idx)` and row i stays sample i.

The index is attached before shuffling: whatever the shuffle, batch size, partial last batch
or number of replicas, `idx` says which samples a batch holds.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from zlens.data.file_rows import MemmapRows, is_memory_mapped
from zlens.errors import DataError


def index_array(
    x: np.ndarray,
    batch_size: int,
    *,
    shuffle: bool = True,
    seed: int | None = None,
    y: np.ndarray | None = None,
    shard: tuple[int, int] = (1, 0),
) -> tf.data.Dataset:
    """A batched dataset of `(x_batch, idx)` (or `(x_batch, y_batch, idx)`) over an array.

    Batches are gathered by index from `x`, which is faster than slicing sample by sample;
    with `shuffle`, the order is new every epoch (and reproducible with `seed`). The last
    batch is partial when N is not a multiple of `batch_size`. A memory-mapped `x` is never
    loaded whole: each batch's rows are read from its file (see `MemmapRows`). `shard=(k, i)`
    keeps the samples whose index is i modulo k (one worker's share of the data).

    Example:
        >>> ds = index_array(np.arange(10.0).reshape(5, 2), batch_size=2, shuffle=False)
        >>> [idx.numpy().tolist() for _, idx in ds]
        [[0, 1], [2, 3], [4]]
    """
    gather_y = None if y is None else row_gatherer(y)
    return gathered_batches(len(x), row_gatherer(x), batch_size, shuffle=shuffle, seed=seed, gather_y=gather_y,
                            shard=shard)


def gathered_batches(
    n: int,
    gather_x,
    batch_size: int,
    *,
    shuffle: bool = True,
    seed: int | None = None,
    gather_y=None,
    shard: tuple[int, int] = (1, 0),
) -> tf.data.Dataset:
    """`index_array` over row gatherers (`row_gatherer(x)`), so several datasets share one copy of x."""
    ds = index_batches(n, batch_size, shuffle, seed, shard=shard)
    if gather_y is None:
        ds = ds.map(lambda idx: (gather_x(idx), idx), num_parallel_calls=tf.data.AUTOTUNE)
    else:
        ds = ds.map(lambda idx: (gather_x(idx), gather_y(idx), idx), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def index_batches(
    n: int, batch_size: int, shuffle: bool = True, seed: int | None = None, shard: tuple[int, int] = (1, 0)
) -> tf.data.Dataset:
    """Batches of sample indices 0..n-1, in a new order every epoch when `shuffle`.

    The order is a pseudo-random permutation computed block by block (`permuted_indices`), so
    memory does not grow with n. `shard=(k, i)` keeps the indices equal to i modulo k: every
    worker of a multi-worker run takes its own share, and together they see each sample once.

    Example:
        >>> [b.numpy().tolist() for b in index_batches(7, 2, shuffle=False, shard=(2, 1))]
        [[1, 3], [5]]
    """
    count, index = shard
    size = len(range(index, n, count))
    if not shuffle or size < 2:
        return tf.data.Dataset.range(index, n, count).batch(batch_size)
    keys = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).take(1)
    permute = tf.autograph.experimental.do_not_convert(lambda key: permuted_indices(size, key))
    ds = keys.flat_map(permute).rebatch(batch_size)
    if count > 1:
        ds = ds.map(lambda j: j * count + index)
    return ds.apply(tf.data.experimental.assert_cardinality(-(-size // batch_size)))


_PERMUTE_BLOCK = 1 << 16
_ROUNDS = 6
_M32 = 0xFFFFFFFF


def permuted_indices(size: int, key: tf.Tensor) -> tf.data.Dataset:
    """Blocks of a pseudo-random permutation of 0..size-1 chosen by `key`, in O(1) memory.

    A Feistel network permutes 0..2^b-1 (the smallest even b with 2^b >= size); values >= size
    are dropped, which leaves a permutation of 0..size-1. Each block of up to 65536 values is
    computed with a few vector operations, so shuffling costs no buffer of n samples. The
    blocks, joined, are `permutation(size, key)`.

    Example:
        >>> out = np.concatenate(list(permuted_indices(10, tf.constant(7, tf.int64)).as_numpy_iterator()))
        >>> sorted(out.tolist()) == list(range(10))
        True
    """
    encrypt, span = _feistel(size, key)

    @tf.autograph.experimental.do_not_convert  # plain tensor code: skip autograph's slow rewrite
    def block(start):
        out = encrypt(tf.range(start, tf.minimum(start + _PERMUTE_BLOCK, span), dtype=tf.int64))
        return tf.boolean_mask(out, out < size)

    return tf.data.Dataset.range(0, span, _PERMUTE_BLOCK).map(block)


def permutation(size: int, key: tf.Tensor) -> tf.Tensor:
    """The whole permutation `permuted_indices(size, key)` yields block by block, as one tensor.

    Example:
        >>> key = tf.constant(7, tf.int64)
        >>> joined = np.concatenate(list(permuted_indices(1000, key).as_numpy_iterator()))
        >>> bool((permutation(1000, key).numpy() == joined).all())
        True
    """
    encrypt, span = _feistel(size, key)
    out = encrypt(tf.range(span, dtype=tf.int64))
    return tf.boolean_mask(out, out < size)


def _feistel(size: int, key: tf.Tensor):
    """`(encrypt, span)`: a bijection of 0..span-1 (int64 vector in, out) chosen by `key`, span >= size."""
    bits = max(2, (size - 1).bit_length())
    bits += bits % 2
    half, span = bits // 2, 1 << bits
    mask = tf.constant((1 << half) - 1, tf.int64)
    key = tf.cast(key, tf.int64)
    round_keys = [_mix32(tf.bitwise.bitwise_xor(tf.bitwise.right_shift(key, 5 * r) & _M32, 0x9E3779B9 * (r + 1) & _M32))
                  for r in range(_ROUNDS)]

    def encrypt(i):
        left, right = tf.bitwise.right_shift(i, half), i & mask
        for k in round_keys:
            left, right = right, tf.bitwise.bitwise_xor(left, _mix32(tf.bitwise.bitwise_xor(right, k)) & mask)
        return tf.bitwise.bitwise_or(tf.bitwise.left_shift(left, half), right)

    return encrypt, span


def _mix32(v: tf.Tensor) -> tf.Tensor:
    """A 32-bit integer hash (xor-shift-multiply) on int64 values below 2^32, without overflow."""
    for _ in range(2):
        v = (tf.bitwise.bitwise_xor(v, tf.bitwise.right_shift(v, 16)) * 0x45D9F3B) & _M32
    return tf.bitwise.bitwise_xor(v, tf.bitwise.right_shift(v, 16))


def row_gatherer(x: np.ndarray):
    """A function idx -> x[idx] for a dataset map: `tf.gather` over a constant, or, for a
    memory-mapped array, a read of just those rows from its file (`MemmapRows`)."""
    if is_memory_mapped(x):
        return reader_gatherer(MemmapRows(x), tuple(x.shape[1:]), x.dtype)
    x_t = tf.constant(x)
    return lambda idx: tf.gather(x_t, idx)


def reader_gatherer(read, row_shape: tuple[int, ...], dtype=np.float32):
    """A function idx -> rows for a dataset map that calls `read(idx)` (NumPy in, NumPy out) on the host."""
    tf_dtype = tf.as_dtype(dtype)

    def gather(idx):
        rows = tf.numpy_function(read, [idx], tf_dtype, stateful=False)
        rows.set_shape((None, *row_shape))
        return rows

    return gather


def index_dataset(
    dataset: tf.data.Dataset,
    batch_size: int,
    *,
    shuffle: bool = True,
    seed: int | None = None,
    shuffle_buffer: int | None = None,
    shard: tuple[int, int] = (1, 0),
) -> tf.data.Dataset:
    """Index an unbatched, unshuffled dataset of samples, then shuffle and batch it.

    `dataset` yields one sample per element (a tensor, or `(x, y)`), in a fixed order: the
    element's position becomes its index. The result yields `(x_batch, idx)` or
    `(x_batch, y_batch, idx)`. `shard=(k, i)` keeps the elements whose index is i modulo k.

    Example:
        >>> ds = tf.data.Dataset.from_tensor_slices(np.zeros((5, 3), "float32"))
        >>> x, idx = next(iter(index_dataset(ds, 4, shuffle=False)))
        >>> idx.numpy().tolist()
        [0, 1, 2, 3]
    """
    ds = dataset.enumerate()
    if shard[0] > 1:
        ds = ds.shard(*shard)
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
    check_finite(dataset)
    return int(dataset.reduce(np.int64(0), lambda count, _: count + 1))


def check_finite(dataset: tf.data.Dataset) -> None:
    """Raise a `DataError` for a dataset TensorFlow knows to be infinite: one pass is one epoch."""
    if int(dataset.cardinality()) == int(tf.data.INFINITE_CARDINALITY):
        raise DataError("the dataset is infinite (`.repeat()`?): zlens needs a finite set of samples, one pass per "
                        "epoch: leave `.repeat()` out.")


def _cardinality_or(dataset: tf.data.Dataset, default: int) -> int:
    n = int(dataset.cardinality())
    return n if n > 0 else default
