"""`Run`: one training run's latents, metrics and model, as `zlens.fit` returns it.

The same object comes back from `zlens.open_run(path)`; it reads the latent store lazily,
one matrix at a time, so opening a long run costs nothing until a matrix is asked for.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from zlens.errors import RunError
from zlens.kinds import CONSISTENT, IN_FLIGHT, TRAIN


class Run:
    """The complete latent history of one run: `z(epoch, kind)`, `tap`, `recon_error`, metrics.

    Rows are always samples in their original order: row i of every matrix is sample i.
    `kind` is "in-flight" (taken from the training forward pass) or "consistent" (an
    inference pass with the epoch's final weights); by default, the kind the run captured
    (in-flight when it captured both). A run trained with `validation_data` also holds the
    validation samples' consistent z of every captured epoch, on their own sample axis:
    `z(epoch, split="validation")` (row i is validation sample i; they have no in-flight z).

    Example:
        >>> run = zlens.fit(zlens.models.dense(64, 2), x, epochs=5, capture="both")
        >>> run.epochs
        [0, 1, 2, 3, 4]
        >>> run.z(epoch=-1, kind="consistent").shape
        (1797, 2)
        >>> run.history["z_drift_max"][-1]   # how far in-flight is from consistent
    """

    def __init__(self, store, history: list[dict[str, Any]], *, model=None, directory=None,
                 load_model: Callable[[Path], Any] | None = None) -> None:
        self._store = store
        self._history = history
        self._model = model
        self._directory = directory
        self._load_model = load_model  # how `model` loads a saved one (`zlens.load_model`, given by open_run)
        self._preprocessing: dict[str, Any] | None = None

    # -- latents --------------------------------------------------------------------------
    @property
    def epochs(self) -> list[int]:
        """The epochs whose latents were captured (0-based, in order)."""
        return self._store.epochs

    @property
    def kinds(self) -> tuple[str, ...]:
        """Which of "in-flight" / "consistent" this run captured."""
        return tuple(self._store.kinds)

    @property
    def taps(self) -> dict[str, tuple[int, ...]]:
        """Each captured tap and the shape of one sample's value."""
        return dict(self._store.taps)

    @property
    def n_samples(self) -> int:
        return self._store.n_samples

    @property
    def labels(self) -> np.ndarray | None:
        """The labels given to `fit`, one per sample, or None."""
        return self._store.labels

    @property
    def splits(self) -> tuple[str, ...]:
        """"train", and "validation" for a run trained with `validation_data`."""
        return tuple(self._store.splits)

    def labels_of(self, split: str = TRAIN) -> np.ndarray | None:
        """The labels of `split`'s samples ("train" or "validation"), or None.

        Example:
            >>> run.labels_of("validation")[:5]                   # doctest: +SKIP
            array([3, 1, 4, 1, 5])
        """
        return self._store.labels_of(split)

    def n_samples_of(self, split: str = TRAIN) -> int:
        """The number of samples (rows of every matrix) of `split`."""
        return self._store.n_samples_of(split)

    @property
    def nonfinite(self) -> dict[int, dict[str, int]]:
        """Epochs kept with NaN or infinite values (trained with `on_nonfinite="record"`): epoch ->
        {"kind/tap": rows holding them}. Empty when every captured value is finite."""
        return self._store.nonfinite

    def tap(self, name: str, epoch: int = -1, kind: str | None = None, split: str = TRAIN) -> np.ndarray:
        """The (N, ...) matrix of tap `name` at `epoch` (an epoch number, or -1 for the last) of
        `split`'s samples ("train", or "validation": consistent only)."""
        return self._store.read(name, epoch=epoch, kind=self._kind(kind, split), split=split)

    def z(self, epoch: int = -1, kind: str | None = None, split: str = TRAIN) -> np.ndarray:
        """The (N, d) latent matrix at `epoch`; row i is sample i (of `split`: "validation" gives
        the validation samples' z at that epoch's final weights).

        Example:
            >>> run.z(-1, kind="consistent", split="validation").shape   # doctest: +SKIP
            (200, 2)
        """
        return self.tap("z", epoch, kind, split)

    def recon_error(self, epoch: int = -1, kind: str | None = None, split: str = TRAIN) -> np.ndarray:
        """Each sample's mean squared reconstruction error at `epoch`, shape (N,) (of `split`)."""
        if "recon_error" not in self._store.taps:
            raise RunError("this run did not capture 'recon_error'; train with taps=('z', 'recon_error').")
        return self.tap("recon_error", epoch, kind, split)

    def tap_array(self, name: str, kind: str | None = None, split: str = TRAIN):
        """The on-disk (Zarr) array of a tap, (slots, N, ...), for lazy slicing; see `slot_of`."""
        return self._store.array(name, self._kind(kind, split), split)

    def slot_of(self, epoch: int) -> int:
        """The position of a captured `epoch` (or -1, -2, ... from the last) along a tap's axis 0."""
        return self._store.slot_of(epoch)

    def resolve_kind(self, kind: str | None, split: str = TRAIN) -> str:
        """`kind`, checked against what the run captured of `split`; None means the run's default
        kind ("consistent" for validation samples, the only kind they have)."""
        return self._kind(kind, split)

    def _kind(self, kind: str | None, split: str = TRAIN) -> str:
        if split != TRAIN:
            self._store.n_samples_of(split)  # an unknown split: one line naming the run's splits
            if kind not in (None, CONSISTENT):
                raise RunError(f"the {split} samples are not trained on, so they have no {kind} z: ask for "
                               f"kind='consistent' (their z at each epoch's final weights).")
            return CONSISTENT
        kinds = self.kinds
        if kind is None:
            return IN_FLIGHT if IN_FLIGHT in kinds else kinds[0]
        if kind not in (IN_FLIGHT, CONSISTENT):
            raise RunError(f"kind must be 'in-flight' or 'consistent'; got {kind!r}.")
        if kind not in kinds:
            raise RunError(f"this run captured only {', '.join(kinds)} latents, not {kind}.")
        return kind

    # -- metrics, model, directory ------------------------------------------------------
    @property
    def history(self) -> dict[str, list]:
        """Per-epoch metrics as Keras' `History.history` has them: name -> one value per epoch.

        Includes "epoch", and None where a metric was not recorded for an epoch (the drift
        exists only for captured epochs).
        """
        keys: dict[str, None] = {"epoch": None}
        for row in self._history:
            keys.update(dict.fromkeys(row))
        return {k: [row.get(k) for row in self._history] for k in keys}

    @property
    def model(self):
        """The trained `TappedAutoencoder` (loaded from the run directory on first use)."""
        if self._model is None and self._directory is not None and self._load_model is not None:
            try:  # the final model, or (still running, or stopped) the last checkpoint
                path = self._directory.model_path_or_checkpoint()
            except RunError:
                raise RunError(f"{self.path} holds no saved model yet (no epoch committed).") from None
            self._model = self._load_model(path)
        return self._model

    @property
    def preprocessing(self) -> dict[str, Any] | None:
        """How the training samples reached the model (run.json's `data.preprocess`): their shape,
        the preprocessing rule with its fitted parameters, the stored range seen and the range the
        model was given (`zlens.data.preprocess`); `Preprocessing.from_json(run.preprocessing)`
        gives the rule as an object. None when not recorded."""
        if self._preprocessing is None and self._directory is not None:
            return self._directory.run_json.get("data", {}).get("preprocess")
        return self._preprocessing

    @preprocessing.setter
    def preprocessing(self, record: dict[str, Any] | None) -> None:
        self._preprocessing = record

    @property
    def path(self) -> Path | None:
        """The run directory, or None for a run kept in memory."""
        return None if self._directory is None else Path(self._directory.path)

    @property
    def status(self) -> str:
        """"running", "finished" or "failed" ("finished" for an in-memory run that returned)."""
        return "finished" if self._directory is None else self._directory.status

    def summary(self) -> dict[str, Any]:
        """What the run holds, as plain data (what `zlens info --json` prints)."""
        history = self._history
        d = self._directory
        return {
            "path": None if d is None else str(d.path),
            "status": self.status,
            "reason": None if d is None else d.reason,
            "n_samples": self.n_samples,
            "labelled": self.labels is not None,
            "splits": {split: {"n_samples": self.n_samples_of(split), "labelled": self.labels_of(split) is not None,
                               "kinds": list(self.kinds) if split == TRAIN else [CONSISTENT]}
                       for split in self.splits},
            "epochs_done": len(history),
            "captured_epochs": self.epochs,
            "nonfinite_epochs": sorted(self.nonfinite),
            "kinds": list(self.kinds),
            "taps": {k: list(v) for k, v in self.taps.items()},
            "last_metrics": {k: v for k, v in (history[-1] if history else {}).items() if k != "epoch"},
            "latents": None if d is None else str(d.latents_path),
            "config": None if d is None else d.config,
        }

    def __repr__(self) -> str:
        where = f" at {self.path}" if self.path else " (in memory)"
        return (f"Run({self.n_samples} samples, {_epoch_span(self.epochs)}, taps {list(self.taps)}, "
                f"kinds {list(self.kinds)}{where})")

    def _repr_html_(self) -> str:
        """A notebook's summary: where, status, epochs, taps with shapes, the last metrics."""
        from html import escape

        summary = self.summary()
        rows = [("where", summary["path"] or "in memory"), ("status", summary["status"]),
                ("samples", summary["n_samples"]), ("captured", _epoch_span(self.epochs)),
                ("kinds", ", ".join(self.kinds)),
                ("taps", ", ".join(f"{k} {tuple(v)}" for k, v in self.taps.items()))]
        rows += [(k, f"{v:.4g}" if isinstance(v, float) else v) for k, v in summary["last_metrics"].items()]
        body = "".join(f"<tr><th style='text-align:left'>{escape(str(k))}</th><td>{escape(str(v))}</td></tr>"
                       for k, v in rows)
        return f"<table><caption>zlens.Run</caption>{body}</table>"


def _epoch_span(epochs: list[int]) -> str:
    """The captured epochs in a few words: "epochs 0..29 (30)", "epochs 0, 5, 9", "no epoch"."""
    if not epochs:
        return "no epoch"
    if epochs == list(range(epochs[0], epochs[-1] + 1)) and len(epochs) > 3:
        return f"epochs {epochs[0]}..{epochs[-1]} ({len(epochs)})"
    if len(epochs) > 6:
        return f"epochs {', '.join(map(str, epochs[:3]))}, ..., {epochs[-1]} ({len(epochs)})"
    return f"epochs {', '.join(map(str, epochs))}"
