"""Where one zlens training epoch's (or encode pass's) time goes, per op: TensorFlow's profiler.

    python -m benchmarks.op_profile [--rows 24000] [--top 20] [--encode]

Trains the reference model (784 -> 128 -> 32 -> 128 -> 784, batch 256, Adam, XLA, 64 steps per
call, z captured in-flight) for three epochs, records the third with `tf.profiler`, and sums
the time of every op (XLA thunks: matmuls, fusions, the gather, the capture's scatters) over
the epoch. Op names are XLA's: `MatMul*` are the dots, `wrapped_gather` the batch gather from
the resident samples, `wrapped_scatter` the capture (z and its per-row counts), `copy` layout
copies; the `*_fusion` ops are the element-wise work (bias, activations, loss and their
gradients, Adam's updates), named by XLA after their ops and varying from build to build.

With `--encode`, it profiles the third of three `zlens.encode` passes over N rows (default
60,000) instead: TF's graph kernels (`MatMul`, `BiasAdd`, `Relu`, and `Sum` / `IsFinite`, the
finiteness check), beside the pass's wall time and the time of its staging copies alone (a
NumPy array's blocks copied into the aligned buffers TF is lent, timed without the encoder).
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import tempfile
import time
from pathlib import Path

#: Events that wrap ops (executor, runtime, input pipeline) rather than being one.
_WRAPPERS = re.compile(r"Executor|Execute|BlockUntilReady|Iterator|Eager|TFE_|KernelAndDevice|multi_step|"
                       r"Prefetch|Range|DoCompute|^end: |Await")


def op_times(trace_dir: Path) -> collections.Counter:
    """Seconds per op name (numbered copies merged) over the TF and XLA compute threads of a trace."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    space = xplane_pb2.XSpace()
    space.ParseFromString(max(trace_dir.rglob("*.xplane.pb"), key=lambda p: p.stat().st_mtime).read_bytes())
    totals: collections.Counter = collections.Counter()
    for plane in space.planes:
        names = {k: v.name for k, v in plane.event_metadata.items()}
        for line in plane.lines:
            if not line.name.startswith(("tf_Compute", "tf_numa")):
                continue
            for event in line.events:
                name = names.get(event.metadata_id, "?")
                if not _WRAPPERS.search(name):
                    totals[re.sub(r"\.\d+$", "", name)] += event.duration_ps / 1e12
    return totals


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.op_profile", description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=None, help="training rows (24,000), or encoded rows (60,000)")
    parser.add_argument("--top", type=int, default=20)
    parser.add_argument("--encode", action="store_true", help="profile zlens.encode instead of a training epoch")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if args.encode:
        return profile_encode(args.rows or 60_000, args.top)
    args.rows = args.rows or 24_000
    import keras
    import tensorflow as tf

    import zlens
    from benchmarks.rows_zlens import ZLENS_SETTINGS, memory_writer, planned_fit
    from benchmarks.work import FEATURES, LATENT, LEARNING_RATE, SEED, make_data
    from zlens.data.feed import SAMPLE_BUDGET, prepare_training_data

    keras.utils.set_random_seed(SEED)
    model = zlens.TappedAutoencoder(zlens.models.dense(FEATURES, LATENT, latent_activation="relu"), taps=("z",))
    model.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE), **ZLENS_SETTINGS)
    data = prepare_training_data(make_data(args.rows), batch_size=256, seed=SEED, input_shape=(FEATURES,),
                                 sample_budget=SAMPLE_BUDGET)
    writer = memory_writer(model, data)
    trace_dir = Path(tempfile.mkdtemp(prefix="zlens-op-profile-"))
    wall = {}

    class ProfileThirdEpoch(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 2:
                tf.profiler.experimental.start(str(trace_dir))
                wall["start"] = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            if epoch == 2:
                wall["seconds"] = time.perf_counter() - wall["start"]
                tf.profiler.experimental.stop()

    planned_fit(model, data, epochs=3, capture="in-flight", writer=writer, callbacks=[ProfileThirdEpoch()])
    writer.flush()
    totals = op_times(trace_dir)
    total = sum(totals.values())
    steps = -(-args.rows // 256)
    print(f"op profile: one epoch of N={args.rows:,} x {FEATURES}, {steps} steps, capture in-flight; "
          f"wall {wall['seconds']:.3f} s under the profiler, op time {total:.3f} s (summed over threads)")
    for name, seconds in totals.most_common(args.top):
        print(f"  {seconds * 1e3:9.1f} ms  {100 * seconds / total:5.1f}%  {name[:90]}")
    groups = {"matmuls (MatMul*)": r"^MatMul", "element-wise fusions": r"fusion$", "layout copies": r"^copy$",
              "batch gather": r"gather$", "capture scatters (z, counts)": r"scatter$"}
    print("grouped:")
    for label, pattern in groups.items():
        share = sum(s for n, s in totals.items() if re.search(pattern, n)) / total
        print(f"  {label:<30} {100 * share:5.1f}%")
    print(f"(trace: {trace_dir})")


def profile_encode(rows: int, top: int) -> None:
    """Print the per-op time of one `zlens.encode` pass over `rows` x 784 (the third of three)."""
    import keras
    import numpy as np
    import tensorflow as tf

    import zlens
    from benchmarks.work import FEATURES, LATENT, SEED, make_data
    from zlens.encoding import auto_batch_size
    from zlens.staging import StagingBuffer, aligned_empty

    keras.utils.set_random_seed(SEED)
    model = zlens.TappedAutoencoder(zlens.models.dense(FEATURES, LATENT, latent_activation="relu"), taps=("z",))
    x = make_data(rows)
    for _ in range(2):
        zlens.encode(model, x)
    trace_dir = Path(tempfile.mkdtemp(prefix="zlens-encode-profile-"))
    tf.profiler.experimental.start(str(trace_dir))
    start = time.perf_counter()
    zlens.encode(model, x)
    wall = time.perf_counter() - start
    tf.profiler.experimental.stop()
    batch = auto_batch_size(model.encoder)
    staging = [StagingBuffer(batch, (FEATURES,)) for _ in range(2)]
    copies = []
    for _ in range(5):
        start = time.perf_counter()
        for k, first in enumerate(range(0, rows, batch)):
            staging[k % 2].tensor(x[first : first + batch])
        copies.append(time.perf_counter() - start)
    aligned = aligned_empty(x.shape)
    aligned[...] = x
    passes = {"x": [], "aligned": []}
    for _ in range(5):
        for name, data in (("x", x), ("aligned", aligned)):
            start = time.perf_counter()
            zlens.encode(model, data)
            passes[name].append(time.perf_counter() - start)
    totals = op_times(trace_dir)
    total = sum(totals.values())
    print(f"encode profile: one zlens.encode pass of N={rows:,} x {FEATURES} in blocks of {batch:,}; wall "
          f"{wall:.3f} s under the profiler, op time {total:.3f} s (summed over threads); staging copies alone "
          f"{np.median(copies):.3f} s (x at {x.ctypes.data % 64} bytes past a 64-byte boundary: "
          f"{'lent, no copy' if x.ctypes.data % 64 == 0 else 'copied'})")
    for name, seconds in totals.most_common(top):
        print(f"  {seconds * 1e3:9.1f} ms  {100 * seconds / total:5.1f}%  {name[:90]}")
    print(f"zlens.encode, median of 5: {np.median(passes['x']):.3f} s from x, "
          f"{np.median(passes['aligned']):.3f} s from an aligned copy of x (lent to TF, no staging copy)")
    print(f"(trace: {trace_dir})")


if __name__ == "__main__":
    main()
