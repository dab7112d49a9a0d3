"""The embedded default dataset: scikit-learn's 8x8 handwritten digits, no network needed.

1797 samples of 64 pixels (values 0..16), scaled to [0, 1], with the digit as the label.
"""

from __future__ import annotations

import numpy as np

from zlens.data.data_source import DataSource, as_float32
from zlens.data.fingerprint import array_fingerprint

_DIGITS_MAX = 16


def load_digits(*, as_images: bool = False) -> DataSource:
    """The 8x8 digits as a `DataSource`: x float32 in [0, 1], labels 0..9, name "digits".

    Pixels (0..16 in scikit-learn's copy) are divided by 16. The fingerprint describes the
    data as scikit-learn ships it (float64, 1797 x 64), so it identifies the dataset
    whichever shape is asked for.

    Args:
        as_images: return x as (1797, 8, 8, 1) images for a convolutional model instead of
            (1797, 64) rows for a dense one. Default False.

    Example:
        >>> src = load_digits()
        >>> src.x.shape, float(src.x.max()), sorted(set(src.labels.tolist()))[:3]
        ((1797, 64), 1.0, [0, 1, 2])
    """
    from sklearn import datasets

    bunch = datasets.load_digits()
    raw = np.ascontiguousarray(bunch.data)
    factor = 1 / _DIGITS_MAX
    x = as_float32(raw, factor)
    if as_images:
        x = x.reshape(-1, 8, 8, 1)
    src = DataSource(
        x,
        np.asarray(bunch.target),
        name="digits",
        scaled=True,
        original_dtype=str(raw.dtype),
        scale_factor=factor,
    )
    src._fingerprint = array_fingerprint(raw)
    return src
