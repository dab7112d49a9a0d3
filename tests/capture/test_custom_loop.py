"""The building blocks reproduce the classic custom loop, with rows aligned to samples."""

import keras
import numpy as np
import tensorflow as tf

import zlens
from zlens.capture import TapBuffer
from zlens.data import index_array, index_dataset


def test_classic_loop_with_index_and_buffer_gives_aligned_rows(x_small):
    keras.utils.set_random_seed(0)
    autoencoder = zlens.models.dense(12, 3)
    encoder = keras.Model(autoencoder.input, autoencoder.get_layer("z").output)
    optimizer = keras.optimizers.Adam(1e-3)
    z_buffer = TapBuffer(len(x_small), (3,), name="z")

    @tf.function
    def train_step(x, idx):  # the classic example's step, plus one scatter
        with tf.GradientTape() as tape:
            z = encoder(x, training=True)
            loss = tf.reduce_mean(tf.square(x - autoencoder(x, training=True)))
        grads = tape.gradient(loss, autoencoder.trainable_weights)
        optimizer.apply_gradients(zip(grads, autoencoder.trainable_weights, strict=True))
        z_buffer.scatter(idx, z)
        return loss, z

    dataset = index_array(x_small, batch_size=16, shuffle=True, seed=0)
    for _epoch in range(2):
        z_buffer.reset_counts()
        classic_rows, classic_z = [], []
        for x, idx in dataset:
            _, z = train_step(x, idx)
            classic_rows.append(idx.numpy())  # the classic loop's z, in shuffled order...
            classic_z.append(z.numpy())
        z_buffer.check_complete()  # every sample exactly once
        order = np.concatenate(classic_rows)
        assert sorted(order.tolist()) == list(range(101)) and order.tolist() != list(range(101))
        # ...is the buffer's matrix, row i = sample i, without a host copy per batch
        aligned = np.empty((101, 3), np.float32)
        aligned[order] = np.concatenate(classic_z)
        np.testing.assert_array_equal(z_buffer.read(), aligned)
    # and the classic concatenation alone is NOT aligned: row i is not sample i
    assert not np.allclose(np.concatenate(classic_z), aligned)


def test_index_dataset_keeps_positions_through_shuffle():
    ds = tf.data.Dataset.from_tensor_slices(np.arange(23, dtype=np.float32)[:, None])
    seen = {}
    for x, idx in index_dataset(ds, 5, shuffle=True, seed=1):
        for value, i in zip(x.numpy()[:, 0], idx.numpy(), strict=True):
            seen[int(i)] = value
    assert seen == {i: float(i) for i in range(23)}


def test_buffer_reports_missing_and_repeated_rows():
    buf = TapBuffer(4, (), name="z")
    buf.scatter(tf.constant([0, 1, 1]), tf.constant([1.0, 2.0, 3.0]))
    try:
        buf.check_complete()
    except RuntimeError as err:
        assert "2 of 4 samples were not seen" in str(err) and "1 were seen more than once" in str(err)
    else:
        raise AssertionError("an incomplete epoch must be reported")


def test_fit_accepts_an_unbatched_tf_data_dataset(x_small):
    ds = tf.data.Dataset.from_tensor_slices(x_small)
    run = zlens.fit("dense", ds, epochs=1, batch_size=16, encoding_dim=2, capture="consistent", seed=0)
    np.testing.assert_allclose(run.z(kind="consistent"), zlens.encode(run.model, x_small), rtol=1e-5, atol=1e-6)


def test_encode_array_and_dataset_agree(x_small):
    model = zlens.TappedAutoencoder(zlens.models.dense(12, 3))
    z_array = zlens.encode(model, x_small, batch_size=7)
    z_ds = zlens.encode(model, tf.data.Dataset.from_tensor_slices(x_small), batch_size=7)
    np.testing.assert_allclose(z_array, model.encoder(x_small).numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(z_ds, z_array, rtol=1e-5, atol=1e-6)
    # a plain Keras autoencoder with a "z" layer, or a bare encoder, work too: the same encoder, so
    # the same z bit for bit at the same batch size (other block sizes sum in another order)
    np.testing.assert_array_equal(zlens.encode(model.autoencoder, x_small, batch_size=7), z_array)
    np.testing.assert_array_equal(zlens.encode(model.encoder, x_small, batch_size=7), z_array)
