"""Taps: the named per-sample tensors zlens captures, and the Keras model that computes them.

A tap is `"z"` (the latent layer), `"recon_error"` (per-sample mean squared error), or the
name of any layer of the autoencoder (`"z_mean"`, `"z_log_var"`, `"z_sample"` for a VAE).
"""

from __future__ import annotations

from typing import Sequence

import keras
from keras import ops

from zlens.errors import ModelError

LATENT = "z"
RECON_ERROR = "recon_error"
RECONSTRUCTION = "reconstruction"
_LATENT_CANDIDATES = ("z", "z_mean", "latent", "encoding", "bottleneck")


def resolve_latent(autoencoder: keras.Model, latent: str | None) -> str:
    """The name of the layer whose output is z: `latent` if given, else a conventional name.

    Raises `ModelError` listing the model's layers when the name is unknown.
    """
    names = [layer.name for layer in autoencoder.layers]
    if latent is not None:
        if latent not in names:
            raise ModelError(
                f"the model has no layer named '{latent}'; its layers are: {', '.join(names)}. "
                "Pass latent=<name of the layer whose output is z>."
            )
        return latent
    for candidate in _LATENT_CANDIDATES:
        if candidate in names:
            return candidate
    raise ModelError(
        f"cannot tell which layer of '{autoencoder.name}' is the latent z; pass latent=<layer name> "
        f"(its layers are: {', '.join(names)})."
    )


def check_functional(model, what: str = "model") -> keras.Model:
    """Return `model` if zlens can tap its layers (functional or Sequential), else raise."""
    if not isinstance(model, keras.Model):
        raise ModelError(f"{what} must be a Keras model; got {type(model).__name__}.")
    try:
        model.inputs, model.outputs  # noqa: B018  (subclassed models have neither)
    except (AttributeError, ValueError):
        model = None
    if model is None or not model.inputs or not model.outputs:
        raise ModelError(
            f"{what} must be a functional or Sequential Keras model (built, with known inputs) "
            "so its layers can be tapped; for a subclassed model pass encoder= and decoder= models."
        )
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ModelError(f"{what} must have one input and one output (the reconstruction).")
    return model


def build_tap_model(autoencoder: keras.Model, latent: str, taps: Sequence[str]) -> keras.Model:
    """A model sharing `autoencoder`'s layers that returns the reconstruction and each layer tap.

    Outputs a dict: `"reconstruction"` plus one entry per tap that is a layer output
    (`"z"` is the latent layer's output). `"recon_error"` is computed from the reconstruction
    by `per_sample_error`, not by the model.
    """
    outputs = {RECONSTRUCTION: autoencoder.output}
    for name in taps:
        if name == RECON_ERROR:
            continue
        layer_name = latent if name == LATENT else name
        try:
            layer = autoencoder.get_layer(layer_name)
        except ValueError:
            raise ModelError(
                f"unknown tap '{name}': the model has no layer of that name. Taps are 'z', "
                f"'recon_error' or a layer name: {', '.join(l.name for l in autoencoder.layers)}."
            ) from None
        out = layer.output
        if isinstance(out, (list, tuple, dict)):
            raise ModelError(f"tap '{name}': layer '{layer_name}' has several outputs; tap a layer with one.")
        outputs[name] = out
    return keras.Model(autoencoder.input, outputs, name=f"{autoencoder.name}_taps")


def tap_row_shapes(tap_model: keras.Model, taps: Sequence[str]) -> dict[str, tuple[int, ...]]:
    """The shape of one sample's value for each tap, e.g. `{"z": (32,), "recon_error": ()}`."""
    shapes = {}
    for name in taps:
        if name == RECON_ERROR:
            shapes[name] = ()
            continue
        shape = tuple(tap_model.output[name].shape[1:])
        if any(s is None for s in shape):
            raise ModelError(f"tap '{name}' has a sample shape {shape} that is not fixed; zlens needs a fixed size.")
        shapes[name] = shape
    return shapes


def check_taps(taps: Sequence[str] | str) -> tuple[str, ...]:
    """Normalise `taps` to a tuple of unique names with `"z"` first."""
    if isinstance(taps, str):
        taps = (taps,)
    taps = tuple(dict.fromkeys(taps))
    if not taps:
        raise ModelError("taps is empty: name at least one tap, e.g. taps=('z',).")
    for t in taps:
        if not isinstance(t, str) or not t:
            raise ModelError(f"taps must be names (strings); got {t!r}.")
    return taps


def per_sample_error(x, reconstruction):
    """Mean squared reconstruction error of each sample, shape (batch,)."""
    sq = ops.square(ops.cast(x, reconstruction.dtype) - reconstruction)
    return ops.mean(ops.reshape(sq, (ops.shape(sq)[0], -1)), axis=-1)
