"""The rules for a user's `tf.data.Dataset` (`zlens.data.datasets`, `zlens.data.dataset_graph`):
batched or not, which ops change the order between passes, what an element's parts mean."""

import re

import numpy as np
import pytest
import tensorflow as tf

import zlens
from zlens.data.dataset_graph import read_graph
from zlens.data.datasets import check_same_order, encoded_samples, parse_dataset
from zlens.data.training_input import training_input

N = 24
X = np.random.default_rng(0).random((N, 5), dtype=np.float32)
LABELS = np.arange(N) % 3


def slices(*parts):
    return tf.data.Dataset.from_tensor_slices(parts[0] if len(parts) == 1 else parts)


def test_tensorflow_still_serializes_a_datasets_graph():
    """The one private TensorFlow API zlens reads: a Keras/TF upgrade that drops it must fail here."""
    ds = slices(X)
    assert hasattr(ds, "_as_serialized_graph")
    assert read_graph(ds.shuffle(4).batch(2)) is not None


@pytest.mark.parametrize("build,batched", [
    (lambda: slices(X), False),
    (lambda: slices(X).batch(8), True),
    (lambda: slices(X).batch(8, drop_remainder=True), True),
    (lambda: slices(X).batch(8).map(lambda b: b * 2).prefetch(1), True),
    (lambda: slices(X).batch(8).unbatch(), False),
    (lambda: slices(X).padded_batch(8), True),
    (lambda: slices(X).batch(4).batch(2).unbatch(), True),
    (lambda: tf.data.Dataset.zip(slices(X), tf.data.Dataset.range(N)).batch(8), True),
    (lambda: slices(X).enumerate().batch(8), True),
    (lambda: tf.data.Dataset.range(2).interleave(lambda i: slices(X).batch(4)), True),
    (lambda: tf.data.Dataset.range(2).interleave(lambda i: slices(X).batch(4)).unbatch(), False),
    (lambda: tf.data.Dataset.range(2).flat_map(lambda i: slices(X)), False),
])
def test_batched_is_told_from_the_graph_not_the_shape(build, batched):
    assert read_graph(build()).batched is batched


def test_batches_the_graph_cannot_see_are_told_by_the_models_sample_shape():
    batches = tf.data.Dataset.from_generator(lambda: (X[i:i + 5] for i in range(0, N, 5)),
                                             output_signature=tf.TensorSpec((None, 5), tf.float32))
    assert read_graph(batches).batched is False  # a generator's elements are opaque to the graph
    parsed = parse_dataset(batches, expected_shape=(5,))
    assert parsed.sample_shape == (5,)
    np.testing.assert_array_equal(np.stack(list(parsed.samples.as_numpy_iterator())), X)


@pytest.mark.parametrize("build,size", [
    (lambda: slices(X), None),
    (lambda: slices(X).batch(8).map(lambda b: b * 2).prefetch(1), 8),
    (lambda: slices(X).batch(4).batch(2), 2),
    (lambda: slices(X).padded_batch(6), 6),
    (lambda: slices(X).batch(4).rebatch(3), None),
])
def test_the_users_batch_size_is_read_where_the_graph_says_it(build, size):
    assert read_graph(build()).batch_size == size


@pytest.mark.parametrize("build,op", [
    (lambda: slices(X).shuffle(N).batch(8), "`.shuffle()`"),
    (lambda: slices(X).map(lambda a: a, num_parallel_calls=2, deterministic=False), "`.map(..., deterministic=False)`"),
    (lambda: tf.data.Dataset.range(2).interleave(lambda i: slices(X), num_parallel_calls=2, deterministic=False),
     "`.interleave(..., deterministic=False)`"),
    (lambda: tf.data.Dataset.range(2).interleave(lambda i: slices(X).shuffle(N)), "`.shuffle()`"),
    (lambda: tf.data.Dataset.random(seed=0).take(N), "`Dataset.random()`"),
    (lambda: tf.data.Dataset.sample_from_datasets([slices(X), slices(X)], seed=0), "`Dataset.random()`"),
    (lambda: slices(X).map(lambda a: a, num_parallel_calls=2).with_options(_unordered()), "deterministic = False"),
])
def test_an_op_whose_order_changes_between_passes_is_found_and_named(build, op):
    ops = read_graph(build()).order_ops
    assert ops and op in ops[0][0]
    with pytest.raises(zlens.DataError, match=re.escape(op)) as caught:
        parse_dataset(build())
    assert "index=" in str(caught.value)  # both ways out: as it was before the op, or carry an index
    assert "\n" not in str(caught.value)


def _unordered():
    options = tf.data.Options()
    options.deterministic = False
    return options


@pytest.mark.parametrize("build", [
    lambda: slices(X).map(lambda a: a * 2, num_parallel_calls=2).batch(4).prefetch(2),
    lambda: tf.data.Dataset.range(2).interleave(lambda i: slices(X), num_parallel_calls=2),
    lambda: slices(X).cache().repeat(1),
])
def test_a_deterministic_pipeline_passes(build):
    assert read_graph(build()).order_ops == ()
    check_same_order(build())


def test_the_forum_recipes_shuffled_dataset_is_refused_naming_shuffle():
    with pytest.raises(zlens.DataError, match=r"\(`\.shuffle\(\)`.*before `\.shuffle\(\)`: zlens shuffles itself.*"
                                              r"index="):
        parse_dataset(slices(X).shuffle(N).batch(256))


def test_list_files_shuffles_unless_told_and_is_named(tmp_path):
    for i in range(3):
        np.save(tmp_path / f"part{i}.npy", X[i::3])
    with pytest.raises(zlens.DataError, match=re.escape("or `Dataset.list_files` without shuffle=False")):
        parse_dataset(tf.data.Dataset.list_files(str(tmp_path / "*.npy")))
    assert read_graph(tf.data.Dataset.list_files(str(tmp_path / "*.npy"), shuffle=False)).order_ops == ()


def test_an_infinite_dataset_is_refused_with_or_without_an_index():
    for kwargs in ({}, {"index": 0}):
        with pytest.raises(zlens.DataError, match=re.escape("infinite (`.repeat()`?)")):
            parse_dataset(slices(X).enumerate().repeat(), **kwargs)


def test_a_random_order_the_graph_cannot_see_is_caught_by_two_passes():
    rng = np.random.default_rng(0)

    def shuffled():  # a generator reorders on every pass: nothing in the graph says so
        yield from X[rng.permutation(N)]

    ds = tf.data.Dataset.from_generator(shuffled, output_signature=tf.TensorSpec((5,), tf.float32))
    with pytest.raises(zlens.DataError, match="first 32 elements differ between two passes.*index="):
        parse_dataset(ds)
    steady = tf.data.Dataset.from_generator(lambda: iter(X), output_signature=tf.TensorSpec((5,), tf.float32))
    assert parse_dataset(steady).sample_shape == (5,)


def test_a_random_augmentation_is_seen_as_values_not_order():
    ds = slices(X).map(lambda a: a + tf.random.uniform((5,), -0.01, 0.01))
    graph = read_graph(ds)
    assert graph.random_values and not graph.order_ops
    assert parse_dataset(ds).sample_shape == (5,)  # positions are still samples: not refused


def elements(parsed):
    return list(parsed.samples.as_numpy_iterator())


@pytest.mark.parametrize("build,kwargs,target,n", [
    (lambda: slices(X), {}, None, N),
    (lambda: slices(X).batch(7), {}, None, N),
    (lambda: slices(X).map(lambda a: (a,)), {}, None, N),
    (lambda: slices(X, X[:, :2]).batch(7), {}, (2,), N),
    (lambda: slices({"x": X}), {}, None, N),
    (lambda: slices({"pixels": X, "label": LABELS}).batch(5), {"labels": "label"}, None, N),
    (lambda: slices({"x": X, "y": X[:, :3], "label": LABELS}), {"labels": "label"}, (3,), N),
    (lambda: slices(X, LABELS).batch(5, drop_remainder=True), {"labels": 1}, None, 20),  # the partial batch dropped
    (lambda: slices(LABELS, X, X[:, :1]), {"labels": 0}, (1,), N),
])
def test_each_element_form_reads_as_keras_does(build, kwargs, target, n):
    parsed = parse_dataset(build(), **kwargs)
    assert parsed.sample_shape == (5,) and parsed.target_shape == target and not parsed.carries_index
    rows = elements(parsed)
    assert len(rows) == n
    np.testing.assert_array_equal(np.stack([row[0] if target else row for row in rows]), X[:n])
    if target is not None:  # y is the target, as Keras takes it
        np.testing.assert_array_equal(np.stack([row[1] for row in rows]), X[:n, :target[0]])
    if "labels" in kwargs:  # taken out of the element, row i = element i
        np.testing.assert_array_equal(parsed.labels, LABELS[:n])
        assert parsed.n_samples == n


def test_an_index_the_dataset_carries_places_its_labels_and_counts_n():
    order = np.random.default_rng(1).permutation(N)
    ds = slices({"x": X[order], "idx": order, "label": LABELS[order]}).batch(5)
    parsed = parse_dataset(ds, index="idx", labels="label")
    assert parsed.carries_index and parsed.n_samples == N
    np.testing.assert_array_equal(parsed.labels, LABELS)  # row i = the element whose index is i
    x, idx = next(parsed.samples.batch(N).as_numpy_iterator())
    np.testing.assert_array_equal(x, X[idx])
    # enumerate() before the user's own shuffle: any order is fine, nothing is refused
    shuffled = parse_dataset(slices(X).enumerate().shuffle(N).batch(4), index=0)
    assert shuffled.carries_index and shuffled.n_samples == N


@pytest.mark.parametrize("index,message", [
    (np.r_[0:N - 1, 0], r"exactly once per pass; one pass holds 24 values from 0 to 22 \(1 repeated\)"),
    (np.arange(N) + 1, "from 1 to 24"),
    (np.arange(N) * 2, "from 0 to 46"),
])
def test_an_index_that_is_not_0_to_n_minus_1_once_each_is_refused(index, message):
    with pytest.raises(zlens.DataError, match=message):
        parse_dataset(slices(X, index), index=1)


@pytest.mark.parametrize("build,kwargs,message", [
    (lambda: slices(X, X, np.ones(N, "float32")), {}, "sample weights in the dataset's elements are not supported"),
    (lambda: slices({"x": X, "sample_weight": np.ones(N)}), {}, "sample weights"),
    (lambda: slices({"x": X, "label": LABELS}), {}, r"does not know what \['label'\] hold.*labels='label'"),
    (lambda: slices({"a": X, "b": X}), {}, "name the samples 'x'"),
    (lambda: slices({"x": X}), {"labels": "label"}, r"labels='label' is not a key.*keys are \['x'\]"),
    (lambda: slices(X), {"labels": "label"}, "each element is one tensor"),
    (lambda: slices(X, LABELS), {"index": 2}, "name a position 0..1"),
    (lambda: slices(X, X[:, 0]), {"index": 1}, "must be one integer per sample"),
    (lambda: slices(X, LABELS), {"labels": 1, "index": -1}, "name the same part"),
    (lambda: tf.data.Dataset.from_generator(lambda: iter(X), output_signature=tf.TensorSpec((None,), tf.float32)),
     {}, r"unknown shape \(None,\)"),
])
def test_an_element_zlens_cannot_read_is_one_clear_line(build, kwargs, message):
    with pytest.raises(zlens.DataError, match=message) as caught:
        parse_dataset(build(), **kwargs)
    assert "\n" not in str(caught.value)


def test_class_labels_in_batches_are_not_taken_for_an_index():
    """(x, label) batches look like zlens' own indexed batches (x, idx): the index check says which."""
    with pytest.raises(zlens.DataError, match="labels=-1 if it is a class label"):
        zlens.fit("dense", slices(X, LABELS).batch(8), epochs=1, verbose=0)
    indexed = training_input(zlens.data.index_array(X, 8, shuffle=False))
    assert indexed.indexed  # zlens' own indexed batches still go straight in
    assert training_input(slices(X, LABELS).batch(8), labels=1).labels.tolist() == LABELS.tolist()


def test_names_of_element_parts_are_refused_with_arrays():
    with pytest.raises(zlens.DataError, match="with arrays, give one label per sample"):
        training_input(X, labels="label")
    with pytest.raises(zlens.DataError, match="arrays are indexed by zlens itself"):
        training_input(X, index="idx")


@pytest.mark.parametrize("build", [
    lambda: slices(X, LABELS).batch(7),
    lambda: slices({"x": X, "label": LABELS, "idx": np.arange(N)}),
    lambda: slices(X, X, np.ones(N, "float32")).batch(5),
])
def test_encode_takes_the_samples_of_any_element_form(build):
    rows = np.stack(list(encoded_samples(build()).as_numpy_iterator()))
    np.testing.assert_array_equal(rows, X)
    with pytest.raises(zlens.DataError, match=re.escape("(`.shuffle()`")):
        encoded_samples(build().shuffle(N))
