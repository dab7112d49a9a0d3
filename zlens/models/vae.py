"""A variational autoencoder: Gaussian encoder (mean, log-variance), reparameterised sample, KL term."""

from __future__ import annotations

import keras
from keras import ops

from zlens.models._checks import check_encoding_dim, check_positive


@keras.saving.register_keras_serializable(package="zlens")
class GaussianSample(keras.layers.Layer):
    """Draw z = mean + exp(log_var / 2) * eps and add the KL term to the model's losses.

    The KL divergence to N(0, I) is summed over the latent axis, averaged over the batch and
    divided by the input width, so it is on the scale of a per-feature MSE; `beta` weights it.
    It samples in inference mode too: the `z_sample` tap is always a sample, `z_mean` the mean.
    """

    def __init__(self, beta: float = 1.0, input_dim: int = 1, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.beta = float(beta)
        self.input_dim = int(input_dim)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs):
        mean, log_var = inputs
        eps = keras.random.normal(ops.shape(mean), seed=self.seed_generator)
        kl = -0.5 * ops.sum(1.0 + log_var - ops.square(mean) - ops.exp(log_var), axis=-1)
        self.add_loss(self.beta * ops.mean(kl) / self.input_dim)
        return mean + ops.exp(0.5 * log_var) * eps

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {**super().get_config(), "beta": self.beta, "input_dim": self.input_dim, "seed": self.seed}


def vae(
    input_dim: int,
    encoding_dim: int = 2,
    *,
    hidden: int = 128,
    beta: float = 1.0,
    seed: int | None = None,
    name: str = "vae",
) -> keras.Model:
    """A dense VAE whose taps are `z_mean`, `z_log_var` and `z_sample`; z is the mean.

    Encoder `input_dim -> hidden (relu) -> (z_mean, z_log_var)`; `z_sample` is the
    reparameterised sample the decoder reads (`hidden`, relu; `input_dim`, sigmoid). The loss
    is the reconstruction MSE plus `beta` times the KL term (see `GaussianSample`).

    Args:
        input_dim: features per sample.
        encoding_dim: latent size d (default 2, for plotting).
        hidden: hidden width (default 128).
        beta: weight of the KL term (default 1.0).
        seed: seed of the sampling noise.
        name: the model's name.

    Example:
        >>> run = zlens.fit(zlens.models.vae(64), x, epochs=3, taps=("z_mean", "z_log_var", "z_sample"))
        >>> run.tap("z_log_var").shape
        (1797, 2)
    """
    check_positive("input_dim", input_dim)
    check_encoding_dim(encoding_dim)
    check_positive("hidden", hidden)
    inputs = keras.Input(shape=(input_dim,), name="x")
    h = keras.layers.Dense(hidden, activation="relu", name="encoder_hidden")(inputs)
    mean = keras.layers.Dense(encoding_dim, name="z_mean")(h)
    log_var = keras.layers.Dense(encoding_dim, name="z_log_var")(h)
    z = GaussianSample(beta=beta, input_dim=input_dim, seed=seed, name="z_sample")([mean, log_var])
    h = keras.layers.Dense(hidden, activation="relu", name="decoder_hidden")(z)
    outputs = keras.layers.Dense(input_dim, activation="sigmoid", name="reconstruction")(h)
    return keras.Model(inputs, outputs, name=name)
