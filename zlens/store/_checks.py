"""Boundary checks of the latent store: taps, kinds, labels and one commit's values.
Each turns an accepted input into one canonical form or raises a one-line RunError.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from zlens.checks import check_count
from zlens.errors import RunError
from zlens.kinds import CONSISTENT, KINDS, SPLITS, TRAIN, group_of


@runtime_checkable
class RowSource(Protocol):
    """A matrix too large for memory, committed block by block (a streamed capture buffer)."""

    @property
    def shape(self) -> tuple[int, ...]: ...

    @property
    def dtype(self) -> Any: ...

    def blocks(self) -> Iterator[tuple[int, np.ndarray]]:
        """`(start, rows)` over the matrix in order."""


def check_taps(taps: Mapping[str, Sequence[int]]) -> dict[str, tuple[int, ...]]:
    """Tap name -> row shape as a tuple of ints; names are non-empty and have no '/'."""
    if not isinstance(taps, Mapping) or not taps:
        raise RunError(f"`taps` must map tap names to row shapes, e.g. {{'z': (32,)}}; got {taps!r}.")
    out = {}
    for name, shape in taps.items():
        if not isinstance(name, str) or not name or "/" in name:
            raise RunError(f"Tap name {name!r} must be a non-empty string without '/'.")
        try:
            row = tuple(int(d) for d in shape)
        except TypeError:
            raise RunError(f"Tap {name!r}: row shape must be a tuple of ints like (32,) or (); "
                           f"got {shape!r}.") from None
        if any(d < 0 for d in row):
            raise RunError(f"Tap {name!r}: row shape {row} has a negative size.")
        out[name] = row
    return out


def check_kinds(kinds: Sequence[str]) -> list[str]:
    """A non-empty list of distinct kinds out of KINDS."""
    kinds = [kinds] if isinstance(kinds, str) else list(kinds)
    bad = [k for k in kinds if k not in KINDS]
    if not kinds or bad or len(set(kinds)) != len(kinds):
        raise RunError(f"`kinds` must be distinct values from {list(KINDS)}; got {kinds!r}.")
    return kinds


def check_values(
    values: Mapping[str, Mapping[str, Any]], kinds: list[str], taps: dict[str, tuple[int, ...]],
    n_samples: int, dtype: np.dtype,
) -> dict[str, dict[str, np.ndarray | RowSource]]:
    """Validate one commit's values[kind][tap] against the store's layout; cast to `dtype`."""
    if not isinstance(values, Mapping):
        raise RunError("`values` must be a dict kind -> {tap: array}, e.g. {'in-flight': {'z': z}}.")
    extra = set(values) - set(kinds)
    if extra:
        raise RunError(f"Kind(s) {sorted(extra)} are not in this store; its kinds: {', '.join(kinds)}.")
    out: dict[str, dict[str, np.ndarray | RowSource]] = {}
    for kind in kinds:
        if kind not in values:
            raise RunError(f"Values for kind {kind!r} are missing; every commit needs {', '.join(kinds)}.")
        given = values[kind]
        extra = set(given) - set(taps)
        if extra:
            raise RunError(f"Tap(s) {sorted(extra)} of kind {kind!r} are not in this store; "
                           f"its taps: {', '.join(taps)}.")
        out[kind] = {}
        for tap, row in taps.items():
            if tap not in given:
                raise RunError(f"Tap {tap!r} of kind {kind!r} is missing; "
                               f"every commit needs all taps: {', '.join(taps)}.")
            value = given[tap]
            want = (n_samples, *row)
            if isinstance(value, RowSource):  # a matrix too large for memory: written block by block
                if tuple(value.shape) != want or np.dtype(value.dtype).kind not in "biuf":
                    raise RunError(f"Tap {tap!r} ({kind}) must have shape {want} and hold real numbers; "
                                   f"got shape {tuple(value.shape)}, dtype {value.dtype}.")
                out[kind][tap] = value
                continue
            value = np.asarray(value)
            if value.shape != want:
                raise RunError(f"Tap {tap!r} ({kind}) must have shape {want} (one row per sample); got {value.shape}.")
            if value.dtype.kind not in "biuf":
                raise RunError(f"Tap {tap!r} ({kind}) must hold real numbers; got dtype {value.dtype}.")
            out[kind][tap] = value.astype(dtype, copy=False)
    return out


def check_held_out(held_out: Mapping[str, int] | None) -> dict[str, int]:
    """Held-out split name -> its sample count, checked (a name from `SPLITS` other than "train")."""
    out = {}
    for split, n in (held_out or {}).items():
        if split not in SPLITS or split == TRAIN:
            raise RunError(f"held-out split {split!r} must be one of {', '.join(s for s in SPLITS if s != TRAIN)}.")
        out[split] = check_count(f"n_samples of {split}", n, error=RunError)
    return out


def check_commit(values: Mapping[str, Mapping[str, Any]], kinds: list[str], taps: dict[str, tuple[int, ...]],
                 n_samples: int, held_out: Mapping[str, int], dtype: np.dtype) -> dict[str, dict[str, Any]]:
    """One commit's values checked against every matrix of a store's layout: `check_values` for the
    training kinds, and for each held-out split's consistent matrices (`group_of(CONSISTENT, split)`)."""
    if not isinstance(values, Mapping):
        raise RunError("`values` must be a dict kind -> {tap: array}, e.g. {'in-flight': {'z': z}}.")
    held = {group_of(CONSISTENT, split): split for split in held_out}
    extra = set(values) - set(kinds) - set(held)
    if extra:
        raise RunError(f"Kind(s) {sorted(extra)} are not in this store; its kinds: {', '.join([*kinds, *held])}.")
    checked = check_values({k: v for k, v in values.items() if k not in held}, kinds, taps, n_samples, dtype)
    for path, split in held.items():
        if path not in values:
            raise RunError(f"Values for {path!r} are missing: this store holds {split} latents every epoch.")
        checked[path] = check_values({CONSISTENT: values[path]}, [CONSISTENT], taps, held_out[split],
                                     dtype)[CONSISTENT]
    return checked


def nonfinite_rows(rows: np.ndarray) -> int:
    """How many rows of `rows` (one sample each) hold a NaN or an infinity.

    A finite block costs one sum (NaN and infinities carry through it); only a block whose sum is
    not finite is looked at row by row (a sum of large finite values may overflow).

    Example:
        >>> nonfinite_rows(np.array([[0.0, 1.0], [np.nan, 2.0], [np.inf, 3.0]]))
        2
    """
    rows = np.asarray(rows)
    if rows.dtype.kind != "f" or rows.size == 0:
        return 0
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(np.add.reduce(rows, axis=None)):
            return 0
    return int((~np.isfinite(rows.reshape(len(rows), -1))).any(axis=1).sum())
