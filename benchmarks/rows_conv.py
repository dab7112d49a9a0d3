"""The convolutional workload's zlens row: `zlens.models.conv` on 28x28x1 images, z captured.

N = n_conv images, batch 128, timed as the dense zlens row (epochs of one long `fit`, capture
in-flight), but compiled without XLA: on CPU, XLA's convolutions are slower than TensorFlow's
oneDNN kernels, and inside zlens' compiled resident loop about 15x slower (README, Performance;
`zlens.fit`'s jit_compile="auto" now leaves XLA off for it too). Its PyTorch counterpart is in
`rows_torch.py`.
"""

from __future__ import annotations

from benchmarks.context import Context
from benchmarks.probe import CONV, Probe, Row
from benchmarks.rows_zlens import compiled_model, paced_capture_probe
from benchmarks.work import CONV_LATENT, IMAGE, SEED

#: The conv row's compile settings: no XLA (see the module docstring), 64 steps per call.
CONV_SETTINGS = {"jit_compile": False, "steps_per_execution": 64}
CONV_ZLENS = Row("conv-zlens", "zlens fit, conv, capture z, no XLA", CONV,
                 "zlens.models.conv((28, 28, 1), 16), jit_compile=False: epochs of one long fit")


def images(ctx: Context):
    """The first n_conv rows of the training data as images of `IMAGE` (the dense rows' values)."""
    n = min(ctx.sizes.n_conv, len(ctx.x))
    return ctx.x[:n].reshape(n, *IMAGE)


def capture_probe(ctx: Context) -> Probe:
    """One epoch of a long `TappedAutoencoder(zlens.models.conv(...)).fit`, capturing z in-flight."""
    import zlens
    from zlens.data.feed import SAMPLE_BUDGET, prepare_training_data

    model = compiled_model(ctx, "zlens_conv", build=lambda: zlens.models.conv(IMAGE, CONV_LATENT),
                           settings=CONV_SETTINGS)
    data = prepare_training_data(images(ctx), batch_size=ctx.sizes.conv_batch, seed=SEED, input_shape=IMAGE,
                                 sample_budget=SAMPLE_BUDGET)
    probe = paced_capture_probe(ctx, CONV_ZLENS, model, data,
                                info={"settings": dict(CONV_SETTINGS), "timing": "epochs of one long fit"})
    probe.heavy = True
    return probe
