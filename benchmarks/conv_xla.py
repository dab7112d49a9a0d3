"""Epoch time of `zlens.models.conv` with and without XLA, on this machine: why `jit_compile="auto"`
leaves XLA off for convolutional models when there is no GPU (`zlens/capture/fit_plan.py`, `resolve_jit`).

    python -m benchmarks.conv_xla [--n 3000] [--epochs 3]

Prints each setting's epoch times (the first includes compiling) and the median of the rest.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.conv_xla", description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=3000, help="28x28x1 images (default 3000)")
    parser.add_argument("--epochs", type=int, default=3, help="epochs per setting (default 3)")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    import numpy as np

    import zlens

    x = np.random.default_rng(0).random((args.n, 28, 28, 1), dtype=np.float32)
    for jit in (False, True, "auto"):
        timer = _epoch_timer(keras)
        zlens.fit("conv", x, epochs=args.epochs, batch_size=128, seed=0, verbose=0, jit_compile=jit, callbacks=[timer])
        times = timer.times
        rest = statistics.median(times[1:]) if len(times) > 1 else times[0]
        shown = ", ".join(f"{t:.2f}" for t in times)
        print(f"jit_compile={jit!s:5}  epochs {shown} s  median after the first {rest:.2f} s")


def _epoch_timer(keras):
    """A Keras callback that keeps each epoch's wall time in `times`."""

    class EpochTimer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.times: list[float] = []

        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.times.append(time.perf_counter() - self.start)

    return EpochTimer()

if __name__ == "__main__":
    main()
