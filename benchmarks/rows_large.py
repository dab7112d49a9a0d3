"""Dense training past the resident budget: N=1,000,000 x 784 (3 GB float32), z captured.

Two rows, each in a process of its own: the array in memory (too large to be held on the
device, so zlens gathers each batch from it through `tf.data`) and the same size memory-mapped
from a `.npy` (each batch's rows read from the file). Both train the reference dense model
with capture in-flight into an on-disk store, as a user's run this size would; the table
compares their per-row time with the resident path's at N=60,000 (the zlens row), and reports
the memory-mapped process' peak RSS.
"""

from __future__ import annotations

import numpy as np

from benchmarks.context import Context
from benchmarks.probe import LARGE, Probe, Row
from benchmarks.rows_zlens import ZLENS, compiled_model, paced_capture_probe
from benchmarks.work import FEATURES, SEED, make_data, write_npy
from benchmarks.worker import process_memory

LARGE_MEMORY = Row("large-memory", "zlens fit, array in memory", LARGE,
                   "own process; past the resident budget: batches gathered through tf.data; on-disk store")
LARGE_MEMMAP = Row("large-memmap", "zlens fit, memory-mapped .npy", LARGE,
                   "own process; np.load(mmap_mode='r'): each batch's rows read from the file; on-disk store")
RESIDENT = Row("large-resident", "resident path (zlens row), per row x N", LARGE,
               f"the `{ZLENS.key}` row's epoch (N=n_train, held on the device) x n_large / n_train")


def memory_probe(ctx: Context) -> Probe:
    """One epoch over n_large rows held in this process' memory, past the resident budget."""
    return _probe(ctx, LARGE_MEMORY, make_data(ctx.sizes.n_large))


def memmap_probe(ctx: Context) -> Probe:
    """One epoch over n_large rows memory-mapped from a `.npy`; this process' peak RSS in `info`."""
    path = write_npy(ctx.cache["tmp"] / "large_input.npy", ctx.sizes.n_large, FEATURES)
    probe = _probe(ctx, LARGE_MEMMAP, np.load(path, mmap_mode="r"))
    measure = probe.measure

    def measure_with_memory():
        seconds = measure()
        probe.info.update(process_memory())
        return seconds

    probe.measure = measure_with_memory
    return probe


def _probe(ctx: Context, row: Row, x) -> Probe:
    from zlens.data.feed import prepare_training_data
    from zlens.run_writer import RunWriter
    from zlens.store.latent_store import LatentStore

    model = compiled_model(ctx, row.key)
    data = prepare_training_data(x, batch_size=ctx.sizes.batch, seed=SEED, input_shape=(FEATURES,),
                                 sample_budget=ctx.sizes.large_budget)
    if data.resident is not None:
        raise RuntimeError(f"{row.key}: {x.nbytes:,} bytes fit the budget of {ctx.sizes.large_budget:,}")
    store = LatentStore.create(ctx.cache["tmp"] / f"{row.key}.zarr", n_samples=data.n_samples,
                               taps=model.plan.row_shapes, kinds=["in-flight"])
    info = {"n_rows": data.n_samples, "bytes": int(x.nbytes), "budget": ctx.sizes.large_budget}
    probe = paced_capture_probe(ctx, row, model, data, writer=RunWriter(store), info=info)
    probe.heavy = True
    return probe
