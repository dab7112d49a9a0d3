"""The one style every argument check follows, in the manner of scikit-learn's declared
parameter constraints: a check names the argument, states what it accepts, and says what it
got, in one line, raising the error family of the layer that calls it.

    >>> check_choice("capture", "all", ("in-flight", "consistent", "both"), or_also="None")
    Traceback (most recent call last):
    zlens.errors.ZlensError: capture must be one of in-flight, consistent, both or None; got 'all'.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, TypeVar

import numpy as np

from zlens.errors import ZlensError

T = TypeVar("T")


def check_choice(name: str, value: T, choices: Collection[Any], *, or_also: str | None = None,
                 error: type[Exception] = ZlensError) -> T:
    """`value` when it is one of `choices`, else one `error`: "NAME must be one of A, B; got V."

    Args:
        name: the argument as the user wrote it ("capture", "--capture").
        or_also: how a value the caller accepts beside `choices` reads in the message ("None",
            "'auto'"); the caller handles that value before calling.
        error: the error class (the caller's layer: `DataError`, `ModelError`, `RunError`...).

    Example:
        >>> check_choice("tap_storage", "host", ("device", "host", "stream"))
        'host'
    """
    if value in choices:
        return value
    accepted = ", ".join(map(str, choices)) + (f" or {or_also}" if or_also else "")
    raise error(f"{name} must be one of {accepted}; got {value!r}.")


def check_count(name: str, value: Any, *, meaning: str = "", or_also: str | None = None,
                error: type[Exception] = ZlensError) -> int:
    """`value` as an int when it is an integer >= 1 (a bool is not), else one `error`:
    "NAME must be an integer >= 1 (MEANING); got V."

    Example:
        >>> check_count("epochs", 3)
        3
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        detail = f" ({meaning})" if meaning else ""
        alternative = f" (or {or_also})" if or_also else ""
        raise error(f"{name} must be an integer >= 1{detail}{alternative}; got {value!r}.")
    return int(value)
