"""Where the TensorFlow work runs: `--device cpu` (GPUs hidden) or `--device gpu` ('/GPU:0').

PyTorch rows follow the same choice through `Context.torch_device`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

DEVICES = ("cpu", "gpu")


class DeviceError(RuntimeError):
    """The requested device is not available on this machine."""


def check_device(device: str) -> None:
    """Raise `DeviceError` now, before any worker starts, if `device` cannot be used here
    (TensorFlow is imported only to look for a GPU when one is asked for)."""
    if device not in DEVICES:
        raise DeviceError(f"device must be one of {', '.join(DEVICES)}; got {device!r}.")
    if device == "gpu":
        with use_device(device):
            pass


@contextlib.contextmanager
def use_device(device: str) -> Iterator[str]:
    """Place TF work on `device` for the duration; yields the TF device name.

    Raises:
        DeviceError: `device` is not "cpu" or "gpu", or "gpu" with no GPU visible to TF.
    """
    if device not in DEVICES:
        raise DeviceError(f"device must be one of {', '.join(DEVICES)}; got {device!r}.")
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if device == "gpu" and not gpus:
        raise DeviceError(
            "--device gpu: TensorFlow sees no GPU on this machine (tf.config.list_physical_devices('GPU') "
            "is empty). Install the CUDA build (pip install -e '.[gpu]') on a GPU machine, or use --device cpu."
        )
    if device == "cpu" and gpus:
        with contextlib.suppress(RuntimeError):  # already initialized: the device scope still pins ops
            tf.config.set_visible_devices([], "GPU")
    name = "/GPU:0" if device == "gpu" else "/CPU:0"
    with tf.device(name):
        yield name
