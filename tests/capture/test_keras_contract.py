"""What zlens relies on in Keras beyond its public API, pinned so that a Keras upgrade that
changes it fails here, loudly, instead of capturing the wrong thing for users.

- A layer's `__call__` runs the `call` found on the instance (`capture/intercept.py` wraps it
  for the length of a step): for functional, Sequential (built or not) and subclassed models.
- `Model._maybe_symbolic_build(data_batch=...)` exists (`distribute/replicated_model.py` builds
  the metrics from a sample batch, as the resident path's batches are positions, not samples).
- An optimizer records the strategy it was made under in `_distribution_strategy`
  (`training._optimizer_for` remakes one made outside the strategy's scope).
"""

import inspect

import keras
import numpy as np
import tensorflow as tf

from zlens.capture.intercept import catch_outputs


def _models_around(layer):
    inputs = keras.Input((3,))
    functional = keras.Model(inputs, keras.layers.Dense(2)(layer(inputs)))

    class Subclassed(keras.Model):
        def __init__(self):
            super().__init__()
            self.inner = layer

        def call(self, x):
            return self.inner(x)

    return {"functional": functional, "sequential": keras.Sequential([layer, keras.layers.Dense(2)]),
            "subclassed": Subclassed()}


def test_keras_runs_the_instance_call_of_a_layer_in_every_model_style():
    for style in ("functional", "sequential", "subclassed"):
        layer = keras.layers.Dense(4, name=f"latent_{style}")
        model = _models_around(layer)[style]
        x = np.ones((5, 3), "float32")
        with catch_outputs([layer]) as caught:
            model(x)
        assert id(layer) in caught, f"Keras no longer calls the instance's call() in a {style} model"
        np.testing.assert_allclose(caught[id(layer)].numpy(), layer(x).numpy())
        assert "call" not in vars(layer)  # nothing is left on the layer


def test_caught_values_are_tensors_of_the_compiled_step():
    layer = keras.layers.Dense(2)
    model = keras.Sequential([keras.Input((3,)), layer, keras.layers.Dense(1)])
    buffer = tf.Variable(tf.zeros((4, 2)))

    @tf.function(jit_compile=True)
    def step(x, idx):
        with catch_outputs([layer]) as caught:
            model(x)
        buffer.scatter_nd_update(idx[:, None], caught[id(layer)])

    x = np.arange(12, dtype="float32").reshape(4, 3)
    step(x, tf.constant([3, 2, 1, 0]))
    np.testing.assert_allclose(buffer.numpy()[::-1], layer(x).numpy(), rtol=1e-6)


def test_the_private_keras_names_zlens_uses_are_there():
    assert "data_batch" in inspect.signature(keras.Model._maybe_symbolic_build).parameters
    with tf.distribute.OneDeviceStrategy("/cpu:0").scope():
        optimizer = keras.optimizers.Adam()
    assert hasattr(optimizer, "_distribution_strategy")
