"""New data encoded as the run's training data was prepared: raw, scaled and 8-bit forms of the
same samples give the same z, and data that cannot be matched is refused in one line."""

import numpy as np
import pytest
from sklearn.datasets import load_digits

import zlens
from zlens.data.conform import conform, preprocessing_record
from zlens.data.sources import from_array
from zlens.errors import DataError


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    """A run trained as the CLI trains the digits: stored 0..16, scaled by 1/16."""
    source = zlens.data.load_data(None)
    return zlens.fit("dense", source, epochs=1, batch_size=256, seed=0, run_dir=tmp_path_factory.mktemp("r") / "run")


def test_the_record_names_shape_scale_and_range():
    x = np.array([[0, 8], [16, 4]], "float32") / 16
    assert preprocessing_record(x, (2,), 1 / 16) == {"sample_shape": [2], "scale_factor": 1 / 16, "range": [0.0, 1.0]}
    lazy = zlens.data.DataSource(np.array([[0, 8], [16, 4]], "uint8"), scale_factor=1 / 16)  # scaled per block
    assert preprocessing_record(lazy, (2,), 1 / 16)["range"] == [0.0, 1.0]


def test_raw_scaled_and_8bit_digits_encode_to_the_same_z(digits_run):
    raw = load_digits().data  # float64, 0..16: the data as it comes
    stored = digits_run.z(kind="in-flight")
    assert digits_run.preprocessing["scale_factor"] == pytest.approx(1 / 16)
    z_scaled = zlens.encode(digits_run, (raw / 16).astype("float32"))
    np.testing.assert_allclose(zlens.encode(digits_run, raw), z_scaled, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(zlens.encode(digits_run, raw.astype("uint8")), z_scaled, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(zlens.encode(digits_run, raw.reshape(-1, 8, 8)), z_scaled, rtol=1e-6, atol=1e-6)
    assert stored.shape == z_scaled.shape


def test_data_of_another_range_is_refused_naming_the_way_out(digits_run):
    with pytest.raises(DataError, match=r"values in \[0, 4080\].*trained on values in \[0, 1\].*--no-scale"):
        zlens.encode(digits_run, load_digits().data * 255)
    z = zlens.encode(digits_run, load_digits().data * 255, as_given=True)  # asked for: taken as it is
    assert z.shape == (1797, 32)
    with pytest.raises(DataError,
                       match=r"samples of shape \(63,\) but the run was trained on samples of shape \(64,\)"):
        zlens.encode(digits_run, np.zeros((5, 63)))


def test_an_unscaled_float_run_refuses_8bit_pixels():
    record = {"sample_shape": [4], "scale_factor": None, "range": [0.0, 1.0]}
    pixels = from_array(np.full((3, 4), 200, "uint8"), scale="none")
    with pytest.raises(DataError, match=r"values in \[200, 200\]"):
        conform(pixels, record)
    dark = from_array(np.zeros((3, 4), "uint8"), scale="none")
    scaled_record = {**record, "scale_factor": 1 / 255}
    out, note = conform(dark, scaled_record)  # stored integers: scaled as training scaled them, even if small
    assert out.scale_factor == pytest.approx(1 / 255) and "scaled by" in note
