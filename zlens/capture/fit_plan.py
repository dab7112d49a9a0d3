"""`FitPlan`: how one fit runs, decided once before it starts, then only read.

What is captured, where the tap buffers live, whether the step is compiled with XLA, how many
steps run per compiled call, and where this process sits among replicas and workers: each
depends on the others (buffers off the device call back into Python, so no XLA; Keras' step
over several replicas takes neither XLA nor several steps per call), so `plan_fit` decides them
together, in one place, for `zlens.fit`, `zlens.resume` and `TappedAutoencoder.fit` alike.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import tensorflow as tf

from zlens.capture.intercept import walk_layers
from zlens.capture.recorder import choose_storage
from zlens.checks import check_choice, check_count
from zlens.data.feed import SAMPLE_BUDGET, TrainingData
from zlens.distribute import Placement, placement
from zlens.options import CAPTURE_CHOICES, check_nonfinite_choice

#: The most training steps one compiled call runs (no batch is ever lost; fewer Python round trips).
MAX_STEPS_PER_EXECUTION = 64

#: Layers XLA's CPU backend runs far slower than TensorFlow's own (oneDNN) kernels.
CONVOLUTIONS = (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D, keras.layers.Conv1DTranspose,
                keras.layers.Conv2DTranspose, keras.layers.Conv3DTranspose, keras.layers.SeparableConv1D,
                keras.layers.SeparableConv2D, keras.layers.DepthwiseConv1D, keras.layers.DepthwiseConv2D)


@dataclass(frozen=True)
class FitPlan:
    """How one fit runs (immutable: decided by `plan_fit`, read by everything after it).

    Attributes:
        kinds: what is captured, `("in-flight",)`, `("consistent",)`, both, or `()` for nothing.
        storage: where the tap buffers live: "device", "host" or "stream".
        jit_compile: whether the training step is compiled with XLA.
        steps_per_execution: training steps per compiled call.
        placement: this process' worker index, the number of workers and replicas.
        capture_every: keep every Kth epoch's latents (the last epoch is always kept).
        on_nonfinite: "stop" or "record" (see `zlens.fit`).
    """

    kinds: tuple[str, ...]
    storage: str
    jit_compile: bool
    steps_per_execution: int
    placement: Placement
    capture_every: int = 1
    on_nonfinite: str = "stop"

    @property
    def captures(self) -> bool:
        """Whether anything is captured."""
        return bool(self.kinds)


def plan_fit(
    model,
    data: TrainingData,
    *,
    capture: str | None,
    jit_compile: bool | str,
    steps_per_execution: int | None,
    strategy: tf.distribute.Strategy | None,
    tap_storage: str = "auto",
    buffer_budget: int | None = None,
    capture_every: int = 1,
    on_nonfinite: str = "stop",
) -> FitPlan:
    """Decide how `model` (a built `TappedAutoencoder`) trains on `data`; checks every choice.

    Args:
        capture: "in-flight", "consistent", "both", or None (nothing captured).
        jit_compile: True, False or "auto" (XLA unless a layer cannot be compiled or the model
            convolves on a machine without a GPU: see `resolve_jit`).
        steps_per_execution: steps per compiled call; None: up to `MAX_STEPS_PER_EXECUTION`.
        strategy: the `tf.distribute` strategy the model was built under, or None.
        tap_storage: "device", "host", "stream" or "auto" (see `choose_storage`).
        buffer_budget: bytes the tap buffers may take on the device under "auto".

    Example:
        >>> plan = plan_fit(model, data, capture="both", jit_compile="auto", steps_per_execution=None,
        ...                 strategy=None)                                               # doctest: +SKIP
        >>> plan.kinds, plan.storage                                                     # doctest: +SKIP
        (('in-flight', 'consistent'), 'device')
    """
    kinds = check_capture_options(capture, capture_every, on_nonfinite)
    storage = choose_storage(tap_storage, data.n_samples, model.plan.row_shapes, kinds, buffer_budget)
    if kinds and data.target_spec is not None:
        model.plan.check_target(data.target_spec.shape)  # recon_error needs a target shaped as the output
    if strategy is not None:
        # Keras' multi-replica step cannot be XLA-compiled as one function (variables on several
        # devices), nor run several steps per call (keras-team/keras#19246).
        jit, steps = False, 1
    else:
        # Buffers off the device are written by a callback into Python, which XLA cannot compile.
        jit = storage == "device" and resolve_jit(model, jit_compile)
        steps = steps_per_execution or min(MAX_STEPS_PER_EXECUTION, -(-data.n_samples // max(data.batch_size, 1)))
    return FitPlan(kinds=tuple(kinds), storage=storage, jit_compile=jit, steps_per_execution=int(steps),
                   placement=placement(strategy), capture_every=capture_every, on_nonfinite=on_nonfinite)


def check_capture_options(capture: str | None, capture_every: int = 1, on_nonfinite: str = "stop", *,
                          none_allowed: bool = True) -> tuple[str, ...]:
    """The kinds `capture` keeps (`()` for None), with `capture_every` and `on_nonfinite` checked:
    what `plan_fit` checks, and the fits check first of all, before any data is read."""
    if capture is not None or not none_allowed:
        check_choice("capture", capture, CAPTURE_CHOICES, or_also="None" if none_allowed else None)
    check_count("capture_every", capture_every)
    check_nonfinite_choice(on_nonfinite)
    return () if capture is None else tuple(CAPTURE_CHOICES[capture])


def resolve_jit(model, jit_compile: bool | str) -> bool:
    """XLA unless asked otherwise, a layer cannot be compiled, or the model convolves on a machine
    without a GPU. On CPU, XLA makes dense models 2-3x faster (Keras' own "auto" turns it off
    there), but a convolutional one ~12-14x slower (`python -m benchmarks.conv_xla`: `zlens.models.conv`
    on 3,000 28x28 images, batch 128)."""
    if not jit_compile or not _keras_compiles_with_xla(model):
        return False
    if jit_compile != "auto":
        return True
    layers = list(walk_layers(model))
    return bool(tf.config.list_physical_devices("GPU")) or not any(isinstance(layer, CONVOLUTIONS) for layer in layers)


def _keras_compiles_with_xla(model) -> bool:
    """Whether Keras would run `model` with XLA when asked (it refuses for a layer that does not
    support it, with op determinism on, or on a Mac GPU), so the plan says what really runs."""
    try:
        from keras.src.trainers.trainer import model_supports_jit
    except ImportError:  # a Keras that moved it: the layers' own flags are the main rule
        return all(layer.supports_jit for layer in walk_layers(model))
    return bool(model_supports_jit(model))


def sample_budget(strategy: tf.distribute.Strategy | None) -> int:
    """Bytes of samples a fit may hold on the device (the fast path, `TrainingData.resident`):
    2 GiB on one device; none under a strategy, whose replicas take their batches through
    `tf.distribute`'s input pipeline."""
    return SAMPLE_BUDGET if strategy is None else 0
