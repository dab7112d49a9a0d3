"""Validate samples and labels once, at the boundary, into zlens' canonical form.

Every entry point (`zlens.fit`, `zlens.encode`, the CLI) calls these before anything is
trained or written, so internals can trust their inputs and a bad input costs nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from zlens.data.chunked import is_chunked_array
from zlens.data.file_rows import read_rows
from zlens.errors import DataError
from zlens.labels import check_labels  # noqa: F401  (the one rule, re-exported with the data checks)

_CHUNK_ROWS = 65536


def check_samples(
    x,
    *,
    name: str = "x",
    expected_shape: Sequence[int | None] | None = None,
    dtype=np.float32,
) -> np.ndarray:
    """Return `x` as an array of samples (N, ...) in `dtype`, or raise one clear `DataError`.

    Checks: array-like and numeric, at least 2-D, N >= 1, no NaN / Inf, and (when given)
    each sample's shape matches `expected_shape` (None matches any size). Memory-mapped
    arrays stay memory-mapped when their dtype already matches, a Zarr array stays on disk
    in its own dtype, and the finiteness check reads them in chunks, so a large `.npy` or
    store is never loaded whole.

    Example:
        >>> check_samples(np.zeros((3, 4))).shape
        (3, 4)
    """
    chunked = is_chunked_array(x)
    if hasattr(x, "__array__") or isinstance(x, (list, tuple)):
        try:
            arr = x if isinstance(x, np.ndarray) or chunked else np.asarray(x)
        except (ValueError, TypeError) as err:
            raise DataError(f"`{name}` cannot be read as an array: {err}") from None
    else:
        raise DataError(
            f"`{name}` must be an array of samples (N, features) or (N, H, W[, C]); "
            f"got {type(x).__name__}."
        )
    if arr.dtype.kind not in "biuf":
        raise DataError(f"`{name}` must be numeric; got dtype {arr.dtype}.")
    if arr.ndim < 2:
        raise DataError(
            f"`{name}` must have one row per sample, shape (N, features) or (N, H, W[, C]); "
            f"got shape {arr.shape}. Did you mean x.reshape(-1, 1)?"
        )
    if arr.shape[0] == 0:
        raise DataError(f"`{name}` is empty (shape {arr.shape}): there are no samples to train on.")
    if expected_shape is not None:
        check_sample_shape(arr.shape, tuple(expected_shape), name)
    if arr.dtype != dtype and not chunked:  # a chunked array is converted batch by batch
        arr = arr.astype(dtype)
    _check_finite(arr, name)
    return arr


def check_targets(y, n_samples: int, *, name: str = "y") -> np.ndarray:
    """Return the training targets `y` as an array with one entry per sample, or raise one clear
    `DataError`: samples like x (a denoising autoencoder's clean inputs, as float32) or class
    labels (a classifier's, integers kept as integers), numeric, finite, `n_samples` of them.

    Example:
        >>> check_targets([0, 2, 1], 3).dtype
        dtype('int64')
    """
    try:
        arr = np.asarray(y)
    except (ValueError, TypeError) as err:
        raise DataError(f"`{name}` cannot be read as an array: {err}") from None
    if arr.dtype.kind not in "biuf" or arr.ndim < 1:
        raise DataError(f"`{name}` must be a numeric array with one target per sample; got "
                        f"{'dtype ' + str(arr.dtype) if arr.ndim else 'a scalar'}.")
    if len(arr) != n_samples:
        raise DataError(f"`{name}` has {len(arr)} samples but `x` has {n_samples}; they must match.")
    arr = arr.astype(np.float32) if arr.dtype.kind == "f" else arr
    _check_finite(arr, name)
    return arr


def check_block(block: np.ndarray, start: int, *, name: str = "x", dtype=np.float32) -> np.ndarray:
    """One block of rows `start:start+len(block)` of already-checked samples, as `dtype` and finite.

    For streaming passes (encode) that validate as they read instead of reading twice.
    """
    block = np.asarray(block, dtype=dtype)
    _check_finite(block, name, offset=start)
    return block


def check_sample_shape(shape: tuple, expected: tuple, name: str) -> None:
    """Raise one clear `DataError` unless samples of array shape `shape` match `expected` (None: any size)."""
    message = sample_shape_mismatch(tuple(shape[1:]), tuple(expected), name, array_shape=tuple(shape))
    if message is not None:
        raise DataError(message)


def sample_shape_mismatch(sample: tuple, expected: tuple, name: str, *, array_shape: tuple | None = None) -> str | None:
    """The one message for samples of shape `sample` given to a model expecting `expected` (None:
    any size), or None when they match. It names both sample shapes (never N inside one), the
    array's own shape when known, and the fix where there is one: flatten images for a dense
    model, or add the channel axis a model built for `(H, W, 1)` expects.

    Example:
        >>> sample_shape_mismatch((8, 8), (64,), "x", array_shape=(5, 8, 8))[:88]
        '`x` has samples of shape (8, 8) (array shape (5, 8, 8)) but the model expects samples of'
        >>> sample_shape_mismatch((64,), (None,), "x") is None
        True
    """
    if len(sample) == len(expected) and all(e is None or e == s for s, e in zip(sample, expected, strict=True)):
        return None
    want = "(" + ", ".join("?" if e is None else str(e) for e in expected) + ("," if len(expected) == 1 else "") + ")"
    array = "" if array_shape is None else f" (array shape {tuple(array_shape)})"
    message = f"`{name}` has samples of shape {tuple(sample)}{array} but the model expects samples of shape {want}."
    if channel_axis_missing(sample, expected):
        message += " Add the channel axis: x[..., None] (CLI: --channels-last)."
    elif len(sample) > len(expected):
        message += " Flatten images for a dense model: x.reshape(len(x), -1) (CLI: --flatten)."
    return message


def channel_axis_missing(sample: tuple, expected: tuple) -> bool:
    """Whether samples of shape `sample` are images `(H, W)` for a model expecting `(H, W, 1)`:
    they take a trailing channel axis of size 1 and nothing else.

    Example:
        >>> channel_axis_missing((8, 8), (8, 8, 1)), channel_axis_missing((8, 8), (8, 8, 3))
        (True, False)
    """
    if len(expected) != len(sample) + 1 or expected[-1] != 1:
        return False
    return all(e is None or e == s for s, e in zip(sample, expected[:-1], strict=True))


def _check_finite(arr: np.ndarray, name: str, offset: int = 0) -> None:
    if arr.dtype.kind not in "f":
        return
    for start in range(0, arr.shape[0], _CHUNK_ROWS):
        chunk = np.asarray(read_rows(arr, start, start + _CHUNK_ROWS))
        if not np.isfinite(chunk).all():
            bad = np.argwhere(~np.isfinite(chunk))[0]
            row = offset + start + int(bad[0])
            raise DataError(
                f"`{name}` contains NaN or Inf (first at sample {row}); "
                "clean or impute the data before training."
            )
