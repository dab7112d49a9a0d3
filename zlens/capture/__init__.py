"""Capture: taps scattered into device buffers inside the compiled step, read once per epoch
(or streamed to a host buffer when the matrix is too large for the device)."""

import warnings

from zlens.capture.buffer import TapBuffer
from zlens.capture.numpy_buffer import NumpyTapBuffer
from zlens.capture.recorder import CONSISTENT, IN_FLIGHT, LatentRecorder

__all__ = ["TapBuffer", "NumpyTapBuffer", "LatentRecorder", "IN_FLIGHT", "CONSISTENT"]


def __getattr__(name: str):
    if name == "HostTapBuffer":  # its former name: it keeps rows in host memory or a scratch file
        warnings.warn("zlens.capture.HostTapBuffer is now NumpyTapBuffer (in host memory, or streamed to a "
                      "scratch file).", DeprecationWarning, stacklevel=2)
        return NumpyTapBuffer
    raise AttributeError(f"module 'zlens.capture' has no attribute {name!r}")
