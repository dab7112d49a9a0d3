"""`RunLock`: one writer per run directory, for the run's whole life.

A second `zlens train --out RUN --overwrite` or `--resume RUN` while RUN trains would delete
or rewrite the files the first process is committing. The lock is an advisory `flock` on
`RUN/.zlens.lock`, held open by the writing process: the kernel drops it when the process
ends in any way (kill -9 included), so a stale lock of a dead process is simply taken over.
The file also names the holder (process id and host) for the message the second one shows.
"""

from __future__ import annotations

import errno
import fcntl
import os
import socket
from pathlib import Path

from zlens.errors import RunError

LOCK_NAME = ".zlens.lock"


class RunLock:
    """An exclusive lock on a run directory, held until `release` (or the process ends).

    Example:
        >>> lock = RunLock.acquire(Path("runs/digits"))     # doctest: +SKIP
        >>> lock.release()                                  # doctest: +SKIP
    """

    def __init__(self, path: Path, fd: int) -> None:
        self._path = path
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, folder: str | Path) -> RunLock:
        """Take the lock of the run at `folder` (which must exist), or raise `RunError` naming the
        process that holds it; a folder that cannot be written is refused in one line too."""
        path = Path(folder) / LOCK_NAME
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as err:
            raise RunError(f"cannot write to the run directory {str(folder)!r} ({_why(err)}): "
                           "a run is written in place; copy it somewhere writable to continue it.") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            holder = _read_holder(fd)
            os.close(fd)
            if err.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise RunError(f"cannot lock the run directory {str(folder)!r} ({_why(err)}).") from None
            raise RunError(f"the run directory {str(folder)!r} is in use by {holder}: wait for it to end, "
                           "or stop that process first (it is marked failed and can be resumed).") from None
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}\n".encode(), 0)
        except OSError:  # the lock holds without its note (a full disk): the message is only vaguer
            pass
        return cls(path, fd)

    @staticmethod
    def check_free(folder: str | Path) -> None:
        """Raise `RunError` if another process holds the lock of `folder` (cheap, for the CLI to ask
        before TensorFlow loads); nothing is created or changed."""
        path = Path(folder) / LOCK_NAME
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return  # no lock file: nobody writes this folder through zlens
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            raise RunError(f"the run directory {str(folder)!r} is in use by {_read_holder(fd)}: wait for it to end, "
                           "or stop that process first.") from None
        finally:
            os.close(fd)

    @property
    def held(self) -> bool:
        """Whether this process still holds the lock."""
        return self._fd is not None

    def release(self) -> None:
        """Let the lock go (the lock file stays: removing it would race a process taking it)."""
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None

    def __repr__(self) -> str:
        return f"RunLock({str(self._path)!r}, held={self.held})"


def _read_holder(fd: int) -> str:
    try:
        note = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
    except OSError:
        note = ""
    return f"another process ({note})" if note else "another process"


def _why(err: OSError) -> str:
    return os.strerror(err.errno) if err.errno else str(err)
