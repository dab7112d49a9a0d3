"""The embedded default dataset: scikit-learn's 8x8 handwritten digits, no network needed.

1797 samples of 64 pixels (values 0..16), prepared by the one preprocessing rule
(`zlens.data.preprocess`: by default min-max per pixel to [0, 1]), with the digit as the label.
"""

from __future__ import annotations

import numpy as np

from zlens.data.data_source import DataSource
from zlens.data.fingerprint import array_fingerprint
from zlens.data.preprocess import Preprocessing, decide


def load_digits(*, as_images: bool = False, scale: str | Preprocessing = "auto") -> DataSource:
    """The 8x8 digits as a `DataSource`: x float32 (in [0, 1] by default), labels 0..9, name "digits".

    The pixels (0..16 in scikit-learn's copy, float64) are prepared as any array is: `scale="auto"`
    maps each pixel's observed range to [0, 1] (min-max per feature), the same as the digits
    saved to an integer `.npy` and read with `load_data`, or passed to `zlens.fit` as they come.
    The fingerprint describes the data as scikit-learn ships it (float64, 1797 x 64), so it
    identifies the dataset whichever shape is asked for.

    Args:
        as_images: return x as (1797, 8, 8, 1) images for a convolutional model instead of
            (1797, 64) rows for a dense one. Default False.
        scale: "auto" (default), "minmax", "standard", "none", or a recorded `Preprocessing`.

    Example:
        >>> src = load_digits()
        >>> src.x.shape, float(src.x.max()), sorted(set(src.labels.tolist()))[:3]
        ((1797, 64), 1.0, [0, 1, 2])
        >>> src.preprocessing.describe()
        'scaled 0..16 -> [0, 1] per feature (min-max)'
    """
    from sklearn import datasets

    bunch = datasets.load_digits()
    raw = np.ascontiguousarray(bunch.data)
    prep = scale if isinstance(scale, Preprocessing) else decide(raw, scale)
    x = prep.apply(raw)
    if as_images:
        x = x.reshape(-1, 8, 8, 1)
    src = DataSource(x, np.asarray(bunch.target), name="digits", scaled=not prep.identity,
                     original_dtype=str(raw.dtype), preprocessing=prep)
    src._fingerprint = array_fingerprint(raw)
    return src
