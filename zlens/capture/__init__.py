"""Capture: taps scattered into device buffers inside the compiled step, read once per epoch."""

from zlens.capture.buffer import TapBuffer
from zlens.capture.recorder import CONSISTENT, IN_FLIGHT, LatentRecorder

__all__ = ["TapBuffer", "LatentRecorder", "IN_FLIGHT", "CONSISTENT"]
