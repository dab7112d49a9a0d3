"""The former home of `NumpyTapBuffer` (then `HostTapBuffer`: it keeps rows in host memory or,
streamed, in a scratch file). Importing this module warns; use `zlens.capture.numpy_buffer`."""

import warnings

from zlens.capture.numpy_buffer import NumpyTapBuffer, block_rows

HostTapBuffer = NumpyTapBuffer

warnings.warn("zlens.capture.host_buffer is now zlens.capture.numpy_buffer (HostTapBuffer is NumpyTapBuffer).",
              DeprecationWarning, stacklevel=2)

__all__ = ["HostTapBuffer", "NumpyTapBuffer", "block_rows"]
