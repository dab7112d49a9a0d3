"""Rows 1 and 2: zlens training with in-flight capture of z every epoch, and with capture off.

Both run the same `TappedAutoencoder` train step on the same prepared, indexed data; "off"
is `fit(capture=None)`: the step skips the scatter and no callback reads or commits buffers.
"""

from __future__ import annotations

import time

from benchmarks.context import Context
from benchmarks.epoch_pacer import EpochPacer
from benchmarks.probe import TRAINING, Probe, Row
from benchmarks.work import FEATURES, LATENT, LEARNING_RATE, SEED

#: The zlens settings these rows run with: what `zlens.fit` chooses by default (XLA, up to 64
#: steps per compiled call, samples resident on the device). Passed to `compile`.
ZLENS_SETTINGS = {"jit_compile": True, "steps_per_execution": 64}

ZLENS = Row("zlens", "zlens fit, capture z in-flight", TRAINING,
            "epochs of one long TappedAutoencoder.fit into one store; scatter + check + host read + commit")
ZLENS_OFF = Row("zlens-off", "zlens, capture off", TRAINING,
                "same step, data and timing, fit(capture=None): no scatter, no capture callback")


def compiled_model(ctx: Context, name: str = "zlens_model"):
    """A compiled `TappedAutoencoder(dense(784, 32), taps=("z",))`, built once per name."""
    if name not in ctx.cache:
        import keras

        import zlens

        keras.utils.set_random_seed(SEED)
        model = zlens.TappedAutoencoder(zlens.models.dense(FEATURES, LATENT, latent_activation="relu"), taps=("z",))
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
    """Row 1: one epoch of a long `TappedAutoencoder.fit` capturing z in-flight every epoch.

    One `fit` runs all the epochs (warm-up and repetitions), paced by `EpochPacer`: each
    repetition is one epoch of it, as a user's long run pays it: the step, the scatter, and at
    the end of the epoch the check that every row was written once, the read to the host and
    the commit to the store (which a real run overlaps with the next epoch: here it is waited
    for, so that it is not charged to the rows timed while this fit waits).
    """
    from zlens.capture.tapped_autoencoder import CAPTURE_CHOICES
    from zlens.run_writer import RunWriter

    model, data = compiled_model(ctx), training_data(ctx)
    info = {"settings": dict(ZLENS_SETTINGS), "prepare_seconds": ctx.cache["zlens_prepare_seconds"],
            "timing": "epochs of one long fit"}
    kinds = CAPTURE_CHOICES["in-flight"]
    model._attach_recorder(data, kinds)  # the buffers the store is shaped after (fit would attach them)
    writer = RunWriter.in_memory(model, data, kinds)
    pacer = EpochPacer(lambda pace: model.fit(data, epochs=_epochs_needed(ctx), capture="in-flight", verbose=0,
                                              writer=writer, callbacks=pace),
                       settle=writer.flush)  # the epoch's background store write counts in its time
    state = {"checked": False}

    def epoch() -> float:
        seconds = pacer.next_epoch()
        if not state["checked"]:  # after the warm-up epoch: z is complete, row i = sample i
            if writer.run().z(epoch=0).shape != (len(ctx.x), LATENT):
                raise RuntimeError("zlens did not capture the complete z")
            state["checked"] = True
        return seconds

    return Probe([ZLENS], lambda: {ZLENS.key: epoch()}, info=info, close=pacer.close)


def capture_off_probe(ctx: Context) -> Probe:
    """Row 2: the same train step and data with capture off (`capture=None`: no scatter, no
    callback), timed the same way: epochs of one long fit."""
    model, data = compiled_model(ctx, "zlens_model_off"), training_data(ctx)
    pacer = EpochPacer(lambda pace: model.fit(data, epochs=_epochs_needed(ctx), capture=None, verbose=0,
                                              callbacks=pace))
    return Probe([ZLENS_OFF], lambda: {ZLENS_OFF.key: pacer.next_epoch()},
                 info={"settings": dict(ZLENS_SETTINGS), "timing": "epochs of one long fit"}, close=pacer.close)


def _epochs_needed(ctx: Context) -> int:
    """Epochs the paced fit must offer: the warm-up, every repetition, and one to spare."""
    return ctx.sizes.repeats + 2
