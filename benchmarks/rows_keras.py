"""Row 4 and a Keras encode row: plain `keras.Model.fit` plus an encoder `predict` per epoch.

The standard answer for aligned rows: train with `fit` on the arrays, then `predict` the
encoder over the whole data after every epoch (one extra forward pass per epoch).
"""

from __future__ import annotations

from benchmarks.context import Context
from benchmarks.probe import ENCODE, TRAINING, Probe, Row, timed
from benchmarks.work import FEATURES, LATENT, LEARNING_RATE, SEED

KERAS = Row("keras", "keras fit + encoder predict", TRAINING,
            "fit(x, x, epochs=1, shuffle=True) then encoder.predict(x, batch_size=batch)")
KERAS_PREDICT = Row("encode-keras", "keras encoder.predict", ENCODE, "predict(x, batch_size=encode_batch)")


def fit_predict_probe(ctx: Context) -> Probe:
    """One epoch of `fit` on the arrays, then `predict` of the encoder over all of x."""
    import keras

    import zlens

    keras.utils.set_random_seed(SEED)
    model = zlens.models.dense(FEATURES, LATENT, latent_activation="relu")  # a plain keras.Model: same layers as zlens'
    model.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE), loss="mse")
    encoder = keras.Model(model.input, model.get_layer("z").output)
    x, batch = ctx.x, ctx.sizes.batch

    def epoch():
        model.fit(x, x, batch_size=batch, epochs=1, shuffle=True, verbose=0)
        return encoder.predict(x, batch_size=batch, verbose=0)

    return Probe([KERAS], timed(epoch, KERAS.key))


def predict_probe(ctx: Context) -> Probe:
    """Keras `predict` of the zlens model's encoder over x (the encode comparison)."""
    from benchmarks.rows_zlens import compiled_model

    encoder = compiled_model(ctx).encoder
    x, batch = ctx.x, ctx.sizes.encode_batch
    return Probe([KERAS_PREDICT], timed(lambda: encoder.predict(x, batch_size=batch, verbose=0), KERAS_PREDICT.key))
