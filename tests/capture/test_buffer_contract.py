"""One suite for every `CaptureBuffer`: the device `TapBuffer`, and `NumpyTapBuffer` in host memory
and streamed to a scratch file. Whatever holds the rows, a step writes them by sample index and
the host gets them back aligned, complete, and summed over workers the same way.
"""

import numpy as np
import pytest
import tensorflow as tf

from zlens.capture.buffer import TapBuffer
from zlens.capture.buffer_protocol import CaptureBuffer
from zlens.capture.numpy_buffer import NumpyTapBuffer

IMPLEMENTATIONS = {
    "device": lambda tmp: TapBuffer(5, (2,), name="z"),
    "host memory": lambda tmp: NumpyTapBuffer(5, (2,), name="z"),
    "scratch file": lambda tmp: NumpyTapBuffer(5, (2,), name="z", scratch_dir=tmp),
}


@pytest.fixture(params=list(IMPLEMENTATIONS))
def buffer(request, tmp_path) -> CaptureBuffer:
    return IMPLEMENTATIONS[request.param](tmp_path)


def test_it_is_a_capture_buffer_of_the_shape_asked(buffer):
    assert isinstance(buffer, CaptureBuffer)
    assert (buffer.n_samples, buffer.row_shape, buffer.name) == (5, (2,), "z")
    assert buffer.streamed == (isinstance(buffer, NumpyTapBuffer) and buffer.streamed)


def test_rows_written_inside_a_tf_function_land_at_their_index(buffer):
    scatter = tf.function(buffer.scatter)
    scatter(tf.constant([4, 0, 2], tf.int64), tf.constant([[4.0, 4.5], [0.0, 0.5], [2.0, 2.5]]))
    scatter(tf.constant([3, 1]), tf.constant([[3.0, 3.5], [1.0, 1.5]]))
    buffer.check_complete()
    expected = np.array([[i, i + 0.5] for i in range(5)], np.float32)
    np.testing.assert_array_equal(buffer.read(), expected)
    blocks = list(buffer.blocks())
    assert [start for start, _ in blocks] == sorted(start for start, _ in blocks) and blocks[0][0] == 0
    np.testing.assert_array_equal(np.concatenate([rows.copy() for _, rows in buffer.blocks()]), expected)


def test_read_is_a_copy_the_next_epoch_does_not_change(buffer):
    buffer.scatter(tf.range(5), tf.ones((5, 2)))
    first = buffer.read()
    buffer.reset_counts()
    buffer.scatter(tf.range(5), tf.fill((5, 2), 9.0))
    np.testing.assert_array_equal(first, np.ones((5, 2)))


def test_missing_and_repeated_rows_are_reported(buffer):
    buffer.scatter(tf.constant([0, 1, 1, 2]), tf.zeros((4, 2)))
    with pytest.raises(RuntimeError, match="tap 'z': 2 of 5 samples were not seen this epoch and 1 were seen more"):
        buffer.check_complete()
    buffer.reset_counts()
    buffer.scatter(tf.range(5), tf.ones((5, 2)))
    buffer.check_complete()


def test_zero_and_merge_sum_the_workers_rows(buffer):
    buffer.scatter(tf.constant([1, 3]), tf.ones((2, 2)))
    buffer.zero()
    buffer.reset_counts()
    np.testing.assert_array_equal(buffer.read(), np.zeros((5, 2)))
    buffer.scatter(tf.constant([0, 2, 4]), tf.fill((3, 2), 2.0))
    # the other "worker" wrote rows 1 and 3: the sum is the complete matrix
    other = np.zeros((5, 2), np.float32)
    other[[1, 3]] = 7.0
    other_counts = np.isin(np.arange(5), [1, 3]).astype(np.int32)

    def total(parts):  # these buffers are one block each, so `parts` are whole matrices
        rows, counts = (np.asarray(p) for p in parts)
        return [rows + other, counts + other_counts]

    buffer.merge(total)
    buffer.check_complete()
    np.testing.assert_array_equal(buffer.read()[:, 0], [2, 7, 2, 7, 2])


def test_a_scratch_file_leaves_nothing_behind(tmp_path):
    buffer = NumpyTapBuffer(1000, (8,), scratch_dir=tmp_path)
    assert buffer.streamed and not list(tmp_path.iterdir()), "the scratch file is unlinked at creation"
