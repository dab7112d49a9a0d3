"""Blocks reach TensorFlow through the staging buffers with their exact values, whatever their
dtype or alignment, and encode keeps its checks on the faster path."""

import numpy as np
import pytest
import tensorflow as tf

import zlens
from zlens.errors import DataError
from zlens.staging import ALIGNMENT, StagingBuffer, staged_blocks


def _at_offset(x: np.ndarray, misalign: int) -> np.ndarray:
    """A copy of `x` whose data starts `misalign` bytes past a 64-byte boundary."""
    raw = np.empty(x.nbytes + 2 * ALIGNMENT, np.uint8)
    start = (-raw.ctypes.data) % ALIGNMENT + misalign
    out = raw[start : start + x.nbytes].view(x.dtype).reshape(x.shape)
    out[...] = x
    return out


@pytest.mark.parametrize("misalign", [0, 4, 16, 48])
@pytest.mark.parametrize("dtype", ["float32", "float64", "uint8"])
def test_a_staged_tensor_holds_the_block_whatever_its_dtype_and_alignment(misalign, dtype):
    block = _at_offset((np.arange(5 * 7) % 251).reshape(5, 7).astype(dtype), misalign)
    tensor = StagingBuffer(8, (7,)).tensor(block)
    assert tensor.dtype == tf.float32 and tensor.shape == (5, 7)
    np.testing.assert_array_equal(tensor.numpy(), block.astype("float32"))


def test_a_block_larger_than_the_buffer_is_refused():
    with pytest.raises(ValueError, match="does not fit a staging buffer of 4 rows"):
        StagingBuffer(4, (3,)).tensor(np.zeros((5, 3), "float32"))
    with pytest.raises(ValueError, match="does not fit a staging buffer of 4 rows"):  # not read short
        StagingBuffer(4, (3,)).fill(lambda start, stop, out: out, 0, 5)


def test_staged_blocks_come_in_order_with_their_values_and_a_partial_last_block():
    x = np.random.default_rng(0).random((23, 3, 2)).astype("float32")
    seen = []
    for start, block, tensor in staged_blocks(lambda a, b: x[a:b], len(x), 5, (3, 2)):
        np.testing.assert_array_equal(tensor.numpy(), x[start : start + 5])  # the next block is staged meanwhile
        seen.append((start, len(block)))
    assert seen == [(0, 5), (5, 5), (10, 5), (15, 5), (20, 3)]
    assert list(staged_blocks(lambda a, b: x[a:b], 0, 5, (3, 2))) == []


@pytest.mark.parametrize("misalign", [0, 16])
def test_encode_is_the_same_from_aligned_and_unaligned_arrays(misalign, x_small):
    model = zlens.TappedAutoencoder(zlens.models.dense(12, 3))
    expected = model.encoder(x_small[:100]).numpy()
    z = zlens.encode(model, _at_offset(x_small, misalign), batch_size=100)
    np.testing.assert_array_equal(z[:100], expected)  # one block of 100: the same matmul as the eager call


def test_encode_takes_huge_finite_values_whose_sum_overflows():
    # The compiled call checks the block's sum; an overflow to Inf is not a NaN / Inf in the data.
    model = zlens.TappedAutoencoder(zlens.models.dense(12, 2))
    x = np.full((20, 12), 3e38, "float32")
    assert zlens.encode(model, x, batch_size=8).shape == (20, 2)
    assert zlens.encode(model, tf.data.Dataset.from_tensor_slices(x), batch_size=8).shape == (20, 2)
    x[13, 5] = -np.inf
    with pytest.raises(DataError, match="first at sample 13"):
        zlens.encode(model, x, batch_size=8)


def test_encode_chooses_large_blocks_for_small_activations_and_fewer_for_wide_ones():
    from zlens.encoding import MAX_BATCH, auto_batch_size

    assert auto_batch_size(zlens.TappedAutoencoder(zlens.models.dense(784, 32)).encoder) == MAX_BATCH
    conv = zlens.TappedAutoencoder(zlens.models.conv((28, 28, 1), 16)).encoder
    widest = max(int(np.prod(layer.output.shape[1:])) for layer in conv.layers)
    assert auto_batch_size(conv) * widest * 4 <= 64 * 2**20 < MAX_BATCH * widest * 4


def test_a_read_only_aligned_array_is_copied_in_not_lent():
    block = _at_offset(np.arange(12, dtype="float32").reshape(4, 3), 0)
    block.flags.writeable = False  # as from Arrow or np.frombuffer: DLPack refuses to lend it
    np.testing.assert_array_equal(StagingBuffer(4, (3,)).tensor(block).numpy(), block)


def test_encode_takes_an_encoder_of_any_input_size_and_refuses_a_zero_batch():
    import keras

    from zlens.errors import ZlensError

    inputs = keras.Input((None, 4))  # sequences of any length
    encoder = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.GlobalAveragePooling1D()(inputs)))
    x = np.random.default_rng(0).random((10, 7, 4)).astype("float32")
    np.testing.assert_allclose(zlens.encode(encoder, x), encoder(x).numpy(), rtol=1e-6, atol=1e-7)
    with pytest.raises(ZlensError, match="batch_size must be an integer >= 1"):
        zlens.encode(encoder, x, batch_size=0)


def test_encode_of_a_data_source_and_of_its_array_agree(x_small):
    from zlens.data import DataSource

    model = zlens.TappedAutoencoder(zlens.models.dense(12, 3))
    pixels = (x_small * 255).astype("uint8")  # a lazy source: scaled per block
    lazy = DataSource(pixels, scale_factor=1 / 255)
    np.testing.assert_array_equal(zlens.encode(model, lazy, batch_size=50),
                                  zlens.encode(model, pixels.astype("float32") * np.float32(1 / 255), batch_size=50))


def test_rows_of_a_memory_mapped_file_are_read_straight_into_a_buffer(tmp_path):
    from zlens.data.file_rows import read_rows_into

    x = np.random.default_rng(1).random((37, 3, 2)).astype("float32")
    np.save(tmp_path / "x.npy", x)
    mapped = np.load(tmp_path / "x.npy", mmap_mode="r")
    out = np.full((8, 3, 2), np.nan, "float32")
    np.testing.assert_array_equal(read_rows_into(mapped, 10, 18, out), x[10:18])
    tail = read_rows_into(mapped, 32, 40, out)  # the end of the file: a partial block
    assert tail.shape == (5, 3, 2) and np.shares_memory(tail, out)
    np.testing.assert_array_equal(tail, x[32:])
    # values of another dtype, in memory, are converted on the way in
    np.testing.assert_array_equal(read_rows_into(np.arange(12).reshape(6, 2), 4, 6, out[:, 0]), [[8, 9], [10, 11]])


def test_staged_blocks_read_into_their_buffers_when_given_a_reader(tmp_path):
    from zlens.data import load_data

    x = np.random.default_rng(2).random((23, 4)).astype("float32")
    np.save(tmp_path / "x.npy", x)
    source = load_data(tmp_path / "x.npy")
    seen = []
    for start, block, tensor in staged_blocks(source.rows, 23, 5, (4,), read_into=source.rows_into):
        np.testing.assert_array_equal(tensor.numpy(), x[start : start + 5])
        np.testing.assert_array_equal(block, x[start : start + 5])
        seen.append(len(block))
    assert seen == [5, 5, 5, 5, 3]


def test_encode_of_a_memory_mapped_file_equals_encode_in_memory(tmp_path, x_small):
    from zlens.data import load_data
    from zlens.encoding import encode_to_file

    model = zlens.TappedAutoencoder(zlens.models.dense(12, 3))
    np.save(tmp_path / "x.npy", x_small)
    expected = zlens.encode(model, x_small, batch_size=16)
    np.testing.assert_array_equal(zlens.encode(model, np.load(tmp_path / "x.npy", mmap_mode="r"), batch_size=16),
                                  expected)
    encode_to_file(model, load_data(tmp_path / "x.npy"), tmp_path / "z.npy", batch_size=16)
    np.testing.assert_array_equal(np.load(tmp_path / "z.npy"), expected)


def test_rows_of_a_memory_mapped_file_of_another_dtype_are_read_and_converted(tmp_path):
    from zlens.data.file_rows import read_rows_into

    pixels = (np.arange(40 * 3) % 251).astype("uint8").reshape(40, 3)
    np.save(tmp_path / "p.npy", pixels)
    out = np.empty((8, 3), "float32")
    got = read_rows_into(np.load(tmp_path / "p.npy", mmap_mode="r"), 36, 44, out)
    np.testing.assert_array_equal(got, pixels[36:].astype("float32"))
