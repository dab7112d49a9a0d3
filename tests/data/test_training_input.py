"""`training_input`: the data a user hands to `fit` is looked at and checked once, and what
follows (the model's build, the feed, the run's record) reads that one answer."""

import json
import re

import numpy as np
import pytest
import tensorflow as tf
import zarr

import zlens
from zlens.data import DataSource
from zlens.data.training_input import training_input


class CountingArray:
    """An array-like that computes its values on request (as an HDF5 dataset or a lazy frame
    would), counting how often it is read whole."""

    def __init__(self, values):
        self.values, self.reads = values, 0

    def __array__(self, dtype=None, copy=None):
        self.reads += 1
        return self.values if dtype is None else self.values.astype(dtype)

    def __len__(self):
        return len(self.values)


def test_an_array_like_is_read_once_for_the_whole_fit(x_small, tmp_path):
    x = CountingArray(x_small.astype(np.float64))
    run = zlens.fit("dense", x, epochs=1, batch_size=32, encoding_dim=2, seed=0, verbose=0, run_dir=tmp_path / "run")
    assert x.reads == 1
    assert run.z().shape == (101, 2)


def test_each_kind_of_data_is_told_apart_once(tmp_path, x_small):
    array = training_input(x_small.astype(np.float64))
    assert array.source.x.dtype == np.float32 and array.sample_shape == (12,) and not array.streamed
    z = zarr.open_array(tmp_path / "x.zarr", mode="w", shape=x_small.shape, chunks=(50, 12), dtype="float32")
    z[:] = x_small
    chunked = training_input(z)
    assert chunked.source.chunked and chunked.streamed and chunked.source.name == "the Zarr array"
    pairs = training_input(tf.data.Dataset.from_tensor_slices((x_small, np.arange(101) % 3)))
    assert pairs.dataset is not None and pairs.sample_shape == (12,) and pairs.target_shape == ()
    indexed = training_input(zlens.data.index_array(x_small, 16, shuffle=False))
    assert indexed.indexed and indexed.sample_shape == (12,) and indexed.target_shape is None
    target = training_input(x_small, x_small[:, :4])
    assert target.target.shape == (101, 4) and target.target_shape == (4,)
    assert training_input(target) is target  # already decided: taken as it is


@pytest.mark.parametrize("x,y,message", [
    ("dataset", np.zeros(3), "put the targets in the dataset as (x, y) pairs, not y="),
    (np.zeros((3, 2)), np.zeros(4), "`y` has 4 samples but `x` has 3"),
    (np.array([1.0, 2.0]), None, "must have one row per sample"),
    (np.full((3, 2), np.nan), None, "contains NaN or Inf"),
    ("lazy", np.zeros((4, 2)), "a DataSource is its own target"),
])
def test_bad_data_is_named_before_anything_is_built(x, y, message):
    if isinstance(x, str):
        x = (tf.data.Dataset.from_tensor_slices(np.zeros((3, 2), "float32")) if x == "dataset"
             else DataSource(np.zeros((4, 2), "uint8"), scale_factor=1 / 255))
    with pytest.raises(zlens.DataError, match=re.escape(message)):
        training_input(x, y)


def test_the_models_sample_shape_is_checked_against_the_data(x_small):
    with pytest.raises(zlens.DataError, match=r"`x` has samples of shape \(12,\) \(array shape \(101, 12\)\) "
                                              r"but the model expects samples of shape \(13,\)"):
        training_input(x_small).check_sample_shape((13,))
    ds = training_input(tf.data.Dataset.from_tensor_slices(x_small))
    with pytest.raises(zlens.DataError, match="pass a dataset of samples, batched or not"):
        ds.check_sample_shape((3, 4))


def test_a_target_is_recorded_as_given_and_a_run_resumes_on_it(x_small, tmp_path):
    clean = x_small.astype(np.float64)  # a denoising autoencoder's clean targets, as a user holds them
    noisy = x_small + np.float32(0.05)
    zlens.fit("dense", noisy, clean, epochs=1, batch_size=32, encoding_dim=2, seed=0, verbose=0,
              run_dir=tmp_path / "run")
    record = json.loads((tmp_path / "run" / "run.json").read_text())
    assert record["data"]["target"]["dtype"] == "float64"  # fingerprinted as given: resumable alike
    again = zlens.resume(tmp_path / "run", noisy, clean, epochs=2, verbose=0)
    assert again.epochs == [0, 1]
