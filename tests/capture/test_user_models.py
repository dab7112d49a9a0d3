"""The autoencoders people copy, as written: the forum answer's class, TensorFlow's tutorial
models, the Keras example VAE with its own train_step, a denoiser, a classifier. Each gives the
complete, aligned z after shuffled training with a partial last batch."""

import keras
import numpy as np
import pytest
from user_models import (
    VAE,
    ForumAutoencoder,
    TutorialAutoencoder,
    TutorialDenoise,
    build_vae_decoder,
    build_vae_encoder,
)

import zlens
from zlens.errors import ModelError


@pytest.fixture
def x_784():
    """203 flat samples of 784 features in [0, 1]: batch 64 leaves a partial last batch of 11."""
    return np.random.default_rng(1).random((203, 784), dtype=np.float32)


@pytest.fixture
def images():
    """97 images 28 x 28 x 1 in [0, 1] (97 is prime: every batch size leaves a partial batch)."""
    return np.random.default_rng(2).random((97, 28, 28, 1), dtype=np.float32)


def test_the_forum_class_as_written(x_784):
    keras.utils.set_random_seed(0)
    model = ForumAutoencoder(latent_dim=32)  # no Input layers: built by zlens from the data
    run = zlens.fit(model, x_784, epochs=2, batch_size=64, capture="both", seed=0)
    z = run.z(kind="consistent")
    assert z.shape == (203, 32) and run.tap("recon_error").shape == (203,)
    np.testing.assert_allclose(z, model.encoder(x_784, training=False).numpy(), rtol=1e-5, atol=1e-6)
    decoded, _ = model(x_784)
    np.testing.assert_allclose(run.recon_error(kind="consistent"),
                               np.mean((decoded.numpy() - x_784) ** 2, axis=1), rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(zlens.encode(run.model, x_784), z, rtol=1e-5, atol=1e-6)


def test_the_forum_class_at_learning_rate_zero_in_flight_is_consistent(x_784):
    keras.utils.set_random_seed(0)
    run = zlens.fit(ForumAutoencoder(8), x_784, epochs=2, batch_size=64, capture="both", seed=0,
                    optimizer=keras.optimizers.SGD(0.0))
    np.testing.assert_allclose(run.z(kind="in-flight"), run.z(kind="consistent"), rtol=1e-5, atol=1e-6)
    assert run.history["z_drift_max"][-1] < 1e-5


def test_the_forum_pair_passed_as_encoder_and_decoder(x_784):
    keras.utils.set_random_seed(0)
    ae = ForumAutoencoder(16)
    run = zlens.fit((ae.encoder, ae.decoder), x_784, epochs=1, batch_size=64, capture="consistent", seed=0)
    np.testing.assert_allclose(run.z(kind="consistent"), ae.encoder(x_784).numpy(), rtol=1e-5, atol=1e-6)


def test_the_tutorial_autoencoder_on_images_with_its_own_compile(images):
    keras.utils.set_random_seed(0)
    model = TutorialAutoencoder(16, images.shape[1:])
    model.compile(optimizer="adam", loss=keras.losses.MeanSquaredError())
    run = zlens.fit(model, images, epochs=2, batch_size=32, capture="both", seed=0)
    assert run.model.optimizer is model.optimizer  # their compile stays theirs
    np.testing.assert_allclose(run.z(kind="consistent"), model.encoder(images, training=False).numpy(),
                               rtol=1e-5, atol=1e-6)
    assert run.tap("recon_error", kind="consistent").shape == (97,)


def test_the_tutorial_denoiser_trained_on_noisy_in_clean_out(images):
    keras.utils.set_random_seed(0)
    noisy = np.clip(images + 0.2 * np.random.default_rng(3).normal(size=images.shape), 0, 1).astype("float32")
    model = TutorialDenoise()
    run = zlens.fit(model, noisy, y=images, epochs=2, batch_size=32, capture="both", seed=0)
    z = run.z(kind="consistent")
    assert z.shape == (97, 7, 7, 8)
    np.testing.assert_allclose(z, model.encoder(noisy).numpy(), rtol=1e-5, atol=1e-6)  # z of what went in
    assert not np.allclose(z, model.encoder(images).numpy(), atol=1e-3)
    expected = np.mean((model(noisy).numpy() - images) ** 2, axis=(1, 2, 3))  # error against the clean target
    np.testing.assert_allclose(run.recon_error(kind="consistent"), expected, rtol=1e-4, atol=1e-7)


def test_the_keras_example_vae_with_its_own_train_step(images):
    keras.utils.set_random_seed(0)
    vae = VAE(build_vae_encoder(2), build_vae_decoder(2))
    vae.compile(optimizer=keras.optimizers.Adam())
    sampling = vae.encoder.layers[-1].name  # the Sampling layer's own name ("sampling", "sampling_1", ...)
    run = zlens.fit(vae, images, epochs=2, batch_size=32, capture="both", seed=0,
                    taps=("z", "z_log_var", sampling, "recon_error"))
    assert {"loss", "kl_loss", "reconstruction_loss"} <= set(run.history)
    assert all(v > 0 for v in run.history["kl_loss"])
    z_mean, z_log_var, _ = vae.encoder(images, training=False)
    np.testing.assert_allclose(run.z(kind="consistent"), z_mean.numpy(), rtol=1e-5, atol=1e-6)  # z is the mean
    np.testing.assert_allclose(run.tap("z_log_var", kind="consistent"), z_log_var.numpy(), rtol=1e-5, atol=1e-6)
    sample, mean = run.tap(sampling, kind="in-flight"), run.z(kind="in-flight")
    assert not np.allclose(sample, mean, atol=1e-3)  # the sample is not the mean
    eps = (sample - mean) / np.exp(0.5 * run.tap("z_log_var", kind="in-flight"))
    assert abs(eps.mean()) < 0.3 and 0.7 < eps.std() < 1.3  # mean + sigma * N(0, 1), row by row


def test_the_vae_step_sees_the_data_keras_gives_it(images):
    """Its own train_step receives the batch as Keras' fit would hand it (no index attached)."""
    seen = []

    class Recording(VAE):
        def train_step(self, data):
            seen.append(data)
            return super().train_step(data)

    keras.utils.set_random_seed(0)
    vae = Recording(build_vae_encoder(2), build_vae_decoder(2))
    zlens.fit(vae, images, epochs=1, batch_size=32, seed=0)
    assert seen and all(hasattr(d, "shape") and tuple(d.shape[1:]) == (28, 28, 1) for d in seen)


def test_a_classifier_trained_on_labels_captures_its_embedding(x_784):
    keras.utils.set_random_seed(0)
    labels = np.arange(203) % 3
    model = keras.Sequential([keras.layers.Dense(8, activation="relu", name="embedding"),
                              keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    run = zlens.fit(model, x_784, y=labels, latent="embedding", epochs=2, batch_size=64, capture="both", seed=0)
    assert "accuracy" in run.history and len(run.history["accuracy"]) == 2
    assert list(run.taps) == ["z"]  # no reconstruction to compare: no recon_error by default
    embedding = keras.Model(model.inputs[0], model.get_layer("embedding").output)
    np.testing.assert_allclose(run.z(kind="consistent"), embedding(x_784).numpy(), rtol=1e-5, atol=1e-6)
    assert run.epochs == [0, 1]


def test_a_classifier_s_latent_is_the_layer_before_its_output_by_default(x_784):
    model = keras.Sequential([keras.Input((784,)), keras.layers.Dense(4, activation="relu", name="hidden"),
                              keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    run = zlens.fit(model, x_784, y=np.arange(203) % 2, epochs=1, batch_size=64, seed=0)
    assert run.z().shape == (203, 4)


def test_a_subclassed_model_saved_and_loaded(x_784, tmp_path):
    keras.utils.set_random_seed(0)
    model = zlens.TappedAutoencoder(ForumAutoencoder(8))
    model.compile(optimizer="adam")
    model.fit(x_784, epochs=1, batch_size=64, verbose=0)
    model.save(tmp_path / "ae.keras")
    again = keras.models.load_model(tmp_path / "ae.keras")
    np.testing.assert_allclose(zlens.encode(again, x_784), zlens.encode(model, x_784), rtol=1e-6, atol=1e-7)
    again.fit(x_784, epochs=1, batch_size=64, verbose=0)  # and trains on, optimizer state included
    assert again.run.z().shape == (203, 8)


def test_a_subclassed_run_that_failed_is_resumed(x_784, tmp_path):
    class Crash(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 2:
                raise KeyboardInterrupt("killed")

    keras.utils.set_random_seed(0)
    with pytest.raises(KeyboardInterrupt):
        zlens.fit(ForumAutoencoder(8), x_784, epochs=4, batch_size=64, seed=0, run_dir=tmp_path / "run",
                  callbacks=[Crash()])
    run = zlens.resume(tmp_path / "run", x_784)
    assert run.epochs == [0, 1, 2, 3] and run.history["epoch"] == [0, 1, 2, 3]
    np.testing.assert_allclose(zlens.encode(run, x_784), run.model.encoder(x_784).numpy(), rtol=1e-5, atol=1e-6)


def test_a_model_with_no_findable_latent_gets_one_line():
    class Plain(keras.Model):
        def __init__(self):
            super().__init__()
            self.a = keras.layers.Dense(4)
            self.b = keras.layers.Dense(6)

        def call(self, x):
            return self.b(self.a(x))

    with pytest.raises(ModelError, match=r"cannot tell where the latent z.*Pass latent=") as err:
        zlens.fit(Plain(), np.zeros((10, 6), "float32"), epochs=1)
    assert "\n" not in str(err.value)
    # an attribute path: fine
    run = zlens.fit(Plain(), np.zeros((10, 6), "float32"), epochs=1, latent="a", batch_size=4)
    assert run.z().shape == (10, 4)


def test_recon_error_asked_of_a_classifier_is_refused_in_one_line(x_784):
    model = keras.Sequential([keras.Input((784,)), keras.layers.Dense(4, name="embedding"),
                              keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    with pytest.raises(ModelError, match=r"recon_error.*shapes differ.*leave 'recon_error' out") as err:
        zlens.fit(model, x_784, y=np.arange(203) % 3, taps=("z", "recon_error"), epochs=1)
    assert "\n" not in str(err.value)


def test_a_refused_recon_error_leaves_no_run_directory_behind(x_784, tmp_path):
    model = keras.Sequential([keras.Input((784,)), keras.layers.Dense(4, name="embedding"),
                              keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    with pytest.raises(ModelError, match="recon_error"):
        zlens.fit(model, x_784, y=np.arange(203) % 3, taps=("z", "recon_error"), epochs=1, run_dir=tmp_path / "run")
    assert not (tmp_path / "run").exists()  # refused while planning, before anything is written
