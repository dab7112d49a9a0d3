"""What capturing z costs per epoch, part by part: epochs of long fits, paced side by side.

`python -m benchmarks.capture_cost [--rows N] [--repeats R]` trains three identical models in
one process, each in one long `fit` held epoch by epoch (`EpochPacer`), and times their epochs
in turn: capture off; capture in-flight into an in-memory store (what the suite's zlens row
does); and capture in-flight with the store write left out (a writer that commits no latents:
the step's scatter, the end-of-epoch check and the host read remain); and capture in-flight
on Keras' own multi-step loop instead of zlens' compiled one (`TappedAutoencoder.compiled_loop
= False`, see `zlens/capture/resident_loop.py`). The paired ratios to "off" (each repetition's
epochs run back to back) split the capture's cost into the capture itself and the store write,
and show what the compiled loop saves.
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
    from zlens.data.feed import RESIDENT_BYTES, prepare_training_data
    from zlens.run_writer import FollowerWriter, RunWriter

    x = np.random.default_rng(SEED).random((args.rows, FEATURES), dtype=np.float32)
    data = prepare_training_data(x, batch_size=256, seed=SEED, resident_bytes=RESIDENT_BYTES)
    epochs = args.repeats + 2

    def model():
        m = zlens.TappedAutoencoder(zlens.models.dense(FEATURES, LATENT), taps=("z",))
        m.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE), jit_compile=True, steps_per_execution=64)
        return m

    def paced(capture, writer_kind, compiled_loop=True):
        m = model()
        m.compiled_loop = compiled_loop
        writer = None
        if capture is not None:
            m._attach_recorder(data, ("in-flight",))  # the buffers the store is shaped after
            writer = RunWriter.in_memory(m, data, ("in-flight",))
            if writer_kind == "no-store-write":
                writer = FollowerWriter(writer.store)  # commits metrics, no latents
        return EpochPacer(lambda pace: m.fit(data, epochs=epochs, capture=capture, verbose=0, callbacks=pace,
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


if __name__ == "__main__":
    main()
