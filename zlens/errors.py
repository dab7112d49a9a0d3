"""Errors zlens raises for bad input: one line that names the problem and the fix.

The CLI turns any `ZlensError` into that line on stderr and exit code 2.
"""


class ZlensError(ValueError):
    """Bad input or a bad request: the message names the value and what to do instead."""


class DataError(ZlensError):
    """The data cannot be used as given (wrong shape, NaN, empty, unreadable file...)."""


class ModelError(ZlensError):
    """The model cannot be used as given (unknown latent layer, bad encoding size...)."""


class RunError(ZlensError):
    """A run directory cannot be created, opened or resumed as asked."""


class NonFiniteError(RuntimeError):
    """Training diverged: a loss or a captured value became NaN or infinite.

    Raised by `zlens.fit` / `zlens.resume` (with `on_nonfinite="stop"`, the default) at the end
    of the epoch where it appeared: that epoch is not committed, every earlier one is, and a run
    directory is marked failed with this message as its reason.

    Attributes:
        epoch: the epoch whose values were not finite.
        what: what was not finite, e.g. "loss is nan" or "in-flight z: 1797 rows hold NaN or inf".
    """

    def __init__(self, message: str, *, epoch: int, what: str) -> None:
        super().__init__(message)
        self.epoch = epoch
        self.what = what


class Terminated(SystemExit):
    """The process was asked to stop (SIGTERM) while training: the run is marked failed with the
    reason and the process exits with 143, as an unhandled SIGTERM would."""

    def __init__(self) -> None:
        super().__init__(143)
