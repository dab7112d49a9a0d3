"""`python -m benchmarks.epoch_times`: every epoch's time of one plain fit (no pacer, no other row)
on an in-memory array past the sample budget: the figure that tells a stall of the training
path from one of the benchmark's paced fits.

    python -m benchmarks.epoch_times --rows 50000 --epochs 25
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.work import FEATURES, LATENT, SEED


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--epochs", type=int, default=25)
    args = parser.parse_args(argv)

    import keras

    import zlens
    from benchmarks.rows_zlens import planned_fit
    from zlens.data.feed import prepare_training_data
    from zlens.run_writer import RunWriter
    from zlens.store import LatentStore

    x = np.random.default_rng(SEED).random((args.rows, FEATURES), dtype=np.float32)
    model = zlens.TappedAutoencoder(zlens.models.dense(FEATURES, LATENT, latent_activation="relu"), taps=("z",))
    model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=True, steps_per_execution=64)
    data = prepare_training_data(x, batch_size=256, seed=SEED, sample_budget=0)  # past the budget: tf.data feed
    store = LatentStore.create(Path(tempfile.mkdtemp()) / "z.zarr", n_samples=len(x), taps=model.plan.row_shapes,
                               kinds=["in-flight"])
    times: list[float] = []

    class EpochClock(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - self.start)

    planned_fit(model, data, epochs=args.epochs, capture="in-flight", writer=RunWriter(store),
                callbacks=[EpochClock()])
    print("epoch seconds:", " ".join(f"{t:.3f}" for t in times))
    later = times[1:] or times
    print(f"after the first: min {min(later):.3f}, median {np.median(later):.3f}, max {max(later):.3f}")


if __name__ == "__main__":
    main()
