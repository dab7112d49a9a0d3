"""New data encoded as the run's training data was prepared: the raw samples in any layout give
the z of training, data that cannot be matched is refused in one line, and runs recorded before
the preprocessing rule (only a `scale_factor`) are read as they were."""

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.preprocessing import MinMaxScaler

import zlens
from zlens.data.conform import conform, prepare_like_training, preprocessing_record
from zlens.data.sources import from_array
from zlens.errors import DataError


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    """A run trained as the CLI trains the digits: stored 0..16, min-max per pixel."""
    source = zlens.data.load_data(None)
    return zlens.fit("dense", source, epochs=1, batch_size=256, seed=0, capture="consistent",
                     run_dir=tmp_path_factory.mktemp("r") / "run")


def test_the_record_names_shape_rule_and_range():
    record = preprocessing_record(from_array(np.array([[0, 8], [16, 4]], "int64")), (2,))
    assert record["sample_shape"] == [2] and record["method"] == "minmax" and record["per_feature"]
    assert record["seen"] == [0.0, 16.0] and record["range"] == [0.0, 1.0]
    assert record["fitted"]["class"] == "MinMaxScaler" and record["fitted"]["data_max_"] == [16.0, 8.0]
    unread = preprocessing_record(None, (3,))  # a dataset: not scaled, its range not known
    assert unread["method"] == "none" and unread["range"] is None


def test_raw_digits_in_any_layout_encode_to_the_z_of_training(digits_run):
    raw = load_digits().data  # float64, 0..16: the data as it comes
    z = zlens.encode(digits_run, raw)
    np.testing.assert_allclose(z, digits_run.z(kind="consistent"), rtol=1e-5, atol=1e-5)  # what training saw
    np.testing.assert_allclose(zlens.encode(digits_run, raw.astype("uint8")), z, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(zlens.encode(digits_run, raw.reshape(-1, 8, 8)), z, rtol=1e-6, atol=1e-6)
    by_hand = MinMaxScaler().fit(raw).transform(raw).astype("float32")  # the rule is scikit-learn's
    np.testing.assert_allclose(zlens.encode(digits_run.model, by_hand), z, rtol=1e-5, atol=1e-5)


def test_data_of_another_range_or_already_scaled_is_refused_naming_the_way_out(digits_run):
    with pytest.raises(DataError, match=r"has values in \[0, 255\] but the run was trained on values in \[0, 1\] "
                                        r"\(given as stored: values 0\.\.16\).*--no-scale"):
        zlens.encode(digits_run, load_digits().data * 255)
    with pytest.raises(DataError, match=r"values within \[0, 1\], as if already prepared.*0\.\.16 as given.*as_given"):
        zlens.encode(digits_run, load_digits().data / 16)
    z = zlens.encode(digits_run, load_digits().data * 255, as_given=True)  # asked for: taken as it is
    assert z.shape == (1797, 32)
    with pytest.raises(DataError,
                       match=r"samples of shape \(63,\) \(63 values\) but the run was trained on samples of 64 values"):
        zlens.encode(digits_run, np.zeros((5, 63)))


def test_a_run_recorded_before_the_rule_still_encodes_with_its_factor():
    raw = load_digits().data
    old = {"sample_shape": [64], "scale_factor": 1 / 16, "range": [0.0, 1.0]}  # run.json of an earlier zlens
    prepared, note = prepare_like_training(raw, old)
    np.testing.assert_allclose(prepared.x, raw / 16, rtol=1e-6)
    assert "scaled by 0.0625" in note
    np.testing.assert_allclose(prepare_like_training(raw / 16, old)[0].x, raw / 16, rtol=1e-6)  # scaled: as is


def test_an_unscaled_float_run_refuses_8bit_pixels():
    record = {"sample_shape": [4], "scale_factor": None, "range": [0.0, 1.0]}
    pixels = from_array(np.full((3, 4), 200, "uint8"), scale="none")
    with pytest.raises(DataError, match=r"values in \[200, 200\]"):
        conform(pixels, record)
    dark = from_array(np.zeros((3, 4), "uint8"), scale="none")
    scaled_record = {**record, "scale_factor": 1 / 255}
    out, note = conform(dark, scaled_record)  # stored integers: scaled as training scaled them, even if small
    assert out.scale_factor == pytest.approx(1 / 255) and "scaled by" in note
