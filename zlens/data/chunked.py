"""Train on a chunked on-disk array (Zarr) larger than memory: chunk-aware shuffling, bounded reads.

Reading random rows of a chunked, compressed array decodes a whole chunk for each row. A
`ChunkedRows` reader instead visits the chunks in a new order every epoch and shuffles the
samples within a group of chunks read together (about `GROUP_BYTES`): every sample exactly
once per epoch, its index carried with it, memory bounded by a group whatever N.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from zlens.errors import DataError

#: Bytes of samples (as float32) one group of chunks may hold: the shuffle's reach and its memory.
GROUP_BYTES = 64 * 2**20


def is_chunked_array(x) -> bool:
    """Whether `x` is a Zarr array (read lazily, chunk by chunk), not an in-memory array."""
    if isinstance(x, np.ndarray):
        return False
    import zarr  # on first use: importing zlens.data stays light

    return isinstance(x, zarr.Array)


def open_zarr_array(path: Path, key: str | None) -> tuple[object, object | None, str]:
    """`(samples, labels or None, name)` from a Zarr array folder, or from a group's array `key`.

    In a group without `key`, the samples are the one array that is not `y` / `labels` (those
    become labels), as in an `.npz` archive. Nothing is read but the metadata.
    """
    import zarr

    try:
        node = zarr.open(str(path), mode="r")
    except Exception as err:  # zarr raises several types for a folder that is not a store
        raise DataError(f"{path}: is not a readable Zarr store ({type(err).__name__}: {err}).") from None
    if isinstance(node, zarr.Array):
        if key is not None:
            raise DataError(f"{path}: is a single Zarr array; `key` applies to a Zarr group.")
        return node, None, str(path)
    arrays = dict(node.arrays())
    labels = next((arrays.pop(k) for k in ("y", "labels") if k in arrays), None)
    if key is not None:
        if key not in arrays:
            raise DataError(f"{path}: has no array {key!r}; it holds {', '.join(sorted(arrays)) or 'none'}.")
        return arrays[key], labels, f"{path}/{key}"
    if len(arrays) != 1:
        raise DataError(f"{path}: holds arrays {', '.join(sorted(arrays)) or 'none'}; name the samples with key.")
    name, x = arrays.popitem()
    return x, labels, f"{path}/{name}"


class ChunkedRows:
    """Indexed batches of a chunked array, read a group of whole chunks at a time.

    Args:
        x: the Zarr array (N, ...), chunked along the sample axis.
        preprocessing: the `zlens.data.preprocess.Preprocessing` that prepares the stored
            values (applied per group of chunks), or None to read them as float32.

    Example:
        >>> rows = ChunkedRows(zarr.open("x.zarr", mode="r"))  # doctest: +SKIP
        >>> for x_batch, idx in rows.batches(256, shuffle=True, seed=0):  # doctest: +SKIP
        ...     ...
    """

    def __init__(self, x, preprocessing=None) -> None:
        self.x = x
        self.preprocessing = preprocessing
        self.n = int(x.shape[0])
        self.sample_shape = tuple(int(d) for d in x.shape[1:])
        self.chunk = int(x.chunks[0])
        self.n_chunks = -(-self.n // self.chunk)
        sample_bytes = 4 * max(1, int(np.prod(self.sample_shape, dtype=np.int64)))
        self.group = max(1, GROUP_BYTES // (sample_bytes * self.chunk))

    def read(self, chunk_ids: np.ndarray, key: int | None) -> tuple[np.ndarray, np.ndarray]:
        """The samples of these chunks as float32, and their indices; shuffled by `key` unless None."""
        parts, spans = [], []
        for c in np.asarray(chunk_ids).reshape(-1).tolist():
            start, stop = c * self.chunk, min(self.n, (c + 1) * self.chunk)
            parts.append(np.asarray(self.x[start:stop]))
            spans.append(np.arange(start, stop, dtype=np.int64))
        rows, idx = np.concatenate(parts), np.concatenate(spans)
        if key is not None:
            order = np.random.default_rng(int(key) & 0xFFFFFFFFFFFFFFFF).permutation(len(idx))
            rows, idx = rows[order], idx[order]
        if self.preprocessing is not None:
            return self.preprocessing.apply(rows), idx
        return rows.astype(np.float32, copy=False), idx

    def batches(self, batch_size: int, *, shuffle: bool, seed: int | None = None,
                shard: tuple[int, int] = (1, 0)):
        """`(x_batch, idx)` over the samples of chunks `i mod k` for `shard=(k, i)`.

        With `shuffle`, each pass visits the chunks in a new order (reproducible with `seed`)
        and shuffles samples within each group of `self.group` chunks; else in sample order.
        Returns a `tf.data.Dataset` (TensorFlow is imported here, not when data is loaded).
        """
        import tensorflow as tf

        from zlens.data.indexed import index_batches

        groups = index_batches(self.n_chunks, self.group, shuffle, seed, shard=shard)
        keys = tf.data.Dataset.random(seed=None if seed is None else seed + 1, rerandomize_each_iteration=True)

        def read(ids, key):
            rows, idx = tf.numpy_function(lambda i, k: self.read(i, k if shuffle else None),
                                          [ids, key], (tf.float32, tf.int64), stateful=False)
            rows.set_shape((None, *self.sample_shape))
            idx.set_shape((None,))
            return rows, idx

        samples = self.shard_size(shard)
        ds = tf.data.Dataset.zip(groups, keys).map(read).rebatch(batch_size)
        return ds.apply(tf.data.experimental.assert_cardinality(-(-samples // batch_size))).prefetch(2)

    def shard_size(self, shard: tuple[int, int] = (1, 0)) -> int:
        """Samples in the chunks `i mod k` of `shard=(k, i)` (the last chunk may be short)."""
        count, index = shard
        chunks = np.arange(index, self.n_chunks, count, dtype=np.int64)
        return int(np.minimum(self.chunk, self.n - chunks * self.chunk).sum())
