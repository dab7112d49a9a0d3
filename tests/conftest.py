"""Shared fixtures: small exact data sets made here (no downloads), quiet TensorFlow."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture
def x_small():
    """101 samples x 12 features in [0, 1]: 101 is prime, so every batch size leaves a partial batch."""
    rng = np.random.default_rng(0)
    return rng.random((101, 12), dtype=np.float32)


@pytest.fixture
def labels_small():
    return np.arange(101) % 3
