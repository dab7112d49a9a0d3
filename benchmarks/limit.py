"""The arithmetic limit: matmul FLOPs divided by the sgemm rate measured at the model's shapes.

Two rates are measured in the same run: NumPy's BLAS (in a child process, so OpenBLAS tuning
variables can be cleared for it alone and TF's threads do not compete) and TensorFlow's own
`tf.linalg.matmul` inside a `tf.function`. The limit uses the higher of the two.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import numpy as np

from benchmarks import REPO_ROOT
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
#: NumPy child only (see /work/.library/env/README.md), never in tests or CI.
OPENBLAS_PINS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def _operands(shapes, seed: int = 0):
    """Random float32 operands (already transposed views where the shape says so)."""
    rng = np.random.default_rng(seed)
    pairs = []
    for m, k, n, ta, tb in shapes:
        a = rng.random((k, m) if ta else (m, k), dtype=np.float32) - 0.5
        b = rng.random((n, k) if tb else (k, n), dtype=np.float32) - 0.5
        pairs.append((a, b))
    return pairs


def _median_rate(run_block, flops_per_block: int, seconds: float) -> float:
    """Run `run_block` repeatedly for about `seconds`; FLOP/s of the median block."""
    times = []
    deadline = time.perf_counter() + seconds
    while len(times) < 3 or time.perf_counter() < deadline:
        t0 = time.perf_counter()
        run_block()
        times.append(time.perf_counter() - t0)
    return flops_per_block / float(np.median(times))


def _numpy_block(shapes):
    """A function running the step's matmuls 4 times with NumPy into preallocated outputs."""
    pairs = [(a.T if ta else a, b.T if tb else b) for (a, b), (_, _, _, ta, tb) in zip(_operands(shapes), shapes)]
    outs = [np.empty((m, n), np.float32) for m, _, n, _, _ in shapes]

    def block():
        for _ in range(4):
            for (a, b), o in zip(pairs, outs):
                np.matmul(a, b, out=o)

    return block


def numpy_rates(shape_sets: dict[str, list], seconds: float = 0.3) -> dict:
    """NumPy sgemm FLOP/s per shape set, best over 1 thread and all threads (this process)."""
    try:
        from threadpoolctl import threadpool_info, threadpool_limits
    except ImportError:  # not a dependency: measure with the default threads only
        threadpool_info, threadpool_limits = None, None
    thread_counts = [None] if threadpool_limits is None else sorted({1, os.cpu_count() or 1})
    out = {"rates": {}, "threads": {}, "by_threads": {}}
    for name, shapes in shape_sets.items():
        block = _numpy_block(shapes)
        by_threads = {}
        for threads in thread_counts:
            if threads is None:
                by_threads["default"] = _median_rate(block, 4 * flops_of(shapes), seconds)
            else:
                with threadpool_limits(limits=threads, user_api="blas"):
                    by_threads[str(threads)] = _median_rate(block, 4 * flops_of(shapes), seconds)
        best = max(by_threads, key=by_threads.get)
        out["rates"][name], out["threads"][name], out["by_threads"][name] = by_threads[best], best, by_threads
    blas = [] if threadpool_info is None else [i for i in threadpool_info() if i.get("user_api") == "blas"]
    out["blas"] = [
        {k: i.get(k) for k in ("internal_api", "version", "architecture", "num_threads", "filepath")} for i in blas
    ] or "threadpoolctl not installed: kernel unknown"
    return out


def numpy_rates_in_child(shape_sets: dict[str, list], seconds: float = 0.3) -> dict:
    """`numpy_rates` in a fresh interpreter, with `OPENBLAS_PINS` cleared if they are set."""
    env = dict(os.environ)
    cleared = [name for name in OPENBLAS_PINS if env.pop(name, None) is not None]
    request = json.dumps({"shape_sets": shape_sets, "seconds": seconds})
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.limit"], input=request, capture_output=True, text=True, env=env,
        check=False, cwd=REPO_ROOT,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the NumPy matmul child failed:\n{done.stderr[-2000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["cleared_env"] = cleared
    return result


def tf_rates(shape_sets: dict[str, list], seconds: float = 0.3) -> dict[str, float]:
    """TensorFlow matmul FLOP/s per shape set, the matmuls looped inside one `tf.function`."""
    return {name: _tf_rate(shapes, seconds) for name, shapes in shape_sets.items()}


def _tf_rate(shapes, seconds: float) -> float:
    import tensorflow as tf

    flat = [tf.constant(t) for pair in _operands(shapes) for t in pair]
    fn, iters = _tf_loop(shapes), tf.constant(4)
    fn(iters, *flat).numpy()  # trace
    return _median_rate(lambda: fn(iters, *flat).numpy(), 4 * flops_of(shapes), seconds)


def _tf_loop(shapes):
    import tensorflow as tf

    @tf.function
    def loop(iters, *operands):
        # Each matmul feeds a scalar sum, so none is pruned; the loop body is not hoisted.
        acc = tf.constant(0.0)
        for _ in tf.range(iters):
            for j, (_, _, _, ta, tb) in enumerate(shapes):
                acc += tf.linalg.matmul(operands[2 * j], operands[2 * j + 1], transpose_a=ta, transpose_b=tb)[0, 0]
        return acc

    return loop


def measure_limits(shape_sets: dict[str, list], flops: dict[str, int], seconds: float = 0.3) -> dict:
    """One measurement of every limit: seconds = flops / max(NumPy rate, TF rate), per set.

    Args:
        shape_sets: name -> the matmuls of one step, as (m, k, n, transpose_a, transpose_b).
        flops: name -> the FLOPs of the whole pass the limit stands for (an epoch, an encode).
        seconds: time spent measuring each rate.
    """
    np_part = numpy_rates_in_child(shape_sets, seconds)
    tf_part = tf_rates(shape_sets, seconds)
    out = {"seconds": {}, "detail": {"blas": np_part["blas"], "cleared_env": np_part["cleared_env"]}}
    for name in shape_sets:
        rate_np, rate_tf = np_part["rates"][name], tf_part[name]
        source = "tensorflow" if rate_tf >= rate_np else "numpy"
        out["seconds"][name] = flops[name] / max(rate_np, rate_tf)
        out["detail"][name] = {
            "numpy_gflops": rate_np / 1e9,
            "numpy_threads": np_part["threads"][name],
            "numpy_gflops_by_threads": {k: v / 1e9 for k, v in np_part["by_threads"][name].items()},
            "tensorflow_gflops": rate_tf / 1e9,
            "limit_from": source,
            "flops": flops[name],
        }
    return out


LIMIT = Row("limit", "arithmetic limit (matmul FLOPs / sgemm rate)", TRAINING,
            "11 matmuls per step at batch shapes; higher of NumPy and TF rate")
ENCODE_LIMIT = Row("encode-limit", "arithmetic limit, encoder forward", ENCODE, "2 matmuls per encode batch")
STREAM_LIMIT = Row("stream-limit", "arithmetic limit, encoder forward", STREAM, "2 matmuls per stream batch")


def limit_probe(ctx: Context) -> Probe:
    """The three limits, re-measured every repetition (interleaved with the rows they bound)."""
    sizes = ctx.sizes
    shape_sets = {
        LIMIT.key: matmul_shapes_training(sizes.batch),
        ENCODE_LIMIT.key: matmul_shapes_encode(sizes.encode_batch),
        STREAM_LIMIT.key: matmul_shapes_encode(sizes.stream_batch, STREAM_FEATURES),
    }
    flops = {
        LIMIT.key: training_flops(sizes.n_train),
        ENCODE_LIMIT.key: encode_flops(sizes.n_train),
        STREAM_LIMIT.key: encode_flops(sizes.n_stream, STREAM_FEATURES),
    }
    info: dict = {"counted": COUNTED, "reps": []}
    seconds = ctx.cache.get("rate_seconds", 0.3)

    def measure():
        result = measure_limits(shape_sets, flops, seconds)
        info["reps"].append(result["detail"])
        return result["seconds"]

    return Probe([LIMIT, ENCODE_LIMIT, STREAM_LIMIT], measure, warm_up=False, info=info)


if __name__ == "__main__":  # the NumPy child: a JSON request on stdin, the rates on stdout
    req = json.loads(sys.stdin.read())
    sets = {k: [tuple(s) for s in v] for k, v in req["shape_sets"].items()}
    print(json.dumps(numpy_rates(sets, req["seconds"])))
