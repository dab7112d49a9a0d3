"""Turn what the user passed to `fit` into zlens' one canonical form: indexed batches.

Arrays and `tf.data` datasets all become `TrainingData`: a shuffled dataset of
`(x, y, idx)` batches for training and an ordered one of `(x, idx)` (or `(x, y, idx)`) for the consistent pass.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from zlens.checks import check_count
from zlens.data.chunked import ChunkedRows
from zlens.data.datasets import indexed_batches_count
from zlens.data.epoch_order import EpochOrder
from zlens.data.indexed import (
    count_samples,
    gathered_batches,
    index_dataset,
    is_memory_mapped,
    reader_gatherer,
    row_gatherer,
)
from zlens.data.sources import DataSource
from zlens.data.training_input import TrainingInput, training_input
from zlens.errors import DataError

CONSISTENT_BATCH = 1024
#: Samples a `tf.data` input is shuffled through (a bounded buffer: the input may exceed memory).
DATASET_SHUFFLE_BUFFER = 65536
SAMPLE_BUDGET = 2 * 1024**3
#: Device bytes per sample that the resident path's visiting order takes beside the samples: the
#: int64 permutation (8) and, while it is drawn each epoch, its int64 temporaries over a range
#: of up to 4 x N (about 64).
ORDER_BYTES_PER_SAMPLE = 72


@dataclass
class TrainingData:
    """Indexed datasets for one `fit`: `train` yields `(x, y, idx)`, `consistent` `(x, idx)`
    (or `(x, y, idx)` where the target y is not x, so the consistent recon_error compares with y).

    When `resident` is set, the samples live on the device for the whole fit and `train`
    yields only batches of positions, which the step maps through `order`'s permutation of the
    epoch to sample indices and gathers the rows of itself (no per-batch input copy).
    `shard(batch_size, count, index)` rebuilds both datasets for one worker's share of the
    samples (those whose index is `index` modulo `count`), batched per replica; it is None for
    data given already indexed. `distributed` is True once both are `tf.distribute` datasets.
    `x` is what the run fingerprints: the samples, the lazy `DataSource` they are read from,
    or None for a dataset.
    """

    train: tf.data.Dataset
    consistent: tf.data.Dataset
    n_samples: int
    x: np.ndarray | DataSource | None = None
    resident: np.ndarray | None = None
    order: EpochOrder | None = None
    shard: Callable[[int, int, int], tuple[tf.data.Dataset, tf.data.Dataset]] | None = None
    distributed: bool = False
    batch_size: int = 0
    #: One target's shape and dtype where the batches carry a target y that is not x, else None.
    target_spec: tf.TensorSpec | None = None


def prepare_training_data(
    x,
    y=None,
    *,
    batch_size: int,
    shuffle: bool = True,
    seed: int | None = None,
    input_shape: Sequence[int | None] | None = None,
    n_samples: int | None = None,
    sample_budget: int = 0,
) -> TrainingData:
    """Build the indexed training and consistent datasets from `x` (and `y`).

    `x` is a `TrainingInput` (`training_input(x, y)`: the data looked at and checked once), or
    anything `training_input` takes: an array (N, ...), a dataset as users build it (read by
    `zlens.data.datasets`: batched or not, `(x, y)` pairs, dicts, an index it carries), batches
    already indexed as `(x, idx)` / `(x, y, idx)` (`n_samples` spares
    counting them), a `DataSource` (`load_data`; a lazy one, such as a large integer `.npy`, is
    converted batch by batch), or a Zarr array (read a group of chunks at a time, shuffled
    chunk-wise: `ChunkedRows`). `input_shape` is the model's sample shape, checked here. An
    in-memory array (and no separate `y`) that fits `sample_budget` with its visiting order
    (`ORDER_BYTES_PER_SAMPLE`) is kept on the device: `train` then yields batches of positions
    only (see `TrainingData`). A memory-mapped array is read batch by batch from its file,
    never whole.
    """
    batch_size = check_count("batch_size", batch_size, error=DataError)
    data_in = training_input(x, y)
    if input_shape is not None:
        data_in.check_sample_shape(input_shape)
    if data_in.dataset is not None:
        return _from_dataset(data_in, batch_size, shuffle, seed, n_samples)
    source = data_in.source
    assert source is not None  # a TrainingInput holds a dataset or a source
    if data_in.streamed:
        read = _from_chunked_source if source.chunked else _from_lazy_source
        return read(source, batch_size, shuffle, seed)
    x, y = source.x, data_in.target
    gather_x = row_gatherer(x)  # one copy of x (none for a memory-mapped file) for every dataset
    gather_y = None if y is None else row_gatherer(y)
    shard = _gathered_shards(len(x), gather_x, gather_y, shuffle, seed)
    train, consistent = shard(batch_size)
    resident = x.nbytes + ORDER_BYTES_PER_SAMPLE * len(x)
    if y is None and not isinstance(x, np.memmap) and not is_memory_mapped(x) and resident <= sample_budget:
        order = EpochOrder(len(x), shuffle=shuffle, seed=seed)
        return TrainingData(order.positions(batch_size), consistent, len(x), x, resident=x, order=order,
                            shard=shard, batch_size=batch_size)
    target = None if y is None else tf.TensorSpec(y.shape[1:], tf.as_dtype(y.dtype))
    return TrainingData(train, consistent, len(x), x, shard=shard, batch_size=batch_size, target_spec=target)


def _from_lazy_source(source: DataSource, batch_size, shuffle, seed) -> TrainingData:
    """A source whose stored values are converted per batch (a large integer `.npy`): read by index."""
    shard = _gathered_shards(source.n_samples, reader_gatherer(source.take, source.sample_shape), None, shuffle, seed)
    train, consistent = shard(batch_size)
    return TrainingData(train, consistent, source.n_samples, source, shard=shard, batch_size=batch_size)


def _from_chunked_source(source: DataSource, batch_size, shuffle, seed) -> TrainingData:
    """A Zarr array: groups of whole chunks read in a new order each epoch (`ChunkedRows`);
    a worker's share is every k-th chunk."""
    rows = ChunkedRows(source.x, source.preprocessing)

    def shard(batch: int, count: int = 1, index: int = 0):
        train = rows.batches(batch, shuffle=shuffle, seed=seed, shard=(count, index))
        consistent = rows.batches(max(batch, CONSISTENT_BATCH), shuffle=False, shard=(count, index))
        return train, consistent

    train, consistent = shard(batch_size)
    return TrainingData(train, consistent, source.n_samples, source, shard=shard, batch_size=batch_size)


def _gathered_shards(n, gather_x, gather_y, shuffle, seed):
    """`TrainingData.shard` over row gatherers: the train and consistent datasets of one worker's share."""

    def shard(batch: int, count: int = 1, index: int = 0):
        train = gathered_batches(n, gather_x, batch, shuffle=shuffle, seed=seed, gather_y=gather_y,
                                 shard=(count, index))
        consistent = gathered_batches(n, gather_x, max(batch, CONSISTENT_BATCH), shuffle=False,
                                      gather_y=gather_y, shard=(count, index))
        return train, consistent

    return shard


def _from_dataset(data_in: TrainingInput, batch_size, shuffle, seed, n_samples) -> TrainingData:
    ds = data_in.dataset
    assert ds is not None
    spec = ds.element_spec
    if data_in.indexed:
        n = n_samples if n_samples is not None else indexed_batches_count(ds)
        return TrainingData(ds, ds, n, batch_size=batch_size,
                            target_spec=tf.TensorSpec(spec[1].shape[1:], spec[1].dtype) if len(spec) == 3 else None)
    target = tf.TensorSpec(spec[1].shape, spec[1].dtype) if data_in.target_shape is not None else None
    n = data_in.n_samples if data_in.n_samples is not None else count_samples(ds)  # an index counted it
    if n == 0:
        raise DataError("the dataset is empty: there are no samples to train on.")
    if int(ds.cardinality()) < 0:  # counted (an unbatched dataset, say): Keras then knows each epoch's steps
        ds = ds.apply(tf.data.experimental.assert_cardinality(n))
    if data_in.carries_index:  # the user's own order (shuffled, augmented, interleaved): batched as it comes
        train = ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)
        consistent = ds.batch(max(batch_size, CONSISTENT_BATCH)).prefetch(tf.data.AUTOTUNE)
        return TrainingData(train, consistent, n, batch_size=batch_size, target_spec=target)

    def shard(batch: int, count: int = 1, index: int = 0):
        train = index_dataset(ds, batch, shuffle=shuffle, seed=seed, shard=(count, index),
                              shuffle_buffer=min(DATASET_SHUFFLE_BUFFER, -(-n // count)))
        consistent = index_dataset(ds, max(batch, CONSISTENT_BATCH), shuffle=False, shard=(count, index))
        return train, consistent

    train, consistent = shard(batch_size)
    return TrainingData(train, consistent, n, shard=shard, batch_size=batch_size, target_spec=target)
