"""Index batches (a permutation in bounded memory, sharded over workers) and rows read from a memmap."""

import numpy as np
import pytest

from zlens.data.file_rows import MemmapRows
from zlens.data.indexed import index_array, index_batches


def _epoch(ds):
    return np.concatenate([b.numpy() for b in ds]) if ds.cardinality() else np.array([], np.int64)


@pytest.mark.parametrize("n", [1, 2, 7, 101, 4099])
@pytest.mark.parametrize("workers", [1, 2, 3])
def test_every_index_once_per_epoch_across_the_workers_shards(n, workers):
    seen = []
    for worker in range(workers):
        ds = index_batches(n, 16, shuffle=True, seed=0, shard=(workers, worker))
        first, second = _epoch(ds), _epoch(ds)
        assert sorted(first) == sorted(second) and np.all(first % workers == worker)
        assert int(ds.cardinality()) == len(list(ds)) == -(-len(first) // 16)
        seen.extend(first)
    assert sorted(seen) == list(range(n))


def test_the_order_is_new_each_epoch_and_reproducible_with_a_seed():
    ds = index_batches(1000, 100, shuffle=True, seed=3)
    first, second = _epoch(ds), _epoch(ds)
    assert not np.array_equal(first, second)
    again = index_batches(1000, 100, shuffle=True, seed=3)
    np.testing.assert_array_equal(_epoch(again), first)


def test_memmap_rows_are_read_by_index_without_loading_the_file(tmp_path):
    x = np.arange(60, dtype=np.float32).reshape(20, 3)
    np.save(tmp_path / "x.npy", x)
    mapped = np.load(tmp_path / "x.npy", mmap_mode="r")
    idx = np.array([5, 3, 4, 19, 0, 0, 7])
    np.testing.assert_array_equal(MemmapRows(mapped)(idx), x[idx])
    np.testing.assert_array_equal(MemmapRows(mapped[4:12])(np.array([7, 0])), x[4:12][[7, 0]])
    batches = list(index_array(mapped, 8, shuffle=True, seed=0))
    rows = np.concatenate([b[0].numpy() for b in batches])
    order = np.concatenate([b[1].numpy() for b in batches])
    np.testing.assert_array_equal(rows, x[order])
