"""Validation z: held-out samples' consistent z every captured epoch, from `zlens.fit`, the Keras
wrapper, a run directory and `zlens.resume`; row i = validation sample i, at that epoch's weights."""

import json

import keras
import numpy as np
import pytest

import zlens
from zlens.errors import DataError, RunError
from zlens.store import LatentStore


class KeepWeights(keras.callbacks.Callback):
    """The model's weights at the end of each epoch (what that epoch's validation z is encoded with)."""

    def __init__(self):
        super().__init__()
        self.weights = []

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append([w.copy() for w in self.model.get_weights()])


@pytest.fixture
def x_val():
    return np.random.default_rng(1).random((37, 12), dtype=np.float32)


def test_each_epochs_validation_z_is_an_encode_by_that_epochs_weights(x_small, x_val):
    keep = KeepWeights()
    run = zlens.fit("dense", x_small, epochs=3, batch_size=32, encoding_dim=2, seed=0, verbose=0,
                    validation_data=x_val, validation_labels=np.arange(37) % 4, callbacks=[keep])
    assert run.splits == ("train", "validation") and run.n_samples_of("validation") == 37
    assert len(run.history["val_loss"]) == 3  # Keras' own val_loss, as before
    for epoch in range(3):
        run.model.set_weights(keep.weights[epoch])
        np.testing.assert_allclose(run.z(epoch, kind="consistent", split="validation"),
                                   zlens.encode(run.model, x_val), atol=1e-6)
    assert run.z(split="validation").shape == (37, 2)  # its one kind is the default
    assert run.recon_error(split="validation").shape == (37,)
    np.testing.assert_array_equal(run.labels_of("validation"), np.arange(37) % 4)
    with pytest.raises(RunError, match="not trained on, so they have no in-flight z"):
        run.z(-1, kind="in-flight", split="validation")
    with pytest.raises(RunError, match="Split 'test'"):
        run.z(split="test")


def test_the_last_validation_z_matches_an_encode_by_the_final_model(x_small, x_val):
    """The Keras wrapper: `validation_data=(x_val, x_val)` as the Keras tutorials pass it."""
    model = zlens.TappedAutoencoder(zlens.models.dense(12, 3))
    model.compile(optimizer="adam")
    model.fit(x_small, epochs=2, batch_size=32, validation_data=(x_val, x_val), verbose=0, seed=0)
    np.testing.assert_allclose(model.run.z(split="validation"), zlens.encode(model, x_val), atol=1e-6)
    assert model.run.labels_of("validation") is None


@pytest.mark.slow  # a fit, a resume and a store read: 12 s
def test_a_run_directory_keeps_the_validation_z_aligned_and_resume_continues_it(tmp_path, x_small, x_val):
    run_dir = tmp_path / "run"
    zlens.fit("dense", x_small, epochs=2, batch_size=32, encoding_dim=2, seed=0, verbose=0, run_dir=run_dir,
              validation_data=x_val, capture="both")
    with pytest.raises(RunError, match="resume it with the same validation_data= \\(37 samples"):
        zlens.resume(run_dir, x_small, epochs=3, verbose=0)
    with pytest.raises(RunError, match="validation data differs"):
        zlens.resume(run_dir, x_small, epochs=3, verbose=0, validation_data=x_val[:30])
    run = zlens.resume(run_dir, x_small, epochs=3, verbose=0, validation_data=x_val)
    again = zlens.open_run(run_dir)
    assert again.epochs == [0, 1, 2] and again.n_samples_of("validation") == 37
    np.testing.assert_allclose(again.z(2, split="validation"), zlens.encode(run.model, x_val), atol=1e-6)
    store = LatentStore.open(run_dir / "latents.zarr")
    assert store.array("z", "consistent", split="validation").shape[0] == 3  # every epoch once
    record = json.loads((run_dir / "run.json").read_text())["data"]["validation"]
    assert record["n_samples"] == 37 and record["labelled"] is False


def test_resume_with_validation_data_of_a_run_trained_without_is_refused(tmp_path, x_small, x_val):
    zlens.fit("dense", x_small, epochs=1, batch_size=64, seed=0, verbose=0, run_dir=tmp_path / "run")
    with pytest.raises(RunError, match="trained without validation data"):
        zlens.resume(tmp_path / "run", x_small, epochs=2, verbose=0, validation_data=x_val)


def test_validation_samples_are_prepared_as_the_training_samples_were():
    """The embedded digits train scaled by their per-feature range: raw validation digits get the
    same fitted scaling, and images are shaped like the training rows; values of another range are
    refused."""
    from sklearn.datasets import load_digits

    digits = zlens.data.load_digits()
    raw = load_digits().data[:50]  # the stored 0..16 values
    run = zlens.fit("dense", digits, epochs=1, batch_size=256, encoding_dim=2, seed=0, verbose=0,
                    validation_data=raw.reshape(50, 8, 8).astype("int64"))
    np.testing.assert_allclose(run.z(split="validation"), zlens.encode(run.model, digits.x[:50]), atol=1e-6)
    with pytest.raises(DataError, match=r"validation data, prepared as the training data was \(scaled 0\.\.16 -> "
                                        r"\[0, 1\] per feature \(min-max\)\), has values in \[0, 100\] .*was given\.$"):
        zlens.fit("dense", digits, epochs=1, encoding_dim=2, verbose=0, validation_data=raw * 100)


def test_validation_data_forms_it_cannot_take_are_refused_in_one_line(x_small, x_val):
    with pytest.raises(DataError, match="validation_labels="):
        zlens.fit("dense", x_small, epochs=1, verbose=0, validation_data=(x_val, np.arange(37)))
    with pytest.raises(DataError, match="has 3 values but the data has 37"):
        zlens.fit("dense", x_small, epochs=1, verbose=0, validation_data=x_val, validation_labels=[0, 1, 2])
    with pytest.raises(DataError, match="shape"):
        zlens.fit("dense", x_small, epochs=1, verbose=0, validation_data=x_val[:, :5])


def test_validation_data_under_a_strategy_is_refused_before_anything_is_written(tmp_path, x_small, x_val):
    with pytest.raises(zlens.ZlensError, match="captured on one device for now"):
        zlens.fit("dense", x_small, epochs=1, verbose=0, strategy="mirrored", validation_data=x_val,
                  run_dir=tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_validation_z_with_the_buffers_in_host_memory_is_the_same(x_small, x_val):
    """Host buffers write back through Python: the validation pass then runs over a tf.data
    dataset instead of its compiled loop; the rows are the same."""
    run = zlens.fit("dense", x_small, epochs=1, batch_size=64, encoding_dim=2, seed=0, verbose=0,
                    validation_data=x_val, tap_storage="host")
    np.testing.assert_allclose(run.z(split="validation"), zlens.encode(run.model, x_val), atol=1e-6)


def test_a_denoisers_validation_error_compares_with_its_validation_target(x_small, x_val):
    noisy = np.clip(x_small + 0.1, 0, 1)
    noisy_val = np.clip(x_val + 0.1, 0, 1)
    run = zlens.fit("dense", noisy, y=x_small, epochs=1, batch_size=64, seed=0, verbose=0,
                    validation_data=(noisy_val, x_val))
    recon = np.asarray(run.model.autoencoder(noisy_val, training=False))
    np.testing.assert_allclose(run.recon_error(split="validation"), ((recon - x_val) ** 2).mean(axis=1), rtol=1e-4,
                               atol=1e-7)
    np.testing.assert_allclose(run.z(split="validation"), zlens.encode(run.model, noisy_val), atol=1e-6)
    with pytest.raises(DataError, match="give validation_data=\\(x_val, y_val\\) with the target"):
        zlens.fit("dense", noisy, y=x_small, epochs=1, verbose=0, validation_data=noisy_val)
