"""A `tf.data` dataset is prepared by the same rule as an array: decided on one pass over its
samples, applied inside the pipeline, recorded, and applied again by `zlens.encode(run, ds)`."""

from __future__ import annotations

import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf
from sklearn.datasets import load_digits
from sklearn.preprocessing import MinMaxScaler

import zlens
from zlens.data.preprocess import Preprocessing
from zlens.errors import DataError


def _frozen():
    return keras.optimizers.SGD(0.0)  # learning rate 0: in-flight z is the final model's z


def test_uint8_images_in_a_batched_dataset_train_on_pixels_over_255_as_an_array_would():
    pixels = np.random.default_rng(0).integers(0, 256, size=(120, 16), dtype=np.uint8)
    ds = tf.data.Dataset.from_tensor_slices(pixels).batch(32)
    run = zlens.fit("dense", ds, epochs=1, encoding_dim=2, capture="both", seed=0, verbose=0, optimizer=_frozen())
    rule = Preprocessing.from_json(run.preprocessing)
    assert rule.method == "range" and rule.scale_factor == pytest.approx(1 / 255)
    want = zlens.encode(run.model, pixels / np.float32(255))
    np.testing.assert_allclose(run.z(kind="consistent"), want, atol=1e-5)
    np.testing.assert_allclose(run.z(kind="in-flight"), want, atol=1e-5)
    np.testing.assert_allclose(zlens.encode(run, ds), want, atol=1e-5)  # the recorded rule, applied again
    np.testing.assert_allclose(zlens.encode(run, pixels), want, atol=1e-5)  # the same as for the array


def test_small_integers_in_a_dataset_are_scaled_per_feature_as_minmaxscaler_does_and_as_the_array_is():
    digits = load_digits().data.astype("int64")[:300]
    ds = tf.data.Dataset.from_tensor_slices({"x": digits, "label": np.arange(300) % 10})
    run = zlens.fit("dense", ds, labels="label", epochs=1, encoding_dim=2, capture="consistent", seed=0, verbose=0,
                    optimizer=_frozen())
    by_hand = MinMaxScaler().fit(digits)
    rule = Preprocessing.from_json(run.preprocessing)
    assert rule.method == "minmax"
    np.testing.assert_allclose(rule.apply(digits), by_hand.transform(digits), atol=1e-6)
    np.testing.assert_allclose(run.z(kind="consistent"), zlens.encode(run.model, by_hand.transform(digits)),
                               atol=1e-5)
    array_run = zlens.fit("dense", digits, epochs=1, encoding_dim=2, seed=0, verbose=0)
    assert array_run.preprocessing["fitted"] == run.preprocessing["fitted"]  # one rule, whatever the container


def test_a_dataset_already_in_unit_range_is_taken_as_it_is():
    x = np.random.default_rng(1).random((64, 8), dtype=np.float32)
    run = zlens.fit("dense", tf.data.Dataset.from_tensor_slices(x), epochs=1, encoding_dim=2, seed=0, verbose=0)
    assert run.preprocessing["method"] == "none" and run.preprocessing["range"] == [float(x.min()), float(x.max())]


def test_standard_scaling_of_a_dataset_for_a_sigmoid_output_is_refused_before_training(tmp_path):
    x = np.random.default_rng(2).normal(5.0, 3.0, size=(64, 8)).astype("float32")
    with pytest.raises(DataError, match=r"output activation is sigmoid, which reaches only \[0, 1\]"):
        zlens.fit("dense", tf.data.Dataset.from_tensor_slices(x), scale="standard", epochs=1, verbose=0,
                  run_dir=tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_a_dataset_asked_for_as_given_is_not_read_while_auto_reads_it_and_scales_it_into_reach():
    x = np.random.default_rng(3).integers(0, 256, size=(64, 8)).astype("float32")
    ds = tf.data.Dataset.from_tensor_slices(x)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run = zlens.fit("dense", ds, scale="none", epochs=1, encoding_dim=2, seed=0, verbose=0)
    assert run.preprocessing["method"] == "none"
    # "none" is not read: the range is not known, so nothing can be said about it ...
    assert not [w for w in caught if "output activation" in str(w.message)]
    # ... while "auto" reads it and scales it into the output's reach
    assert zlens.fit("dense", ds, epochs=1, encoding_dim=2, seed=0, verbose=0).preprocessing["method"] == "minmax"


def test_encode_of_a_dataset_the_user_scaled_already_is_refused_as_an_array_would_be():
    pixels = np.random.default_rng(4).integers(0, 256, size=(80, 16), dtype=np.uint8)
    run = zlens.fit("dense", pixels, epochs=1, encoding_dim=2, seed=0, verbose=0)  # trained on pixels / 255
    scaled = tf.data.Dataset.from_tensor_slices(pixels.astype("float32") / 255)  # prepared by hand: not raw
    with pytest.raises(DataError, match=r"the dataset to encode has values within \[0, 1\], as if already prepared"):
        zlens.encode(run, scaled)
    np.testing.assert_allclose(zlens.encode(run, scaled, as_given=True), zlens.encode(run.model, pixels / 255),
                               atol=1e-6)  # asked for: taken as it is
    with pytest.raises(DataError, match=r"has values within \[0, 1\], as if already prepared"):
        zlens.encode(run, pixels.astype("float32") / 255)  # the same for an array (float32 rounding: 1 + 1e-7)
