"""`HostTapBuffer`: the host-side buffer a step streams its rows to when z is too large for the device."""

import numpy as np
import pytest
import tensorflow as tf

from zlens.capture.host_buffer import HostTapBuffer


@pytest.fixture(params=["memory", "file"])
def buffer(request, tmp_path):
    return HostTapBuffer(5, (2,), name="z", scratch_dir=None if request.param == "memory" else tmp_path)


def test_rows_written_inside_a_tf_function_land_at_their_index(buffer):
    scatter = tf.function(buffer.scatter)
    scatter(tf.constant([4, 0, 2], tf.int64), tf.constant([[4.0, 4.5], [0.0, 0.5], [2.0, 2.5]]))
    scatter(tf.constant([3, 1]), tf.constant([[3.0, 3.5], [1.0, 1.5]]))
    buffer.check_complete()
    expected = np.array([[i, i + 0.5] for i in range(5)], np.float32)
    np.testing.assert_array_equal(buffer.read(), expected)
    np.testing.assert_array_equal(np.concatenate([rows.copy() for _, rows in buffer.blocks()]), expected)
    np.testing.assert_array_equal(buffer.rows(1, 3), expected[1:3])


def test_missing_and_repeated_rows_are_reported(buffer):
    buffer.scatter(tf.constant([0, 1, 1, 2]), tf.zeros((4, 2)))
    with pytest.raises(RuntimeError, match="2 of 5 samples were not seen this epoch and 1 were seen more than once"):
        buffer.check_complete()
    buffer.reset_counts()
    buffer.scatter(tf.range(5), tf.ones((5, 2)))
    buffer.check_complete()


def test_zero_and_merge_sum_rows_block_by_block(buffer):
    buffer.scatter(tf.constant([1, 3]), tf.ones((2, 2)))
    buffer.zero()
    buffer.reset_counts()
    np.testing.assert_array_equal(buffer.read(), np.zeros((5, 2)))
    buffer.scatter(tf.constant([0, 2, 4]), tf.fill((3, 2), 2.0))
    # the other "worker" wrote rows 1 and 3: the sum is the complete matrix
    other = np.zeros((5, 2), np.float32)
    other[[1, 3]] = 7.0
    buffer.merge(lambda parts: [parts[0] + other, parts[1] + np.isin(np.arange(5), [1, 3])])
    buffer.check_complete()
    np.testing.assert_array_equal(buffer.read()[:, 0], [2, 7, 2, 7, 2])


def test_a_scratch_file_leaves_nothing_behind(tmp_path):
    buffer = HostTapBuffer(1000, (8,), scratch_dir=tmp_path)
    assert buffer.streamed and not list(tmp_path.iterdir()), "the scratch file is unlinked at creation"
