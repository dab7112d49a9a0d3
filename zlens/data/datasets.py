"""The rules for a `tf.data.Dataset` as a user built it: what its elements hold, whether it is
batched, whether its order can be matched to rows of z. One home for each rule.

Elements are read as Keras reads them: `x`, `(x,)`, `(x, y)` (y the target) or
`(x, y, sample_weight)`, or a dict (samples under "x", or its one key left, target under "y").
`labels=` and `index=` may name a position or key of the element: class labels kept with z, and
a sample index the dataset carries itself. A batched dataset is unbatched. A dataset without an
index must give the same order on every pass (zlens indexes it by position and shuffles it);
one with an index may come in any order.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import tensorflow as tf

from zlens.data.dataset_graph import read_graph
from zlens.data.indexed import check_finite
from zlens.errors import DataError

#: Elements compared across two passes by the backstop of the order check.
HEAD_ELEMENTS = 32
_READ_BATCH = 4096
_SAMPLE_WEIGHT = ("sample weights in the dataset's elements are not supported (zlens' step trains unweighted): "
                  "drop them, e.g. ds.map(lambda x, y, w: (x, y)).")


@dataclass(frozen=True)
class DatasetInput:
    """A user's dataset, read once: its samples in zlens' canonical form, labels and index taken out.

    Attributes:
        samples: an unbatched dataset of `x` or `(x, y)`; where the dataset carries its own
            index, of `(x, idx)` or `(x, y, idx)` (idx an int64 scalar per element).
        sample_shape: one sample's shape.
        target_shape: one target's shape where the element holds a target y, else None.
        carries_index: the elements carry their own sample index (`index=`).
        n_samples: N where a pass over the data has counted it (an index or labels), else None.
        labels: the labels `labels=` named in the elements, row i = sample i, else None.
        batch_size: the size of the batches the user's dataset yields, where its graph says.
    """

    samples: tf.data.Dataset
    sample_shape: tuple[int, ...]
    target_shape: tuple[int, ...] | None = None
    carries_index: bool = False
    n_samples: int | None = None
    labels: np.ndarray | None = None
    batch_size: int | None = None


def is_element_name(value: Any) -> bool:
    """Whether `labels=` / `index=` names a key (a str) or position (an int) of a dataset's element."""
    return isinstance(value, (str, int, np.integer)) and not isinstance(value, bool)


def parse_dataset(dataset: tf.data.Dataset, *, labels=None, index=None,
                  expected_shape: tuple[int, ...] | None = None) -> DatasetInput:
    """Read `dataset` as a user built it into a `DatasetInput`, or raise one clear `DataError`.

    Batched or not (told from its graph, or, where TensorFlow cannot serialize it, from
    `expected_shape`, the model's sample shape); `labels` and `index` name an element's key or
    position (`labels` may also be an array, kept by the caller). Without `index`, the order must
    be the same on every pass (`check_same_order`).

    Example:
        >>> ds = tf.data.Dataset.from_tensor_slices({"x": np.zeros((6, 3), "float32"), "label": np.arange(6)})
        >>> parsed = parse_dataset(ds.batch(4), labels="label")
        >>> parsed.sample_shape, parsed.labels.tolist()
        ((3,), [0, 1, 2, 3, 4, 5])
    """
    names = {"labels": labels if is_element_name(labels) else None, "index": index}
    check_finite(dataset)
    samples = unbatched(dataset, expected_shape)
    layout = _Layout(samples.element_spec, **names)
    if index is None:
        check_same_order(samples, dataset)
    spec = samples.element_spec
    sample_shape = _fixed_shape(layout.pick(spec, layout.x), "samples")
    target_shape = None if layout.y is None else _fixed_shape(spec[layout.y], "targets")
    found = _read_index_and_labels(samples, layout) if index is not None or layout.label is not None else {}
    return DatasetInput(samples.map(layout.canonical), sample_shape, target_shape, carries_index=index is not None,
                        batch_size=_batch_size(dataset), **found)


def _batch_size(dataset: tf.data.Dataset) -> int | None:
    graph = read_graph(dataset)
    return None if graph is None else graph.batch_size


def _fixed_shape(spec: tf.TensorSpec, what: str) -> tuple[int, ...]:
    """One element's shape, or a `DataError` where the dataset leaves part of it unknown."""
    shape = tuple(spec.shape)
    if spec.shape.rank is None or None in shape:
        raise DataError(f"the dataset's {what} have an unknown shape {shape if spec.shape.rank is not None else '?'}: "
                        "give them a fixed one (a generator's output_signature, or "
                        "ds.map(lambda x: tf.ensure_shape(x, shape))).")
    return tuple(int(d) for d in shape)


def encoded_samples(dataset: tf.data.Dataset) -> tf.data.Dataset:
    """The samples of `dataset` for `zlens.encode`: unbatched, `x` of each element (a target, labels
    or other keys are left out), in an order that is the same on every pass.

    Example:
        >>> ds = tf.data.Dataset.from_tensor_slices((np.zeros((5, 3), "float32"), np.arange(5))).batch(2)
        >>> encoded_samples(ds).element_spec
        TensorSpec(shape=(3,), dtype=tf.float32, name=None)
    """
    samples = unbatched(dataset)
    check_same_order(samples, dataset)
    layout = _Layout(samples.element_spec, strict=False)
    return samples.map(lambda *element: layout.pick(layout.element(element), layout.x))


def unbatched(dataset: tf.data.Dataset, expected_shape: tuple[int, ...] | None = None) -> tf.data.Dataset:
    """`dataset` one element per sample: unbatched where its graph shows a `batch`, or where its
    first part is a stack of samples of `expected_shape`, a built model's (a generator that
    yields batches: nothing in the graph says so)."""
    graph = read_graph(dataset)
    if graph is not None and graph.batched:
        return dataset.unbatch()
    first = tf.nest.flatten(dataset.element_spec)[0]
    stacked = (expected_shape is not None and first.shape.rank == len(expected_shape) + 1
               and tuple(first.shape[1:]) == tuple(expected_shape))
    return dataset.unbatch() if stacked else dataset


def check_same_order(samples: tf.data.Dataset, dataset: tf.data.Dataset | None = None) -> None:
    """Raise a `DataError` naming the op unless `samples` gives its elements in the same order on
    every pass: an op of the graph that reorders (`.shuffle()`, `deterministic=False`, ...), or,
    as a backstop where no function draws random numbers, the first elements of two passes.

    `dataset` is what the user passed (its graph is read), `samples` the same data unbatched.
    """
    graph = read_graph(dataset if dataset is not None else samples)
    if graph is not None and graph.order_ops:
        what, fix = graph.order_ops[0]
        raise DataError(f"the dataset's order is not the same on every pass ({what}), so its elements cannot be "
                        f"matched to rows of z: {fix}; or carry a sample index and name it with index= "
                        "(e.g. ds.enumerate() before your own shuffle, then index=0).")
    if graph is not None and graph.random_values:
        return  # a random augmentation: values differ between passes by design; the graph judged the order
    if _head_fingerprint(samples) != _head_fingerprint(samples):
        raise DataError(f"the dataset's first {HEAD_ELEMENTS} elements differ between two passes (a random order "
                        "zlens cannot see in its graph, e.g. from a generator), so its elements cannot be matched "
                        "to rows of z: give the same order on every pass (zlens shuffles itself), or carry a sample "
                        "index and name it with index=.")


def is_indexed_batches(dataset: tf.data.Dataset) -> bool:
    """Whether `dataset` yields batches `(x, idx)` / `(x, y, idx)` as `zlens.data.index_dataset`
    makes them: a batched tuple (its graph says so) whose last part is an integer vector."""
    spec = dataset.element_spec
    if not (isinstance(spec, tuple) and len(spec) in (2, 3) and spec[-1].dtype.is_integer
            and len(spec[-1].shape) == 1):
        return False
    graph = read_graph(dataset)
    return graph is None or graph.batched


def indexed_batches_count(dataset: tf.data.Dataset) -> int:
    """N of a dataset of indexed batches (`is_indexed_batches`), its indices checked by one pass."""
    values = list(dataset.map(lambda *batch: tf.cast(batch[-1], tf.int64)).as_numpy_iterator())
    return check_index_values(np.concatenate(values) if values else np.zeros(0, np.int64),
                              "(the batches' last integer vector; labels=-1 if it is a class label)")


def check_index_values(values: np.ndarray, name: str) -> int:
    """N, where `values` (one pass of a dataset's sample index) holds each of 0..N-1 exactly once;
    else one clear `DataError`.

    Example:
        >>> check_index_values(np.array([2, 0, 1]), "`idx`")
        3
    """
    if len(values) == 0:
        raise DataError("the dataset is empty: there are no samples to train on.")
    low, high = int(values.min()), int(values.max())
    distinct = len(np.unique(values))
    if low != 0 or high + 1 != len(values) or distinct != len(values):
        raise DataError(f"the sample index {name} must hold each of 0..N-1 exactly once per pass; one pass holds "
                        f"{len(values)} values from {low} to {high} ({len(values) - distinct} repeated): number "
                        "the samples 0..N-1 (e.g. ds.enumerate() before any shuffle).")
    return len(values)


class _Layout:
    """Where x, y, the labels and the index are in an element (keys of a dict, positions of a
    tuple, None for a single tensor), decided once from the element spec."""

    def __init__(self, spec, *, labels=None, index=None, strict: bool = True) -> None:
        self.spec = spec
        self.x: Any = None
        self.y: Any = None
        self.label: Any = None
        self.index: Any = None
        if isinstance(spec, dict):
            self._dict(spec, labels, index, strict)
        elif isinstance(spec, tuple):
            self._tuple(spec, labels, index, strict)
        else:
            for what, name in (("labels", labels), ("index", index)):
                if name is not None:
                    raise DataError(f"{what}={name!r} names a part of the dataset's elements, but each element is "
                                    "one tensor: yield (x, label) pairs or dicts to carry it.")
        x_spec = self.pick(spec, self.x)
        if not isinstance(x_spec, tf.TensorSpec):
            raise DataError(f"the dataset's samples must be one tensor each; got {x_spec}.")
        if self.index is not None:
            self._check_index_spec(self.pick(spec, self.index), index)

    def _dict(self, spec: dict, labels, index, strict: bool) -> None:
        keys = list(spec)
        for what, name in (("labels", labels), ("index", index)):
            if name is not None and name not in spec:
                raise DataError(f"{what}={name!r} is not a key of the dataset's elements; their keys are {keys}.")
        if "sample_weight" in spec:
            raise DataError(_SAMPLE_WEIGHT)
        self.label, self.index = labels, index
        rest = [k for k in keys if k not in (labels, index, "y")]
        if "x" in spec or not strict:
            self.x = "x" if "x" in spec else rest[0] if len(rest) == 1 else None
            extra = [k for k in rest if k != self.x]
        else:
            self.x, extra = (rest[0], []) if len(rest) == 1 else (None, rest)
        if self.x is None or (strict and extra):
            raise DataError(f"the dataset's elements have keys {keys}: zlens trains on the key 'x' (the target under "
                            f"'y') and does not know what {extra or rest} hold: name the samples 'x', pass "
                            f"labels='{(extra or rest)[-1]}' for class labels kept with z or index= for a sample "
                            "index, or drop the others with ds.map().")
        self.y = "y" if "y" in spec and strict else None

    def _tuple(self, spec: tuple, labels, index, strict: bool) -> None:
        named = {}
        for what, name in (("labels", labels), ("index", index)):
            if name is None:
                continue
            if isinstance(name, str) or not -len(spec) <= int(name) < len(spec):
                raise DataError(f"{what}={name!r} does not name a part of the dataset's elements, which are tuples "
                                f"of {len(spec)}: name a position 0..{len(spec) - 1} (or -1 for the last).")
            named[what] = int(name) % len(spec)
        if len(set(named.values())) < len(named):
            raise DataError("labels= and index= name the same part of the dataset's elements.")
        self.label, self.index = named.get("labels"), named.get("index")
        rest = [p for p in range(len(spec)) if p not in named.values()]
        if not rest:
            raise DataError("the dataset's elements hold no samples besides the labels and the index.")
        if strict and len(rest) > 2:
            raise DataError(_SAMPLE_WEIGHT if len(rest) == 3 else
                            f"the dataset's elements are tuples of {len(rest)}: zlens reads (x,), (x, y) as Keras "
                            "does, with labels= and index= naming any other part.")
        self.x, self.y = rest[0], (rest[1] if len(rest) == 2 and strict else None)

    @staticmethod
    def _check_index_spec(spec, name) -> None:
        if not isinstance(spec, tf.TensorSpec) or not spec.dtype.is_integer or spec.shape.rank != 0:
            raise DataError(f"the sample index index={name!r} must be one integer per sample; it is {spec}.")

    def element(self, args: tuple):
        """A dataset map function's arguments as the element (a tuple's parts arrive one by one)."""
        return args if isinstance(self.spec, tuple) else args[0]

    @staticmethod
    def pick(element, key):
        """The part of `element` (or of its spec) at `key`; the element itself for a single tensor."""
        return element if key is None else element[key]

    def canonical(self, *element):
        """An element as zlens' feed takes it: `x` or `(x, y)`, with the index last where carried."""
        element = self.element(element)
        parts = [self.pick(element, self.x)] + ([] if self.y is None else [element[self.y]])
        if self.index is not None:
            parts.append(tf.cast(element[self.index], tf.int64))
        return parts[0] if len(parts) == 1 else tuple(parts)


def _read_index_and_labels(samples: tf.data.Dataset, layout: _Layout) -> dict[str, Any]:
    """One pass over `samples` for the index (checked: N) and the labels (placed at their index)."""
    def parts(*element):
        element = layout.element(element)
        index = tf.zeros((), tf.int64) if layout.index is None else tf.cast(element[layout.index], tf.int64)
        label = tf.zeros((), tf.int64) if layout.label is None else element[layout.label]
        return index, label

    indices, labels = [], []
    for index, label in samples.map(parts).batch(_READ_BATCH).as_numpy_iterator():
        indices.append(index)
        labels.append(label)
    if not indices:
        raise DataError("the dataset is empty: there are no samples to train on.")
    index, label = np.concatenate(indices), np.concatenate(labels)
    if layout.index is not None:
        n = check_index_values(index, repr(layout.index))
        placed = np.empty_like(label)
        placed[index] = label
        label = placed
    else:
        n = len(label)
    if label.dtype.kind in "OS":  # tf.string labels arrive as bytes
        label = np.char.decode(label.astype(bytes), "utf-8")
    return {"n_samples": n, "labels": label if layout.label is not None else None}


def _head_fingerprint(samples: tf.data.Dataset) -> str:
    """A hash of the first `HEAD_ELEMENTS` elements of one pass over `samples`."""
    digest = hashlib.sha256()
    for element in samples.take(HEAD_ELEMENTS).as_numpy_iterator():
        for part in tf.nest.flatten(element):
            digest.update(np.ascontiguousarray(part).tobytes())
    return digest.hexdigest()
