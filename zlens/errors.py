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
