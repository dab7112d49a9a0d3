"""Catch what chosen layers return while a step runs: the one way zlens reads a model's insides.

Keras 3 has no forward hooks. A layer's `__call__` runs its `call` method looked up on the
instance, so for the length of a `with catch_outputs(layers):` block each chosen layer's `call`
is wrapped on the instance: the wrapper runs the original and keeps its first real (not
symbolic) output of the block in the thread that opened it. Whatever runs the layers inside
the block (zlens' step, the user's own `train_step`, a subclassed `call`, a functional graph,
a Sequential) is seen the same way, and inside a `tf.function` the caught values are tensors of the same graph, so the
step can scatter them. Nothing is left on the layers after the block.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import keras


@contextlib.contextmanager
def catch_outputs(layers: Sequence[keras.layers.Layer]) -> Iterator[dict[int, Any]]:
    """Within the block, `caught[id(layer)]` is the first output each of `layers` returned in
    this thread (each replica of a `tf.distribute` strategy traces its step in a thread of its
    own, and catches only its own outputs).

    Example:
        >>> dense = keras.layers.Dense(2)
        >>> model = keras.Sequential([dense, keras.layers.Dense(3)])
        >>> with catch_outputs([dense]) as caught:
        ...     _ = model(np.ones((4, 5)))
        >>> caught[id(dense)].shape
        TensorShape([4, 2])
    """
    layers = list({id(layer): layer for layer in layers}.values())
    caught: dict[int, Any] = {}
    frames = _frames()
    frames.append(({id(layer) for layer in layers}, caught))
    with _LOCK:
        for layer in layers:
            _wrap(layer)
    try:
        yield caught
    finally:
        frames.pop()
        with _LOCK:
            for layer in layers:
                _unwrap(layer)


#: Per thread, the catches open in it, innermost last: `(ids of the layers, caught outputs)`.
_THREAD = threading.local()
#: Layers whose `call` is wrapped now, by id: `[layer, original call, open catches using it]`.
_WRAPPED: dict[int, list] = {}
_LOCK = threading.Lock()


def _frames() -> list:
    if not hasattr(_THREAD, "frames"):
        _THREAD.frames = []
    return _THREAD.frames


def _wrap(layer: keras.layers.Layer) -> None:
    entry = _WRAPPED.get(id(layer))
    if entry is not None:
        entry[2] += 1
        return
    original, key = layer.call, id(layer)

    def call_and_catch(*args, **kwargs):
        outputs = original(*args, **kwargs)
        frames = _frames()
        if frames and key in frames[-1][0] and key not in frames[-1][1] and not _symbolic(outputs):
            frames[-1][1][key] = outputs
        return outputs

    layer.call = call_and_catch
    _WRAPPED[key] = [layer, original, 1]


def _unwrap(layer: keras.layers.Layer) -> None:
    entry = _WRAPPED[id(layer)]
    entry[2] -= 1
    if entry[2] == 0:
        del _WRAPPED[id(layer)]
        del layer.call


def _symbolic(outputs) -> bool:
    """Whether `outputs` are Keras' symbolic placeholders (a functional build), not values."""
    return any(isinstance(t, keras.KerasTensor) for t in keras.tree.flatten(outputs))


def walk_layers(model: keras.layers.Layer) -> Iterator[keras.layers.Layer]:
    """Every layer inside `model`, depth first, each once (sub-models and their layers included),
    found through the public `layers` of models and the attributes of subclassed layers."""
    seen = {id(model)}
    stack = list(reversed(_children(model)))
    while stack:
        layer = stack.pop()
        if id(layer) in seen:
            continue
        seen.add(id(layer))
        yield layer
        stack.extend(reversed(_children(layer)))


def _children(layer: keras.layers.Layer) -> list[keras.layers.Layer]:
    children = list(getattr(layer, "layers", None) or [])
    return children + [v for v in vars(layer).values() if isinstance(v, keras.layers.Layer)]
