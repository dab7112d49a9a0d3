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


def compiled_model(ctx: Context, name: str = "zlens_model", build=None, settings: dict | None = None):
    """A compiled `TappedAutoencoder(build(), taps=("z",))`, built once per name (default
    `build`: the reference `zlens.models.dense(784, 32)`; default `settings`: `ZLENS_SETTINGS`)."""
    if name not in ctx.cache:
        import keras

        import zlens

        keras.utils.set_random_seed(SEED)
        autoencoder = build() if build else zlens.models.dense(FEATURES, LATENT, latent_activation="relu")
        model = zlens.TappedAutoencoder(autoencoder, taps=("z",))
        model.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE), **(settings or ZLENS_SETTINGS))
        ctx.cache[name] = model
    return ctx.cache[name]


def training_data(ctx: Context):
    """The indexed, shuffled-per-epoch training data, prepared once (what `fit(x)` builds)."""
    if "zlens_data" not in ctx.cache:
        from zlens.data.feed import SAMPLE_BUDGET, prepare_training_data

        start = time.perf_counter()
        ctx.cache["zlens_data"] = prepare_training_data(
            ctx.x, batch_size=ctx.sizes.batch, seed=SEED, input_shape=(FEATURES,), sample_budget=SAMPLE_BUDGET
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
    info = {"settings": dict(ZLENS_SETTINGS), "timing": "epochs of one long fit"}
    probe = paced_capture_probe(ctx, ZLENS, compiled_model(ctx), training_data(ctx), info=info)
    info["prepare_seconds"] = ctx.cache["zlens_prepare_seconds"]
    return probe


def paced_capture_probe(ctx: Context, row: Row, model, data, *, writer=None, info: dict | None = None) -> Probe:
    """One epoch per repetition of a long `model.fit(data, capture="in-flight")` (see `capture_probe`).

    Args:
        row: the row it measures.
        model: a compiled `TappedAutoencoder`.
        data: its `TrainingData` (`prepare_training_data`).
        writer: where the epochs go (default: an in-memory store, as `fit` without `run_dir`).
        info: figures reported with the row.
    """
    writer = writer or memory_writer(model, data)
    pacer = EpochPacer(lambda pace: planned_fit(model, data, epochs=_epochs_needed(ctx), capture="in-flight",
                                                writer=writer, callbacks=pace),
                       settle=writer.flush)  # the epoch's background store write counts in its time
    state = {"checked": False}

    def epoch() -> dict[str, float]:
        seconds = pacer.next_epoch()
        if not state["checked"]:  # after the warm-up epoch: z is complete, row i = sample i
            z = writer.as_run().z(epoch=0)
            if z.shape[0] != data.n_samples:
                raise RuntimeError(f"{row.key}: zlens did not capture the complete z ({z.shape})")
            state["checked"] = True
        return {row.key: seconds}

    return Probe([row], epoch, info=info or {}, close=pacer.close)


def capture_off_probe(ctx: Context) -> Probe:
    """Row 2: the same train step and data with capture off (`capture=None`: no scatter, no
    callback), timed the same way: epochs of one long fit."""
    model, data = compiled_model(ctx, "zlens_model_off"), training_data(ctx)
    pacer = EpochPacer(lambda pace: planned_fit(model, data, epochs=_epochs_needed(ctx), capture=None,
                                                callbacks=pace))
    return Probe([ZLENS_OFF], lambda: {ZLENS_OFF.key: pacer.next_epoch()},
                 info={"settings": dict(ZLENS_SETTINGS), "timing": "epochs of one long fit"}, close=pacer.close)


def planned_fit(model, data, *, epochs: int, capture: str | None, callbacks, writer=None):
    """What `model.fit(x, capture=...)` runs once it has prepared `data` and planned the fit
    (`zlens.capture.fit_plan`): the data is prepared once for every repetition, outside the timing.
    `writer` receives the captured epochs (`memory_writer`; None with capture=None)."""
    from zlens.capture.fit_plan import plan_fit

    plan = plan_fit(model, data, capture=capture, jit_compile=model.jit_compile,
                    steps_per_execution=model.steps_per_execution, strategy=None)
    return model._fit_planned(data, plan, writer, epochs=epochs, callbacks=callbacks, verbose=0)


def memory_writer(model, data):
    """An in-memory store for the in-flight z of `model` on `data` (what `fit` without `run_dir` writes to)."""
    from zlens.run_writer import RunWriter

    return RunWriter.in_memory(data.n_samples, model.plan.row_shapes, ("in-flight",))


def _epochs_needed(ctx: Context) -> int:
    """Epochs the paced fit must offer: the warm-up, every repetition, and one to spare."""
    return ctx.sizes.repeats + 2
