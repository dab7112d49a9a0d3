"""Gray images (N, H, W) for a model built for (H, W, 1): the trailing channel axis is added by one
rule (`zlens.data.validate.channel_axis_missing`), automatically in Python, by `--channels-last`
from the CLI, and again by encode."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

import zlens
from zlens.data import load_data
from zlens.errors import DataError


def _images(n=48, seed=0):
    return np.random.default_rng(seed).random((n, 8, 8), dtype=np.float32)


def _model_for_channels():
    """An autoencoder as keras-io writes one for MNIST: built for (H, W, 1)."""
    return keras.Sequential([
        keras.Input((8, 8, 1)), keras.layers.Conv2D(4, 3, padding="same", activation="relu"), keras.layers.Flatten(),
        keras.layers.Dense(2, name="z"), keras.layers.Dense(64, activation="sigmoid"), keras.layers.Reshape((8, 8, 1)),
    ])


def test_fit_gives_gray_images_the_channel_axis_the_model_expects_and_encode_does_too():
    images = _images()
    run = zlens.fit(_model_for_channels(), images, epochs=1, batch_size=16, capture="both", seed=0, verbose=0,
                    optimizer=keras.optimizers.SGD(0.0))
    want = zlens.encode(run.model, images[..., None])
    np.testing.assert_allclose(run.z(kind="consistent"), want, atol=1e-5)
    np.testing.assert_allclose(run.z(kind="in-flight"), want, atol=1e-5)
    np.testing.assert_allclose(zlens.encode(run.model, images), want, atol=1e-6)  # (N, H, W) encodes alike
    np.testing.assert_allclose(zlens.encode(run, images), want, atol=1e-6)


def test_a_dataset_of_gray_images_gets_the_axis_too():
    images = _images()
    ds = tf.data.Dataset.from_tensor_slices(images).batch(16)
    run = zlens.fit(_model_for_channels(), ds, epochs=1, capture="consistent", seed=0, verbose=0)
    np.testing.assert_allclose(run.z(kind="consistent"), zlens.encode(run.model, images[..., None]), atol=1e-5)


def test_load_data_channels_last_is_a_view_and_the_file_stays_mapped(tmp_path):
    np.save(tmp_path / "x.npy", _images())
    src = load_data(tmp_path / "x.npy", channels_last=True)
    assert src.sample_shape == (8, 8, 1) and src.memory_mapped
    np.testing.assert_array_equal(src.to_numpy()[..., 0], _images())


@pytest.mark.parametrize("shape, flatten, message", [
    ((10, 64), False, r"gives gray images \(N, H, W\) their channel axis; these samples are of shape \(64,\)\.$"),
    ((10, 8, 8, 1), False, r"these samples are of shape \(8, 8, 1\)\.$"),
    ((10, 8, 8), True, r"and are flattened too\.$"),
])
def test_channels_last_on_samples_that_are_not_gray_images_is_one_line(tmp_path, shape, flatten, message):
    np.save(tmp_path / "x.npy", np.zeros(shape, "float32"))
    with pytest.raises(DataError, match=message):
        load_data(tmp_path / "x.npy", channels_last=True, flatten=flatten)


@pytest.mark.slow
def test_cli_train_with_channels_last_then_encode_without_it(tmp_path):
    images = (_images(60) * 255).astype("uint8")
    np.save(tmp_path / "x.npy", images)
    _model_for_channels().save(tmp_path / "ae.keras")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}

    def zlens_cli(*args):
        proc = subprocess.run([sys.executable, "-m", "zlens", *map(str, args)], capture_output=True, text=True,
                              env=env, timeout=300, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        return proc

    zlens_cli("train", "--data", "x.npy", "--model", "ae.keras", "--channels-last", "--epochs", 1, "--out", "run",
              "--quiet")
    record = json.loads((tmp_path / "run" / "run.json").read_text())["data"]
    assert record["load"]["channels_last"] is True and record["preprocess"]["sample_shape"] == [8, 8, 1]
    proc = zlens_cli("encode", "run", "--data", "x.npy", "--out", "z.npy")  # no flag: the run's shape says it
    assert "given the channel axis" in proc.stderr
    run = zlens.open_run(tmp_path / "run")
    np.testing.assert_allclose(np.load(tmp_path / "z.npy"), zlens.encode(run.model, images[..., None] / 255),
                               atol=1e-5)


def test_encode_of_a_dataset_of_gray_images_gives_them_the_axis():
    images = _images()
    run = zlens.fit(_model_for_channels(), images, epochs=1, batch_size=16, seed=0, verbose=0)
    want = zlens.encode(run.model, images[..., None])
    np.testing.assert_allclose(zlens.encode(run, tf.data.Dataset.from_tensor_slices(images).batch(8)), want, atol=1e-6)
    np.testing.assert_allclose(zlens.encode(run.model, tf.data.Dataset.from_tensor_slices(images)), want, atol=1e-6)


def test_batches_indexed_by_zlens_get_the_axis_and_a_wrong_channel_count_is_named():
    images = _images()
    indexed = zlens.data.index_dataset(tf.data.Dataset.from_tensor_slices(images), 16, shuffle=False)
    run = zlens.fit(_model_for_channels(), indexed, epochs=1, capture="consistent", seed=0, verbose=0)
    np.testing.assert_allclose(run.z(kind="consistent"), zlens.encode(run.model, images[..., None]), atol=1e-5)
    color = tf.data.Dataset.from_tensor_slices(np.zeros((8, 8, 8, 3), "float32"))
    with pytest.raises(DataError, match=r"`the dataset` has samples of shape \(8, 8, 3\) but the model expects "
                                        r"samples of shape \(8, 8, 1\)\.$"):
        zlens.fit(_model_for_channels(), color, epochs=1, verbose=0)
