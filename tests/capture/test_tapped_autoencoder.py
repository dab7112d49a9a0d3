"""The Keras path: a user's own autoencoder through compile / fit / callbacks / save / load."""

import csv

import keras
import numpy as np
import pytest

import zlens


def _user_autoencoder(d_in=12, d=3):
    inputs = keras.Input((d_in,))
    h = keras.layers.Dense(16, activation="relu")(inputs)
    h = keras.layers.BatchNormalization()(h)
    h = keras.layers.Dropout(0.2)(h)
    z = keras.layers.Dense(d, name="bottleneck")(h)
    h = keras.layers.Dense(16, activation="relu")(z)
    out = keras.layers.Dense(d_in, activation="sigmoid")(h)
    return keras.Model(inputs, out, name="users_ae")


def test_user_model_with_batchnorm_dropout_and_the_four_callbacks(x_small, tmp_path):
    keras.utils.set_random_seed(0)
    model = zlens.TappedAutoencoder(_user_autoencoder(), latent="bottleneck", taps=("z", "recon_error"))
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    x_val = x_small[:20]
    callbacks = [
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=50),
        keras.callbacks.ModelCheckpoint(tmp_path / "best.keras", monitor="val_loss", save_best_only=True),
        keras.callbacks.CSVLogger(tmp_path / "log.csv"),
        keras.callbacks.TensorBoard(log_dir=tmp_path / "tb"),
    ]
    history = model.fit(x_small, epochs=3, batch_size=16, validation_data=(x_val, x_val),
                        callbacks=callbacks, capture="both", verbose=0)
    assert len(history.history["val_loss"]) == 3
    run = model.run
    assert run.epochs == [0, 1, 2]
    assert run.z().shape == (101, 3) and run.recon_error().shape == (101,)
    # BatchNorm moving statistics and no dropout: the consistent z is the model's inference encoder
    np.testing.assert_allclose(run.z(kind="consistent"), model.encoder(x_small, training=False).numpy(),
                               rtol=1e-5, atol=1e-5)
    # training mode (dropout, batch statistics) makes in-flight differ
    assert run.history["z_drift_max"][-1] > 0
    rows = list(csv.DictReader(open(tmp_path / "log.csv")))
    assert [r["epoch"] for r in rows] == ["0", "1", "2"] and "z_drift_max" in rows[0]
    assert any((tmp_path / "tb").rglob("events.out.tfevents*"))
    best = keras.models.load_model(tmp_path / "best.keras")
    assert isinstance(best, zlens.TappedAutoencoder)

    model.save(tmp_path / "final.keras")
    loaded = keras.models.load_model(tmp_path / "final.keras")
    assert loaded.latent == "bottleneck" and loaded.taps == ("z", "recon_error")
    np.testing.assert_allclose(zlens.encode(loaded, x_small), zlens.encode(model, x_small), rtol=1e-6)
    np.testing.assert_allclose(loaded.predict(x_small, verbose=0), model.predict(x_small, verbose=0), rtol=1e-6)
    # the loaded model keeps training (compiled with its optimizer state) and captures again
    loaded.fit(x_small, epochs=1, batch_size=16, verbose=0)
    assert loaded.optimizer.iterations.numpy() == model.optimizer.iterations.numpy() + 7


def test_encoder_decoder_pair(x_small):
    enc = keras.Sequential([keras.Input((12,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(2)],
                           name="enc")
    dec = keras.Sequential([keras.Input((2,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(12)],
                           name="dec")
    run = zlens.fit((enc, dec), x_small, epochs=2, batch_size=32, capture="consistent", seed=0)
    np.testing.assert_allclose(run.z(kind="consistent"), enc(x_small).numpy(), rtol=1e-5, atol=1e-6)


def test_early_stopping_still_keeps_the_last_trained_epoch(x_small):
    model = zlens.TappedAutoencoder(zlens.models.dense(12, 2))
    model.compile(optimizer=keras.optimizers.SGD(0.0))
    stop = keras.callbacks.EarlyStopping(monitor="loss", patience=0, min_delta=1.0)
    model.fit(x_small, epochs=10, batch_size=16, capture_every=5, callbacks=[stop], verbose=0)
    assert model.run.history["epoch"] == [0, 1]
    assert model.run.epochs == [1]


def test_a_named_layer_tap(x_small):
    run = zlens.fit("dense", x_small, epochs=1, batch_size=32, taps=("z", "encoder_hidden"), seed=0)
    assert run.tap("encoder_hidden").shape == (101, 128)


def test_classic_tape_trick_returns_a_gradient_not_z(x_small):
    """The forum answer: watch the latent in a nested GradientTape and take a gradient.

    It yields dLoss/dz, not z: a different matrix, so it cannot stand in for z. On Keras 3 a
    layer's symbolic output (KerasTensor) cannot even be watched; this is why zlens taps the
    value inside the step instead.
    """
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    ae = zlens.models.dense(12, 3)
    both = keras.Model(ae.input, [ae.output, ae.get_layer("z").output])
    x = tf.constant(x_small)
    with tf.GradientTape():  # the outer tape of the classic answer
        with tf.GradientTape() as inner:
            reconstruction, z = both(x)
            inner.watch(z)
            loss = tf.reduce_mean(tf.square(reconstruction - x))
        trick = inner.gradient(loss, z)
    assert trick.shape == z.shape
    assert not np.allclose(trick.numpy(), z.numpy(), atol=1e-3)
    assert trick.numpy() is not None and np.abs(trick.numpy()).max() < np.abs(z.numpy()).max()
    with pytest.raises(ValueError, match="KerasTensor"):
        with tf.GradientTape() as tape:
            tape.watch(ae.get_layer("z").output)  # a KerasTensor: not a value, not watchable


def test_vae_taps_mean_log_variance_and_sample(x_small):
    run = zlens.fit(zlens.models.vae(12, 2, seed=0), x_small, epochs=2, batch_size=16, seed=0,
                    capture="both", taps=("z", "z_mean", "z_log_var", "z_sample", "recon_error"))
    mean, log_var, sample = (run.tap(t, kind="consistent") for t in ("z_mean", "z_log_var", "z_sample"))
    np.testing.assert_array_equal(run.z(kind="consistent"), mean)  # a VAE's z is its mean
    assert not np.allclose(mean, sample) and not np.allclose(mean, log_var)
    # the sample is mean + sigma * eps with eps ~ N(0, 1)
    eps = (sample - mean) / np.exp(0.5 * log_var)
    assert abs(eps.mean()) < 0.2 and 0.8 < eps.std() < 1.2
    # the KL term is part of the loss: a VAE's loss exceeds its reconstruction error
    assert run.history["loss"][-1] > run.recon_error(kind="in-flight").mean()


def test_capture_none_trains_without_buffers(x_small):
    model = zlens.TappedAutoencoder(zlens.models.dense(12, 2))
    model.compile()
    model.fit(x_small, epochs=1, batch_size=32, verbose=0)
    assert model.run is not None
    history = model.fit(x_small, epochs=2, batch_size=32, capture=None, verbose=0)
    assert model.run is None and len(history.history["loss"]) == 2
    model.fit(x_small, epochs=1, batch_size=32, verbose=0)  # and capture comes back
    assert model.run.z().shape == (101, 2)
