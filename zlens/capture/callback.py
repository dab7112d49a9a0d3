"""The Keras callback that moves each captured epoch from the device buffers to a writer.

It runs once per epoch (never per batch): checks that every sample was seen exactly once,
runs the consistent pass when asked, reports the in-flight/consistent drift in the epoch's
logs (so History, CSVLogger and TensorBoard see it), and hands the matrices to the writer.
An epoch whose loss or captured values are not finite stops training uncommitted (or, when
asked, is committed and flagged in the store).
"""

from __future__ import annotations

import math

import keras

from zlens.capture.recorder import CONSISTENT, IN_FLIGHT, LatentRecorder, blocks, drift
from zlens.errors import NonFiniteError
from zlens.kinds import VALIDATION, group_of
from zlens.options import check_nonfinite_choice
from zlens.store._checks import nonfinite_rows


class CaptureCallback(keras.callbacks.Callback):
    """Reads the tap buffers at the end of each captured epoch and commits them.

    Args:
        recorder: the `LatentRecorder` the train step writes into.
        writer: receives `commit_latents(epoch, {kind: {tap: array}})` and
            `commit_epoch(epoch, metrics, model)` (see `zlens.run_writer.RunWriter`).
        consistent_data: the ordered `(x, idx)` dataset for the consistent pass.
        capture_every: keep every Kth epoch; the last epoch trained is always kept.
        last_epoch: the index of the last planned epoch.
        on_nonfinite: "stop" (default): an epoch whose loss or captured values hold NaN or
            infinity stops training and is not committed (`diverged` says why); "record":
            commit it anyway (the store flags its non-finite rows).
        validation: a `zlens.capture.validation_pass.ValidationPass`: the validation samples'
            consistent matrices, committed with each captured epoch's (None: no validation data).
    """

    def __init__(self, recorder: LatentRecorder, writer, consistent_data, *, capture_every: int = 1,
                 last_epoch: int = 0, on_nonfinite: str = "stop", validation=None):
        super().__init__()
        check_nonfinite_choice(on_nonfinite)
        self.recorder = recorder
        self.writer = writer
        self.consistent_data = consistent_data
        self.capture_every = capture_every
        self.last_epoch = last_epoch
        self.on_nonfinite = on_nonfinite
        self.validation = validation
        self.diverged: NonFiniteError | None = None
        self._epoch_seen: int | None = None
        self._epoch_captured: int | None = None

    def on_epoch_begin(self, epoch, logs=None):
        self.recorder.reset_counts(IN_FLIGHT)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        if self._stop_if_nonfinite(epoch, _nonfinite_losses(logs)):
            return
        if (epoch + 1) % self.capture_every == 0 or epoch >= self.last_epoch:
            if not self._capture(epoch, logs):
                return
        self._epoch_seen = epoch
        self.writer.commit_epoch(epoch, dict(logs), self.model)

    def on_train_end(self, logs=None):
        # Training stopped early (EarlyStopping): keep the last epoch it trained.
        if self.diverged is None and self._epoch_seen is not None and self._epoch_captured != self._epoch_seen:
            self._capture(self._epoch_seen, {})

    def _stop_if_nonfinite(self, epoch: int, what: str | None) -> bool:
        """With `on_nonfinite="stop"`: when `what` names non-finite values, stop training before
        this epoch is committed and keep the reason in `diverged`."""
        if what is None or self.on_nonfinite != "stop":
            return False
        committed = "no epoch is committed" if epoch == 0 else f"epochs up to {epoch - 1} are committed"
        self.diverged = NonFiniteError(
            f"training diverged at epoch {epoch}: {what}. Stopped before committing it; {committed}. "
            "Continue from the last good epoch with a lower learning rate (CLI: zlens train --resume RUN "
            "--learning-rate LR; Python: zlens.resume(run_dir, x, learning_rate=...)), or keep the values "
            "with on_nonfinite='record'.", epoch=epoch, what=what)
        self.model.stop_training = True
        return True

    def _capture(self, epoch: int, logs: dict) -> bool:
        """Read the epoch's matrices and hand them to the writer; False when they are not finite
        and training stops instead."""
        latents = {}
        if IN_FLIGHT in self.recorder.kinds:
            self.recorder.collect(IN_FLIGHT)
            latents[IN_FLIGHT] = self.recorder.read(IN_FLIGHT)
        if CONSISTENT in self.recorder.kinds:
            self.recorder.consistent_pass(self.consistent_data)
            latents[CONSISTENT] = self.recorder.read(CONSISTENT)
        if self.validation is not None:
            latents[group_of(CONSISTENT, VALIDATION)] = self.validation.run()
        if self.on_nonfinite == "stop" and self._stop_if_nonfinite(epoch, _nonfinite_taps(latents)):
            return False
        if IN_FLIGHT in latents and CONSISTENT in latents:
            for tap, value in latents[IN_FLIGHT].items():
                if tap == "z":
                    d = drift(value, latents[CONSISTENT][tap])
                    logs["z_drift_max"] = d["max"]
                    logs["z_drift_mean"] = d["mean"]
        self.writer.commit_latents(epoch, latents)
        self._epoch_captured = epoch
        return True


def _nonfinite_losses(logs: dict) -> str | None:
    """"loss is nan" (or the first such loss of `logs`), or None when every loss is finite."""
    for name, value in logs.items():
        if "loss" not in name:
            continue
        try:
            value = float(value)
        except (TypeError, ValueError):
            continue
        if not math.isfinite(value):
            return f"{name} is {value}"
    return None


def _nonfinite_taps(latents: dict) -> str | None:
    """"in-flight z: 12 rows hold NaN or infinity" for the first such tap, or None."""
    for kind, taps in latents.items():
        for tap, value in taps.items():
            bad = sum(nonfinite_rows(rows) for rows in blocks(value))
            if bad:
                return f"{kind} {tap}: {bad} rows hold NaN or infinity"
    return None
