"""A `tf.data.Dataset` as users build it, trained for real: row i of z is sample i, or one line says
why it cannot be.

Each form is trained at learning rate 0 (`SGD(0.0)`), so the in-flight z of the training pass
must equal the consistent z and both an encode of x[i] by the final model; a shuffled order,
a wrong index or a lost label shows as a row that is another sample's.
"""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

import zlens

N, D = 200, 16
X = np.random.default_rng(0).random((N, D), dtype=np.float32)
LABELS = np.arange(N) % 4
ORDER = np.random.default_rng(1).permutation(N)


def slices(*parts):
    return tf.data.Dataset.from_tensor_slices(parts[0] if len(parts) == 1 else parts)


def fit(ds, *, learning_rate=0.0, epochs=1, **kwargs):
    optimizer = keras.optimizers.SGD(0.0) if learning_rate == 0.0 else keras.optimizers.Adam(learning_rate)
    return zlens.fit("dense", ds, epochs=epochs, batch_size=32, encoding_dim=2, capture="both", seed=0, verbose=0,
                     optimizer=optimizer, jit_compile=False, **kwargs)  # XLA's compile would take most of a test


def assert_aligned(run, x=X, atol=1e-5):
    """Row i of the last epoch's consistent z is the final model's encode of x[i] (prepared by the
    run's recorded rule, as training prepared it: values outside [0, 1] are scaled); so is the
    in-flight z where the weights did not move (learning rate 0)."""
    expected = zlens.encode(run, x)
    np.testing.assert_allclose(run.z(kind="consistent"), expected, atol=atol)
    np.testing.assert_allclose(run.z(kind="in-flight"), expected, atol=atol)


@pytest.mark.parametrize("build,n", [
    (lambda: slices(X), N),
    (lambda: slices(X).batch(64), N),
    (lambda: slices(X).batch(64, drop_remainder=True), 192),  # the dropped partial batch is not in z
    (lambda: slices(X).map(lambda a: a * 1.0, num_parallel_calls=2).batch(50).prefetch(2), N),
])
def test_an_unshuffled_dataset_batched_or_not_gives_an_aligned_z(build, n):
    run = fit(build())
    assert run.z().shape == (n, 2)
    assert_aligned(run, X[:n])


def test_a_batched_dataset_trains_at_its_own_batch_size_unless_told(tmp_path):
    ds = slices(X).batch(64)
    zlens.fit("dense", ds, epochs=1, encoding_dim=2, verbose=0, jit_compile=False, run_dir=tmp_path / "own")
    assert json.loads((tmp_path / "own" / "run.json").read_text())["config"]["batch_size"] == 64
    zlens.fit("dense", ds, epochs=1, batch_size=50, encoding_dim=2, verbose=0, jit_compile=False,
              run_dir=tmp_path / "told")
    assert json.loads((tmp_path / "told" / "run.json").read_text())["config"]["batch_size"] == 50


def test_the_forum_recipes_pipelines(x=X):
    """`from_tensor_slices(x).batch(256)` is aligned; with `.shuffle(N)` before the batch it is refused,
    naming `.shuffle()`, before anything trains."""
    assert_aligned(fit(tf.data.Dataset.from_tensor_slices(x).batch(256)))
    with pytest.raises(zlens.DataError, match=r"\(`\.shuffle\(\)`.*zlens shuffles itself.*index="):
        fit(tf.data.Dataset.from_tensor_slices(x).shuffle(N).batch(256))


def test_a_non_deterministic_interleave_is_refused_before_training(tmp_path):
    shards = tf.data.Dataset.range(4).interleave(lambda i: slices(X[:50]).map(lambda a: a + tf.cast(i, tf.float32)),
                                                 num_parallel_calls=4, deterministic=False)
    with pytest.raises(zlens.DataError, match=r"`\.interleave\(\.\.\., deterministic=False\)`.*index="):
        fit(shards, run_dir=tmp_path / "run")
    assert not (tmp_path / "run").exists()  # refused before a run directory was made


def test_x_y_pairs_train_on_the_target_and_z_is_the_latent_of_x():
    noisy = X + np.float32(0.05)
    run = fit(slices(noisy, X).batch(40))
    assert_aligned(run, noisy)
    rule = zlens.data.preprocess.Preprocessing.from_json(run.preprocessing)  # noisy is past 1: scaled, y too
    expected_error = np.mean((run.model.predict(rule.apply(noisy), verbose=0) - rule.apply(X)) ** 2, axis=1)
    np.testing.assert_allclose(run.recon_error(), expected_error, rtol=1e-4, atol=1e-6)  # against y, not x


@pytest.mark.parametrize("build,labels", [
    (lambda: slices(X, LABELS).batch(32), 1),
    (lambda: slices({"x": X, "label": LABELS}), "label"),
    (lambda: slices({"image": X, "label": LABELS.astype(str)}).batch(16), "label"),
])
def test_labels_named_in_the_elements_travel_with_z(build, labels):
    run = fit(build(), labels=labels)
    assert_aligned(run)
    np.testing.assert_array_equal(run.labels, LABELS if run.labels.dtype.kind != "U" else LABELS.astype(str))


def test_class_labels_left_in_the_target_place_are_named_as_such():
    """(x, label) pairs are (x, target) to Keras; zlens says how to hand them in as labels instead."""
    with pytest.raises(zlens.ModelError, match=r"if y holds class labels, pass them as labels=.*labels=1"):
        fit(slices(X, LABELS))


def test_an_index_carried_through_the_users_shuffle_and_augmentation_keeps_z_aligned():
    """enumerate() before the user's own shuffle and random noise: any order, every epoch."""
    def augment(i, a):
        return i, a + tf.random.uniform((D,), -1e-4, 1e-4)

    ds = slices(X).enumerate().shuffle(N).map(augment, num_parallel_calls=2).batch(32)
    run = fit(ds, index=0, epochs=2)
    assert run.z().shape == (N, 2)
    assert_aligned(run, atol=1e-3)  # the noise moves z a little; another sample's row moves it far
    z = run.z(kind="consistent")
    nearest = np.argmin(((z[:, None, :] - zlens.encode(run, X)[None]) ** 2).sum(-1), axis=1)
    assert (nearest == np.arange(N)).mean() > 0.95  # rows are their sample, not a shuffle of them


def test_a_tfrecord_like_index_key_with_labels_through_a_shuffle_trains_and_learns():
    ds = slices({"x": X[ORDER], "idx": ORDER, "label": LABELS[ORDER]}).shuffle(N).batch(25)
    run = fit(ds, index="idx", labels="label", learning_rate=1e-2, epochs=2)
    np.testing.assert_allclose(run.z(kind="consistent"), zlens.encode(run.model, X), atol=1e-5)
    np.testing.assert_array_equal(run.labels, LABELS)
    assert run.history["z_drift_max"][-1] > 0  # it trained: in-flight moved away from the final weights


def test_an_index_that_misses_a_sample_is_refused_before_training():
    index = np.r_[0:N - 1, 5]
    with pytest.raises(zlens.DataError, match=r"exactly once per pass.*\(1 repeated\)"):
        fit(slices(X, index).shuffle(N).batch(32), index=1)


def test_the_keras_wrapper_takes_the_same_datasets():
    model = zlens.TappedAutoencoder(zlens.models.dense(D, 2))
    model.compile(optimizer=keras.optimizers.SGD(0.0))
    ds = slices({"x": X, "idx": np.arange(N), "label": LABELS}).shuffle(N).batch(64)
    model.fit(ds, epochs=1, batch_size=32, capture="both", index="idx", labels="label", verbose=0)
    np.testing.assert_allclose(model.run.z(kind="in-flight"), zlens.encode(model, X), atol=1e-5)
    np.testing.assert_array_equal(model.run.labels, LABELS)
    np.testing.assert_allclose(zlens.encode(model, slices(X, LABELS).batch(33)), zlens.encode(model, X), atol=1e-6)


def test_a_run_on_a_dataset_with_its_own_index_resumes_on_it(tmp_path):
    """run.json records which parts of the elements `index=` and `labels=` named; resume reads them."""
    ds = slices({"x": X, "idx": np.arange(N), "label": LABELS}).shuffle(N).batch(32)
    fit(ds, index="idx", labels="label", run_dir=tmp_path / "run")
    again = zlens.resume(tmp_path / "run", ds, epochs=2, verbose=0)
    assert again.epochs == [0, 1]
    np.testing.assert_allclose(again.z(kind="consistent"), zlens.encode(again.model, X), atol=1e-5)
    np.testing.assert_array_equal(again.labels, LABELS)
