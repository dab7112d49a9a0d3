"""Time the epochs of ONE long Keras `fit`, one epoch per repetition, interleaved with other rows.

A user trains many epochs in one `fit`; timing one `fit(epochs=1)` call per repetition would add
Keras' per-call set-up (callbacks, data adapter, first iterator) to every epoch, which a long run
pays once. `EpochPacer` runs the `fit` in a background thread and holds it at the start of each
epoch; `next_epoch()` lets exactly one epoch run and returns its wall time, from the start of the
epoch to the start of the next one (so the epoch's end-of-epoch work, such as the capture's
check and commit, is inside it). Between calls the fit waits, and the suite times other rows.
"""

from __future__ import annotations

import threading
import time


class _Stopped(Exception):
    """Raised inside the paced fit to end it when the suite is done."""


class EpochPacer:
    """Runs `fit(callbacks)` (a function that trains with the given extra callbacks) epoch by epoch.

    Args:
        fit: called once, in a background thread, with a list holding the pacing callback; it
            must train for at least as many epochs as `next_epoch` will be called.
        settle: called in the fit's thread when an epoch ends, before it counts as done: e.g.
            the run writer's `flush`, so the epoch's background store write is inside its own
            time rather than in the time of the rows measured while this fit waits.
    """

    def __init__(self, fit, settle=None) -> None:
        import keras

        pacer = self

        class Pace(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                pacer._arrived()

            def on_train_end(self, logs=None):
                pacer._arrived(final=True)

        self._settle = settle
        self._released_at_end = False

        self._go = threading.Semaphore(0)
        self._at_epoch_start = threading.Semaphore(0)
        self._stop = False
        self._ended = False
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(fit, [Pace()]), daemon=True)
        self._thread.start()
        self._wait()  # the fit is built and held at its first epoch

    def next_epoch(self) -> float:
        """Let one epoch run; its seconds, from its start to the start of the next one."""
        if self._ended:
            raise RuntimeError("the paced fit has no epoch left: give it more epochs")
        start = time.perf_counter()
        self._go.release()
        self._wait()
        return time.perf_counter() - start

    def close(self) -> None:
        """End the fit (the held epoch does not run) and wait for its thread."""
        self._stop = True
        self._go.release()
        self._thread.join(timeout=60)

    def _run(self, fit, callbacks) -> None:
        try:
            fit(callbacks)
        except _Stopped:
            pass
        except BaseException as err:  # reported to the suite by the next `next_epoch`
            self._error = err
        finally:
            self._ended = True
            if not self._released_at_end:  # the fit ended without reaching on_train_end
                self._at_epoch_start.release()

    def _arrived(self, final: bool = False) -> None:
        if self._settle is not None:
            self._settle()
        if final:
            self._ended = True
            self._released_at_end = True
            self._at_epoch_start.release()
            return
        self._at_epoch_start.release()
        self._go.acquire()
        if self._stop:
            raise _Stopped()

    def _wait(self) -> None:
        self._at_epoch_start.acquire()
        if self._error is not None:
            raise RuntimeError(f"the paced fit failed: {self._error!r}") from self._error
