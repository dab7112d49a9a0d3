"""Row 7 (in memory): `zlens.encode` of the training data with the zlens model's encoder.

Keras' `predict` and PyTorch's `no_grad` loop over the same data are in `rows_keras.py` and
`rows_torch.py`; the million-row streaming encode is in `streaming.py`.
"""

from __future__ import annotations

from benchmarks.context import Context
from benchmarks.probe import ENCODE, Probe, Row, timed

ZLENS_ENCODE = Row("encode-zlens", "zlens.encode", ENCODE, "zlens.encode(model, x, batch_size=encode_batch)")


def encode_probe(ctx: Context) -> Probe:
    """One `zlens.encode(model, x)` pass over the training data."""
    import zlens
    from benchmarks.rows_zlens import compiled_model

    model = compiled_model(ctx)
    x, batch = ctx.x, ctx.sizes.encode_batch
    return Probe([ZLENS_ENCODE], timed(lambda: zlens.encode(model, x, batch_size=batch), ZLENS_ENCODE.key))
