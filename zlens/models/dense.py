"""The classic dense autoencoder: input -> 128 -> d (relu), decoder d -> 128 -> input (sigmoid)."""

from __future__ import annotations

import keras

from zlens.models._checks import check_encoding_dim, check_positive


def dense(
    input_dim: int,
    encoding_dim: int = 32,
    *,
    hidden: int = 128,
    latent_activation: str | None = None,
    name: str = "dense_autoencoder",
) -> keras.Model:
    """The dense autoencoder of the classic Keras example, for inputs of any width.

    Encoder: `input_dim -> hidden` (relu) `-> encoding_dim` (linear by default); decoder:
    `encoding_dim -> hidden -> input_dim`, relu then sigmoid (so inputs are expected in [0, 1]).
    The latent layer is named `"z"`, which is where zlens taps z. The classic example's latent
    is relu too (`latent_activation="relu"`); at a small d its units can die (stuck at 0 for
    every sample: a 2-D scatter becomes a line), so zlens' default code is linear.

    Args:
        input_dim: number of features per sample (784 for flattened MNIST).
        encoding_dim: size d of the latent code z (default 32).
        hidden: width of the hidden layers (default 128).
        latent_activation: activation of z: None for a linear code (default), or "relu" as in
            the classic example (relu units of a small z, d = 2 say, can die: stuck at 0).
        name: the model's name.

    Example:
        >>> model = zlens.models.dense(64, encoding_dim=2)
        >>> model.get_layer("z").output.shape
        (None, 2)
    """
    check_positive("input_dim", input_dim)
    check_encoding_dim(encoding_dim)
    check_positive("hidden", hidden)
    inputs = keras.Input(shape=(input_dim,), name="x")
    h = keras.layers.Dense(hidden, activation="relu", name="encoder_hidden")(inputs)
    z = keras.layers.Dense(encoding_dim, activation=latent_activation, name="z")(h)
    h = keras.layers.Dense(hidden, activation="relu", name="decoder_hidden")(z)
    outputs = keras.layers.Dense(input_dim, activation="sigmoid", name="reconstruction")(h)
    return keras.Model(inputs, outputs, name=name)
