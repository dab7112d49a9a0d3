"""Rows 1 and 2: zlens training with in-flight capture of z every epoch, and with capture off.

Both run the same `TappedAutoencoder` train step on the same prepared, indexed data; "off"
is `fit(capture=None)`: the step skips the scatter and no callback reads or commits buffers.
"""

from __future__ import annotations

import time

from benchmarks.context import Context
from benchmarks.probe import TRAINING, Probe, Row, timed
from benchmarks.work import FEATURES, LATENT, LEARNING_RATE, SEED

#: The zlens settings these rows run with: what `zlens.fit` chooses by default (XLA, up to 64
#: steps per compiled call, samples resident on the device). Passed to `compile`.
ZLENS_SETTINGS = {"jit_compile": True, "steps_per_execution": 64}

ZLENS = Row("zlens", "zlens fit, capture z in-flight", TRAINING,
            "TappedAutoencoder.fit, one epoch per call into one store; scatter + host read + commit")
ZLENS_OFF = Row("zlens-off", "zlens, capture off", TRAINING,
                "same step and data, TappedAutoencoder.fit(capture=None): no scatter, no capture callback")


def compiled_model(ctx: Context, name: str = "zlens_model"):
    """A compiled `TappedAutoencoder(dense(784, 32), taps=("z",))`, built once per name."""
    if name not in ctx.cache:
        import keras

        import zlens

        keras.utils.set_random_seed(SEED)
        model = zlens.TappedAutoencoder(zlens.models.dense(FEATURES, LATENT), taps=("z",))
        model.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE), **ZLENS_SETTINGS)
        ctx.cache[name] = model
    return ctx.cache[name]


def training_data(ctx: Context):
    """The indexed, shuffled-per-epoch training data, prepared once (what `fit(x)` builds)."""
    if "zlens_data" not in ctx.cache:
        from zlens.data.feed import RESIDENT_BYTES, prepare_training_data

        start = time.perf_counter()
        ctx.cache["zlens_data"] = prepare_training_data(
            ctx.x, batch_size=ctx.sizes.batch, seed=SEED, input_shape=(FEATURES,), resident_bytes=RESIDENT_BYTES
        )
        ctx.cache["zlens_prepare_seconds"] = time.perf_counter() - start
    return ctx.cache["zlens_data"]


def capture_probe(ctx: Context) -> Probe:
    """Row 1: one epoch of `TappedAutoencoder.fit` capturing z in-flight (every epoch).

    Each call trains the next epoch (`initial_epoch=k, epochs=k+1`) into the same in-memory
    run writer, so a repetition costs what one epoch of a long `fit` costs: the store is
    created once, and every epoch's z is checked complete, read to the host and committed.
    """
    from zlens.capture.tapped_autoencoder import CAPTURE_CHOICES
    from zlens.run_writer import RunWriter

    model, data = compiled_model(ctx), training_data(ctx)
    info = {"settings": dict(ZLENS_SETTINGS), "prepare_seconds": ctx.cache["zlens_prepare_seconds"]}
    state = {"epoch": 0, "writer": None}

    def epoch():
        k = state["epoch"]
        model.fit(data, initial_epoch=k, epochs=k + 1, capture="in-flight", verbose=0, writer=state["writer"])
        state["epoch"] = k + 1
        if state["writer"] is None:  # the warm-up: check z, then keep one store from now on
            if model.run.z(epoch=-1).shape != (len(ctx.x), LATENT):
                raise RuntimeError("zlens did not capture the complete z")
            state["writer"] = RunWriter.in_memory(model, data, CAPTURE_CHOICES["in-flight"])
            state["epoch"] = 0

    return Probe([ZLENS], timed(epoch, ZLENS.key), info=info)


def capture_off_probe(ctx: Context) -> Probe:
    """Row 2: the same train step and data with capture off (`capture=None`: no scatter, no callback)."""
    model, data = compiled_model(ctx, "zlens_model_off"), training_data(ctx)

    def epoch():
        model.fit(data, epochs=1, verbose=0, capture=None)

    return Probe([ZLENS_OFF], timed(epoch, ZLENS_OFF.key), info={"settings": dict(ZLENS_SETTINGS)})
