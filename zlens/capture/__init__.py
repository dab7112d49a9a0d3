"""Capture: taps scattered into device buffers inside the compiled step, read once per epoch
(or streamed to a host buffer when the matrix is too large for the device)."""

from zlens.capture.buffer import TapBuffer
from zlens.capture.host_buffer import HostTapBuffer
from zlens.capture.recorder import CONSISTENT, IN_FLIGHT, LatentRecorder

__all__ = ["TapBuffer", "HostTapBuffer", "LatentRecorder", "IN_FLIGHT", "CONSISTENT"]
