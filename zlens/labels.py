"""`check_labels`: the one rule for per-sample labels, used by data loading, `fit` and the store.

TensorFlow-free and below both `zlens.data` and `zlens.store`, so that labels are accepted (or
refused) the same way wherever they enter.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from zlens.errors import DataError


def check_labels(labels: Any, n_samples: int, *, name: str = "labels") -> np.ndarray | None:
    """`labels` as an (N,) array of numbers or a NumPy unicode array, or one clear `DataError`.

    None stays None; an (N, 1) column is taken as (N,); Python strings (dtype object) become a
    unicode array, anything else of dtype object is refused (labels are never unpickled objects).

    Example:
        >>> check_labels([[0], [1], [1]], 3).tolist()
        [0, 1, 1]
        >>> check_labels(np.array(["a", "b"], dtype=object), 2).dtype.kind
        'U'
    """
    if labels is None:
        return None
    arr = np.asarray(labels)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise DataError(f"`{name}` must be one value per sample, shape (N,); got shape {arr.shape}.")
    if len(arr) != n_samples:
        raise DataError(f"`{name}` has {len(arr)} values but the data has {n_samples} samples; "
                        "they must have the same length.")
    if arr.dtype.kind in "OU":
        if arr.dtype.kind == "O" and not all(isinstance(v, str) for v in arr):
            raise DataError(f"`{name}` of dtype object must hold only str; convert them with labels.astype(str).")
        return arr.astype(str)
    if arr.dtype.kind not in "biuf":
        raise DataError(f"`{name}` must be numbers or strings; got dtype {arr.dtype}.")
    return arr
