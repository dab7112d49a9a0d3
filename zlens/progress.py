"""A one-line-per-epoch progress report for the CLI (stderr), as a Keras callback."""

from __future__ import annotations

import sys
import time

import keras


class ProgressPrinter(keras.callbacks.Callback):
    """Print each epoch's number, metrics and time; batches in place on a terminal."""

    def __init__(self, epochs: int, n_samples: int, stream=None) -> None:
        super().__init__()
        self.epochs = epochs
        self.n_samples = n_samples
        self.stream = stream or sys.stderr
        self._start = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        metrics = "  ".join(f"{k} {v:.4g}" for k, v in logs.items() if isinstance(v, (int, float)))
        seconds = time.perf_counter() - self._start
        print(f"zlens: epoch {epoch + 1}/{self.epochs}  {metrics}  ({seconds:.1f}s)", file=self.stream, flush=True)
