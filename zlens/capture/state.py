"""`CaptureState`: everything a tapped model holds beside its weights, in one plain object."""

from __future__ import annotations

import keras
import tensorflow as tf

from zlens.capture.recorder import LatentRecorder
from zlens.capture.taps import TapPlan


class CaptureState:
    """What a `TappedAutoencoder` needs beside its weights to capture, in one plain object (Keras
    tracks layers and variables it finds on a model, not inside this): where each tap comes from,
    the buffers it is scattered into, and the samples held on the device with their visiting order."""

    def __init__(self) -> None:
        self.plan: TapPlan | None = None
        self.recorder: LatentRecorder | None = None
        self.resident: tf.Variable | None = None
        self.order: tf.Variable | None = None
        self.resident_batch: int | None = None
        self.target_spec: tf.TensorSpec | None = None  # a target that is not the input, this fit
        self.encoder: keras.Model | None = None
