"""`RunWriter`: makes each epoch of a run durable, in memory or in a run directory.

Order of a commit, so that a crash never leaves a half epoch: the epoch's latents (visible
in the store only once all are written), then the model checkpoint, then run.json (the record
of what is done). Resuming reads run.json and drops anything the store holds beyond it.

The writes run on one background thread, in that order, while the next epoch trains: only
reading the buffers to the host and saving the checkpoint (the weights of this epoch) happen
at the epoch's end. A failed write is raised by the next commit, by `flush`, `finish` or `as_run`.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from zlens.kinds import VALIDATION
from zlens.run import Run
from zlens.store import LatentStore, RunDirectory
from zlens.store.run_directory import replace_durably


class RunWriter:
    """Receives epochs from `CaptureCallback` and writes them to a `LatentStore` (+ directory).

    Use `RunWriter.in_memory(...)` for a run kept in memory, `RunWriter.to_directory(...)`
    for a run directory; `as_run()` returns the `Run` reading what was written.
    """

    def __init__(self, store: LatentStore, directory: RunDirectory | None = None, history: list | None = None):
        self.store = store
        self.directory = directory
        self.history: list[dict[str, Any]] = history if history is not None else []
        self._model = None
        self._writes: ThreadPoolExecutor | None = None
        self._last: Future | None = None  # the last write queued
        self._recorded: Future | None = None  # the last run.json record queued

    @classmethod
    def in_memory(cls, n_samples: int, row_shapes: Mapping[str, tuple[int, ...]], kinds: Sequence[str],
                  labels=None, *, chief: bool = True, validation=None) -> RunWriter:
        """A writer whose store lives in memory (what `fit` without `run_dir` uses) for `n_samples`
        rows of each tap in `row_shapes` (`TapPlan.row_shapes`), per kind, and the consistent rows
        of the `validation` samples (a `zlens.data.validation.ValidationData`, or None); on a worker
        that is not the chief of a multi-worker run, one that keeps the metrics only."""
        store = LatentStore.create(None, n_samples=n_samples, taps=row_shapes, kinds=kinds, labels=labels,
                                   **_held_out(validation))
        return cls(store) if chief else FollowerWriter(store)

    @classmethod
    def to_directory(cls, directory: RunDirectory, n_samples: int, row_shapes: Mapping[str, tuple[int, ...]],
                     kinds: Sequence[str], labels=None, *, validation=None) -> RunWriter:
        """A writer for a new run directory: creates its latent store (shaped as `in_memory`'s)."""
        store = LatentStore.create(directory.latents_path, n_samples=n_samples, taps=row_shapes, kinds=kinds,
                                   labels=labels, **_held_out(validation))
        return cls(store, directory, [])

    @classmethod
    def resume(cls, directory: RunDirectory) -> RunWriter:
        """A writer continuing a run directory after its last committed epoch."""
        store = LatentStore.open(directory.latents_path, mode="r+")
        store.truncate_after(directory.epochs_done - 1)
        directory.truncate_history(directory.epochs_done)
        return cls(store, directory, list(directory.history))

    def commit_latents(self, epoch: int, latents: dict[str, dict[str, np.ndarray]]) -> None:
        """Queue one epoch's matrices; they become visible only once all are written.

        Arrays are handed over and written in the background: the caller must never change them
        (an in-memory store keeps them as they are). A streamed buffer, which the next epoch
        overwrites, is written before this returns.
        """
        if all(isinstance(v, np.ndarray) for taps in latents.values() for v in taps.values()):
            self.flush()  # one epoch's matrices in flight at most: host memory stays bounded
            self._queue(functools.partial(self.store.write_epoch, owned=True), epoch, latents)  # handed over
        else:
            self.flush()
            self.store.write_epoch(epoch, latents)

    def commit_epoch(self, epoch: int, metrics: dict[str, Any], model) -> None:
        """Record the epoch's metrics (and, in a run directory, a checkpoint to resume from)."""
        row = {"epoch": int(epoch), **{k: _plain(v) for k, v in metrics.items()}}
        self._model = model
        if self.directory is None:
            self.history.append(row)
            return
        if self._recorded is not None:  # its clean-up must not meet this save's files
            self._recorded.result()
        checkpoint = self.directory.checkpoint_path_for(epoch)
        save_model(model, checkpoint)  # now: the weights of this epoch
        self._recorded = self._queue(self._record, epoch, row, checkpoint)

    def flush(self) -> None:
        """Wait until every queued write is done; raise the error of one that failed."""
        if self._last is not None:
            self._last.result()

    def finish(self, model, status: str = "finished", reason: str | None = None) -> None:
        """Wait for the queued writes, save the final model and mark the run finished (or failed,
        with the reason), then let the run's lock go. A queued write that failed fails the run,
        and is raised. When marking a failed run cannot be written (a full disk), the error that
        failed it is the one raised: the committed epochs are whole either way."""
        failed_write = None
        try:
            self.flush()
        except Exception as err:  # after a training error, that error is the one raised
            failed_write = err if status == "finished" else None
            if failed_write is not None:
                status, reason = "failed", f"{type(err).__name__}: {err}"
        finally:
            self.close()
        if self.directory is None:
            if failed_write is not None:
                raise failed_write
            return
        try:
            if status == "finished":
                save_model(model, self.directory.model_path)
                reason = reason or _nonfinite_note(self.store.nonfinite)
            self.directory.set_status(status, reason)
        except OSError as err:
            if status == "finished":  # the final model could not be saved: the run did not finish
                _try_set_status(self.directory, "failed", f"{type(err).__name__}: {err}")
                raise
        finally:
            self.directory.release()
        if failed_write is not None:
            raise failed_write

    def as_run(self) -> Run:
        """The `Run` reading what was written (once every queued write is done)."""
        self.flush()
        return Run(self.store, self.history, model=self._model, directory=self.directory)

    def _record(self, epoch: int, row: dict[str, Any], checkpoint: Path) -> None:
        assert self.directory is not None  # only a writer of a run directory records epochs there
        self.directory.record_epoch(epoch, row, checkpoint)
        self.history.append(row)

    def _queue(self, fn, *args) -> Future:
        """Run `fn(*args)` on the write thread after what is queued; first raise a failed write."""
        if self._last is not None and self._last.done():
            self._last.result()
        if self._writes is None:
            self._writes = ThreadPoolExecutor(1, thread_name_prefix="zlens-writes")
        previous = self._last

        def after_previous():  # the one worker runs writes in order; this only stops those after a failure
            if previous is not None:
                previous.result()
            fn(*args)

        self._last = self._writes.submit(after_previous)
        return self._last

    def close(self) -> None:
        """Wait for the queued writes (their errors are not raised: see `flush`) and end the write thread."""
        if self._writes is not None:
            self._writes.shutdown(wait=True)
            self._writes = None


class FollowerWriter(RunWriter):
    """The writer of a worker that is not the chief: it takes part in every epoch (the workers
    sum their buffers together) but writes nothing; the chief writes the run. Its `as_run()` has
    the metrics and the model, and no latents."""

    def commit_latents(self, epoch: int, latents: dict[str, dict[str, np.ndarray]]) -> None:
        """Nothing: the chief commits the epoch's matrices."""


def save_model(model, path: Path) -> None:
    """`model.save(path)`, atomically: a crash leaves the old file or the new one, never half."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp.keras")
    try:
        model.save(tmp)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    replace_durably(tmp, path)


def _held_out(validation) -> dict[str, Any]:
    """`LatentStore.create`'s held-out arguments for the validation samples (none without them)."""
    if validation is None:
        return {}
    return {"held_out": {VALIDATION: validation.n_samples}, "held_out_labels": {VALIDATION: validation.labels}}


def _try_set_status(directory: RunDirectory, status: str, reason: str) -> None:
    """Mark the run, if the disk lets us (a full disk may not take even run.json)."""
    try:
        directory.set_status(status, reason)
    except OSError:
        pass


def _nonfinite_note(nonfinite: dict[int, dict[str, int]]) -> str | None:
    """The reason a run that recorded non-finite values finished with, or None."""
    if not nonfinite:
        return None
    epochs = sorted(nonfinite)
    shown = ", ".join(map(str, epochs[:5])) + (", ..." if len(epochs) > 5 else "")
    return f"non-finite values recorded (on_nonfinite='record') in epoch(s) {shown}: see run.nonfinite"


def _plain(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return value
