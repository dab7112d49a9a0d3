"""SIGTERM handled like Ctrl-C while a run trains.

`kill`, systemd, Slurm and Kubernetes stop a process with SIGTERM, which Python leaves to its
default action: the process dies at once, its run directory still saying "running". While
zlens trains, SIGTERM raises `zlens.errors.Terminated` instead (a `SystemExit` with code 143,
what the shell reports for a process that SIGTERM ended), so the run is marked failed with the
reason and its committed epochs stay resumable.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

from zlens.errors import Terminated


@contextlib.contextmanager
def terminate_on_sigterm() -> Iterator[None]:
    """Within the block, SIGTERM raises `Terminated`; outside it, the handler before is back.

    Only where Python lets a handler be set (the main thread) and only when SIGTERM still has its
    default action: a handler the program set itself is left alone.
    """
    if threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        yield
        return

    def stop(signum, frame):
        raise Terminated()

    signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
