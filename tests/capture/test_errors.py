"""Bad input gets one clear error before anything is trained or written."""

import numpy as np
import pytest

import zlens
from zlens.errors import DataError, ModelError


@pytest.mark.parametrize(
    "x,message",
    [
        (np.zeros(10, "float32"), "must have one row per sample"),
        (np.zeros((0, 12), "float32"), "is empty"),
        (np.full((5, 12), np.nan, "float32"), "NaN or Inf"),
        (np.array([[0.0] * 12, [np.inf] + [0.0] * 11], "float32"), "first at sample 1"),
        (np.zeros((5, 8, 8), "float32"), "samples of shape (8, 8) (array shape (5, 8, 8)) but the model expects "
                                          "samples of shape (12,). Flatten images"),
        (np.array([["a"] * 12]), "must be numeric"),
    ],
)
def test_bad_data_is_refused_and_nothing_is_written(x, message, tmp_path):
    run_dir = tmp_path / "run"
    with pytest.raises(DataError, match=None) as err:
        zlens.fit(zlens.models.dense(12, 2), x, epochs=1, run_dir=run_dir)
    assert message in str(err.value) and "\n" not in str(err.value)
    assert not run_dir.exists()


def test_labels_of_the_wrong_length(x_small, tmp_path):
    with pytest.raises(DataError, match="has 100 values but the data has 101 samples"):
        zlens.fit("dense", x_small, epochs=1, labels=np.zeros(100), run_dir=tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_unknown_latent_layer_names_the_layers(x_small):
    with pytest.raises(ModelError, match="no layer or attribute named 'code'.*encoder_hidden"):
        zlens.fit(zlens.models.dense(12, 2), x_small, epochs=1, latent="code")


@pytest.mark.parametrize("bad", [0, -3, 1.5])
def test_encoding_size_below_one(bad):
    with pytest.raises(ModelError, match="encoding_dim must be an integer >= 1"):
        zlens.models.dense(12, bad)


def test_unknown_tap_and_bad_capture(x_small):
    with pytest.raises(ModelError, match="unknown tap 'nope'"):
        zlens.fit("dense", x_small, epochs=1, taps=("z", "nope"))
    with pytest.raises(zlens.ZlensError, match="capture must be one of"):
        zlens.fit("dense", x_small, epochs=1, capture="sometimes")


def test_conv_model_needs_images(x_small):
    with pytest.raises(ModelError, match="needs image samples"):
        zlens.fit("conv", x_small, epochs=1)


def test_conv_model_trains_on_images():
    rng = np.random.default_rng(0)
    images = rng.random((30, 8, 8), dtype=np.float32)
    run = zlens.fit("conv", images, epochs=1, batch_size=8, encoding_dim=4, seed=0, capture="both")
    assert run.z().shape == (30, 4) and run.recon_error().shape == (30,)


def test_encode_names_the_first_bad_sample_across_blocks():
    model = zlens.TappedAutoencoder(zlens.models.dense(12, 2))
    x = np.zeros((50, 12), "float32")
    x[37, 3] = np.inf
    with pytest.raises(DataError, match="first at sample 37"):
        zlens.encode(model, x, batch_size=16)
    with pytest.raises(DataError, match=r"samples of shape \(13,\) \(array shape \(5, 13\)\) but the model expects "
                                        r"samples of shape \(12,\)\.$"):
        zlens.encode(model, np.zeros((5, 13), "float32"))
    import tensorflow as tf

    with pytest.raises(DataError, match=r"holds NaN or Inf \(in samples 32..47\)"):
        zlens.encode(model, tf.data.Dataset.from_tensor_slices(x), batch_size=16)


def test_encode_to_file_names_the_first_bad_sample_and_leaves_no_output(tmp_path):
    from zlens.data import DataSource
    from zlens.encoding import encode_to_file

    model = zlens.TappedAutoencoder(zlens.models.dense(12, 2))
    x = np.zeros((50, 12), "float32")
    x[41, 0] = np.nan
    np.save(tmp_path / "x.npy", x)
    source = DataSource(np.load(tmp_path / "x.npy", mmap_mode="r"), name="x.npy")  # not validated on load
    with pytest.raises(DataError, match="NaN or Inf .first at sample 41"):
        encode_to_file(model, source, tmp_path / "z.npy", batch_size=16)
    assert not (tmp_path / "z.npy").exists() and list(tmp_path.iterdir()) == [tmp_path / "x.npy"]


def test_a_shape_error_names_the_sample_shape_and_the_arrays_own_shape():
    """The forum case: a (1797, 10) slice of the digits names (1797, 10), not the first row's (1, 10)."""
    model = zlens.TappedAutoencoder(zlens.models.dense(64, 2))
    with pytest.raises(DataError) as err:
        zlens.encode(model, np.zeros((1797, 64), "float32")[:, :10])
    assert str(err.value) == ("`x` has samples of shape (10,) (array shape (1797, 10)) but the model expects samples "
                              "of shape (64,).")


def test_images_without_their_channel_axis_are_told_how_to_add_it_where_zlens_cannot():
    """zlens adds the axis itself where it can (arrays, datasets: tests/data/test_channel_axis.py);
    where it cannot (a Zarr store is read as stored), the one shape message says how."""
    from zlens.data.validate import sample_shape_mismatch

    assert sample_shape_mismatch((8, 8), (8, 8, 1), "the Zarr array", array_shape=(5, 8, 8)) == (
        "`the Zarr array` has samples of shape (8, 8) (array shape (5, 8, 8)) but the model expects samples of shape "
        "(8, 8, 1). Add the channel axis: x[..., None] (CLI: --channels-last).")
    assert sample_shape_mismatch((8, 8), (8, 8, 3), "x") == (
        "`x` has samples of shape (8, 8) but the model expects samples of shape (8, 8, 3).")
