"""Small exact data for the report tests (imported by conftest.py and the tests beside it)."""

import numpy as np

HOSTILE = "<script>alert(1)</script>"
LABEL_NAMES = np.array([HOSTILE, "tab\there", "cat & dog", "plain"])


def make_data(n=200, features=16, seed=0):
    """Four clusters in [0, 1] with string labels, one of them hostile HTML and one with a tab."""
    rng = np.random.default_rng(seed)
    classes = np.arange(n) % 4
    centers = rng.random((4, features))
    x = np.clip(centers[classes] + 0.08 * rng.normal(size=(n, features)), 0, 1).astype("float32")
    return x, LABEL_NAMES[classes]
