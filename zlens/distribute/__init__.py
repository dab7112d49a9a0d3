"""Training under `tf.distribute` (several devices, several workers) with one aligned z.

Strategies by name, where a process sits in a run, per-worker input shards, the worker sum that
turns each worker's tap buffers into the complete matrix, and the writer of non-chief workers.
"""

from zlens.distribute.datasets import distribute_data
from zlens.distribute.merge import WorkerSum
from zlens.distribute.strategy import (
    STRATEGY_NAMES,
    Placement,
    check_built_under,
    is_distributed,
    placement,
    resolve_strategy,
)

__all__ = [
    "STRATEGY_NAMES",
    "Placement",
    "WorkerSum",
    "check_built_under",
    "distribute_data",
    "is_distributed",
    "placement",
    "resolve_strategy",
]
