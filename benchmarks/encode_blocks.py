"""Why `zlens.encode` runs large blocks: its time per pass against rows per compiled call.

    python -m benchmarks.encode_blocks [--rows 60000] [--repeats 5]

For each block size, interleaved, medians: `zlens.encode` of N x 784 float32 with the
reference encoder (784 -> 128 -> 32), and TensorFlow's first matmul alone over the same blocks
already held as tensors (what the blocks cost TensorFlow before any conversion).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

BLOCKS = (1024, 2048, 4096, 8192, 16384)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.encode_blocks", description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=60_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    import zlens
    from benchmarks.work import FEATURES, LATENT, make_data

    x = make_data(args.rows)
    model = zlens.TappedAutoencoder(zlens.models.dense(FEATURES, LATENT, latent_activation="relu"), taps=("z",))
    kernel = model.encoder.layers[1].kernel
    first_matmul = tf.function(lambda xb: tf.linalg.matmul(xb, kernel))
    x_tensor = tf.constant(x)
    slices = {b: [x_tensor[s : s + b] for s in range(0, len(x), b)] for b in BLOCKS}
    cases = {}
    for b in BLOCKS:
        cases[("zlens.encode", b)] = lambda b=b: zlens.encode(model, x, batch_size=b)
        cases[("first matmul", b)] = lambda b=b: [first_matmul(t) for t in slices[b]][-1].numpy()
    times = {key: [] for key in cases}
    for run in range(args.repeats + 1):  # the first round warms up (traces), not counted
        for key, fn in cases.items():
            start = time.perf_counter()
            fn()
            if run:
                times[key].append(time.perf_counter() - start)
    print(f"seconds per pass over {args.rows:,} x {FEATURES} (median of {args.repeats})")
    print(f"{'rows per call':>14}" + "".join(f"{b:>9}" for b in BLOCKS))
    for name in ("zlens.encode", "first matmul"):
        print(f"{name:>14}" + "".join(f"{np.median(times[(name, b)]):9.3f}" for b in BLOCKS))


if __name__ == "__main__":
    main()
