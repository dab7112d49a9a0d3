"""`zlens.encode`: the latent matrix of any data under a trained model, in batches, fast.

The encoder runs in a compiled function over large blocks, each lent to TensorFlow from one
pair of reused staging buffers (`zlens.staging`) while the next block is read and staged; rows
are written into one preallocated output, so memory is the output plus the two staging buffers
and up to two blocks in flight.
"""

from __future__ import annotations

import functools
import weakref
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import numpy as np
import tensorflow as tf

from zlens.checks import check_count
from zlens.data.datasets import encoded_samples
from zlens.data.file_rows import is_memory_mapped, read_rows, read_rows_into
from zlens.data.sources import DataSource
from zlens.data.validate import channel_axis_missing, check_block, check_sample_shape, check_samples
from zlens.errors import DataError, ModelError
from zlens.staging import staged_blocks

#: Bytes of the largest per-sample activation times rows that one automatic block may take.
BLOCK_BYTES = 64 * 2**20
#: Rows of an automatic block: at least `MIN_BATCH`, at most `MAX_BATCH`. TensorFlow's CPU
#: matmuls are slower per row on small blocks: encoding 60,000 x 784 took 0.26 s in 1,024-row
#: calls, 0.19 s in 8,192, 0.20 s in 16,384 (fewer blocks overlap less of the staging copy;
#: `python -m benchmarks.encode_blocks --repeats 9`, 2-core EPYC).
MIN_BATCH, MAX_BATCH = 256, 8192
_COMPILED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def encode(model, x, *, batch_size: int | None = None, latent: str | None = None,
           as_given: bool = False) -> np.ndarray:
    """Encode `x` with `model`'s encoder and return z, shape (N, d), row i = x[i].

    The encoder is compiled once per model (one trace for every batch size, the partial last
    batch included) and reused by later calls; `x` is read block by block, so a
    memory-mapped array is never loaded whole and integer pixels are converted per block.

    Args:
        model: a `TappedAutoencoder`, a `zlens.Run` (its trained model), a Keras autoencoder
            whose latent layer is named "z" (or given by `latent`), or an encoder model.
        x: samples (N, ...) as an array, a memory-mapped array or a Zarr array, a
            `zlens.data.DataSource`, or a `tf.data.Dataset` as `zlens.fit` takes it (batched or
            not; of `x`, `(x, y)`, ... or dicts: only x is encoded), rows in its order, which
            must be the same on every pass.
        batch_size: rows per compiled call; default `auto_batch_size(encoder)`: up to 8,192,
            fewer for models whose activations are large (64 MiB for the largest one).
        latent: the latent layer's name, for a plain Keras autoencoder.
        as_given: with a `Run`, take an array's values as they are. By default an array is
            taken as the training data was given (raw values) and prepared as it was: flattened
            when the run's samples were, scaled with the run's recorded parameters
            (`run.preprocessing`), and refused with a `DataError` when its prepared range does not
            match (`zlens.data.conform.prepare_like_training`); a model alone records nothing,
            so nothing is checked.

    Example:
        >>> z = zlens.encode(run, digits.data)   # raw 0..16 values: scaled as in training
        >>> z = zlens.encode(run.model, x_new)
        >>> z.shape
        (len(x_new), d)
    """
    x = _as_trained(model, x, as_given)
    encoder, fn = compiled_encoder(model, latent)
    _check_batch_size(batch_size)
    x = _with_channel_axis(x, tuple(encoder.input_shape[1:]))
    if isinstance(x, tf.data.Dataset):
        batch_size = batch_size or auto_batch_size(encoder)
        parts, start = [], 0
        samples = _shaped(_trained_samples(model, encoded_samples(x), as_given), tuple(encoder.input_shape[1:]))
        for batch in samples.batch(batch_size).prefetch(2):
            z, finite = fn(tf.cast(batch, tf.float32))
            if not bool(finite) and not np.isfinite(batch.numpy()).all():  # not a mere overflow of the sum
                raise DataError(f"the dataset to encode holds NaN or Inf (in samples {start}..{start + len(z) - 1}); "
                                "clean or impute the data first.")
            parts.append(z.numpy())
            start += len(z)
        if not parts:
            raise ModelError("the dataset to encode is empty.")
        return np.concatenate(parts)
    # The staging buffers take the data's sample shape: the encoder's may be partly free (None).
    if isinstance(x, DataSource):
        n, rows, sample_shape = x.n_samples, x.rows, tuple(x.sample_shape)
        check_sample_shape(x.x.shape, tuple(encoder.input_shape[1:]), x.name)
        read_into = reads_into(x)
    else:
        if hasattr(x, "shape") and len(x.shape) > 1:  # the whole array's shape named, then one row's values read
            check_sample_shape(tuple(x.shape), tuple(encoder.input_shape[1:]), "x")
            check_samples(x[:1])
        else:
            check_samples(x, expected_shape=encoder.input_shape[1:])
        x = x if hasattr(x, "shape") else np.asarray(x)
        n, rows = int(x.shape[0]), lambda start, stop: read_rows(x, start, stop)  # a memory map (or store) is read
        sample_shape = tuple(int(d) for d in x.shape[1:])
        read_into = functools.partial(read_rows_into, x) if _held_elsewhere(x) else None
    batch_size = batch_size or auto_batch_size(encoder, sample_shape)
    out = np.empty((n, *encoder.output_shape[1:]), dtype=np.float32)
    for start, block, tensor in staged_blocks(rows, n, batch_size, sample_shape, read_into):
        out[start : start + len(block)] = encode_block(fn, tensor, block, start)
    return out


def _as_trained(model, x, as_given: bool):
    """`x` prepared as `model`'s (a `Run`'s) training data was, when it is an array and the run
    recorded how (`zlens.data.conform.prepare_like_training`); else `x` itself."""
    from zlens.data.conform import prepare_like_training
    from zlens.run import Run

    if not isinstance(model, Run) or model.preprocessing is None or isinstance(x, (tf.data.Dataset, DataSource)):
        return x
    return prepare_like_training(x, model.preprocessing, as_given=as_given)[0]


def _with_channel_axis(x, expected: tuple):
    """Gray images `(H, W)` given the channel axis of an encoder built for `(H, W, 1)`
    (`channel_axis_missing`): a view of an array or a source; anything else as it is."""
    if isinstance(x, DataSource) and not x.chunked and channel_axis_missing(x.sample_shape, expected):
        return replace(x, x=x.x[..., np.newaxis])
    if isinstance(x, np.ndarray) and channel_axis_missing(tuple(x.shape[1:]), expected):
        return x[..., np.newaxis]
    return x


def _trained_samples(model, samples: tf.data.Dataset, as_given: bool) -> tf.data.Dataset:
    """A dataset's samples prepared in the pipeline by the rule a `Run` recorded (the fitted
    parameters, as training applied them); as they come for a model alone or with `as_given`."""
    from zlens.data.conform import prepare_like_training
    from zlens.data.preprocess import Preprocessing
    from zlens.run import Run

    rule = Preprocessing.from_json(model.preprocessing) if isinstance(model, Run) and not as_given else None
    if rule is None or rule.identity:
        return samples
    head = next(samples.batch(4096).as_numpy_iterator(), None)
    if head is not None:  # refused as an array would be: another range, or values prepared already
        prepare_like_training(head, model.preprocessing, name="the dataset to encode")
    return samples.map(rule.apply_tensor, num_parallel_calls=tf.data.AUTOTUNE)


def _shaped(samples: tf.data.Dataset, expected: tuple) -> tf.data.Dataset:
    """A dataset's samples shaped for an encoder built for `expected`, as an array's are: gray
    images given their channel axis, images flattened for an encoder of flat rows."""
    shape = tuple(samples.element_spec.shape)
    if channel_axis_missing(shape, expected):
        return samples.map(lambda s: tf.expand_dims(s, -1))
    if len(expected) == 1 and len(shape) > 1 and None not in shape and int(np.prod(shape)) == expected[0]:
        return samples.map(lambda s: tf.reshape(s, (-1,)))
    return samples


def reads_into(source: DataSource):
    """How to read `source`'s blocks straight into a staging buffer (`DataSource.rows_into`), or
    None for in-memory float32 samples, whose blocks may be lent to TensorFlow with no copy."""
    return source.rows_into if _held_elsewhere(source.x) else None


def _held_elsewhere(x) -> bool:
    """Whether `x`'s rows must be read or converted (a file, a store, stored values), not viewed."""
    return not isinstance(x, np.ndarray) or x.dtype != np.float32 or is_memory_mapped(x)


def encode_block(fn, tensor: tf.Tensor, block, start: int, name: str = "x") -> np.ndarray:
    """z of one block of rows `start:...` (`tensor` holds `block`'s values) with a
    `compiled_encoder` function, as NumPy.

    The function also says whether the block's sum is finite, which it is unless a value is
    NaN or Inf (or the sum overflows): checked in the same compiled call instead of a separate
    NumPy pass over the block. Only such a block is searched for its first bad row.
    """
    z, finite = fn(tensor)
    if not bool(finite):
        check_block(np.asarray(block, dtype=np.float32), start, name=name)  # raises, naming the first bad sample
    return z.numpy()


def _check_batch_size(batch_size) -> None:
    if batch_size is not None:
        check_count("batch_size", batch_size, or_also="None for automatic")


def auto_batch_size(encoder, sample_shape: tuple[int, ...] | None = None) -> int:
    """Rows per encode block for `encoder`: as many as keep its largest per-sample activation
    (its input of `sample_shape`, by default the encoder's input shape, included) within
    `BLOCK_BYTES`, between `MIN_BATCH` and `MAX_BATCH`.

    Example:
        >>> auto_batch_size(zlens.models.dense(784, 32).get_layer("encoder"))  # doctest: +SKIP
        8192
    """
    widest = int(np.prod([d or 1 for d in (sample_shape or encoder.input_shape[1:])]))
    for layer in encoder.layers:
        try:
            shape = layer.output.shape
        except (AttributeError, ValueError):  # a layer called more than once, or never built
            continue
        widest = max(widest, int(np.prod([d or 1 for d in shape[1:]])))
    return int(min(MAX_BATCH, max(MIN_BATCH, BLOCK_BYTES // (4 * widest))))


def compiled_encoder(model, latent: str | None = None):
    """`(encoder, fn)`: the model's encoder and its compiled inference function, cached per model.

    `fn(x_block)` returns `(z, finite)`: the block's z and whether the sum of its input values
    is finite (true whenever every value is; one pass, cheaper than checking each value).
    """
    cached = _COMPILED.get(model)
    if cached is None:
        encoder = _encoder_of(model, latent)
        spec = tf.TensorSpec((None, *encoder.input_shape[1:]), tf.float32)
        fn = tf.function(lambda xb: (encoder(xb, training=False), tf.math.is_finite(tf.reduce_sum(xb))),
                         input_signature=[spec], autograph=False)
        cached = (encoder, fn)
        try:
            _COMPILED[model] = cached
        except TypeError:  # not weak-referenceable: compile per call
            pass
    return cached


def _encoder_of(model, latent: str | None):
    from zlens.capture.tapped_autoencoder import TappedAutoencoder
    from zlens.run import Run

    if isinstance(model, Run):
        model = model.model
    if isinstance(model, TappedAutoencoder):
        return model.encoder
    import keras

    from zlens.capture.intercept import walk_layers
    from zlens.capture.taps import LATENT_NAMES

    if not isinstance(model, keras.Model):
        raise ModelError(f"encode needs a trained model or Run; got {type(model).__name__}.")
    names = {layer.name for layer in walk_layers(model)}
    if latent is None and not names & set(LATENT_NAMES) and "encoder" not in vars(model):
        return model  # an encoder: its output is z
    return TappedAutoencoder(model, latent=latent).encoder


def encode_to_file(model, source, out, *, batch_size: int | None = None, progress=None) -> tuple[int, ...]:
    """Encode a `DataSource` block by block into `out` (.npy, .csv or .parquet), memory bounded.

    Reads `batch_size` rows at a time (a memory-mapped `.npy` is never loaded whole), writes
    each block's z straight to the output, and renames the file into place only when complete.
    Returns the output's shape.

    Example:
        >>> encode_to_file(run.model, zlens.data.load_data("big.npy"), "z.npy")
        (1000000, 32)
    """
    from zlens.export import MatrixWriter

    encoder, fn = compiled_encoder(model)
    _check_batch_size(batch_size)
    batch_size = batch_size or auto_batch_size(encoder, tuple(source.sample_shape))
    expected = tuple(encoder.input_shape[1:])
    check_sample_shape(tuple(source.x.shape), expected, source.name)
    d = tuple(encoder.output_shape[1:])
    # Three stages in flight: block k+1 is read and staged and block k-1's z written (threads:
    # file I/O and NumPy release the GIL) while TensorFlow encodes and checks block k. Order is
    # kept, and at most three blocks are held besides the two staging buffers.
    with MatrixWriter(out, n_rows=source.n_samples, row_shape=d, name="z", labels=source.labels) as writer, \
            ThreadPoolExecutor(1) as writing:
        written = None
        for start, block, tensor in staged_blocks(source.rows, source.n_samples, batch_size, expected,
                                                  reads_into(source)):
            z = encode_block(fn, tensor, block, start, name=source.name)
            if written is not None:
                written.result()
            written = writing.submit(writer.write, start, z)
            if progress is not None:
                progress(start + len(block))
        if written is not None:
            written.result()
    return (source.n_samples, *d)
