"""What a `tf.data` pipeline does, read from its graph: whether it yields batches, and which of
its ops give another order on every pass (a shuffle, a non-deterministic map or interleave).

The one module that reads TensorFlow's private `Dataset._as_serialized_graph` (tf.data has no
public way to look inside a pipeline); `tests/data/test_datasets.py` pins what it relies on.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import tensorflow as tf
from google.protobuf.message import DecodeError

#: Ops that put elements into batches (one level of batching each).
BATCH_OPS = frozenset({"BatchDataset", "BatchDatasetV2", "PaddedBatchDataset", "PaddedBatchDatasetV2",
                       "ParallelBatchDataset", "DenseToSparseBatchDataset", "RaggedBatchDataset"})
UNBATCH_OPS = frozenset({"UnbatchDataset", "ExperimentalUnbatchDataset"})
#: Ops whose elements are those of the datasets their function returns (`flat_map`, `interleave`).
NESTING_OPS = frozenset({"FlatMapDataset", "InterleaveDataset", "ParallelInterleaveDataset",
                         "ParallelInterleaveDatasetV2", "ParallelInterleaveDatasetV3", "ParallelInterleaveDatasetV4",
                         "LegacyParallelInterleaveDatasetV2", "ExperimentalParallelInterleaveDataset"})
_SHUFFLE = ("`.shuffle()`, or `Dataset.list_files` without shuffle=False",
            "pass the dataset as it was before `.shuffle()`: zlens shuffles itself")
_RANDOM = ("`Dataset.random()` (or `sample_from_datasets`)", "build the dataset without a random order")
#: Ops whose order differs on every pass whatever their settings: (what the user wrote, the fix).
ORDER_OPS = {
    **dict.fromkeys(("ShuffleDataset", "ShuffleDatasetV2", "ShuffleDatasetV3", "ShuffleAndRepeatDataset",
                     "ShuffleAndRepeatDatasetV2"), _SHUFFLE),
    **dict.fromkeys(("RandomDataset", "RandomDatasetV2"), _RANDOM),
    "DataServiceDatasetV4": ("the tf.data service", "read the data without the service"),
}
#: Parallel ops that keep their order unless `deterministic=False` (or the options say so).
PARALLEL_OPS = {
    "ParallelMapDataset": "`.map(..., deterministic=False)`",
    "ParallelMapDatasetV2": "`.map(..., deterministic=False)`",
    "ParallelInterleaveDatasetV3": "`.interleave(..., deterministic=False)`",
    "ParallelInterleaveDatasetV4": "`.interleave(..., deterministic=False)`",
    "ParallelBatchDataset": "`.batch(..., deterministic=False)`",
}
_DETERMINISTIC_FIX = "leave `deterministic` at its default (True)"
#: Graphs already read: serializing one copies the pipeline's constants (1 s for 60,000 x 784).
_READ: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class DatasetGraph:
    """What a dataset's graph says about its elements.

    Attributes:
        batched: the dataset yields batches (a `batch` not undone by an `unbatch`).
        order_ops: `(what, fix)` for each op whose order changes between passes, in graph order.
        random_values: a function in the pipeline draws random numbers (an augmentation): its
            values, not its order, differ between passes.
        batch_size: the size of the batches it yields, where its last `batch` says (else None).
    """

    batched: bool
    order_ops: tuple[tuple[str, str], ...] = ()
    random_values: bool = False
    batch_size: int | None = None


def read_graph(dataset: tf.data.Dataset) -> DatasetGraph | None:
    """The `DatasetGraph` of `dataset`, or None where TensorFlow cannot serialize its graph
    (read once per dataset object).

    Example:
        >>> ds = tf.data.Dataset.range(10).shuffle(10).batch(4)
        >>> g = read_graph(ds)
        >>> g.batched, g.batch_size, len(g.order_ops), g.order_ops[0][0].startswith("`.shuffle()`")
        (True, 4, 1, True)
    """
    if dataset not in _READ:
        _READ[dataset] = _read(dataset)
    return _READ[dataset]


def _read(dataset: tf.data.Dataset) -> DatasetGraph | None:
    graph = tf.compat.v1.GraphDef()
    try:  # a pipeline over tensors past protobuf's 2 GiB cannot be serialized: no graph then
        graph.ParseFromString(dataset._as_serialized_graph(
            external_state_policy=tf.data.experimental.ExternalStatePolicy.IGNORE).numpy())
    except (tf.errors.OpError, TypeError, ValueError, DecodeError):
        return None
    functions = {f.signature.name: f for f in graph.library.function}
    all_nodes = [*graph.node, *(node for f in functions.values() for node in f.node_def)]
    unordered = dataset.options().deterministic is False
    order_ops = []
    for node in all_nodes:
        if node.op in ORDER_OPS:
            order_ops.append(ORDER_OPS[node.op])
        elif node.op in PARALLEL_OPS and _nondeterministic(node, unordered):
            what = PARALLEL_OPS[node.op]
            if unordered and node.attr["deterministic"].s == b"default":
                what = f"{what.split('(')[0]}(...) under `options.deterministic = False`"
            order_ops.append((what, _DETERMINISTIC_FIX))
        elif node.op == "LegacyParallelInterleaveDatasetV2" and node.attr["deterministic"].s == b"false":
            order_ops.append(("`parallel_interleave(sloppy=True)`", "leave `sloppy` False"))
    random_values = any("Random" in node.op and "Dataset" not in node.op for f in functions.values()
                        for node in f.node_def)
    out = next(node.input[0] for node in graph.node if node.op == "_Retval")
    nodes = {node.name: node for node in graph.node}
    batched = _BatchLevels(nodes, functions).of(out) > 0
    return DatasetGraph(batched=batched, order_ops=tuple(dict.fromkeys(order_ops)), random_values=random_values,
                        batch_size=_outer_batch_size(nodes, out) if batched else None)


def _outer_batch_size(nodes: dict, ref: str) -> int | None:
    """The batch size of the last `batch` before `ref`, following each op's input dataset back,
    where it is a constant and no op between changes it (else None)."""
    node = nodes.get(ref.lstrip("^").split(":")[0])
    while node is not None and node.op not in BATCH_OPS:
        if node.op in UNBATCH_OPS or node.op in NESTING_OPS or "Rebatch" in node.op or not node.input:
            return None
        node = nodes.get(node.input[0].split(":")[0])
    if node is None or len(node.input) < 2:
        return None
    size = nodes.get(node.input[1].split(":")[0])
    if size is None or size.op != "Const":
        return None
    return int(tf.make_ndarray(size.attr["value"].tensor))


def _nondeterministic(node, unordered: bool) -> bool:
    flag = node.attr["deterministic"].s if "deterministic" in node.attr else b"default"
    return flag == b"false" or (flag == b"default" and unordered)


class _BatchLevels:
    """How many levels of batching a node's elements have: +1 per batch, -1 per unbatch, the level
    of the returned dataset through `flat_map` / `interleave`, the input's for every other op."""

    def __init__(self, nodes: dict, functions: dict) -> None:
        self._nodes, self._functions = nodes, functions
        self._memo: dict[tuple[int, str], int] = {}

    def of(self, ref: str, nodes: dict | None = None) -> int:
        nodes = self._nodes if nodes is None else nodes
        name = ref.lstrip("^").split(":")[0]
        key = (id(nodes), name)
        if key not in self._memo:
            self._memo[key] = 0  # a cycle (none in a dataset graph) ends here
            self._memo[key] = self._level(nodes[name], nodes) if name in nodes else 0
        return self._memo[key]

    def _level(self, node, nodes: dict) -> int:
        inputs = [ref for ref in node.input if not ref.startswith("^")]
        below = max((self.of(ref, nodes) for ref in inputs), default=0)
        if node.op in BATCH_OPS:
            return self.of(inputs[0], nodes) + 1
        if node.op in UNBATCH_OPS:
            return max(0, self.of(inputs[0], nodes) - 1)
        if node.op in NESTING_OPS and node.attr["f"].func.name in self._functions:
            function = self._functions[node.attr["f"].func.name]
            inner = {n.name: n for n in function.node_def}
            return max((self.of(ref, inner) for ref in function.ret.values()), default=0)
        return below
