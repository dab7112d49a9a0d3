"""An autoencoder made of the user's own encoder and decoder models, as they wrote them."""

from __future__ import annotations

import keras


@keras.saving.register_keras_serializable(package="zlens")
class EncoderDecoder(keras.Model):
    """`decoder(encoder(x))`: an encoder and a decoder joined, each as written (Sequential,
    functional or subclassed, with or without an Input layer; built on the first batch).

    When the encoder returns several outputs (a VAE's `[z_mean, z_log_var, z]`), the decoder
    reads the first; its latent for zlens is the `encoder` attribute's first output.

    Args:
        encoder: a Keras model (or layer) from a sample to z.
        decoder: a Keras model (or layer) from z to the reconstruction.

    Example:
        >>> ae = EncoderDecoder(keras.Sequential([keras.layers.Dense(2)]),
        ...                     keras.Sequential([keras.layers.Dense(4)]))
        >>> ae(np.zeros((3, 4))).shape
        TensorShape([3, 4])
    """

    def __init__(self, encoder: keras.layers.Layer, decoder: keras.layers.Layer, **kwargs) -> None:
        super().__init__(**kwargs)
        self.encoder = encoder
        self.decoder = decoder

    def call(self, x, training=None):
        z = self.encoder(x, training=training)
        if isinstance(z, (list, tuple)):
            z = z[0]
        return self.decoder(z, training=training)

    def get_config(self):
        return {
            **super().get_config(),
            "encoder": keras.saving.serialize_keras_object(self.encoder),
            "decoder": keras.saving.serialize_keras_object(self.decoder),
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        for part in ("encoder", "decoder"):
            config[part] = keras.saving.deserialize_keras_object(config[part], custom_objects=custom_objects)
        return cls(**config)
