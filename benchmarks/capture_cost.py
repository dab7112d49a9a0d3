"""What capturing z costs per epoch, part by part: epochs of long fits, paced side by side.

`python -m benchmarks.capture_cost [--rows N] [--repeats R]` trains three identical models in
one process, each in one long `fit` held epoch by epoch (`EpochPacer`), and times their epochs
in turn: capture off; capture in-flight into an in-memory store (what the suite's zlens row
does); and capture in-flight with the store write left out (a writer that commits no latents:
the step's scatter, the end-of-epoch check and the host read remain); and capture in-flight
on Keras' own multi-step loop instead of zlens' compiled one (`TappedAutoencoder.compiled_loop
= False`, see `zlens/capture/resident_loop.py`). The paired ratios to "off" (each repetition's
epochs run back to back) split the capture's cost into the capture itself and the store write,
and show what the compiled loop saves. Last, it times the capture's end-of-epoch parts one by
one on the trained in-memory-store model: the completeness check, the host read of z, and the
store commit (which a real run overlaps with the next epoch and the suite waits for).
"""

from __future__ import annotations

import argparse

import numpy as np

from benchmarks.epoch_pacer import EpochPacer
from benchmarks.work import FEATURES, LATENT, LEARNING_RATE, SEED


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.capture_cost", description=__doc__)
    parser.add_argument("--rows", type=int, default=60_000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)

    import keras

    import zlens
    from benchmarks.rows_zlens import memory_writer, planned_fit
    from zlens.data.feed import SAMPLE_BUDGET, prepare_training_data
    from zlens.run_writer import FollowerWriter

    x = np.random.default_rng(SEED).random((args.rows, FEATURES), dtype=np.float32)
    data = prepare_training_data(x, batch_size=256, seed=SEED, sample_budget=SAMPLE_BUDGET)
    epochs = args.repeats + 2

    def model():
        m = zlens.TappedAutoencoder(zlens.models.dense(FEATURES, LATENT, latent_activation="relu"), taps=("z",))
        m.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE), jit_compile=True, steps_per_execution=64)
        return m

    trained = {}

    def paced(capture, writer_kind, compiled_loop=True):
        m = model()
        m.compiled_loop = compiled_loop
        writer = None
        if capture is not None:
            writer = memory_writer(m, data)
            if writer_kind == "no-store-write":
                writer = FollowerWriter(writer.store)  # commits metrics, no latents
            elif compiled_loop:
                trained.update(model=m, writer=writer)
        return EpochPacer(lambda pace: planned_fit(m, data, epochs=epochs, capture=capture, callbacks=pace,
                                                   writer=writer), settle=None if writer is None else writer.flush)

    pacers = {
        "capture off": paced(None, None),
        "capture in-flight, in-memory store": paced("in-flight", "store"),
        "capture in-flight, store write left out": paced("in-flight", "no-store-write"),
        "capture in-flight, Keras' own step loop": paced("in-flight", "store", compiled_loop=False),
    }
    times: dict[str, list[float]] = {name: [] for name in pacers}
    for pacer in pacers.values():
        pacer.next_epoch()  # warm-up: tracing and compiling
    for _ in range(args.repeats):
        for name, pacer in pacers.items():
            times[name].append(pacer.next_epoch())
    for pacer in pacers.values():
        pacer.close()
    off = np.array(times["capture off"])
    print(f"capture cost: N={args.rows} x {FEATURES}, z of {LATENT}, batch 256, {args.repeats} repetitions "
          "(epochs of one long fit each)")
    for name, ts in times.items():
        paired = float(np.median(np.array(ts) / off))
        print(f"  {name:<42} median {np.median(ts):6.3f} s   paired ratio to off {paired:6.3f}")
    print("end-of-epoch parts (median of 9, milliseconds):")
    for name, ms in end_of_epoch_parts(trained["model"], trained["writer"], first_epoch=epochs).items():
        print(f"  {name:<42} {ms:7.1f} ms")


def end_of_epoch_parts(model, writer, first_epoch: int, repeats: int = 9) -> dict[str, float]:
    """Milliseconds of each part of the capture's work at the end of an epoch (medians)."""
    import time

    import tensorflow as tf

    recorder = model._recorder
    for buffer in recorder.buffers["in-flight"].values():  # as a complete epoch leaves them (the paced
        buffer.counts.assign(tf.ones_like(buffer.counts))  # fit was stopped at an epoch's start)
    times: dict[str, list[float]] = {"completeness check (counts to host)": [], "host read of z": [],
                                     "store commit (in memory)": []}
    for k in range(repeats):
        start = time.perf_counter()
        recorder.check_complete("in-flight")
        middle = time.perf_counter()
        latents = {"in-flight": recorder.read("in-flight")}
        end = time.perf_counter()
        writer.commit_latents(first_epoch + k, latents)
        writer.flush()
        times["completeness check (counts to host)"].append(middle - start)
        times["host read of z"].append(end - middle)
        times["store commit (in memory)"].append(time.perf_counter() - end)
    return {name: 1e3 * float(np.median(ts)) for name, ts in times.items()}


if __name__ == "__main__":
    main()
