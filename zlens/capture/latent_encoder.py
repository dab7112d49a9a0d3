"""`LatentEncoder`: input -> z of a tapped model, as a Keras model (what `zlens.encode` runs)."""

from __future__ import annotations

import keras

from zlens.capture.state import CaptureState
from zlens.capture.taps import TapPlan


class LatentEncoder(keras.Model):
    """The encoder of a `TappedAutoencoder`: input -> z in inference mode, sharing its weights
    (see `TapPlan.encode`): what `zlens.encode` compiles.

    Args:
        plan: the `TapPlan` of the model whose latent it computes.
    """

    def __init__(self, plan: TapPlan, **kwargs) -> None:
        super().__init__(name=kwargs.pop("name", "encoder"), **kwargs)
        self._capture = CaptureState()
        self._capture.plan = plan
        self.built = True

    @property
    def _plan(self) -> TapPlan:
        plan = self._capture.plan
        assert plan is not None, "set in __init__"
        return plan

    def call(self, x, training=None):
        return self._plan.encode(x)

    @property
    def input_shape(self) -> tuple:
        return (None, *self._plan.sample_shape)

    @property
    def output_shape(self) -> tuple:
        return (None, *self._plan.latent_shape)

    @property
    def layers(self) -> list:
        """The layers of the encoder it runs alone, if any (for sizing encode's blocks)."""
        encoder = self._plan.encoder
        return [] if encoder is None else list(getattr(encoder, "layers", []))
