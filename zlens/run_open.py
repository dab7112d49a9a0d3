"""`zlens.open_run`: reopen a run directory as the same `Run` that `zlens.fit` returned."""

from __future__ import annotations

from pathlib import Path

from zlens.run import Run
from zlens.store import LatentStore, RunDirectory


def open_run(path: str | Path) -> Run:
    """Open the run directory at `path`, lazily: no matrix is read until one is asked for.

    Works on finished, failed and still-running runs: it shows the committed epochs.

    Example:
        >>> run = zlens.open_run("runs/digits")
        >>> run.z(epoch=-1).shape
    """
    directory = RunDirectory.open(path)
    n = directory.epochs_done
    store = LatentStore.open(directory.latents_path, mode="r", last_epoch=n - 1)
    history = [row for row in directory.history if row["epoch"] < n]
    return Run(store, history, directory=directory, load_model=_load_model)


def _load_model(path: Path):
    """`zlens.load_model`, imported when a model is first asked for (it loads TensorFlow)."""
    from zlens.loading import load_model

    return load_model(path)
