"""The arithmetic limit, two ways: at the model's own matmul shapes, and at the machine's peak.

Three processes time single sgemms, each alone with its own threads: NumPy (its BLAS, with the
OpenBLAS pins cleared for it alone), TensorFlow (a graph loop, and the same loop under XLA) and
PyTorch (when installed). For every matmul of a step, at its own shape and transposes, the
shape-wise limit takes the fastest of them; an epoch's limit is the epoch's matmul FLOPs at the
rate that gives for one step (so a shape TF runs slowly counts at the best library's speed).
The peak is the best rate any library reached at any shape measured (the model's own and a
1024-cube), i.e. what the machine's sgemm can do at all: its limit is the FLOPs at that rate.
"""

from __future__ import annotations

import os
import time

import numpy as np

from benchmarks.context import Context
from benchmarks.probe import ENCODE, STREAM, TRAINING, Probe, Row
from benchmarks.work import (
    COUNTED,
    STREAM_FEATURES,
    encode_flops,
    flops_of,
    matmul_shapes_encode,
    matmul_shapes_training,
    training_flops,
)

#: Variables that pin OpenBLAS to an older kernel on some machines here; cleared for the
#: NumPy process only (see /work/.library/env/README.md), never in tests or CI.
OPENBLAS_PINS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
#: A square sgemm beside the model's shapes, for the peak.
PEAK_SHAPE = (1024, 1024, 1024, False, False)
LIBRARIES = ("numpy", "tensorflow", "torch")

LIMIT = Row("limit", "limit at the model's matmul shapes", TRAINING,
            "11 matmuls per step, each at the best of NumPy / TF / torch rate at its shape")
PEAK = Row("limit-peak", "limit at peak sgemm rate", TRAINING, "the step's FLOPs at the best rate measured")
ENCODE_LIMIT = Row("encode-limit", "limit at the encoder's matmul shapes", ENCODE, "2 matmuls per encode batch")
ENCODE_PEAK = Row("encode-peak", "limit at peak sgemm rate", ENCODE, "the pass's FLOPs at the best rate")
STREAM_LIMIT = Row("stream-limit", "limit at the encoder's matmul shapes", STREAM, "2 matmuls per stream batch")
STREAM_PEAK = Row("stream-peak", "limit at peak sgemm rate", STREAM, "the pass's FLOPs at the best rate")
ROWS = (LIMIT, PEAK, ENCODE_LIMIT, ENCODE_PEAK, STREAM_LIMIT, STREAM_PEAK)
#: Per limit row: its shape set's name and its peak row.
PAIRS = {LIMIT.key: PEAK.key, ENCODE_LIMIT.key: ENCODE_PEAK.key, STREAM_LIMIT.key: STREAM_PEAK.key}


def shape_sets(ctx: Context) -> dict[str, list[tuple]]:
    """Per limit row, the matmuls of one step, as (m, k, n, transpose_a, transpose_b)."""
    s = ctx.sizes
    return {LIMIT.key: matmul_shapes_training(s.batch), ENCODE_LIMIT.key: matmul_shapes_encode(s.encode_batch),
            STREAM_LIMIT.key: matmul_shapes_encode(s.stream_batch, STREAM_FEATURES)}


def shape_key(shape) -> str:
    m, k, n, ta, tb = shape
    return f"{m}x{k}x{n}{'t' if ta else 'n'}{'t' if tb else 'n'}"


def _all_shapes(ctx: Context) -> list[tuple]:
    return sorted({tuple(s) for shapes in shape_sets(ctx).values() for s in shapes} | {PEAK_SHAPE})


def _operands(shape, seed: int = 0):
    """Random float32 operands of one matmul, stored as the transposes say (a^T, b^T)."""
    m, k, n, ta, tb = shape
    rng = np.random.default_rng(seed)
    a = rng.random((k, m) if ta else (m, k), dtype=np.float32) - 0.5
    b = rng.random((n, k) if tb else (k, n), dtype=np.float32) - 0.5
    return a, b


def seconds_per_call(call, seconds: float) -> float:
    """Median seconds of one `call()`, timed in blocks of >= 2 ms for about `seconds`."""
    call()
    t0 = time.perf_counter()
    call()
    per_block = max(1, int(0.002 / max(time.perf_counter() - t0, 1e-7)))
    times, deadline = [], time.perf_counter() + seconds
    while len(times) < 3 or time.perf_counter() < deadline:
        t0 = time.perf_counter()
        for _ in range(per_block):
            call()
        times.append((time.perf_counter() - t0) / per_block)
    return float(np.median(times))


def _rates_probe(ctx: Context, library: str, time_shape) -> Probe:
    """A probe (in `library`'s own process) returning {"library/shape": seconds per matmul}."""
    shapes = _all_shapes(ctx)
    budget = ctx.cache.get("rate_seconds", 0.3) / 16

    def measure() -> dict[str, float]:
        out = {}
        for shape in shapes:
            seconds, config = time_shape(shape, budget)
            out[f"{library}/{shape_key(shape)}"] = seconds
            info["configs"][shape_key(shape)] = config
        return out

    info: dict = {"library": library, "configs": {}}
    return Probe([], measure, warm_up=False, info=info)


def numpy_rates_probe(ctx: Context) -> Probe:
    """NumPy's BLAS, best over one thread and all (threadpoolctl)."""
    from threadpoolctl import threadpool_limits

    counts = sorted({1, os.cpu_count() or 1})

    def time_shape(shape, budget):
        a, b = _operands(shape)
        a, b = (a.T if shape[3] else a), (b.T if shape[4] else b)
        out = np.empty((shape[0], shape[2]), np.float32)
        best = {}
        for threads in counts:
            with threadpool_limits(limits=threads, user_api="blas"):
                best[threads] = seconds_per_call(lambda: np.matmul(a, b, out=out), budget)
        threads = min(best, key=best.get)
        return best[threads], f"{threads} thread(s)"

    return _rates_probe(ctx, "numpy", time_shape)


def tensorflow_rates_probe(ctx: Context) -> Probe:
    """TensorFlow's `tf.linalg.matmul`, 8 per call of a `tf.function`, as a graph and under XLA."""
    import tensorflow as tf

    def loop(ta, tb, xla):
        @tf.function(jit_compile=xla)
        def run(*operands):
            # The 8 products take 8 parameters (the same tensors, which the compiler cannot know),
            # so none is merged with another; each is summed whole, so none is pruned.
            acc = tf.constant(0.0)
            for j in range(0, len(operands), 2):
                acc += tf.reduce_sum(tf.linalg.matmul(operands[j], operands[j + 1], transpose_a=ta, transpose_b=tb))
            return acc

        return run

    def time_shape(shape, budget):
        operands = [tf.constant(t) for t in _operands(shape)] * 8
        best = {}
        for xla in (False, True):
            fn = loop(shape[3], shape[4], xla)
            best["XLA" if xla else "graph"] = seconds_per_call(lambda fn=fn: fn(*operands).numpy(), budget) / 8
        mode = min(best, key=best.get)
        return best[mode], mode

    return _rates_probe(ctx, "tensorflow", time_shape)


def torch_rates_probe(ctx: Context) -> Probe:
    """PyTorch's `torch.mm` into a preallocated output, best over one thread and all."""
    try:
        import torch
    except ImportError:
        return Probe([], None, warm_up=False, skipped="torch not installed", info={"library": "torch"})
    counts = sorted({1, torch.get_num_threads()})

    def time_shape(shape, budget):
        a, b = (torch.from_numpy(t) for t in _operands(shape))
        a, b = (a.t() if shape[3] else a), (b.t() if shape[4] else b)
        out = torch.empty((shape[0], shape[2]))
        best = {}
        default = torch.get_num_threads()
        for threads in counts:
            torch.set_num_threads(threads)
            best[threads] = seconds_per_call(lambda: torch.mm(a, b, out=out), budget)
        torch.set_num_threads(default)
        threads = min(best, key=best.get)
        return best[threads], f"{threads} thread(s)"

    return _rates_probe(ctx, "torch", time_shape)


def limit_probe(ctx: Context, rate_probes: list[Probe]) -> Probe:
    """The limit rows, from one repetition of every library's rates (run in their processes)."""
    sets = shape_sets(ctx)
    flops = {LIMIT.key: training_flops(ctx.sizes.n_train), ENCODE_LIMIT.key: encode_flops(ctx.sizes.n_train),
             STREAM_LIMIT.key: encode_flops(ctx.sizes.n_stream, STREAM_FEATURES)}
    live = [p for p in rate_probes if p.skipped is None]
    info: dict = {"counted": COUNTED, "libraries": [p.info["library"] for p in live], "reps": [],
                  "processes": {p.info["library"]: p.info.get("threads") for p in live}}

    def measure() -> dict[str, float]:
        times: dict[str, float] = {}
        for probe in live:
            times.update(probe.measure())
        rep = combine(sets, flops, times)
        info["reps"].append(rep)
        return rep["seconds"]

    return Probe(list(ROWS), measure, warm_up=False, info=info)


def combine(sets: dict[str, list], flops: dict[str, int], times: dict[str, float]) -> dict:
    """Limits from {"library/shape": seconds per matmul}: per set, the step at the best library per
    shape; the peak at the best rate of any library at any shape."""
    rate = {key: 2 * np.prod([int(d) for d in key.split("/")[1][:-2].split("x")]) / s for key, s in times.items()}
    peak_key = max(rate, key=rate.get)
    rep = {"seconds": {}, "peak_gflops": rate[peak_key] / 1e9, "peak_at": peak_key, "sets": {}}
    for name, shapes in sets.items():
        if name not in flops:
            continue
        per_shape, step_seconds = {}, 0.0
        for shape in shapes:
            key = shape_key(shape)
            by_lib = {k.split("/")[0]: s for k, s in times.items() if k.split("/")[1] == key}
            best = min(by_lib, key=by_lib.get)
            step_seconds += by_lib[best]
            per_shape[key] = {"best": best, **{lib: 2 * shape[0] * shape[1] * shape[2] / s / 1e9
                                                for lib, s in by_lib.items()}}
        step_rate = flops_of(shapes) / step_seconds
        rep["seconds"][name] = flops[name] / step_rate
        rep["seconds"][PAIRS[name]] = flops[name] / rate[peak_key]
        rep["sets"][name] = {"step_gflops": step_rate / 1e9, "shapes": per_shape,
                             "library_gflops": _library_step_rates(shapes, times)}
    return rep


def _library_step_rates(shapes, times: dict[str, float]) -> dict[str, float]:
    """Each library's own rate over the whole step (all its shapes at that library's speed)."""
    out = {}
    for lib in {k.split("/")[0] for k in times}:
        total = sum(times.get(f"{lib}/{shape_key(s)}", float("nan")) for s in shapes)
        out[lib] = flops_of(shapes) / total / 1e9
    return out
