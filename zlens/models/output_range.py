"""Can a model's output reach its data? The output activation of a model, and the one check.

A sigmoid output cannot reconstruct values outside [0, 1] (nor a tanh outside [-1, 1], a relu
below 0): such a model trains to a large, flat loss and a z of little use. `check_output_reaches`
refuses it before training, in one line naming the range, the activation and the fix (or, when
the user asked for the values as they are, warns in that line).
"""

from __future__ import annotations

import math
import warnings

import keras

from zlens.errors import DataError

#: The values each bounded activation can produce (closed, as floats saturate).
REACH = {
    "sigmoid": (0.0, 1.0), "hard_sigmoid": (0.0, 1.0), "softmax": (0.0, 1.0), "tanh": (-1.0, 1.0),
    "hard_tanh": (-1.0, 1.0), "relu": (0.0, math.inf), "relu6": (0.0, 6.0), "softplus": (0.0, math.inf),
    "exponential": (0.0, math.inf), "elu": (-1.0, math.inf),
}
#: Layers after the output activation that only move, drop or crop values (a `Reshape` back to
#: the image shape): the activation before them still bounds the output.
_KEEPS_VALUES = (keras.layers.Reshape, keras.layers.Flatten, keras.layers.Permute, keras.layers.Dropout,
                 keras.layers.Cropping1D, keras.layers.Cropping2D, keras.layers.Cropping3D, keras.layers.Identity)
#: How far past the reach a value may lie (float rounding of a [0, 1] min-max).
_SLACK = 1e-4


def output_activation(model) -> str | None:
    """The name of the activation of `model`'s reconstruction output ("sigmoid", "linear"...), or
    None where it cannot be found (several outputs, a custom `call` without a `decoder`).

    Looks at a Sequential's last layer (past reshapes, crops and dropout), a functional model's
    single output layer, or the `decoder` attribute of a subclassed model (zlens'
    `EncoderDecoder` too), recursively.

    Example:
        >>> output_activation(zlens.models.dense(64, encoding_dim=2))
        'sigmoid'
    """
    layer = _output_layer(model, depth=0)
    activation = getattr(layer, "activation", None)
    return getattr(activation, "__name__", None) if activation is not None else None


def _output_layer(model, depth: int):
    if depth > 8 or model is None:
        return None
    if isinstance(model, keras.Sequential):
        last = [layer for layer in model.layers if not isinstance(layer, _KEEPS_VALUES)]
        return _output_layer(last[-1], depth + 1) if last else None
    if isinstance(model, keras.Model):
        decoder = getattr(model, "decoder", None)
        if isinstance(decoder, keras.layers.Layer):
            return _output_layer(decoder, depth + 1)
        try:
            outputs = model.outputs
        except (AttributeError, ValueError):
            return None
        if not outputs or len(outputs) != 1:
            return None
        history = getattr(outputs[0], "_keras_history", None)
        producer = getattr(history, "operation", None) if history is not None else None
        return _output_layer(producer, depth + 1) if producer is not model else None
    return model


def check_output_reaches(model, value_range: tuple[float, float] | None, done: str, *, refuse: bool = True) -> None:
    """Raise one `DataError` when `model`'s output activation cannot produce `value_range`, the
    range of the prepared data it must reconstruct (`done` says how it was prepared); with
    `refuse=False` (the values were asked for as they are: `scale="none"`), warn instead. Nothing
    is said when the range or the activation is not known, or the activation is unbounded.

    Example:
        >>> check_output_reaches(zlens.models.dense(4), (0.0, 255.0), "not scaled")
        Traceback (most recent call last):
        ...
        zlens.errors.DataError: the prepared data lies in [0, 255] (not scaled) but the model's output ...
    """
    activation = output_activation(model)
    if value_range is None or activation not in REACH:
        return
    lo, hi = value_range
    low, high = REACH[activation]
    if lo >= low - _SLACK and hi <= high + _SLACK:
        return
    message = (
        f"the prepared data lies in [{lo:.4g}, {hi:.4g}] ({done}) but the model's output activation is "
        f"{activation}, which reaches only [{low:g}, {high:g}]: it cannot reconstruct the data. Scale it to "
        "[0, 1] with scale=\"minmax\" (CLI: --scale minmax; \"auto\" does it for data outside [0, 1]), or give "
        "a model whose output is linear."
    )
    if refuse:
        raise DataError(message)
    warnings.warn(message, UserWarning, stacklevel=3)
