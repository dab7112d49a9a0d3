"""`verify_run`: is every file of a run directory whole, and do they agree? (`zlens info --verify`)

It reads everything a reader of the run relies on, without TensorFlow: every committed slot of
the latent store (each chunk's checksum, no chunk missing, no unflagged NaN), the checkpoint and
the final model (the CRC of every member of their zip), run.json against metrics.csv and the
store. What a kill can leave behind by design (one epoch written ahead of run.json, which a
resume redoes) is a note, not damage.
"""

from __future__ import annotations

import csv
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from zlens.errors import RunError
from zlens.store.latent_store import LatentStore
from zlens.store.run_directory import RunDirectory, metrics_csv_text
from zlens.store.run_lock import RunLock


@dataclass
class Verdict:
    """What `verify_run` found: `problems` (damage; empty for a sound run) and `notes`."""

    path: Path
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    slots_checked: int = 0

    @property
    def sound(self) -> bool:
        return not self.problems


def verify_run(path: str | Path) -> Verdict:
    """Check the run directory at `path` from end to end; see the module's docstring.

    Example:
        >>> verdict = verify_run("runs/digits")       # doctest: +SKIP
        >>> verdict.sound, verdict.problems            # doctest: +SKIP
        (True, [])
    """
    verdict = Verdict(Path(path))
    try:
        directory = RunDirectory.open(path)
    except RunError as err:
        verdict.problems.append(str(err))
        return verdict
    verdict.path = directory.path
    _check_running(directory, verdict)
    _check_metrics_csv(directory, verdict)
    _check_models(directory, verdict)
    _check_store(directory, verdict)
    return verdict


def _check_running(directory: RunDirectory, verdict: Verdict) -> None:
    if directory.status != "running":
        return
    try:
        RunLock.check_free(directory.path)
    except RunError:
        verdict.notes.append("the run is being written by another process now: what it writes next is not checked.")
        return
    verdict.notes.append("run.json says running, but no process is writing it (it was killed): "
                         "`zlens train --resume` continues it from its last committed epoch.")


def _check_metrics_csv(directory: RunDirectory, verdict: Verdict) -> None:
    file = directory.metrics_path
    expected = _csv_rows(metrics_csv_text(directory.history))
    try:
        actual = _csv_rows(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        verdict.problems.append(f"{str(file)!r} cannot be read ({type(err).__name__}: {err}).")
        return
    if actual == expected:
        return
    ahead = len(actual) == len(expected) + 1 and actual[:-1] == expected \
        and actual[-1].get("epoch") == str(directory.epochs_done)
    if ahead:
        verdict.notes.append(f"metrics.csv has epoch {directory.epochs_done}, which run.json has not committed "
                             "(killed between the two writes): a resume redoes that epoch and rewrites both.")
        return
    verdict.problems.append(f"{str(file)!r} disagrees with run.json's history ({len(actual)} rows against "
                            f"{len(expected)}): it was edited or damaged; a resume rewrites it from run.json.")


def _csv_rows(text: str) -> list[dict[str, str]]:
    """The rows of a metrics CSV with their non-empty values (so a column added later compares equal)."""
    return [{k: v for k, v in row.items() if v not in ("", None)} for row in csv.DictReader(text.splitlines())]


def _check_models(directory: RunDirectory, verdict: Verdict) -> None:
    done = directory.epochs_done
    checkpoint = directory.checkpoint_path
    if done and checkpoint is None:
        verdict.problems.append(f"run.json records {done} epochs but no checkpoint to resume from.")
    elif checkpoint is not None:
        if directory.checkpoint_epoch != done - 1:
            verdict.problems.append(f"the checkpoint is of epoch {directory.checkpoint_epoch}, not of the last "
                                    f"committed epoch {done - 1}.")
        _check_zip(checkpoint, "the checkpoint", verdict)
    if directory.status == "finished":
        _check_zip(directory.model_path, "the final model", verdict)


def _check_zip(file: Path, what: str, verdict: Verdict) -> None:
    """A `.keras` file is a zip archive: every member's CRC is checked."""
    if not file.is_file():
        verdict.problems.append(f"{what} {str(file)!r} is missing.")
        return
    try:
        with zipfile.ZipFile(file) as archive:
            bad = archive.testzip()
    except (OSError, zipfile.BadZipFile, EOFError) as err:
        verdict.problems.append(f"{what} {str(file)!r} is damaged ({type(err).__name__}: {err}).")
        return
    if bad is not None:
        verdict.problems.append(f"{what} {str(file)!r} is damaged: its member {bad!r} fails its CRC.")


def _check_store(directory: RunDirectory, verdict: Verdict) -> None:
    try:
        store = LatentStore.open(directory.latents_path, mode="r")
    except RunError as err:
        verdict.problems.append(str(err))
        return
    done = directory.epochs_done
    ahead = [e for e in store.epochs if e >= done]
    if ahead:
        verdict.notes.append(f"the latent store holds epoch(s) {ahead} that run.json has not committed "
                             "(killed between the two writes): readers do not show them; a resume redoes them.")
    if directory.config.get("capture_every", 1) == 1:
        missing = sorted(set(range(done)) - set(store.epochs))
        if missing:
            verdict.problems.append(f"run.json records epochs 0..{done - 1}, but the latent store lacks the "
                                    f"latents of epoch(s) {missing}.")
    verdict.problems += store.verify()
    verdict.slots_checked = len(store.epochs) * len(store.matrices()) * len(store.taps)
