"""Which `tf.distribute` strategy a run trains under, and where this process sits in it.

`resolve_strategy` turns `strategy=` ("mirrored", "multi-worker", a strategy or None) into a
strategy; `Placement` says whether this process is the chief (the one that writes the run).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

import tensorflow as tf

from zlens.errors import ZlensError
from zlens.options import STRATEGY_NAMES


def resolve_strategy(strategy) -> tf.distribute.Strategy | None:
    """`strategy=` as given to `zlens.fit` -> a `tf.distribute.Strategy`, or None for one device.

    Args:
        strategy: None (one device, or the strategy whose scope is active), "mirrored"
            (`tf.distribute.MirroredStrategy` over every local GPU, or the CPU), "multi-worker"
            (`tf.distribute.MultiWorkerMirroredStrategy`, configured by the `TF_CONFIG`
            environment variable), or a strategy you built.

    Example:
        >>> resolve_strategy("mirrored").num_replicas_in_sync   # doctest: +SKIP
        2
    """
    if strategy is None:
        return tf.distribute.get_strategy() if tf.distribute.has_strategy() else None
    if isinstance(strategy, tf.distribute.Strategy):
        return strategy
    if strategy == "mirrored":
        return tf.distribute.MirroredStrategy()
    if strategy == "multi-worker":
        if not os.environ.get("TF_CONFIG"):
            raise ZlensError(
                'strategy="multi-worker" needs the cluster in the TF_CONFIG environment variable, e.g. '
                'TF_CONFIG=\'{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
                '"task": {"type": "worker", "index": 0}}\' (see docs/scale-out.md).'
            )
        _check_tf_config(os.environ["TF_CONFIG"])
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ZlensError(
        f"strategy must be None, {' or '.join(repr(n) for n in STRATEGY_NAMES)}, or a "
        f"tf.distribute.Strategy; got {strategy!r}."
    )


@dataclass(frozen=True)
class Placement:
    """Where this process sits in a run: its worker index, the number of workers, its replicas.

    `chief` is the one worker that writes the run directory (task "chief", else worker 0).
    """

    worker: int = 0
    workers: int = 1
    local_replicas: int = 1
    replicas: int = 1

    @property
    def chief(self) -> bool:
        return self.worker == 0

    @property
    def multi_worker(self) -> bool:
        return self.workers > 1


def placement(strategy: tf.distribute.Strategy | None) -> Placement:
    """This process' `Placement` under `strategy` (one worker, one replica for None).

    Example:
        >>> placement(None)
        Placement(worker=0, workers=1, local_replicas=1, replicas=1)
    """
    if strategy is None or not is_distributed(strategy):
        return Placement()
    replicas = int(strategy.num_replicas_in_sync)
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.cluster_spec().as_dict():
        return Placement(local_replicas=replicas, replicas=replicas)
    spec = resolver.cluster_spec().as_dict()
    order = [("chief", n) for n in range(len(spec.get("chief", [])))]
    order += [("worker", n) for n in range(len(spec.get("worker", [])))]
    me = (resolver.task_type, int(resolver.task_id or 0))
    if me not in order:  # an evaluator or a parameter server: not a training worker
        raise ZlensError(f"this process is task {me[0]} {me[1]}; zlens trains on chief and worker tasks only.")
    local = len(getattr(strategy.extended, "worker_devices", ())) or replicas // len(order)
    return Placement(worker=order.index(me), workers=len(order), local_replicas=local, replicas=replicas)


def is_distributed(strategy: tf.distribute.Strategy | None) -> bool:
    """Whether `strategy` is a real one (not None and not TensorFlow's default strategy)."""
    if strategy is None:
        return False
    return not (type(strategy).__name__ == "_DefaultDistributionStrategy")


def _check_tf_config(text: str) -> None:
    try:
        config = json.loads(text)
    except ValueError as err:
        raise ZlensError(f"TF_CONFIG is not valid JSON ({err}); see docs/scale-out.md for an example.") from None
    if not isinstance(config, dict) or "cluster" not in config or "task" not in config:
        raise ZlensError('TF_CONFIG must hold "cluster" and "task", e.g. {"cluster": {"worker": [...]}, '
                         '"task": {"type": "worker", "index": 0}}.')


def check_built_under(model, strategy: tf.distribute.Strategy) -> None:
    """Raise `ModelError` unless `model`'s weights were created under `strategy.scope()`.

    A model built outside the scope has plain variables: its replicas would not share one set
    of weights, and nothing would be synchronised.
    """
    from zlens.errors import ModelError

    outside = [w for w in model.weights if not strategy.extended.variable_created_in_scope(getattr(w, "value", w))]
    if outside:
        raise ModelError(
            f"the model's weights (e.g. {outside[0].path!r}) were not created under the strategy it trains "
            f"with ({type(strategy).__name__}): build and compile the model inside `with strategy.scope():` "
            "(zlens.fit(\"dense\", ..., strategy=...) does it for you)."
        )
