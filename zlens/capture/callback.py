"""The Keras callback that moves each captured epoch from the device buffers to a writer.

It runs once per epoch (never per batch): checks that every sample was seen exactly once,
runs the consistent pass when asked, reports the in-flight/consistent drift in the epoch's
logs (so History, CSVLogger and TensorBoard see it), and hands the matrices to the writer.
"""

from __future__ import annotations

import keras

from zlens.capture.recorder import CONSISTENT, IN_FLIGHT, LatentRecorder, drift


class CaptureCallback(keras.callbacks.Callback):
    """Reads the tap buffers at the end of each captured epoch and commits them.

    Args:
        recorder: the `LatentRecorder` the train step writes into.
        writer: receives `commit_latents(epoch, {kind: {tap: array}})` and
            `commit_epoch(epoch, metrics, model)` (see `zlens.run_writer.RunWriter`).
        consistent_data: the ordered `(x, idx)` dataset for the consistent pass.
        capture_every: keep every Kth epoch; the last epoch trained is always kept.
        last_epoch: the index of the last planned epoch.
    """

    def __init__(self, recorder: LatentRecorder, writer, consistent_data, *, capture_every: int = 1, last_epoch: int = 0):
        super().__init__()
        self.recorder = recorder
        self.writer = writer
        self.consistent_data = consistent_data
        self.capture_every = capture_every
        self.last_epoch = last_epoch
        self._epoch_seen = None
        self._epoch_captured = None

    def on_epoch_begin(self, epoch, logs=None):
        self.recorder.reset_counts(IN_FLIGHT)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        self._epoch_seen = epoch
        if (epoch + 1) % self.capture_every == 0 or epoch >= self.last_epoch:
            self._capture(epoch, logs)
        self.writer.commit_epoch(epoch, dict(logs), self.model)

    def on_train_end(self, logs=None):
        # Training stopped early (EarlyStopping): keep the last epoch it trained.
        if self._epoch_seen is not None and self._epoch_captured != self._epoch_seen:
            self._capture(self._epoch_seen, {})

    def _capture(self, epoch: int, logs: dict) -> None:
        latents = {}
        if IN_FLIGHT in self.recorder.kinds:
            self.recorder.collect(IN_FLIGHT)
            latents[IN_FLIGHT] = self.recorder.read(IN_FLIGHT)
        if CONSISTENT in self.recorder.kinds:
            self.recorder.consistent_pass(self.consistent_data)
            latents[CONSISTENT] = self.recorder.read(CONSISTENT)
        if len(latents) == 2:
            for tap, value in latents[IN_FLIGHT].items():
                if tap == "z":
                    d = drift(value, latents[CONSISTENT][tap])
                    logs["z_drift_max"] = d["max"]
                    logs["z_drift_mean"] = d["mean"]
        self.writer.commit_latents(epoch, latents)
        self._epoch_captured = epoch
