"""Hand NumPy blocks to TensorFlow without a fresh allocation and page faults per block.

`tf.convert_to_tensor` copies every NumPy block into newly allocated memory; for blocks of a few
MB and more that memory comes fresh from the kernel, and faulting its pages in can cost as much
as a small encoder's matmuls on the block. A `StagingBuffer` copies each block into one 64-byte
aligned buffer, allocated and touched once, and lends it to TensorFlow through DLPack, which
shares memory instead of copying it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import tensorflow as tf

#: TensorFlow's CPU kernels require tensor memory aligned to this many bytes (EIGEN_MAX_ALIGN_BYTES).
ALIGNMENT = 64


class StagingBuffer:
    """One reused, aligned host buffer of `rows` samples through which blocks reach TensorFlow.

    `tensor(block)` returns a float32 tensor with the block's values that shares the buffer's
    memory: it is valid until the next call, so use it (run the compiled function, read its
    result) before staging the next block. A block that is already float32, C-ordered and
    aligned is lent as it is, with no copy at all.

    Args:
        rows: the most rows one block may have.
        sample_shape: the shape of one sample.

    Example:
        >>> staging = StagingBuffer(4096, (784,))
        >>> for start in range(0, len(x), 4096):
        ...     z = encoder_fn(staging.tensor(x[start:start + 4096])).numpy()
    """

    def __init__(self, rows: int, sample_shape: tuple[int, ...]) -> None:
        self.rows = int(rows)
        self.sample_shape = tuple(int(d) for d in sample_shape)
        self._buffer = aligned_empty((self.rows, *self.sample_shape))
        self._buffer.fill(0)  # fault every page in now, once, not on each block's copy

    def tensor(self, block: np.ndarray) -> tf.Tensor:
        """A float32 tensor holding `block` (converted from its dtype), sharing host memory."""
        n = self._fits(len(block))
        if _lendable(block):
            return _lend(block)
        target = self._buffer[:n]
        np.copyto(target, block, casting="unsafe")
        return _lend(target)

    def fill(self, read_into: Callable[[int, int, np.ndarray], np.ndarray], start: int,
             stop: int) -> tuple[np.ndarray, tf.Tensor]:
        """`(block, tensor)` of rows `start:stop` that `read_into(start, stop, out)` writes
        straight into the buffer (a file read with no array in between); both share its memory."""
        block = read_into(start, stop, self._buffer[: self._fits(stop - start)])
        return block, _lend(block)

    def _fits(self, n: int) -> int:
        if n > self.rows:
            raise ValueError(f"a block of {n} rows does not fit a staging buffer of {self.rows} rows.")
        return n


def staged_blocks(read: Callable[[int, int], np.ndarray], n: int, batch: int,
                  sample_shape: tuple[int, ...],
                  read_into: Callable[[int, int, np.ndarray], np.ndarray] | None = None,
                  ) -> Iterator[tuple[int, np.ndarray, tf.Tensor]]:
    """`(start, block, tensor)` for each block of `batch` rows of `n`, in order.

    `read(start, stop)` gives a block's rows (any dtype: it is converted to float32). While the
    caller computes with one block's tensor, the next block is read and staged on a thread, into
    the other of two staging buffers (memory copies overlap TensorFlow's work). A tensor is
    valid only until the caller asks for the next block (which starts staging the block after
    it into the same buffer): finish with it, and copy out what it computed, in its iteration.
    With `read_into(start, stop, out)` (rows on disk, or stored values to convert), each block
    is read straight into its staging buffer instead of read, then copied; `block` is then that
    buffer's view, valid as long as the tensor.

    Example:
        >>> for start, block, tensor in staged_blocks(lambda a, b: x[a:b], len(x), 4096, (784,)):
        ...     out[start:start + len(block)] = encoder_fn(tensor).numpy()
    """
    starts = range(0, n, batch)
    if not starts:
        return
    buffers = [StagingBuffer(min(batch, n), sample_shape) for _ in range(min(2, len(starts)))]

    def stage(k: int) -> tuple[np.ndarray, tf.Tensor]:
        start, stop = starts[k], min(starts[k] + batch, n)
        if read_into is not None:
            return buffers[k % 2].fill(read_into, start, stop)
        block = read(start, stop)
        return block, buffers[k % 2].tensor(block)

    with ThreadPoolExecutor(1, thread_name_prefix="zlens-staging") as pool:
        ahead = pool.submit(stage, 0)
        for k, start in enumerate(starts):
            block, tensor = ahead.result()
            if k + 1 < len(starts):  # its buffer held block k-1, which the caller is done with
                ahead = pool.submit(stage, k + 1)
            yield start, block, tensor


def _lendable(block) -> bool:
    # DLPack (unversioned) refuses to export a read-only array: such a block is copied instead.
    return (type(block) is np.ndarray and block.dtype == np.float32 and block.flags.c_contiguous
            and block.flags.writeable and block.ctypes.data % ALIGNMENT == 0)


def _lend(array: np.ndarray) -> tf.Tensor:
    """A tensor that shares `array`'s memory (the DLPack capsule keeps the array alive)."""
    return tf.experimental.dlpack.from_dlpack(array.__dlpack__())


def aligned_empty(shape: tuple[int, ...]) -> np.ndarray:
    """An uninitialised float32 array whose data starts on an `ALIGNMENT`-byte boundary.

    Samples kept in such an array are lent to TensorFlow by `zlens.encode` with no staging copy.

    Example:
        >>> aligned_empty((3, 784)).ctypes.data % ALIGNMENT
        0
    """
    nbytes = int(np.prod(shape, dtype=np.int64)) * 4
    raw = np.empty(nbytes + ALIGNMENT, dtype=np.uint8)
    offset = (-raw.ctypes.data) % ALIGNMENT
    return raw[offset : offset + nbytes].view(np.float32).reshape(shape)
