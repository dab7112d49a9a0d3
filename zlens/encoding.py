"""`zlens.encode`: the latent matrix of any data under a trained model, in batches, fast.

The encoder runs in a compiled function over fixed-size batches; rows are written into one
preallocated output, so memory is the output plus one batch.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from zlens.data.validate import check_samples
from zlens.errors import ModelError


def encode(model, x, *, batch_size: int = 1024, latent: str | None = None) -> np.ndarray:
    """Encode `x` with `model`'s encoder and return z, shape (N, d), row i = x[i].

    Args:
        model: a `TappedAutoencoder`, a `zlens.Run` (its trained model), a Keras autoencoder
            whose latent layer is named "z" (or given by `latent`), or an encoder model.
        x: samples (N, ...) as an array or memory-mapped array, or an unbatched
            `tf.data.Dataset` of samples.
        batch_size: rows per compiled call (default 1024).
        latent: the latent layer's name, for a plain Keras autoencoder.

    Example:
        >>> z = zlens.encode(run.model, x_new)
        >>> z.shape
        (len(x_new), d)
    """
    encoder = _encoder_of(model, latent)
    fn = tf.function(lambda xb: encoder(xb, training=False), reduce_retracing=True)
    if isinstance(x, tf.data.Dataset):
        parts = [fn(batch).numpy() for batch in x.batch(batch_size).prefetch(2)]
        if not parts:
            raise ModelError("the dataset to encode is empty.")
        return np.concatenate(parts)
    x = check_samples(x, expected_shape=encoder.input_shape[1:])
    out = None
    for start in range(0, len(x), batch_size):
        z = fn(tf.constant(x[start : start + batch_size])).numpy()
        if out is None:
            out = np.empty((len(x), *z.shape[1:]), dtype=z.dtype)
        out[start : start + len(z)] = z
    return out


def _encoder_of(model, latent: str | None):
    from zlens.capture.tapped_autoencoder import TappedAutoencoder
    from zlens.run import Run

    if isinstance(model, Run):
        model = model.model
    if isinstance(model, TappedAutoencoder):
        return model.encoder
    import keras

    if not isinstance(model, keras.Model):
        raise ModelError(f"encode needs a trained model or Run; got {type(model).__name__}.")
    names = [layer.name for layer in model.layers]
    if latent is None and not any(n in names for n in ("z", "z_mean", "latent", "encoding", "bottleneck")):
        return model  # an encoder: its output is z
    return TappedAutoencoder(model, latent=latent).encoder


def encode_to_file(model, source, out, *, batch_size: int = 4096, progress=None) -> tuple[int, ...]:
    """Encode a `DataSource` block by block into `out` (.npy, .csv or .parquet), memory bounded.

    Reads `batch_size` rows at a time (a memory-mapped `.npy` is never loaded whole), writes
    each block's z straight to the output, and renames the file into place only when complete.
    Returns the output's shape.

    Example:
        >>> encode_to_file(run.model, zlens.data.load_data("big.npy"), "z.npy")
        (1000000, 32)
    """
    from zlens.export import MatrixWriter

    encoder = _encoder_of(model, None)
    expected = tuple(encoder.input_shape[1:])
    if tuple(source.sample_shape) != expected:
        raise ModelError(
            f"{source.name} has samples of shape {tuple(source.sample_shape)} but the model encodes "
            f"samples of shape {expected}" + (" (try --flatten)" if len(source.sample_shape) > len(expected) else ".")
        )
    fn = tf.function(lambda xb: encoder(xb, training=False), reduce_retracing=True)
    d = tuple(encoder.output.shape[1:])
    with MatrixWriter(out, n_rows=source.n_samples, row_shape=d, name="z", labels=source.labels) as writer:
        start = 0
        for block in source.batches(batch_size):
            block = check_samples(block, name=source.name)
            writer.write(start, fn(tf.constant(block)).numpy())
            start += len(block)
            if progress is not None:
                progress(start)
    return (source.n_samples, *d)
