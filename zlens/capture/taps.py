"""Taps: the named per-sample tensors zlens captures, and where each comes from in a model.

A tap is `"z"` (the latent), `"recon_error"` (per-sample mean squared error against the
target), or any layer or sub-model of the model, named by its layer name (found at any depth)
or by an attribute path (`"encoder"`, `"encoder.dense_1"`). `TapPlan` resolves the names once
for a model as its user wrote it (functional, Sequential with or without an Input, subclassed
with `encoder` / `decoder` attributes, `call` returning the reconstruction or
`(reconstruction, z)`, no `call` at all), builds it on a sample batch, and then reads every tap
from the layers' outputs caught while a step runs (`capture/intercept.py`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np
from keras import ops

from zlens.capture.intercept import catch_outputs, walk_layers
from zlens.data.validate import sample_shape_mismatch
from zlens.errors import DataError, ModelError

LATENT = "z"
RECON_ERROR = "recon_error"
#: Layer names taken as the latent when none is given, in this order (a VAE's mean before its sample).
LATENT_NAMES = ("z_mean", "z", "latent", "encoding", "bottleneck")


@dataclass(frozen=True)
class TapSource:
    """A value a layer returns while the model runs: the layer, and which of its outputs."""

    layer: keras.layers.Layer
    output: int = 0  # for a layer returning several outputs (an encoder's [z_mean, z_log_var, z])

    def value(self, caught: Mapping[int, Any]):
        """This source's value among the outputs caught while a step ran."""
        if id(self.layer) not in caught:
            raise ModelError(
                f"layer '{self.layer.name}' was not called while the model ran, so zlens cannot read it; "
                "tap a layer the forward pass (or your train_step) calls."
            )
        return _select(caught[id(self.layer)], self.output, self.layer.name)


class TapPlan:
    """Where each tap of `model` comes from, each tap's per-sample shape, and the model's passes.

    Args:
        model: any Keras model: functional, Sequential (built or not), or subclassed.
        latent: which layer's output is z: a layer name (at any depth), an attribute path such
            as `"encoder"` (its first output when it returns several), or None for the first
            found of: a layer named one of `LATENT_NAMES`, an `encoder` attribute, the second
            output of a `call` returning `(reconstruction, z)`, the layer before the output of
            a functional or Sequential model that is not an autoencoder (a classifier).
        taps: tap names (see the module docstring), `"z"` first.
        sample_shape: one sample's shape; builds a model not yet built (default: the model's
            input shape).

    Example:
        >>> plan = TapPlan(zlens.models.dense(64, 2), None, ("z", "recon_error"))
        >>> plan.latent, plan.row_shapes
        ('z', {'z': (2,), 'recon_error': ()})
    """

    def __init__(self, model: keras.Model, latent: str | None, taps: Sequence[str],
                 sample_shape: Sequence[int] | None = None) -> None:
        if not isinstance(model, keras.Model):
            raise ModelError(f"the model must be a Keras model; got {type(model).__name__}.")
        self.model = model
        self.taps = check_taps(taps)
        self.sample_shape = _sample_shape(model, sample_shape)
        self.reconstruction = TapSource(_layer_attribute(model, "decoder") or model)
        self.sources = {name: _tap_source(model, name) for name in self.taps if name not in (LATENT, RECON_ERROR)}
        latent_source, self.latent, encoder = _find_latent(model, latent)
        probe = np.zeros((2, *self.sample_shape), dtype="float32")
        with catch_outputs([*self.layers, *([latent_source.layer] if latent_source else [])]) as caught:
            output = self.forward(probe, training=False)  # also builds what is not built yet
        if latent_source is None:  # found by the model's structure, now that it has run
            latent_source, self.latent = _latent_by_structure(model, output, self.sample_shape)
            with catch_outputs([*self.layers, latent_source.layer]) as caught:
                self.forward(probe, training=False)
        self.sources[LATENT] = latent_source
        #: What `encode` runs alone when z is its output: the `encoder`, or a functional model's
        #: sub-model from the input to the latent layer (None: a forward pass catches z).
        self.encoder = encoder or _functional_encoder(model, latent_source)
        self.latent_shape = _row_shape(LATENT, latent_source.value(caught))
        self.reconstruction_shape = tuple(int(s) for s in self.reconstruction.value(caught).shape[1:])
        self.row_shapes = {name: () if name == RECON_ERROR else _row_shape(name, self.sources[name].value(caught))
                           for name in self.taps}

    # -- what a step reads --------------------------------------------------------------------
    @property
    def layers(self) -> list[keras.layers.Layer]:
        """The layers whose outputs a step must catch: the reconstruction's and every tap's."""
        return [self.reconstruction.layer, *(source.layer for source in self.sources.values())]

    def tap_values(self, caught: Mapping[int, Any], y) -> dict[str, Any]:
        """Each tap's per-sample values for a batch from the outputs caught while it ran; `y` is
        the batch's target (the input, for an autoencoder), for `"recon_error"`."""
        values = {}
        for name in self.taps:
            if name == RECON_ERROR:
                values[name] = per_sample_error(y, self.reconstruction.value(caught))
            else:
                values[name] = self.sources[name].value(caught)
        return values

    def check_target(self, target_shape: Sequence[int]) -> None:
        """Raise unless `"recon_error"` can compare the reconstruction with targets of this shape."""
        if RECON_ERROR in self.taps and tuple(target_shape) != self.reconstruction_shape:
            raise ModelError(
                f"tap 'recon_error' compares the model's output {self.reconstruction_shape} with the target "
                f"{tuple(target_shape)} per sample, and their shapes differ (not an autoencoder?): "
                "leave 'recon_error' out of taps, or, if y holds class labels, pass them as labels= (a dataset's "
                "part by its position or key: labels=1, labels=\"label\"), not as the target."
            )

    # -- the model's passes ---------------------------------------------------------------------
    def forward(self, x, training: bool = False):
        """The model's output for `x` (its reconstruction first): its own `call`, or for a model
        without one (the Keras VAE example) `decoder(encoder(x))` on the encoder's first output."""
        if _has_call(self.model):
            return self.model(x, training=training)
        encoder, decoder = _layer_attribute(self.model, "encoder"), _layer_attribute(self.model, "decoder")
        if encoder is None or decoder is None:
            raise ModelError(
                f"model '{self.model.name}' has no call() method and no encoder / decoder attributes, so zlens "
                "cannot run it forward: give it a call(), or encoder and decoder sub-models."
            )
        return decoder(_select(encoder(x, training=training), 0, encoder.name), training=training)

    def reconstruct(self, x, training: bool = False):
        """The reconstruction of `x`: the model's output, or its first output when it returns several."""
        return _select(self.forward(x, training=training), 0, self.model.name)

    def infer(self, x, y) -> dict[str, Any]:
        """Every tap of a batch in inference mode (the consistent pass), with `y` its target."""
        with catch_outputs(self.layers) as caught:
            self.forward(x, training=False)
        return self.tap_values(caught, y)

    def encode(self, x):
        """z of a batch in inference mode: the encoder alone where z is its output (no decoder),
        else a forward pass that catches the latent layer."""
        source = self.sources[LATENT]
        if self.encoder is not None:
            return _select(self.encoder(x, training=False), source.output, self.encoder.name)
        with catch_outputs([source.layer]) as caught:
            self.forward(x, training=False)
        return source.value(caught)


def known_sample_shape(model: keras.Model) -> tuple[int | None, ...] | None:
    """One sample's shape as the model's input declares it (None for a size left free), or None
    for a model not built yet (it is built from the data)."""
    try:
        known = model.input_shape
    except (AttributeError, ValueError):
        return None
    return tuple(known[1:]) if isinstance(known, tuple) else None


def _sample_shape(model: keras.Model, sample_shape) -> tuple[int, ...]:
    """The samples' shape: `sample_shape` (checked against the model's input where it has one),
    or the model's own input shape."""
    known = known_sample_shape(model)
    if sample_shape is not None:
        sample_shape = tuple(int(s) for s in sample_shape)
        mismatch = None if known is None else sample_shape_mismatch(sample_shape, known, "x")
        if mismatch is not None:
            raise DataError(mismatch)
        return sample_shape
    if known is None or any(s is None for s in known):
        raise ModelError(
            f"model '{model.name}' is not built and zlens does not know its input shape: pass the data "
            "(zlens.fit, TappedAutoencoder.fit build it from the samples' shape) or sample_shape=."
        )
    return tuple(int(s) for s in known if s is not None)  # none is None here: checked above


def _find_latent(model: keras.Model, latent: str | None):
    """`(source, name, encoder)` of the latent, by what the user named or by convention; `encoder`
    is the latent's layer when it is the model's `encoder` (fed the model's input: encode runs it
    alone). `(None, None, None)` when only the model's structure can tell (see `_latent_by_structure`)."""
    if latent is not None:
        if not isinstance(latent, str) or not latent:
            raise ModelError(f"latent must be a layer name or an attribute path such as 'encoder'; got {latent!r}.")
        layer = _attribute_path(model, latent) or _layer_named(model, latent)
        if layer is None:
            raise ModelError(
                f"the model has no layer or attribute named '{latent}'; its layers are: {_layer_names(model)}. "
                "Pass latent=<name of the layer whose output is z> or an attribute such as 'encoder'."
            )
        return TapSource(layer), latent, layer if layer is _layer_attribute(model, "encoder") else None
    for name in LATENT_NAMES:
        layer = _layer_named(model, name)
        if layer is not None:
            return TapSource(layer), name, None
    encoder = _layer_attribute(model, "encoder")
    if encoder is not None:
        return TapSource(encoder), "encoder", encoder
    return None, None, None


def _functional_encoder(model: keras.Model, source: TapSource) -> keras.Model | None:
    """A model from a functional model's input to its latent layer's output (sharing the weights),
    or None where the layer is not a node of the model's own graph."""
    if not _has_graph(model) or source.layer is model:
        return None
    try:
        inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
        return keras.Model(inputs, source.layer.output, name=f"{model.name}_encoder")
    except (AttributeError, ValueError):  # a layer of a nested model, or called more than once
        return None


def _latent_by_structure(model: keras.Model, output, sample_shape):
    """The latent of a model with no latent layer by name and no `encoder`: the second output of a
    `call` returning `(reconstruction, z)`, or a classifier's layer before its output."""
    if isinstance(output, (list, tuple)) and len(output) >= 2:
        return TapSource(model, 1), f"{model.name}[1]"
    top = list(getattr(model, "layers", []) or [])
    first = _select(output, 0, model.name)
    if len(top) >= 2 and _has_graph(model) and tuple(first.shape[1:]) != tuple(sample_shape):
        return TapSource(top[-2]), top[-2].name  # a classifier's embedding: the layer before the output
    raise ModelError(
        f"cannot tell where the latent z of '{model.name}' is: it has no layer named "
        f"{' / '.join(LATENT_NAMES)}, no `encoder` attribute, and its call returns one output. "
        f"Pass latent=<layer name or attribute> (its layers: {_layer_names(model)})."
    )


def _tap_source(model: keras.Model, name: str) -> TapSource:
    layer = _attribute_path(model, name) or _layer_named(model, name)
    if layer is None:
        raise ModelError(
            f"unknown tap '{name}': the model has no layer or attribute of that name. Taps are 'z', "
            f"'recon_error' or a layer name: {_layer_names(model)}."
        )
    return TapSource(layer)


def _attribute_path(model, path: str) -> keras.layers.Layer | None:
    obj = model
    for part in path.split("."):
        obj = vars(obj).get(part) if hasattr(obj, "__dict__") else None
        if obj is None:
            return None
    return obj if isinstance(obj, keras.layers.Layer) else None


def _layer_attribute(model, name: str) -> keras.layers.Layer | None:
    value = vars(model).get(name)
    return value if isinstance(value, keras.layers.Layer) else None


def _layer_named(model: keras.Model, name: str) -> keras.layers.Layer | None:
    return next((layer for layer in walk_layers(model) if layer.name == name), None)


def _layer_names(model: keras.Model) -> str:
    return ", ".join(dict.fromkeys(layer.name for layer in walk_layers(model))) or "(none)"


def _has_call(model: keras.Model) -> bool:
    """Whether the model has a forward pass of its own (the Keras VAE example has only train_step)."""
    return type(model).call is not keras.Model.call


def _has_graph(model: keras.Model) -> bool:
    """A functional or Sequential model with one output: its `layers` run in order, the last
    one making the output (a subclassed model has no symbolic `outputs`)."""
    try:
        return len(model.outputs) == 1
    except (AttributeError, TypeError, ValueError):
        return False


def _select(value, index: int, name: str):
    if isinstance(value, dict):
        raise ModelError(f"'{name}' returns a dict; zlens taps a tensor or a list of tensors (pass latent=).")
    if isinstance(value, (list, tuple)):
        if index >= len(value):
            raise ModelError(f"'{name}' returns {len(value)} outputs; there is no output {index}.")
        return value[index]
    if index:
        raise ModelError(f"'{name}' returns one output; there is no output {index}.")
    return value


def _row_shape(name: str, value) -> tuple[int, ...]:
    shape = tuple(value.shape[1:])
    if any(s is None for s in shape):
        raise ModelError(f"tap '{name}' has a sample shape {shape} that is not fixed; zlens needs a fixed size.")
    return tuple(int(s) for s in shape)


def check_taps(taps: Sequence[str] | str) -> tuple[str, ...]:
    """Normalise `taps` to a tuple of unique names, `"z"` first when it is one of them.

    Example:
        >>> check_taps(("recon_error", "z", "z"))
        ('z', 'recon_error')
    """
    if isinstance(taps, str):
        taps = (taps,)
    taps = tuple(dict.fromkeys(taps))
    if not taps:
        raise ModelError("taps is empty: name at least one tap, e.g. taps=('z',).")
    for t in taps:
        if not isinstance(t, str) or not t:
            raise ModelError(f"taps must be names (strings); got {t!r}.")
    return tuple(sorted(taps, key=lambda t: t != LATENT))


def per_sample_error(y, reconstruction):
    """Mean squared reconstruction error of each sample against its target `y`, shape (batch,)."""
    sq = ops.square(ops.cast(y, reconstruction.dtype) - reconstruction)
    return ops.mean(ops.reshape(sq, (ops.shape(sq)[0], -1)), axis=-1)
