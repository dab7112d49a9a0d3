"""Data in: read files or arrays into a validated `DataSource`, then index it for training.

`load_data` / `load_digits` read; `check_*` validate; `Preprocessing` is the one scaling rule
(`prepare_like_training` applies a run's to new data); `index_*` attach sample indices.
"""

from __future__ import annotations

from zlens.data.conform import prepare_like_training
from zlens.data.digits import load_digits
from zlens.data.preprocess import Preprocessing
from zlens.data.sources import MATERIALIZE_BYTES, DataSource, from_array, load_data
from zlens.data.validate import check_labels, check_samples

# The indexing helpers need TensorFlow: imported on first use, so reading data stays light.
_INDEXED = ("index_array", "index_dataset", "count_samples")

__all__ = [
    "DataSource",
    "MATERIALIZE_BYTES",
    "Preprocessing",
    "check_labels",
    "check_samples",
    "count_samples",
    "from_array",
    "index_array",
    "index_dataset",
    "load_data",
    "load_digits",
    "prepare_like_training",
]


def __getattr__(name: str):
    if name in _INDEXED:
        from zlens.data import indexed

        return getattr(indexed, name)
    raise AttributeError(f"module 'zlens.data' has no attribute {name!r}")
