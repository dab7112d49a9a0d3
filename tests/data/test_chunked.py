"""Zarr arrays in: every sample once per epoch with its index, chunk-wise shuffles, never loaded whole."""

from __future__ import annotations

import numpy as np
import pytest
import zarr

import zlens
from zlens.data import load_data
from zlens.data.chunked import ChunkedRows
from zlens.errors import DataError


def _store(path, x, chunk_rows, **arrays):
    """A Zarr array (or, with `arrays`, a group holding `x` and them), chunked by `chunk_rows` samples."""
    if not arrays:
        z = zarr.create_array(str(path), shape=x.shape, chunks=(chunk_rows, *x.shape[1:]), dtype=x.dtype)
        z[...] = x
        return z
    group = zarr.open_group(str(path), mode="w")
    group.create_array("x", shape=x.shape, chunks=(chunk_rows, *x.shape[1:]), dtype=x.dtype)[...] = x
    for name, values in arrays.items():
        group.create_array(name, shape=values.shape, dtype=values.dtype)[...] = values
    return group


def _epoch(ds):
    xs, idx = zip(*((x.numpy(), i.numpy()) for x, i in ds), strict=True)
    return np.concatenate(xs), np.concatenate(idx), [len(i) for i in idx]


def test_every_sample_once_per_epoch_with_its_own_row_and_a_new_chunk_order_each_epoch(tmp_path):
    x = np.random.default_rng(0).random((103, 4), dtype=np.float32)
    rows = ChunkedRows(_store(tmp_path / "x.zarr", x, chunk_rows=10))
    rows.group = 3  # 3 chunks read together: 4 groups, the shuffle's reach is 30 samples
    ds = rows.batches(16, shuffle=True, seed=1)
    orders = []
    for _ in range(3):
        got, idx, sizes = _epoch(ds)
        assert sorted(idx.tolist()) == list(range(103))  # every sample exactly once
        np.testing.assert_array_equal(got, x[idx])  # row k of the batch is sample idx[k]
        assert sizes == [16] * 6 + [7]  # only the last batch is partial
        orders.append(idx)
    assert not np.array_equal(orders[0], orders[1]) and not np.array_equal(orders[1], orders[2])
    # chunk-wise: the first group of an epoch comes from 3 chunks only (30 samples at most)
    assert len(np.unique(orders[0][:16] // 10)) <= 3
    # seeded: the same orders again
    again = rows.batches(16, shuffle=True, seed=1)
    assert all(np.array_equal(_epoch(again)[1], order) for order in orders)


def test_ordered_pass_and_worker_shares_cover_every_sample_once(tmp_path):
    x = np.arange(95 * 2, dtype=np.float32).reshape(95, 2)
    rows = ChunkedRows(_store(tmp_path / "x.zarr", x, chunk_rows=10))
    got, idx, _ = _epoch(rows.batches(32, shuffle=False))
    assert idx.tolist() == list(range(95)) and np.array_equal(got, x)
    shares = [_epoch(rows.batches(8, shuffle=True, seed=0, shard=(3, i)))[1] for i in range(3)]
    assert sorted(np.concatenate(shares).tolist()) == list(range(95))
    assert [len(s) for s in shares] == [rows.shard_size((3, i)) for i in range(3)] == [35, 30, 30]


def test_fit_on_a_zarr_array_is_aligned_and_matches_the_same_data_in_memory(tmp_path):
    x = np.random.default_rng(1).random((150, 12), dtype=np.float32)
    store = _store(tmp_path / "x.zarr", x, chunk_rows=16)
    run = zlens.fit("dense", store, epochs=2, batch_size=32, encoding_dim=3, capture="both", seed=0)
    z = run.z(kind="consistent")
    assert z.shape == (150, 3) and run.z(kind="in-flight").shape == (150, 3)
    np.testing.assert_allclose(z, zlens.encode(run.model, x), rtol=1e-5, atol=1e-6)  # row i is x[i]
    np.testing.assert_array_equal(zlens.encode(run.model, store), zlens.encode(run.model, x))


def test_load_data_reads_a_zarr_group_with_labels_lazily_and_scales_8_bit_pixels(tmp_path):
    pixels = np.random.default_rng(2).integers(0, 256, size=(60, 6, 6, 1), dtype=np.uint8)
    labels = np.arange(60) % 4
    _store(tmp_path / "mnist.zarr", pixels, chunk_rows=8, y=labels)
    src = load_data(tmp_path / "mnist.zarr")
    assert src.chunked and isinstance(src.x, zarr.Array) and src.x.dtype == np.uint8  # not loaded
    assert src.scale_factor == pytest.approx(1 / 255) and src.labels.tolist() == labels.tolist()
    np.testing.assert_allclose(src.rows(0, 60), pixels.astype(np.float32) / 255, rtol=1e-6)
    got, idx, _ = _epoch(ChunkedRows(src.x, src.preprocessing).batches(25, shuffle=True, seed=0))
    np.testing.assert_allclose(got, pixels[idx].astype(np.float32) / 255, rtol=1e-6)
    assert src.fingerprint()["sha256"] == load_data(tmp_path / "mnist.zarr").fingerprint()["sha256"]
    assert load_data(tmp_path / "mnist.zarr", key="x").x.shape == (60, 6, 6, 1)


@pytest.mark.parametrize(
    "make, kwargs, message",
    [
        (lambda p: zarr.open_group(str(p), mode="w"), {}, "holds arrays none; name the samples with key"),
        (lambda p: _store(p, np.zeros((5, 2), "float32"), 2, y=np.zeros(5), other=np.zeros((5, 2))), {},
         "holds arrays other, x; name the samples with key"),
        (lambda p: _store(p, np.zeros((5, 2), "float32"), 2, y=np.zeros(5)), {"key": "nope"}, "has no array 'nope'"),
        (lambda p: _store(p, np.zeros((5, 2), "float32"), 2), {"key": "x"}, "is a single Zarr array"),
        (lambda p: _store(p, np.zeros((5, 2, 2), "float32"), 2), {"flatten": True}, "cannot be flattened"),
        (lambda p: _store(p, np.array([[0.0, np.nan]] * 5, "float32"), 2), {}, r"NaN or Inf \(first at sample 0\)"),
        (lambda p: (p.mkdir(), (p / "zarr.json").write_text("{not json")), {}, "is not a readable Zarr store"),
        (lambda p: p.write_bytes(b"not a folder"), {}, "is a file; a Zarr store is a folder"),
    ],
)
def test_a_bad_zarr_store_gets_one_clear_error(tmp_path, make, kwargs, message):
    path = tmp_path / "bad.zarr"
    make(path)
    with pytest.raises(DataError, match=message):
        load_data(path, **kwargs)


def test_memory_is_one_group_of_chunks_whatever_n(tmp_path, monkeypatch):
    import zlens.data.chunked as chunked

    x = np.random.default_rng(3).random((400, 8), dtype=np.float32)
    monkeypatch.setattr(chunked, "GROUP_BYTES", 3 * 10 * 8 * 4)  # room for 3 chunks of 10 samples
    rows = ChunkedRows(_store(tmp_path / "x.zarr", x, chunk_rows=10))
    assert rows.group == 3
    seen = []
    read = rows.read
    monkeypatch.setattr(rows, "read", lambda ids, key: (seen.append(len(ids)), read(ids, key))[1])
    _, idx, _ = _epoch(rows.batches(32, shuffle=True, seed=0))
    assert sorted(idx.tolist()) == list(range(400))
    assert max(seen) == 3 and sum(seen) == 40  # 40 chunks, never more than 3 read at once
