"""Row 7 (scale point): a million-row encode streamed from a memory-mapped `.npy` to a `.npy`.

The streaming encode runs in a process of its own (`suite.py`), so the peak RSS it reports is
its own (TF included) and holds across repetitions; the in-memory `zlens.encode` of the same
array, for the throughput ratio, runs in the zlens rows' process, which writes the input and
the weights both use (so it is started first).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from benchmarks.context import Context
from benchmarks.probe import STREAM, Probe, Row, timed
from benchmarks.work import LATENT, SEED, STREAM_FEATURES, write_npy
from benchmarks.worker import process_memory

STREAMED = Row("stream-zlens", "zlens encode_to_file, mmap .npy -> .npy", STREAM,
               "own process: encode_to_file(model, load_data(mmap .npy), out.npy); peak RSS in notes")
IN_MEMORY = Row("stream-memory", "zlens.encode, same array in memory", STREAM,
                "zlens process: np.load whole, then zlens.encode(batch_size=stream_batch)")


def _paths(ctx: Context) -> tuple[Path, Path, Path]:
    tmp = ctx.cache["tmp"]
    return tmp / "stream_input.npy", tmp / "stream_model.weights.h5", tmp / "stream_z.npy"


def _model(ctx: Context):
    """The 64-feature model (built once per process); its weights saved for the streaming process."""
    if "stream_model" not in ctx.cache:
        import keras

        import zlens

        keras.utils.set_random_seed(SEED)
        ctx.cache["stream_model"] = zlens.models.dense(STREAM_FEATURES, LATENT, latent_activation="relu")
    return ctx.cache["stream_model"]


def memory_probe(ctx: Context) -> Probe:
    """`zlens.encode` of the input, loaded whole; writes the input and weights the streamed row reads."""
    import zlens

    source, weights, output = _paths(ctx)
    model = _model(ctx)
    model.save_weights(weights)
    x = np.load(write_npy(source, ctx.sizes.n_stream, STREAM_FEATURES))
    batch = ctx.sizes.stream_batch
    info: dict = {}

    def close():  # the streaming process' z equals this process' in-memory z (on the first rows)
        if output.exists():
            rows = min(len(x), 20_000)
            z = zlens.encode(model, x[:rows])
            info["outputs_match"] = bool(np.allclose(np.load(output, mmap_mode="r")[:rows], z, atol=1e-5))

    return Probe([IN_MEMORY], timed(lambda: zlens.encode(model, x, batch_size=batch), IN_MEMORY.key), info=info,
                 close=close)


def stream_probe(ctx: Context) -> Probe:
    """`encode_to_file` of the memory-mapped input, one call per repetition; peak RSS in `info`."""
    import zlens
    from zlens.encoding import encode_to_file

    source, weights, output = _paths(ctx)
    model = _model(ctx)
    model.load_weights(weights)
    zlens.encode(model, np.random.default_rng(SEED).random((1024, STREAM_FEATURES), dtype=np.float32))
    info: dict = {"n_rows": ctx.sizes.n_stream, "features": STREAM_FEATURES, "reps": [],
                  "before_first_encode": process_memory()}  # TF imported and warmed up

    def measure():
        # The last repetition's output goes first, untimed: replacing it would charge freeing
        # its pages to this encode (~20 ms per 25 MB here), which a new output never pays.
        output.unlink(missing_ok=True)
        start = time.perf_counter()
        encode_to_file(model, zlens.data.load_data(str(source)), str(output), batch_size=ctx.sizes.stream_batch)
        seconds = time.perf_counter() - start
        info["reps"].append(process_memory())
        info["peak_rss_bytes"] = info["reps"][-1]["peak_rss_bytes"]
        return {STREAMED.key: seconds}

    return Probe([STREAMED], measure, info=info)
