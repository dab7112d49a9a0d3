"""Reading data files into a `DataSource`: formats, scaling, labels, fingerprints, errors."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn import datasets
from sklearn.preprocessing import MinMaxScaler

from zlens.data import DataSource, fingerprint, from_array, load_data, load_digits, sources
from zlens.errors import DataError


def _pixels(n=50, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(n, 28, 28), dtype=np.uint8)


def _is_memmap(x):
    return isinstance(x, np.memmap) or isinstance(x.base, np.memmap)


# -- formats ------------------------------------------------------------------------------


def test_digits_default_is_1797_by_64_in_unit_range_with_ten_classes():
    src = load_data(None)
    assert src.name == "digits"
    assert src.x.shape == (1797, 64) and src.x.dtype == np.float32
    assert src.x.min() == 0.0 and src.x.max() == 1.0
    assert src.scaled and src.preprocessing.describe() == "scaled 0..16 -> [0, 1] per feature (min-max)"
    raw = datasets.load_digits().data  # the one rule: each pixel's observed range to [0, 1], as scikit-learn does
    np.testing.assert_allclose(src.x, MinMaxScaler().fit_transform(raw), rtol=1e-6, atol=1e-7)
    assert src.labels.shape == (1797,) and set(src.labels.tolist()) == set(range(10))


def test_digits_as_images_are_8x8x1_with_the_same_fingerprint():
    images = load_digits(as_images=True)
    assert images.x.shape == (1797, 8, 8, 1)
    assert images.fingerprint() == load_digits().fingerprint()


def test_float_npy_stays_memory_mapped(tmp_path):
    path = tmp_path / "x.npy"
    x = np.random.default_rng(0).random((20, 5), dtype=np.float32)
    np.save(path, x)
    src = load_data(path)
    assert _is_memmap(src.x) and src.memory_mapped and not src.lazy
    assert not src.scaled and src.labels is None
    np.testing.assert_array_equal(src.to_numpy(), x)
    assert src.name == str(path)


def test_flatten_keeps_a_float_npy_memory_mapped(tmp_path):
    path = tmp_path / "img.npy"
    np.save(path, np.zeros((6, 4, 4, 1), np.float32))
    assert load_data(path).x.shape == (6, 4, 4, 1)
    src = load_data(path, flatten=True)
    assert src.x.shape == (6, 16) and _is_memmap(src.x)


def test_small_uint8_npy_is_scaled_in_memory(tmp_path):
    path = tmp_path / "px.npy"
    raw = _pixels(10)
    np.save(path, raw)
    src = load_data(path, flatten=True)
    assert src.x.shape == (10, 784) and src.x.dtype == np.float32 and not src.lazy
    assert src.scaled and src.original_dtype == "uint8"
    np.testing.assert_allclose(src.x, raw.reshape(10, -1) / 255, rtol=1e-6)


def test_large_uint8_npy_stays_mapped_and_is_scaled_per_batch(tmp_path, monkeypatch):
    monkeypatch.setattr(sources, "MATERIALIZE_BYTES", 1000)
    path = tmp_path / "px.npy"
    raw = _pixels(10)
    np.save(path, raw)
    src = load_data(path)
    assert src.lazy and _is_memmap(src.x) and src.x.dtype == np.uint8
    assert src.scaled and src.scale_factor == pytest.approx(1 / 255)
    batches = list(src.batches(4))
    assert [len(b) for b in batches] == [4, 4, 2]
    assert all(b.dtype == np.float32 for b in batches)
    np.testing.assert_allclose(np.concatenate(batches), raw / 255, rtol=1e-6)
    np.testing.assert_array_equal(src.rows(2, 5), np.concatenate(batches)[2:5])


def test_take_reads_rows_by_index_from_the_map_and_scales_them(tmp_path, monkeypatch):
    monkeypatch.setattr(sources, "MATERIALIZE_BYTES", 1000)
    raw = _pixels(12)
    np.save(tmp_path / "px.npy", raw)
    src = load_data(tmp_path / "px.npy", flatten=True)
    assert src.lazy and src.sample_shape == (784,)
    idx = np.array([11, 0, 5, 6, 7, 0])
    rows = src.take(idx)
    assert rows.dtype == np.float32 and rows.shape == (6, 784)
    np.testing.assert_allclose(rows, raw.reshape(12, -1)[idx] / 255, rtol=1e-6)
    in_memory = from_array(raw.reshape(12, -1).astype(np.float32) / 255)
    np.testing.assert_array_equal(in_memory.take(idx), in_memory.x[idx])


def test_read_rows_reads_a_view_of_a_map_from_its_file(tmp_path):
    from zlens.data.file_rows import read_rows

    x = np.arange(60, dtype=np.float32).reshape(10, 6)
    np.save(tmp_path / "x.npy", x)
    view = np.load(tmp_path / "x.npy", mmap_mode="r")[3:9]
    rows = read_rows(view, 1, 4)
    assert type(rows) is np.ndarray  # read from the file, not a slice of the map
    np.testing.assert_array_equal(rows, x[4:7])
    np.testing.assert_array_equal(read_rows(view, 4, 99), x[7:9])


def test_scale_none_keeps_integer_values(tmp_path):
    path = tmp_path / "px.npy"
    np.save(path, _pixels(5))
    src = load_data(path, scale="none")
    assert not src.scaled and src.scale_factor is None
    assert src.x.dtype == np.float32 and src.x.max() > 1


def test_integers_beyond_255_are_min_max_scaled_per_feature():
    src = from_array(np.array([[0, 1000], [3, 4]], dtype=np.int64))
    assert src.scaled and src.x.tolist() == [[0.0, 1.0], [1.0, 0.0]]
    assert from_array(np.array([[0, 1000], [3, 4]]), scale="none").x.max() == 1000.0


def test_mnist_npz_layout_loads_train_and_test_splits(tmp_path):
    path = tmp_path / "mnist.npz"
    x_train, x_test = _pixels(50, seed=1), _pixels(12, seed=2)
    y_train, y_test = np.arange(50) % 10, np.arange(12) % 10
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)

    train = load_data(path)
    assert train.x.shape == (50, 28, 28) and train.scaled
    np.testing.assert_allclose(train.x, x_train / 255, rtol=1e-6)
    np.testing.assert_array_equal(train.labels, y_train)

    for key in ("test", "x_test"):
        test = load_data(path, key=key, flatten=True)
        assert test.x.shape == (12, 784) and test.x.max() <= 1.0
        np.testing.assert_array_equal(test.labels, y_test)


def test_npz_with_one_feature_array_and_labels(tmp_path):
    path = tmp_path / "data.npz"
    np.savez(path, features=np.ones((4, 3), np.float32), labels=np.array([0, 1, 0, 1]))
    src = load_data(path)
    assert src.x.shape == (4, 3)
    np.testing.assert_array_equal(src.labels, [0, 1, 0, 1])


def test_npz_key_picks_an_array(tmp_path):
    path = tmp_path / "data.npz"
    np.savez(path, a=np.ones((4, 3), np.float32), b=np.zeros((5, 2), np.float32))
    assert load_data(path, key="b").x.shape == (5, 2)


def test_csv_with_string_label_column(tmp_path):
    path = tmp_path / "t.csv"
    pd.DataFrame(
        {"f1": [0.1, 0.2, 0.3], "f2": [1.0, 2.0, 3.0], "kind": ["a", "b", "a"]}
    ).to_csv(path, index=False)
    src = load_data(path, label_column="kind")
    assert src.x.shape == (3, 2) and src.x.dtype == np.float32
    assert src.labels.tolist() == ["a", "b", "a"]


def test_csv_of_integers_is_scaled_per_column(tmp_path):
    path = tmp_path / "px.csv"
    pd.DataFrame({"p0": [0, 255, 51], "p1": [51, 102, 153]}).to_csv(path, index=False)
    src = load_data(path)
    assert src.scaled and src.preprocessing.method == "minmax"  # a table's columns are features, not pixels
    np.testing.assert_allclose(src.x, [[0, 0], [1, 0.5], [0.2, 1]], rtol=1e-6)


def test_headerless_numeric_csv_keeps_its_first_row(tmp_path):
    path = tmp_path / "raw.csv"
    np.savetxt(path, np.arange(6.0).reshape(3, 2) + 0.5, delimiter=",")
    src = load_data(path, scale="none")
    assert src.x.shape == (3, 2) and src.x[0, 0] == 0.5


def test_parquet_with_label_column(tmp_path):
    path = tmp_path / "t.parquet"
    pd.DataFrame({"a": [1.5, 2.5], "b": [0.0, 1.0], "y": [7, 8]}).to_parquet(path)
    src = load_data(path, label_column="y")
    assert src.x.shape == (2, 2) and src.labels.tolist() == [7, 8]


def test_separate_labels_files(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((3, 2), np.float32))
    np.save(tmp_path / "y.npy", np.array([1, 2, 3]))
    (tmp_path / "y.csv").write_text("label\ncat\ndog\ncat\n")
    (tmp_path / "y_nohead.csv").write_text("4\n5\n6\n")
    assert load_data(tmp_path / "x.npy", labels_path=tmp_path / "y.npy").labels.tolist() == [1, 2, 3]
    assert load_data(tmp_path / "x.npy", labels_path=tmp_path / "y.csv").labels.tolist() == [
        "cat", "dog", "cat"
    ]
    assert load_data(tmp_path / "x.npy", labels_path=tmp_path / "y_nohead.csv").labels.tolist() == [
        4, 5, 6
    ]


# -- fingerprint --------------------------------------------------------------------------


def test_fingerprint_is_stable_and_follows_content(tmp_path):
    a, b = tmp_path / "a.npy", tmp_path / "b.npy"
    x = np.random.default_rng(0).random((30, 4), dtype=np.float32)
    np.save(a, x)
    np.save(b, x)
    fp = load_data(a).fingerprint()
    assert set(fp) == {"shape", "dtype", "sha256", "n_samples"}
    assert fp == load_data(a).fingerprint() == load_data(b).fingerprint()
    assert fp["shape"] == [30, 4] and fp["dtype"] == "float32" and fp["n_samples"] == 30
    x[17, 2] += 1.0
    np.save(b, x)
    assert load_data(b).fingerprint()["sha256"] != fp["sha256"]


def test_fingerprint_hashes_stored_values_in_chunks(tmp_path, monkeypatch):
    raw = _pixels(20)
    np.save(tmp_path / "px.npy", raw)
    whole = load_data(tmp_path / "px.npy").fingerprint()
    monkeypatch.setattr(fingerprint, "_HASH_CHUNK_BYTES", 1000)  # about one row per chunk
    monkeypatch.setattr(sources, "MATERIALIZE_BYTES", 1000)  # stays lazy: hashed from the map
    chunked = load_data(tmp_path / "px.npy").fingerprint()
    assert chunked == whole
    assert whole["dtype"] == "uint8" and whole["shape"] == [20, 28, 28]
    assert whole == DataSource(raw).fingerprint()


# -- errors: one line, naming the file ----------------------------------------------------


def _error(path, **kwargs) -> str:
    with pytest.raises(DataError) as info:
        load_data(path, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_missing_file(tmp_path):
    message = _error(tmp_path / "nope.npy")
    assert "nope.npy" in message and "not found" in message


def test_unknown_extension(tmp_path):
    path = tmp_path / "data.h5"
    path.write_bytes(b"x")
    message = _error(path)
    assert "data.h5" in message and "unknown file type" in message and ".npz" in message


def test_empty_files(tmp_path):
    for name in ("e.npy", "e.npz", "e.csv", "e.parquet"):
        (tmp_path / name).write_bytes(b"")
        message = _error(tmp_path / name)
        assert name in message and "empty" in message


def test_zero_rows(tmp_path):
    np.save(tmp_path / "z.npy", np.zeros((0, 3), np.float32))
    assert "z.npy" in _error(tmp_path / "z.npy") and "empty" in _error(tmp_path / "z.npy")
    (tmp_path / "h.csv").write_text("a,b\n")
    assert "h.csv" in _error(tmp_path / "h.csv") and "empty" in _error(tmp_path / "h.csv")


def test_corrupt_files(tmp_path):
    (tmp_path / "bad.npy").write_bytes(b"this is not an array at all")
    assert "bad.npy" in _error(tmp_path / "bad.npy") and "not a NumPy" in _error(tmp_path / "bad.npy")
    np.save(tmp_path / "cut.npy", np.zeros((100, 5), np.float32))
    (tmp_path / "cut.npy").write_bytes((tmp_path / "cut.npy").read_bytes()[:300])
    assert "cut.npy: cannot be read" in _error(tmp_path / "cut.npy")
    (tmp_path / "bad.npz").write_bytes(b"PK\x03\x04 garbage")
    assert "bad.npz: cannot be read" in _error(tmp_path / "bad.npz")
    (tmp_path / "bad.parquet").write_bytes(b"garbage" * 10)
    assert "bad.parquet: cannot be read" in _error(tmp_path / "bad.parquet")
    (tmp_path / "rag.csv").write_text("a,b\n1,2\n1,2,3\n")
    assert "rag.csv: cannot be read" in _error(tmp_path / "rag.csv")


def test_python_objects_are_never_unpickled(tmp_path):
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}, 2], dtype=object), allow_pickle=True)
    (tmp_path / "pick.npy").write_bytes(pickle.dumps([1, 2, 3]))
    np.savez(tmp_path / "obj.npz", x=np.array([[{"a": 1}]], dtype=object))
    for name in ("obj.npy", "pick.npy", "obj.npz"):
        message = _error(tmp_path / name)
        assert name in message and "never unpickles" in message


def test_nan_and_inf(tmp_path):
    x = np.ones((5, 3), np.float32)
    x[3, 1] = np.nan
    np.save(tmp_path / "nan.npy", x)
    message = _error(tmp_path / "nan.npy")
    assert "nan.npy" in message and "NaN" in message and "sample 3" in message
    (tmp_path / "inf.csv").write_text("a,b\n1,2\n3,inf\n")
    assert "inf.csv" in _error(tmp_path / "inf.csv") and "Inf" in _error(tmp_path / "inf.csv")
    (tmp_path / "hole.csv").write_text("a,b\n1,2\n3,\n")
    assert "hole.csv" in _error(tmp_path / "hole.csv")


def test_one_dimensional_array(tmp_path):
    np.save(tmp_path / "flat.npy", np.arange(5.0))
    message = _error(tmp_path / "flat.npy")
    assert "flat.npy" in message and "(5,)" in message and "reshape" in message


def test_label_length_mismatch(tmp_path):
    np.savez(tmp_path / "m.npz", x_train=_pixels(5), y_train=np.arange(4))
    message = _error(tmp_path / "m.npz")
    assert "m.npz:y_train" in message and "4 values" in message and "5 samples" in message
    np.save(tmp_path / "x.npy", np.zeros((3, 2), np.float32))
    np.save(tmp_path / "y.npy", np.arange(2))
    message = _error(tmp_path / "x.npy", labels_path=tmp_path / "y.npy")
    assert "y.npy" in message and "2 values" in message


def test_non_numeric_columns_suggest_label_column(tmp_path):
    path = tmp_path / "t.csv"
    pd.DataFrame({"a": [1.0, 2.0], "name": ["x", "y"], "kind": ["p", "q"]}).to_csv(path, index=False)
    message = _error(path)
    assert "t.csv" in message and "'name'" in message and "'kind'" in message
    assert "label-column" in message


def test_missing_label_column_lists_columns(tmp_path):
    path = tmp_path / "t.csv"
    pd.DataFrame({"a": [1.0], "b": [2.0]}).to_csv(path, index=False)
    message = _error(path, label_column="target")
    assert "t.csv" in message and "'target'" in message and "'a', 'b'" in message


def test_ambiguous_npz_lists_its_keys(tmp_path):
    np.savez(tmp_path / "two.npz", a=np.ones((2, 2)), b=np.ones((2, 2)))
    message = _error(tmp_path / "two.npz")
    assert "two.npz" in message and "a, b" in message and "key" in message
    message = _error(tmp_path / "two.npz", key="c")
    assert "'c'" in message and "a, b" in message


def test_options_that_do_not_apply(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((2, 2), np.float32))
    assert "label_column" in _error(tmp_path / "x.npy", label_column="y")
    assert "key" in _error(tmp_path / "x.npy", key="x_test")
    assert "`scale` must be one of 'auto', 'minmax', 'standard', 'none'" in _error(tmp_path / "x.npy", scale="max")
    with pytest.raises(DataError, match="digits"):
        load_data(None, label_column="y")


# -- tables' label columns --------------------------------------------------------------


def test_a_column_named_like_a_label_is_taken_as_the_labels_not_trained_on(tmp_path):
    path = tmp_path / "t.csv"
    pd.DataFrame({"a": [1.0, 2.0, 3.0], "Target": [0, 1, 0], "b": [5.0, 6.0, 9.0]}).to_csv(path, index=False)
    src = load_data(path)
    assert src.x.shape == (3, 2) and src.labels.tolist() == [0, 1, 0]
    assert src.columns == {"feature_columns": ["a", "b"], "label_column": "Target", "label_picked": True}
    every = load_data(path, label_column="")  # asked for: every column is a feature
    assert every.x.shape == (3, 3) and every.labels is None and every.columns["label_column"] is None
    again = load_data(path, feature_columns=["b", "a"], label_column="Target")  # a run's columns, in their order
    np.testing.assert_allclose(again.x, load_data(path).x[:, ::-1])
    assert again.labels.tolist() == [0, 1, 0]


def test_two_label_like_columns_or_missing_recorded_columns_are_refused(tmp_path):
    path = tmp_path / "t.csv"
    pd.DataFrame({"a": [1.0, 2.0], "y": [0, 1], "class": [1, 0]}).to_csv(path, index=False)
    with pytest.raises(DataError, match=r"columns 'y', 'class' are all named like labels.*--label-column NAME"):
        load_data(path)
    with pytest.raises(DataError, match=r"lacks column\(s\) 'c' of the 2 the run was trained on"):
        load_data(path, feature_columns=["a", "c"])
