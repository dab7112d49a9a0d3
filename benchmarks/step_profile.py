"""Where one training step's time goes: the step rebuilt piece by piece, each piece timed.

`python -m benchmarks.step_profile [--rows N]` times, in one process and interleaved, a whole
epoch of compiled (XLA) steps that do progressively more of zlens' work: the matmuls alone
(forward + backward, with a plain SGD update so the backward pass is not pruned), plus the
element-wise ops and loss, Adam instead of SGD, plus the batch gather, plus the z scatter;
then the zlens step through Keras `fit`. The differences between consecutive rows are each
piece's cost.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from benchmarks.work import FEATURES, LATENT

HIDDEN = 128
BATCH = 256


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.step_profile", description=__doc__)
    parser.add_argument("--rows", type=int, default=12_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)

    import keras
    import tensorflow as tf

    import zlens
    from benchmarks.rows_zlens import memory_writer, planned_fit

    n = args.rows
    x = np.random.default_rng(0).random((n, FEATURES), dtype=np.float32)
    shapes = [(FEATURES, HIDDEN), (HIDDEN, LATENT), (LATENT, HIDDEN), (HIDDEN, FEATURES)]
    weights = [tf.Variable(tf.random.normal(s, stddev=0.05)) for s in shapes]
    biases = [tf.Variable(tf.zeros(s[1])) for s in shapes]
    params = weights + biases
    x_var = tf.Variable(x, trainable=False)
    z_buf = tf.Variable(tf.zeros((n, LATENT)), trainable=False)
    opt = keras.optimizers.Adam(1e-3)
    opt.build(params)
    steps = -(-n // BATCH)
    order = tf.constant(np.random.default_rng(1).permutation(n))

    def forward(xb, activations: bool):
        h, z = xb, None
        for i, (w, b) in enumerate(zip(weights, biases, strict=True)):
            h = tf.matmul(h, w)
            if activations:
                h = h + b
                h = tf.nn.sigmoid(h) if i == 3 else tf.nn.relu(h)
            if i == 1:
                z = h
        return h, z

    def make_epoch(*, activations=True, adam=True, gather=True, scatter=True):
        @tf.function(jit_compile=True)
        def step(idx, xb_fixed):
            xb = tf.gather(x_var, idx) if gather else xb_fixed
            with tf.GradientTape() as tape:
                out, z = forward(xb, activations)
                loss = tf.reduce_mean(tf.square(out - xb)) if activations else tf.reduce_sum(out)
            trained = params if activations else weights
            grads = tape.gradient(loss, trained)
            if adam:
                opt.apply(grads, trained)
            else:  # plain SGD, so the backward pass is not pruned away
                for w, g in zip(trained, grads, strict=True):
                    w.assign_sub(1e-9 * g)
            if scatter:
                z_buf.scatter_update(tf.IndexedSlices(z, idx))
            return loss

        xb_fixed = tf.constant(x[:BATCH])

        @tf.function
        def epoch():
            for i in tf.range(steps):
                idx = order[i * BATCH : (i + 1) * BATCH]
                step(idx, xb_fixed[: tf.shape(idx)[0]])

        return epoch

    model = zlens.TappedAutoencoder(zlens.models.dense(FEATURES, LATENT, latent_activation="relu"), taps=("z",))
    model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=True, steps_per_execution=64)
    data = zlens.data.feed.prepare_training_data(x, batch_size=BATCH, sample_budget=2**31)

    rows = {
        "XLA step: matmuls fwd+bwd, SGD": make_epoch(activations=False, adam=False, gather=False, scatter=False),
        "+ bias, activations, MSE loss": make_epoch(adam=False, gather=False, scatter=False),
        "Adam instead of SGD": make_epoch(gather=False, scatter=False),
        "+ batch gather from resident samples": make_epoch(scatter=False),
        "+ z scatter (= zlens' step, hand loop)": make_epoch(),
        "zlens TappedAutoencoder.fit (Keras loop)": lambda: planned_fit(model, data, epochs=1, capture="in-flight",
                                                                    writer=memory_writer(model, data), callbacks=[]),
    }
    times = {k: [] for k in rows}
    for fn in rows.values():
        fn()
    for _ in range(args.repeats):
        for name, fn in rows.items():
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
    flops = n * 1_052_672
    print(f"step profile: N={n} x {FEATURES}, batch {BATCH}, {steps} steps/epoch, median of {args.repeats} "
          f"(matmul FLOPs/epoch {flops / 1e9:.2f} G)")
    previous = None
    for name, ts in times.items():
        med = float(np.median(ts))
        delta = "" if previous is None else f"  ({med - previous:+.3f})"
        print(f"  {name:<50} {med:7.3f} s  {flops / med / 1e9:6.1f} GFLOP/s{delta}")
        previous = med


if __name__ == "__main__":
    main()
