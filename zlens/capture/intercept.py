"""Catch what chosen layers return while a step runs: the one way zlens reads a model's insides.

Keras 3 has no forward hooks. A layer's `__call__` runs its `call` method looked up on the
instance, so for the length of a `with catch_outputs(layers):` block each chosen layer's `call`
is wrapped on the instance: the wrapper runs the original and keeps its first real (not
symbolic) output of the block. Whatever runs the layers inside the block (zlens' step, the
user's own `train_step`, a subclassed `call`, a functional graph, a Sequential) is seen the
same way, and inside a `tf.function` the caught values are tensors of the same graph, so the
step can scatter them. Nothing is left on the layers after the block.
"""

from __future__ import annotations

import contextlib
from typing import Any, Iterator, Sequence

import keras

from zlens.errors import ModelError


@contextlib.contextmanager
def catch_outputs(layers: Sequence[keras.layers.Layer]) -> Iterator[dict[int, Any]]:
    """Within the block, `caught[id(layer)]` is the first output each of `layers` returned.

    Example:
        >>> dense = keras.layers.Dense(2)
        >>> model = keras.Sequential([dense, keras.layers.Dense(3)])
        >>> with catch_outputs([dense]) as caught:
        ...     _ = model(np.ones((4, 5)))
        >>> caught[id(dense)].shape
        TensorShape([4, 2])
    """
    caught: dict[int, Any] = {}
    wrapped = []
    try:
        for layer in {id(layer): layer for layer in layers}.values():
            if "call" in vars(layer):
                raise ModelError(f"layer '{layer.name}' is already being caught (a step inside a step?).")
            layer.call = _catching(layer.call, caught, id(layer))
            wrapped.append(layer)
        yield caught
    finally:
        for layer in wrapped:
            del layer.call


def _catching(call, caught: dict[int, Any], key: int):
    def call_and_catch(*args, **kwargs):
        outputs = call(*args, **kwargs)
        if key not in caught and not _symbolic(outputs):
            caught[key] = outputs
        return outputs

    return call_and_catch


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
