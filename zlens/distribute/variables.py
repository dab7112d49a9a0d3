"""A plain, single-device variable, even inside a `strategy.scope()`: what tap buffers are.

Under a strategy's scope `tf.Variable` makes a mirrored variable, which cannot be written row by
row from each replica (`scatter_update` is refused or keeps one replica's rows). A tap buffer
must be one variable on one device that every replica scatters its own rows into.
"""

from __future__ import annotations

import tensorflow as tf
from tensorflow.python.ops import resource_variable_ops  # a plain variable, past any variable creator


def local_variable(initial_value, name: str) -> tf.Variable:
    """A non-trainable `tf.Variable` on the current device, never mirrored by a strategy.

    Example:
        >>> with tf.distribute.MirroredStrategy().scope():     # doctest: +SKIP
        ...     v = local_variable(tf.zeros(3), "buffer")
        >>> type(v).__name__                                    # doctest: +SKIP
        'ResourceVariable'
    """
    if not tf.distribute.has_strategy():
        return tf.Variable(initial_value, trainable=False, name=name)
    with tf.init_scope():
        return resource_variable_ops.ResourceVariable(initial_value, trainable=False, name=name)
