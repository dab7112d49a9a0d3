"""What every probe shares: the sizes, the training data, the device, and a cache of built things.

The suite makes one `Context` per run; builders read from it and may cache what other
builders reuse (the compiled zlens model the encode rows run).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from benchmarks.work import Sizes


@dataclass
class Context:
    """Args:
        sizes: the `Sizes` of this run.
        x: the training data, (n_train, FEATURES) float32 in [0, 1).
        device: "cpu" or "gpu".
        cache: things built once and shared by builders (keyed by name).
    """

    sizes: Sizes
    x: np.ndarray
    device: str = "cpu"
    cache: dict = field(default_factory=dict)

    @property
    def tf_device(self) -> str:
        return "/GPU:0" if self.device == "gpu" else "/CPU:0"

    @property
    def torch_device(self) -> str:
        return "cuda" if self.device == "gpu" else "cpu"
