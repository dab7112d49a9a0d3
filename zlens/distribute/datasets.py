"""Split zlens' indexed datasets over a strategy's replicas: each worker reads only its share.

Every worker builds its own input pipeline over the samples whose index is its worker number
modulo the number of workers, batched per replica; `idx` travels with `x`, so the rows stay
aligned whatever replica sees them.
"""

from __future__ import annotations

from dataclasses import replace

import tensorflow as tf

from zlens.data.feed import TrainingData
from zlens.distribute.strategy import placement


def distribute_data(data: TrainingData, strategy: tf.distribute.Strategy, batch_size: int) -> TrainingData:
    """`data` with its training and consistent datasets distributed over `strategy`'s replicas.

    `batch_size` is the global batch: each replica takes `ceil(batch_size / replicas)` samples
    per step. The last step of an epoch may leave some replicas with a partial or an empty
    batch; every sample is still seen exactly once. Data given already indexed is split by
    `tf.distribute` itself (each worker reads everything and keeps its share).

    Example:
        >>> data = distribute_data(prepare_training_data(x, batch_size=256), strategy, 256)  # doctest: +SKIP
    """
    if data.distributed:
        return data
    if data.shard is None:
        train = strategy.experimental_distribute_dataset(data.train)
        consistent = strategy.experimental_distribute_dataset(data.consistent)
    else:
        per_replica = -(-batch_size // placement(strategy).replicas)
        shards = data.shard

        def pipeline(which: int):
            def build(ctx: tf.distribute.InputContext) -> tf.data.Dataset:
                shard = shards(per_replica, ctx.num_input_pipelines, ctx.input_pipeline_id)[which]
                # Workers' shards may differ by a batch. With a known length Keras would run each
                # worker's own number of steps and the workers' collectives would fall out of
                # step; unknown, every worker runs until all are out of data (tf.distribute
                # agrees on that each step, handing empty batches to replicas that have none).
                return shard.filter(lambda *_: True)

            return strategy.distribute_datasets_from_function(build)

        train, consistent = pipeline(0), pipeline(1)
    return replace(data, train=train, consistent=consistent, resident=None, order=None, distributed=True)
