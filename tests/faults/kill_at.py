"""Run the `zlens` CLI and SIGKILL this very process at a chosen moment: the fault injector of
test_kills.py. Nothing is stubbed: the real command trains and writes; it only dies early.

    python kill_at.py POINT EPOCH DELAY zlens-arguments...

POINT: where to die, at epoch EPOCH or the first one after it that gets there:
    after-store        the latent store committed the epoch (before its checkpoint and run.json)
    after-checkpoint   the epoch's checkpoint file is in place (before run.json)
    after-metrics-csv  metrics.csv has the epoch (before run.json)
    after-run-json     run.json has the epoch (before the clean-up of older checkpoints)
    after-commit       run.json committed the epoch and older checkpoints are deleted
    timer              DELAY seconds after the epoch began: anywhere in a step, a consistent
                       pass, or a write of the epoch before running on its background thread
"""

import os
import signal
import sys
import threading
from pathlib import Path


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def after(owner, name, should_die) -> None:
    """Wrap `owner.name` so that the process dies right after a call for which `should_die(*args)`."""
    real = getattr(owner, name)

    def wrapped(*args, **kwargs):
        result = real(*args, **kwargs)
        if should_die(*args):
            die()
        return result

    setattr(owner, name, wrapped)


def arm(point: str, epoch: int, delay: float) -> None:
    if point == "after-store":
        from zlens.store.latent_store import LatentStore

        after(LatentStore, "write_epoch", lambda store, e, *rest: e >= epoch)
    elif point == "after-checkpoint":
        import zlens.run_writer as run_writer

        after(run_writer, "save_model", lambda model, path: Path(path).name.startswith("epoch-")
              and int(Path(path).stem.split("-")[1]) >= epoch)
    elif point == "after-metrics-csv":
        import zlens.store.run_directory as run_directory

        after(run_directory, "atomic_write_text", lambda path, text: Path(path).name == "metrics.csv"
              and text.count("\n") - 1 >= epoch + 1)
    elif point == "after-run-json":
        import json

        import zlens.store.run_directory as run_directory

        after(run_directory, "atomic_write_text", lambda path, text: Path(path).name == "run.json"
              and json.loads(text)["epochs_done"] >= epoch + 1)
    elif point == "after-commit":
        from zlens.store.run_directory import RunDirectory

        after(RunDirectory, "record_epoch", lambda directory, e, *rest: e >= epoch)
    elif point == "timer":
        from zlens.capture.callback import CaptureCallback

        real = CaptureCallback.on_epoch_begin

        def on_epoch_begin(self, e, logs=None):
            if e == epoch:
                threading.Timer(delay, die).start()
            return real(self, e, logs)

        CaptureCallback.on_epoch_begin = on_epoch_begin
    else:
        raise SystemExit(f"unknown point {point!r}")


if __name__ == "__main__":
    arm(sys.argv[1], int(sys.argv[2]), float(sys.argv[3]))
    from zlens.cli import main

    sys.exit(main(sys.argv[4:]))
