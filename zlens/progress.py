"""Progress for the CLI on stderr, as a Keras callback: a line per epoch, batches on a terminal."""

from __future__ import annotations

import math
import sys
import time

import keras


class ProgressPrinter(keras.callbacks.Callback):
    """Print each epoch's number, metrics and time; on a terminal, the batch count in place.

    Args:
        epochs: the planned number of epochs.
        n_samples: N, to show batches as "k/total".
        batch_size: samples per step.
        stream: where to write (stderr by default).
    """

    def __init__(self, epochs: int, n_samples: int, batch_size: int, stream=None) -> None:
        super().__init__()
        self.epochs = epochs
        self.steps = math.ceil(n_samples / batch_size)
        self.stream = stream or sys.stderr
        self._start = 0.0
        self._last_draw = 0.0
        self._live = bool(getattr(self.stream, "isatty", lambda: False)())

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        now = time.perf_counter()
        if self._live and now - self._last_draw > 0.25:
            self._last_draw = now
            print(f"\rzlens: batch {batch + 1}/{self.steps}", end="", file=self.stream, flush=True)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        metrics = "  ".join(f"{k} {v:.4g}" for k, v in logs.items() if isinstance(v, (int, float)))
        seconds = time.perf_counter() - self._start
        clear = "\r\033[K" if self._live else ""
        # Epochs are numbered from 0 everywhere (the store, run.json, `--epoch`, Keras callbacks).
        print(f"{clear}zlens: epoch {epoch} of 0..{self.epochs - 1}  {metrics}  ({seconds:.1f}s)", file=self.stream,
              flush=True)
