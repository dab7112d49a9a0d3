"""A convolutional autoencoder for image-shaped input (H, W) or (H, W, C)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import keras

from zlens.errors import ModelError
from zlens.models._checks import check_encoding_dim, check_positive


def conv(
    input_shape: Sequence[int] = (28, 28, 1),
    encoding_dim: int = 16,
    *,
    filters: Sequence[int] = (16, 32),
    name: str = "conv_autoencoder",
) -> keras.Model:
    """A small convolutional autoencoder whose dense bottleneck is the latent layer `"z"`.

    Each entry of `filters` adds a stride-2 3x3 convolution (relu) to the encoder and a
    stride-2 transposed convolution to the decoder; a sigmoid 3x3 convolution restores the
    channels. Sides that are not a multiple of 2**len(filters) are zero-padded on the way in
    and cropped on the way out, so any image size works. `(H, W)` input (no channel axis)
    is accepted and returned as `(H, W)`.

    Args:
        input_shape: `(H, W)` or `(H, W, C)` of one image.
        encoding_dim: size d of z (default 16).
        filters: channels of each downsampling stage (default (16, 32)).
        name: the model's name.

    Example:
        >>> model = zlens.models.conv((8, 8), encoding_dim=4)
        >>> model.output.shape
        (None, 8, 8)
    """
    shape = tuple(input_shape)
    if len(shape) not in (2, 3) or not all(isinstance(s, int) and s >= 1 for s in shape):
        raise ModelError(f"input_shape must be (H, W) or (H, W, C) of positive ints; got {input_shape!r}.")
    check_encoding_dim(encoding_dim)
    for f in filters:
        check_positive("filters", f)
    h, w = shape[:2]
    channels = shape[2] if len(shape) == 3 else 1
    step = 2 ** len(filters)
    ph, pw = math.ceil(h / step) * step, math.ceil(w / step) * step

    inputs = keras.Input(shape=shape, name="x")
    t = inputs if len(shape) == 3 else keras.layers.Reshape((h, w, 1), name="add_channel")(inputs)
    if (ph, pw) != (h, w):
        t = keras.layers.ZeroPadding2D(((0, ph - h), (0, pw - w)), name="pad")(t)
    for i, f in enumerate(filters):
        t = keras.layers.Conv2D(f, 3, strides=2, padding="same", activation="relu", name=f"encoder_conv{i}")(t)
    inner = (ph // step, pw // step, filters[-1])
    t = keras.layers.Flatten(name="flatten")(t)
    z = keras.layers.Dense(encoding_dim, name="z")(t)
    t = keras.layers.Dense(math.prod(inner), activation="relu", name="decoder_dense")(z)
    t = keras.layers.Reshape(inner, name="unflatten")(t)
    for i, f in enumerate(reversed(filters)):
        t = keras.layers.Conv2DTranspose(f, 3, strides=2, padding="same", activation="relu",
                                         name=f"decoder_deconv{i}")(t)
    t = keras.layers.Conv2D(channels, 3, padding="same", activation="sigmoid", name="decoder_out")(t)
    if (ph, pw) != (h, w):
        t = keras.layers.Cropping2D(((0, ph - h), (0, pw - w)), name="crop")(t)
    outputs = t if len(shape) == 3 else keras.layers.Reshape((h, w), name="reconstruction")(t)
    return keras.Model(inputs, outputs, name=name)
