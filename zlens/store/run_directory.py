"""The run folder's small files: run.json (the run's state, the single source of truth) and metrics.csv.
Every file is written atomically (temp file in the same folder, fsync, os.replace), so a crash never leaves half a file.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import shutil
import tempfile
import warnings
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from zlens.checks import check_choice
from zlens.errors import RunError
from zlens.store.run_lock import LOCK_NAME, RunLock

FORMAT = "zlens-run"
VERSION = 1
STATUSES = ("running", "finished", "failed")
RUN_JSON = "run.json"
METRICS_CSV = "metrics.csv"
CHECKPOINTS = "checkpoints"
MODEL = "model.keras"
LATENTS = "latents.zarr"
REPORT_FILES = ("report.html", "latent_motion.gif")
# What a run folder holds (beside temp files): `--overwrite` replaces only a folder made of these.
RUN_ENTRIES = frozenset({RUN_JSON, METRICS_CSV, CHECKPOINTS, MODEL, LATENTS, LOCK_NAME, *REPORT_FILES})
# run.json's fields every reader relies on, with the type each must have.
REQUIRED_FIELDS = {"config": dict, "data": dict, "status": str, "epochs_done": int, "history": list}


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def json_safe(value: Any, where: str = "value") -> Any:
    """Turn `value` into plain JSON: NumPy scalars/arrays to Python, NaN/inf to None, paths to str.

    Example:
        >>> json_safe({"loss": np.float32(0.5), "bad": float("nan"), "shape": (2, 3)})
        {'loss': 0.5, 'bad': None, 'shape': [2, 3]}
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.ndarray):
        return json_safe(value.tolist(), where)
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): json_safe(v, f"{where}[{k!r}]") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v, f"{where}[{i}]") for i, v in enumerate(value)]
    raise RunError(f"{where} = {value!r} ({type(value).__name__}) cannot be saved in run.json: "
                   "pass numbers, strings, lists or dicts.")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: Path, text: str) -> None:
    """Write `text` to `path` so that readers see the old file or the new one, never a mix.

    Example:
        >>> atomic_write_text(Path("run/notes.txt"), "hello\\n")  # doctest: +SKIP
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # what open() would give: mkstemp makes it 0600
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    replace_durably(Path(tmp), path)


def replace_durably(tmp: Path, path: Path) -> None:
    """Move the finished temporary file `tmp` to `path` (same folder), so that a crash leaves the
    old file or the new one: `tmp` reaches the disk first, then the rename does. On failure
    `tmp` is removed. Every file of a run is written through this (`atomic_write_text`, the
    model files).

    Example:
        >>> model.save(tmp); replace_durably(tmp, run / "model.keras")  # doctest: +SKIP
    """
    try:
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    try:  # make the rename itself durable; not possible on every platform
        dir_fd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


def metrics_csv_text(history: list[dict[str, Any]]) -> str:
    """CSV of `history`: "epoch" first, then every other key in first-seen order; blank if missing.

    Example:
        >>> print(metrics_csv_text([{"epoch": 0, "loss": 0.5}, {"epoch": 1, "val": 2}]), end="")
        epoch,loss,val
        0,0.5,
        1,,2
    """
    columns = ["epoch"]
    for row in history:
        columns += [k for k in row if k not in columns]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in history:
        writer.writerow(["" if row.get(c) is None else row[c] for c in columns])
    return out.getvalue()


def run_path(path: str | Path) -> Path:
    """`path` as the absolute folder a run lives in: `~` expanded, relative to the working
    directory of the call (fixed then: a later `chdir` does not move the run). Symlinks are kept
    as given, so messages show the path the user typed a folder under.

    Example:
        >>> run_path("~/runs/a") == Path.home() / "runs" / "a"
        True
    """
    return Path(path).expanduser().absolute()


class RunDirectory:
    """The non-array files of one run folder, with run.json as the single source of truth.

    Layout: `run.json` (config, data fingerprint, seed, versions, status, epochs done,
    current checkpoint, per-epoch history), `metrics.csv` (a mirror of the history for
    people), `checkpoints/epoch-00012.keras`, `model.keras` (the final model) and
    `latents.zarr` (the `LatentStore`). Every write replaces a whole file atomically, so a
    crash leaves the previous state or the new one, never half a file.

    Example:
        >>> directory = RunDirectory.create("runs/mnist", config={"latent_dim": 32},
        ...                           data={"sha256": "..."}, seed=0, versions={"zlens": "0.1.0"})  # doctest: +SKIP
        >>> directory.record_epoch(0, {"loss": 0.21}, checkpoint=None)  # doctest: +SKIP
        >>> RunDirectory.open("runs/mnist").epochs_done  # doctest: +SKIP
        1
    """

    def __init__(self, path: Path, run_json: dict[str, Any]) -> None:
        """Wrap a folder and its parsed run.json; use `create` or `open` instead of calling this."""
        self._path = run_path(path)
        self._run_json = run_json
        self._lock: RunLock | None = None

    # ----------------------------------------------------------------- create / open
    @classmethod
    def create(cls, path: str | Path, *, config: dict, data: dict, seed: Any, versions: dict,
               overwrite: bool = False) -> RunDirectory:
        """Start a new run folder with status "running" and no epoch done.

        Args:
            path: the run folder; created if missing.
            config: the run's configuration (JSON-safe after conversion).
            data: the data fingerprint (shape, dtype, hash...).
            seed: the random seed.
            versions: library versions, e.g. {"zlens": ..., "tensorflow": ...}.
            overwrite: replace the zlens run already in the folder instead of refusing (a folder
                that is not a zlens run is never replaced).

        The returned directory holds the run's lock (`RunLock`) until `release`: a second
        process that opens the run to write it is refused, naming this one.

        Example:
            >>> directory = RunDirectory.create(tmp / "run", config={}, data={}, seed=0, versions={})  # doctest: +SKIP
        """
        path = cls.check_new(path, overwrite=overwrite)
        now = _now()
        run_json = {
            "format": FORMAT, "version": VERSION,
            "config": json_safe(config, "config"), "data": json_safe(data, "data"),
            "seed": json_safe(seed, "seed"), "versions": json_safe(versions, "versions"),
            "status": "running", "reason": None, "created": now, "updated": now,
            "epochs_done": 0, "checkpoint": None, "checkpoint_epoch": None, "history": [],
        }
        path.mkdir(parents=True, exist_ok=True)
        self = cls(path, run_json)
        self._lock = RunLock.acquire(path)
        try:
            if overwrite:
                not_run = _not_a_run(path)  # asked again: another process may have changed it meanwhile
                if not_run:
                    raise RunError(f"{str(path)!r} is not a zlens run directory ({not_run}): not replaced.")
                _remove_run_files(path)
            (path / CHECKPOINTS).mkdir(exist_ok=True)
            self._write()
        except BaseException:
            self.release()
            raise
        return self

    @staticmethod
    def check_new(path: str | Path, *, overwrite: bool = False) -> Path:
        """The absolute run folder `create` would make at `path`, or a `RunError` saying why it
        cannot (a file is there; a non-empty folder is there and `overwrite` is off, or it is not
        a zlens run, or another process is writing it): cheap, so the CLI asks before TensorFlow
        loads. Nothing is created or changed.

        Example:
            >>> RunDirectory.check_new("runs/new").name  # doctest: +SKIP
            'new'
        """
        path = run_path(path)
        if path.exists() and not path.is_dir():
            raise RunError(f"{str(path)!r} is a file, not a folder: choose another run directory.")
        if path.is_dir() and any(path.iterdir()) and not overwrite:
            raise RunError(f"Run directory {str(path)!r} already exists and is not empty: continue it "
                           f"(CLI: zlens train --resume {str(path)!r}; Python: zlens.resume), choose another "
                           "path, or replace it (CLI: --overwrite; Python: overwrite=True).")
        if path.is_dir() and any(path.iterdir()):
            not_run = _not_a_run(path)
            if not_run:
                raise RunError(f"{str(path)!r} is not a zlens run directory ({not_run}): overwrite replaces only "
                               "a run; choose another path, or move that folder's files away yourself.")
            RunLock.check_free(path)
        return path

    @classmethod
    def open(cls, path: str | Path) -> RunDirectory:
        """Open an existing run folder by reading its run.json.

        Example:
            >>> directory = RunDirectory.open("runs/mnist")  # doctest: +SKIP
            >>> directory.status, directory.epochs_done  # doctest: +SKIP
            ('finished', 20)
        """
        path = run_path(path)
        if not (path / RUN_JSON).is_file():
            raise RunError(f"{str(path)!r} is not a zlens run directory (no {RUN_JSON}).")
        try:
            run_json = json.loads((path / RUN_JSON).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise RunError(f"{str(path / RUN_JSON)!r} cannot be read ({exc}).") from None
        if not isinstance(run_json, dict) or run_json.get("format") != FORMAT:
            raise RunError(f"{str(path)!r} is not a zlens run directory ({RUN_JSON} has no format={FORMAT!r}).")
        if run_json.get("version") != VERSION:
            raise RunError(f"{str(path)!r} has run format version {run_json.get('version')!r}; "
                           f"this zlens reads version {VERSION}: upgrade zlens.")
        _check_fields(run_json, path / RUN_JSON)
        return cls(path, run_json)

    def lock(self) -> None:
        """Take the run's lock to write it (`resume` does); `RunError` if another process holds it."""
        if self._lock is None or not self._lock.held:
            self._lock = RunLock.acquire(self._path)

    def release(self) -> None:
        """Let the run's lock go: another process may write the run now."""
        if self._lock is not None:
            self._lock.release()

    # ----------------------------------------------------------------- readers
    @property
    def path(self) -> Path:
        """The run folder."""
        return self._path

    @property
    def run_json(self) -> dict[str, Any]:
        """A copy of run.json's content."""
        return json.loads(json.dumps(self._run_json))

    @property
    def status(self) -> str:
        """"running", "finished" or "failed"."""
        return self._run_json["status"]

    @property
    def reason(self) -> str | None:
        """Why the run failed (or None)."""
        return self._run_json["reason"]

    @property
    def history(self) -> list[dict[str, Any]]:
        """Per-epoch metric dicts, each with "epoch", in order."""
        return [dict(row) for row in self._run_json["history"]]

    @property
    def epochs_done(self) -> int:
        """How many epochs are complete (the next epoch to run)."""
        return int(self._run_json["epochs_done"])

    @property
    def config(self) -> dict[str, Any]:
        """The run's configuration as saved."""
        return json.loads(json.dumps(self._run_json["config"]))

    @property
    def checkpoint_path(self) -> Path | None:
        """The latest checkpoint to resume from, or None."""
        ckpt = self._run_json["checkpoint"]
        return None if ckpt is None else self._path / ckpt

    @property
    def checkpoint_epoch(self) -> int | None:
        """The epoch whose end `checkpoint_path` saved, or None."""
        return self._run_json.get("checkpoint_epoch")

    @property
    def latents_path(self) -> Path:
        """Where the `LatentStore` lives (`latents.zarr`)."""
        return self._path / LATENTS

    @property
    def model_path(self) -> Path:
        """Where the final model is saved (`model.keras`)."""
        return self._path / MODEL

    @property
    def metrics_path(self) -> Path:
        """The human-friendly `metrics.csv`."""
        return self._path / METRICS_CSV

    def model_path_or_checkpoint(self) -> Path:
        """The final model if the run saved one, else the latest checkpoint (to load the model).

        Example:
            >>> model = keras.models.load_model(directory.model_path_or_checkpoint())  # doctest: +SKIP
        """
        if self.model_path.is_file():
            return self.model_path
        if self.checkpoint_path is not None and self.checkpoint_path.is_file():
            return self.checkpoint_path
        raise RunError(f"{str(self._path)!r} has neither {MODEL} nor a checkpoint: no model to load "
                       "(the run stopped before its first epoch was committed).")

    def resumable_checkpoint(self) -> Path:
        """The checkpoint a resume continues from, or a `RunError` naming what is missing.

        Example:
            >>> RunDirectory.open("runs/digits").resumable_checkpoint().name  # doctest: +SKIP
            'epoch-00019.keras'
        """
        checkpoint = self.checkpoint_path
        if checkpoint is None or not checkpoint.is_file():
            named = "names no checkpoint" if checkpoint is None else \
                f"names the checkpoint {str(checkpoint)!r}, which is missing"
            raise RunError(f"{str(self._path / RUN_JSON)!r} {named}: the run cannot continue from epoch "
                           f"{self.epochs_done - 1}. Its committed latents still read; to train again, start the "
                           "run anew (CLI: --overwrite; Python: overwrite=True).")
        return checkpoint

    def checkpoint_path_for(self, epoch: int) -> Path:
        """The checkpoint file for the end of `epoch`.

        Example:
            >>> directory.checkpoint_path_for(12).name  # doctest: +SKIP
            'epoch-00012.keras'
        """
        return self._path / CHECKPOINTS / f"epoch-{int(epoch):05d}.keras"

    # ----------------------------------------------------------------- writers
    def commit_epoch(self, epoch: int, metrics: Mapping[str, Any], checkpoint: str | Path | None) -> None:
        """The former name of `record_epoch` (deprecated: a run's epoch is committed by its writer,
        of which this is the last step)."""
        warnings.warn("RunDirectory.commit_epoch is now record_epoch.", DeprecationWarning, stacklevel=2)
        self.record_epoch(epoch, metrics, checkpoint)

    def record_epoch(self, epoch: int, metrics: Mapping[str, Any], checkpoint: str | Path | None) -> None:
        """Record a finished epoch: history, epochs_done and checkpoint, in one atomic run.json write.

        Then metrics.csv is rewritten, the files in checkpoints/ other than the new checkpoint
        are deleted, and temp files of an earlier killed write are removed. With
        `checkpoint=None` the previous checkpoint stays current.

        Args:
            epoch: must equal `epochs_done` (history stays continuous; to redo epochs,
                call `truncate_history` first).
            metrics: this epoch's metrics; NumPy scalars become Python numbers, NaN null.
            checkpoint: the checkpoint file just saved for this epoch (it must exist), or None.

        Example:
            >>> model.save(directory.checkpoint_path_for(3))  # doctest: +SKIP
            >>> directory.record_epoch(3, {"loss": 0.1}, checkpoint=directory.checkpoint_path_for(3))  # doctest: +SKIP
        """
        if isinstance(epoch, bool) or not isinstance(epoch, (int, np.integer)) or epoch != self.epochs_done:
            raise RunError(f"Epoch {epoch!r} cannot be committed: the next epoch of this run is {self.epochs_done} "
                           "(call truncate_history(n) first to redo epochs from n).")
        row = {"epoch": int(epoch)}
        row.update({k: v for k, v in json_safe(dict(metrics), "metrics").items() if k != "epoch"})
        if checkpoint is not None:
            ckpt = Path(checkpoint) if Path(checkpoint).is_absolute() else self._path / checkpoint
            if not ckpt.is_file():
                raise RunError(f"Checkpoint {str(ckpt)!r} does not exist: save the model there before record_epoch.")
            try:
                rel = ckpt.resolve().relative_to(self._path.resolve())
            except ValueError:
                raise RunError(f"Checkpoint {str(ckpt)!r} is outside the run directory: "
                               "save it at run.checkpoint_path_for(epoch).") from None
            self._run_json["checkpoint"], self._run_json["checkpoint_epoch"] = rel.as_posix(), int(epoch)
        self._run_json["history"].append(row)
        self._run_json["epochs_done"] = int(epoch) + 1
        self._write()
        if checkpoint is not None:
            self._delete_checkpoints_except(self.checkpoint_path)
        self._delete_stale_temp_files()

    def update_config(self, **changes: Any) -> None:
        """Change entries of the saved config (e.g. the planned epochs when a run is extended).

        Example:
            >>> directory.update_config(epochs=40)  # doctest: +SKIP
        """
        self._run_json["config"].update(json_safe(changes, "config"))
        self._write()

    def set_status(self, status: str, reason: str | None = None) -> None:
        """Set the run's status ("running", "finished", "failed") and why.

        Example:
            >>> directory.set_status("failed", "loss became NaN at epoch 7")  # doctest: +SKIP
        """
        check_choice("status", status, STATUSES, error=RunError)
        self._run_json["status"], self._run_json["reason"] = status, None if reason is None else str(reason)
        self._write()

    def truncate_history(self, epochs_done: int) -> None:
        """Forget epochs >= `epochs_done` (to resume from there); a later checkpoint is dropped too.

        Example:
            >>> directory.truncate_history(directory.checkpoint_epoch + 1)  # doctest: +SKIP
        """
        if isinstance(epochs_done, bool) or not isinstance(epochs_done, (int, np.integer)) \
                or not 0 <= epochs_done <= self.epochs_done:
            raise RunError(f"`epochs_done` must be an int from 0 to {self.epochs_done}; got {epochs_done!r}.")
        self._run_json["history"] = [r for r in self._run_json["history"] if r["epoch"] < epochs_done]
        self._run_json["epochs_done"] = int(epochs_done)
        ckpt_epoch = self._run_json.get("checkpoint_epoch")
        if ckpt_epoch is not None and ckpt_epoch >= epochs_done:
            self._run_json["checkpoint"], self._run_json["checkpoint_epoch"] = None, None
        self._write()

    # ----------------------------------------------------------------- internals
    def _write(self) -> None:
        """metrics.csv, then run.json: a kill between the two leaves metrics.csv one epoch ahead of
        run.json (that epoch is redone on resume, which rewrites both), never behind it."""
        self._run_json["updated"] = _now()
        atomic_write_text(self._path / METRICS_CSV, metrics_csv_text(self._run_json["history"]))
        atomic_write_text(self._path / RUN_JSON, json.dumps(self._run_json, indent=2, allow_nan=False) + "\n")

    def _delete_stale_temp_files(self) -> None:
        """Remove temp files a killed writer left; only the (single) writer calls this."""
        for name in (RUN_JSON, METRICS_CSV):
            for leftover in self._path.glob(f".{name}.*.tmp"):
                leftover.unlink(missing_ok=True)

    def _delete_checkpoints_except(self, keep: Path | None) -> None:
        folder = self._path / CHECKPOINTS
        keep_name = keep.name if keep is not None and keep.parent.resolve() == folder.resolve() else None
        for entry in folder.iterdir():
            if entry.name != keep_name and (entry.is_file() or entry.is_symlink()):
                entry.unlink(missing_ok=True)
            elif entry.name != keep_name and entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)

    def __repr__(self) -> str:
        return f"RunDirectory({str(self._path)!r}, status={self.status!r}, epochs_done={self.epochs_done})"


def _not_a_run(path: Path) -> str | None:
    """Why the non-empty folder `path` is not a zlens run (None when it is one, or the start of
    one that was stopped before its run.json was first written)."""
    foreign = [e.name for e in path.iterdir() if e.name not in RUN_ENTRIES and not _is_temp_file(e.name)]
    if foreign:
        shown = ", ".join(sorted(foreign)[:3]) + (", ..." if len(foreign) > 3 else "")
        return f"it holds {shown}"
    if not (path / RUN_JSON).is_file():
        has_data = any((path / name).exists() for name in (METRICS_CSV, MODEL, LATENTS, *REPORT_FILES))
        return f"no {RUN_JSON}" if has_data else None
    try:
        run_json = json.loads((path / RUN_JSON).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return f"its {RUN_JSON} cannot be read"
    if not isinstance(run_json, dict) or run_json.get("format") != FORMAT:
        return f"its {RUN_JSON} has no format={FORMAT!r}"
    return None


def _is_temp_file(name: str) -> bool:
    return name.startswith(".") and (name.endswith(".tmp") or name.endswith(".tmp.keras"))


def _remove_run_files(path: Path) -> None:
    """Delete a run's files from `path`, keeping the lock file this process holds."""
    for entry in path.iterdir():
        if entry.name == LOCK_NAME:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink(missing_ok=True)


def _check_fields(run_json: dict[str, Any], file: Path) -> None:
    """`RunError` naming the first field of run.json that is missing or of the wrong type."""
    for name, kind in REQUIRED_FIELDS.items():
        value = run_json.get(name)
        if not isinstance(value, kind) or isinstance(value, bool):
            what = "is missing" if name not in run_json else f"is {type(value).__name__}, not {kind.__name__}"
            raise RunError(f"{str(file)!r} is damaged: its field {name!r} {what}. Restore the file from a copy, "
                           "or start the run again (CLI: --overwrite; Python: overwrite=True).")
    status, done, history = run_json["status"], run_json["epochs_done"], run_json["history"]
    if status not in STATUSES or done < 0 or len(history) < done \
            or not all(isinstance(row, dict) and isinstance(row.get("epoch"), int) for row in history):
        raise RunError(f"{str(file)!r} is damaged: its status, epochs_done and history do not agree. Restore the "
                       "file from a copy, or start the run again (CLI: --overwrite; Python: overwrite=True).")
