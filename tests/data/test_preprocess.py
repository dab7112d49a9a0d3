"""The one preprocessing rule: what "auto" decides for each kind of data, that the values
prepared are scikit-learn's scaler applied by hand, and that the record reapplies them exactly."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tensorflow as tf
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.preprocessing import MinMaxScaler, StandardScaler

from zlens.data import from_array
from zlens.data.preprocess import Preprocessing, by_factor, decide
from zlens.errors import DataError


def _pixels(n=40, seed=0):
    return np.random.default_rng(seed).integers(3, 250, size=(n, 6, 6), dtype=np.uint8)


def test_auto_divides_8_bit_pixels_by_their_dtype_range_and_names_the_range_reached():
    pixels = _pixels()
    prep = decide(pixels)
    assert prep.method == "range" and not prep.per_feature and prep.scale_factor == pytest.approx(1 / 255)
    np.testing.assert_allclose(prep.apply(pixels), pixels / 255, rtol=1e-6)  # a dark image stays dark
    lo, hi = int(pixels.min()), int(pixels.max())
    assert prep.describe() == f"scaled by 1/255 (uint8 range 0..255): values {lo}..{hi} -> " \
                              f"[{lo / 255:.3g}, {hi / 255:.3g}]"  # the range reached, not [0, 1]
    assert decide(pixels.astype("int64")).method == "range"  # integer images within 0..255 too


def test_auto_scales_small_integers_and_wide_floats_per_feature_as_minmaxscaler_does():
    digits = load_digits().data.astype("int64")  # the digits saved as an int .npy: 0..16
    prep = decide(digits)
    assert prep.method == "minmax" and prep.describe() == "scaled 0..16 -> [0, 1] per feature (min-max)"
    np.testing.assert_allclose(prep.apply(digits), MinMaxScaler().fit(digits).transform(digits), atol=1e-6)
    cancer = load_breast_cancer().data  # features up to 4254
    np.testing.assert_allclose(decide(cancer).apply(cancer), MinMaxScaler().fit_transform(cancer), atol=1e-6)
    assert decide(cancer).prepared_range == (0.0, 1.0)


def test_auto_leaves_data_already_in_the_unit_range_alone():
    x = np.random.default_rng(0).random((30, 5))
    prep = decide(x)
    assert prep.identity and prep.describe().startswith("not scaled (already in [0, 1])")
    np.testing.assert_array_equal(prep.apply(x), x.astype("float32"))
    assert decide(np.array([[True, False]])).identity


def test_standard_is_standardscaler_and_none_keeps_the_values():
    cancer = load_breast_cancer().data
    prep = decide(cancer, "standard")
    np.testing.assert_allclose(prep.apply(cancer), StandardScaler().fit_transform(cancer), atol=1e-4)
    assert prep.describe().startswith("standardized per feature (mean 0, variance 1): values 0..4254")
    assert decide(cancer, "none").apply(cancer).max() == pytest.approx(4254)
    with pytest.raises(DataError, match="`scale` must be one of 'auto', 'minmax', 'standard', 'none'; got 'max'"):
        decide(cancer, "max")


def test_the_fit_reads_row_chunks_so_a_memory_mapped_file_gives_the_same_rule(tmp_path, monkeypatch):
    from zlens.data import fingerprint

    x = load_digits().data
    np.save(tmp_path / "x.npy", x)
    monkeypatch.setattr(fingerprint, "_HASH_CHUNK_BYTES", 64 * 8 * 100)  # 100-row chunks: partial_fit 18 times
    mapped = decide(np.load(tmp_path / "x.npy", mmap_mode="r"))
    np.testing.assert_array_equal(mapped.scale, decide(x).scale)
    np.testing.assert_array_equal(mapped.offset, decide(x).offset)


def test_the_json_record_reapplies_exactly_the_fitted_parameters():
    cancer = load_breast_cancer().data
    for scale in ("auto", "standard", "none"):
        prep = decide(cancer, scale)
        again = Preprocessing.from_json(json.loads(json.dumps(prep.to_json())))  # as run.json holds it
        np.testing.assert_array_equal(again.apply(cancer[:7]), prep.apply(cancer[:7]))
        assert again.describe() == prep.describe()
    assert Preprocessing.from_json({"sample_shape": [4], "scale_factor": 1 / 255, "range": [0, 1]}) is None


def test_the_tensor_form_matches_the_numpy_form_on_batches_and_single_samples():
    images = load_digits().data.reshape(-1, 8, 8)
    prep = decide(images)
    np.testing.assert_allclose(prep.apply_tensor(tf.constant(images[:5])).numpy(), prep.apply(images[:5]), atol=1e-6)
    np.testing.assert_allclose(prep.apply_tensor(tf.constant(images[3])).numpy(), prep.apply(images[3:4])[0],
                               atol=1e-6)
    pixels = _pixels()
    np.testing.assert_allclose(decide(pixels).apply_tensor(pixels).numpy(), pixels / 255, rtol=1e-6)


def test_a_source_too_large_to_convert_is_prepared_batch_by_batch(tmp_path, monkeypatch):
    from zlens.data import sources

    x = load_breast_cancer().data.astype("float32")  # float32 on disk, outside [0, 1]
    np.save(tmp_path / "x.npy", x)
    monkeypatch.setattr(sources, "MATERIALIZE_BYTES", 16)
    src = sources.load_data(tmp_path / "x.npy")
    assert src.memory_mapped and src.lazy and not src.prepared
    np.testing.assert_allclose(src.rows(10, 20), MinMaxScaler().fit_transform(x)[10:20], atol=1e-5)
    np.testing.assert_allclose(src.take([3, 1]), MinMaxScaler().fit_transform(x)[[3, 1]], atol=1e-5)


def test_a_recorded_rule_checks_the_width_of_new_samples():
    prep = decide(load_digits().data)
    with pytest.raises(DataError, match=r"x has samples of shape \(10,\) \(10 values\) but the run was trained on "
                                        r"samples of 64 values"):
        from_array(np.zeros((3, 10)), name="x", scale=prep)
    assert by_factor(0.5, "uint8").apply(np.array([[4]], "uint8")).tolist() == [[2.0]]


def test_fit_on_uint8_images_trains_on_them_divided_by_255_and_encode_applies_the_same():
    import zlens

    pixels = np.random.default_rng(1).integers(0, 256, size=(64, 36), dtype=np.uint8)  # as keras.datasets hands them
    run = zlens.fit("dense", pixels, epochs=1, encoding_dim=2, seed=0, capture="consistent", verbose=0)
    assert run.preprocessing["method"] == "range" and run.history["loss"][-1] < 1  # not 1.5e4 against a sigmoid
    z = zlens.encode(run, pixels)
    np.testing.assert_allclose(z, run.z(kind="consistent"), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(z, zlens.encode(run.model, (pixels / 255).astype("float32")), rtol=1e-5, atol=1e-6)
