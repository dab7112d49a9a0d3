"""Row 3: the classic custom loop: a `tf.function` step returning z, `.numpy()` per batch.

The common answer to "how do I get z while training": the step returns `(loss, z)`, every
batch's z is copied to the host, and the epoch's rows are concatenated (in shuffled order:
nothing ties a row to its sample, which is the alignment this loop does not give).
"""

from __future__ import annotations

import numpy as np

from benchmarks.context import Context
from benchmarks.probe import TRAINING, Probe, Row, timed
from benchmarks.work import FEATURES, LATENT, LEARNING_RATE, SEED

CLASSIC = Row("classic", "classic loop, .numpy() per batch", TRAINING,
              "tf.function step -> (loss, z); from_tensor_slices.shuffle(N).batch; np.concatenate")


def classic_probe(ctx: Context) -> Probe:
    """One epoch of the classic loop over `from_tensor_slices(x).shuffle(N).batch(batch)`."""
    import keras
    import tensorflow as tf

    import zlens

    keras.utils.set_random_seed(SEED)
    autoencoder = zlens.models.dense(FEATURES, LATENT, latent_activation="relu")
    model = keras.Model(autoencoder.input, [autoencoder.output, autoencoder.get_layer("z").output])
    optimizer = keras.optimizers.Adam(LEARNING_RATE)
    dataset = tf.data.Dataset.from_tensor_slices(ctx.x).shuffle(len(ctx.x)).batch(ctx.sizes.batch)

    @tf.function
    def step(xb):
        with tf.GradientTape() as tape:
            reconstruction, z = model(xb, training=True)
            loss = tf.reduce_mean(tf.square(xb - reconstruction))  # MSE, as Keras computes it
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss, z

    def epoch():
        return np.concatenate([step(xb)[1].numpy() for xb in dataset])

    return Probe([CLASSIC], timed(epoch, CLASSIC.key))
