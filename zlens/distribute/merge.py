"""Sum tensors over the workers of a multi-worker run, each worker's copy counted once.

This is how the tap buffers of a `MultiWorkerMirroredStrategy` run become one matrix: each
worker's buffer holds the rows its replicas wrote (zeros elsewhere), and one collective
all-reduce (SUM) gives every worker the complete matrix, and the counts that prove it.
"""

from __future__ import annotations

import tensorflow as tf

from zlens.distribute.strategy import placement


class WorkerSum:
    """A callable `[tensor, ...] -> [sum over workers, ...]` under a multi-worker strategy.

    Every worker must call it with tensors of the same shapes, in the same order (it is a
    collective operation). Only the first replica of each worker contributes; the others add
    zeros, so a worker's value is counted once however many devices it has. The sum of a row
    that one worker wrote and the others left at zero is that worker's row, bit for bit.

    Args:
        strategy: a `tf.distribute.MultiWorkerMirroredStrategy` (any strategy works; on one
            worker the sum is the value itself).

    Example:
        >>> total = WorkerSum(strategy)                                   # doctest: +SKIP
        >>> rows, counts = total([buffer.values, buffer.counts])          # doctest: +SKIP
    """

    def __init__(self, strategy: tf.distribute.Strategy) -> None:
        self.strategy = strategy
        self.local_replicas = placement(strategy).local_replicas
        self._fn = tf.function(self._sum, reduce_retracing=True)

    def __call__(self, tensors: list) -> list[tf.Tensor]:
        return self._fn([tf.convert_to_tensor(t) for t in tensors])

    def _sum(self, tensors):
        local = self.local_replicas

        def replica(ts):
            ctx = tf.distribute.get_replica_context()
            first = tf.equal(ctx.replica_id_in_sync_group % local, 0)
            # one collective per tensor: a batched all-reduce would concatenate mixed dtypes
            return [ctx.all_reduce(tf.distribute.ReduceOp.SUM, tf.where(first, t, tf.zeros_like(t))) for t in ts]

        summed = self.strategy.run(replica, args=(tensors,))
        return [self.strategy.experimental_local_results(t)[0] for t in summed]
