"""`TrainingInput`: what a user passed to `fit` as data, looked at once.

`zlens.fit`, `zlens.resume` and `TappedAutoencoder.fit` take arrays, memory-mapped arrays, Zarr
arrays, `DataSource`s and `tf.data` datasets (as users build them: `zlens.data.datasets`, or
batches already indexed). `training_input` decides which it is and checks it and its target, once;
everything after reads the answer: the sample shape the model is built for, the shape of one
target, and the source or dataset `prepare_training_data` feeds from.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import tensorflow as tf

from zlens.data.chunked import is_chunked_array
from zlens.data.data_source import DataSource
from zlens.data.datasets import is_element_name, is_indexed_batches, parse_dataset
from zlens.data.preprocess import Preprocessing, check_scale, decide_from_chunks
from zlens.data.sources import from_array
from zlens.data.validate import (
    channel_axis_missing,
    check_sample_shape,
    check_samples,
    check_targets,
    sample_shape_mismatch,
)
from zlens.errors import DataError

#: Samples of a dataset read at once while deciding how to scale it.
_DECIDE_BLOCK = 16384


@dataclass(frozen=True)
class TrainingInput:
    """Training data with its kind decided: exactly one of `source` and `dataset` is set.

    Attributes:
        sample_shape: one sample's shape.
        source: samples held as an array (checked, float32), memory-mapped, in a Zarr array or a
            lazy `.npy` (`DataSource.chunked` / `lazy`), or None for a dataset.
        dataset: an unbatched `tf.data.Dataset` of samples or `(x, y)` pairs (a user's dataset
            in zlens' canonical form: `zlens.data.datasets`), or one indexed with
            `zlens.data.index_dataset` (`indexed`), or None.
        target: y (checked, one per sample) when it is given apart from the samples, else None.
        target_shape: one target's shape where the target is not the input, else None.
        indexed: the dataset yields batches `(x, idx)` / `(x, y, idx)` already.
        carries_index: the dataset's unbatched elements carry their own sample index:
            `(x, idx)` / `(x, y, idx)`, in any order (`index=`).
        n_samples: N where reading the dataset counted it, else None.
        labels: labels the dataset's elements held (`labels=` naming them), row i = sample i.
        batch_size: the batch size of a batched dataset, as its graph says (`fit`'s default).
        preprocessing: the rule a dataset's samples were prepared by (an array's is its
            source's), or None where they are taken as the dataset yields them.
    """

    sample_shape: tuple[int, ...]
    source: DataSource | None = None
    dataset: tf.data.Dataset | None = None
    target: np.ndarray | None = None
    target_shape: tuple[int, ...] | None = None
    indexed: bool = False
    carries_index: bool = False
    n_samples: int | None = None
    labels: np.ndarray | None = None
    batch_size: int | None = None
    preprocessing: Preprocessing | None = None

    @property
    def streamed(self) -> bool:
        """The samples are read from disk batch by batch (a Zarr array or a lazy `.npy`), never whole."""
        return self.source is not None and (self.source.chunked or self.source.lazy)

    def fitted_to(self, expected) -> TrainingInput:
        """This input, its gray images `(H, W)` given the trailing channel axis a model built for
        `(H, W, 1)` expects (`channel_axis_missing`: a view of an array, a map of a dataset; a y
        shaped like x too); itself when nothing is missing or the samples cannot take it (a Zarr
        array: the shape error then says how).

        Example:
            >>> training_input(np.zeros((5, 8, 8))).fitted_to((8, 8, 1)).sample_shape
            (8, 8, 1)
        """
        if not channel_axis_missing(self.sample_shape, tuple(expected)):
            return self
        shape = (*self.sample_shape, 1)
        target_too = self.target_shape is not None and tuple(self.target_shape) == self.sample_shape
        target_shape = shape if target_too else self.target_shape
        if self.dataset is not None:
            def with_axis(x, *rest):
                rest = list(rest)
                if target_too:
                    rest[0] = tf.expand_dims(rest[0], -1)
                return (tf.expand_dims(x, -1), *rest) if rest else tf.expand_dims(x, -1)

            return replace(self, sample_shape=shape, target_shape=target_shape, dataset=self.dataset.map(with_axis))
        if self.source is None or self.source.chunked:
            return self
        target = self.target[..., np.newaxis] if target_too and self.target is not None else self.target
        return replace(self, sample_shape=shape, source=replace(self.source, x=self.source.x[..., np.newaxis]),
                       target=target, target_shape=target_shape)

    def check_sample_shape(self, expected) -> None:
        """Raise one clear `DataError` unless the samples fit a model built for `expected`."""
        if self.source is not None:
            check_sample_shape(tuple(self.source.x.shape), tuple(expected), self.source.name)
        elif len(self.sample_shape) != len(expected):
            raise DataError(
                f"the dataset yields elements of shape {self.sample_shape} but the model expects samples "
                f"of shape {tuple(expected)}: pass a dataset of samples, batched or not (zlens indexes, "
                "shuffles and batches it), or one indexed with zlens.data.index_dataset."
            )
        else:  # the same rank: each size must match too (an (H, W, 3) dataset for an (H, W, 1) model)
            message = sample_shape_mismatch(self.sample_shape, tuple(expected), "the dataset")
            if message is not None:
                raise DataError(message)


def training_input(x, y=None, *, expected_shape=None, labels=None, index=None,
                   scale: str | Preprocessing | None = None) -> TrainingInput:
    """Look at `x` (and `y`) once: which kind of data it is, checked (shape, dtype, NaN), and,
    with `scale`, how its values are prepared.

    For a `tf.data.Dataset`, `labels` and `index` may name a key or position of its elements
    (the rules: `zlens.data.datasets`); the labels found there are in `labels` of the result.
    `expected_shape`, a built model's sample shape, is checked before the values are read (a
    wrong shape is named at once, not after a scan of a large file); `prepare_training_data`
    checks it otherwise. `scale` ("auto", "minmax", "standard", "none", or a run's recorded
    `Preprocessing`) decides the rule for an array or a Zarr array (`zlens.data.preprocess`) and
    applies it to `x`, and to a `y` shaped like `x` (a denoising autoencoder's clean samples); a
    `DataSource` keeps the rule it was loaded with; None takes the values as they are (float32),
    as `keras.Model.fit` does.

    Example:
        >>> training_input(np.zeros((5, 28, 28))).sample_shape
        (28, 28)
    """
    if isinstance(x, TrainingInput):
        return x
    held = x.x if isinstance(x, DataSource) else x
    if expected_shape is not None and hasattr(held, "shape") and \
            channel_axis_missing(tuple(held.shape[1:]), tuple(expected_shape)):
        expected_shape = None  # gray images for a model built for (H, W, 1): `fitted_to` gives them the axis
    if isinstance(x, tf.data.Dataset):
        if y is not None:
            raise DataError("with a tf.data dataset, put the targets in the dataset as (x, y) pairs, not y=.")
        return _dataset_input(x, labels, index, expected_shape, scale)
    if is_element_name(labels):
        raise DataError(f"labels={labels!r} names a part of a tf.data dataset's elements; with arrays, give one "
                        "label per sample.")
    if index is not None:
        raise DataError(f"index={index!r} names a sample index in a tf.data dataset's elements; arrays are indexed "
                        "by zlens itself: leave index= out.")
    if isinstance(x, DataSource):
        source = x if x.chunked or x.lazy else replace(x, x=check_samples(x.x, expected_shape=expected_shape))
    elif scale is not None:
        if expected_shape is not None:
            if hasattr(x, "shape") and len(x.shape) > 1:  # the whole array's shape named, not its first row's
                check_sample_shape(tuple(x.shape), tuple(expected_shape), "x")
            else:
                check_samples(x, expected_shape=expected_shape)
        name = "the Zarr array" if is_chunked_array(x) else "x"  # errors say `x`
        source = from_array(x if hasattr(x, "dtype") else np.asarray(x), name=name, scale=scale)
    elif is_chunked_array(x):
        source = DataSource(check_samples(x, expected_shape=expected_shape), name="the Zarr array")
    else:
        source = DataSource(check_samples(x, expected_shape=expected_shape), name="x")  # errors say `x`
    if y is None:
        return TrainingInput(source.sample_shape, source=source)
    if source.chunked or source.lazy:  # read from disk batch by batch: the source is its own target
        raise DataError("a DataSource is its own target: pass y= only with an array x.")
    target = check_targets(y, source.n_samples)
    if scale is not None and source.preprocessing is not None and target.shape[1:] == source.x.shape[1:]:
        target = source.preprocessing.apply(target)  # clean samples, prepared as their noisy inputs
    return TrainingInput(source.sample_shape, source=source, target=target, target_shape=tuple(target.shape[1:]))


def _dataset_input(ds: tf.data.Dataset, labels, index, expected_shape, scale) -> TrainingInput:
    """A dataset as the user built it (`zlens.data.datasets`), prepared by `scale` as an array
    would be, or batches already indexed by zlens (taken as they come)."""
    if index is None and not is_element_name(labels) and is_indexed_batches(ds):
        spec = ds.element_spec
        target = tuple(spec[1].shape[1:]) if len(spec) == 3 else None
        return TrainingInput(tuple(spec[0].shape[1:]), dataset=ds, target_shape=target, indexed=True)
    parsed = parse_dataset(ds, labels=labels, index=index, expected_shape=expected_shape)
    samples, prep = _prepared_samples(parsed.samples, scale, parsed.sample_shape, parsed.target_shape)
    return TrainingInput(parsed.sample_shape, dataset=samples, target_shape=parsed.target_shape,
                         carries_index=parsed.carries_index, n_samples=parsed.n_samples, labels=parsed.labels,
                         batch_size=parsed.batch_size, preprocessing=prep)


def _prepared_samples(samples: tf.data.Dataset, scale, sample_shape, target_shape):
    """`(samples, rule)`: a dataset's samples (`x`, `(x, y)`, `(x, idx)` or `(x, y, idx)`, x first)
    prepared by the one rule (`zlens.data.preprocess`), decided on one pass over x (read in
    blocks, as an array's row chunks) unless `scale` is a recorded rule; a y shaped like x gets x's
    rule, as with arrays. `scale` None or "none": taken as it yields its values (rule None)."""
    if scale is None or (isinstance(scale, str) and check_scale(scale) == "none"):
        return samples, None
    spec = samples.element_spec
    single = not isinstance(spec, tuple)
    if isinstance(scale, Preprocessing):
        prep = scale
    else:
        x_only = samples if single else samples.map(lambda *element: element[0])
        blocks = x_only.batch(_DECIDE_BLOCK).as_numpy_iterator()
        prep = decide_from_chunks(blocks, (spec if single else spec[0]).dtype.as_numpy_dtype, len(sample_shape),
                                  scale)
    if prep.identity:
        return samples, prep
    if single:
        return samples.map(prep.apply_tensor, num_parallel_calls=tf.data.AUTOTUNE), prep
    target_too = target_shape is not None and tuple(target_shape) == tuple(sample_shape)

    def prepared(*element):
        rest = list(element[1:])
        if target_too:
            rest[0] = prep.apply_tensor(rest[0])
        return (prep.apply_tensor(element[0]), *rest)

    return samples.map(prepared, num_parallel_calls=tf.data.AUTOTUNE), prep
