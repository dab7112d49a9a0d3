"""What every probe of a process shares: the sizes, the training data, the device, and a cache.

Each worker process (`benchmarks.worker`) makes one `Context`; builders read from it and may
cache what other builders of the same process reuse (the compiled zlens model the encode rows run).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from benchmarks.work import Sizes, make_data


@dataclass
class Context:
    """Args:
        sizes: the `Sizes` of this run.
        device: "cpu" or "gpu".
        cache: things built once and shared by builders (keyed by name).
    """

    sizes: Sizes
    device: str = "cpu"
    cache: dict = field(default_factory=dict)

    @cached_property
    def x(self) -> np.ndarray:
        """The training data, (n_train, FEATURES) float32 in [0, 1): made on first use, so a
        process whose rows do not train (a limit, a streaming encode) does not hold it."""
        return make_data(self.sizes.n_train)

    @property
    def tf_device(self) -> str:
        return "/GPU:0" if self.device == "gpu" else "/CPU:0"

    @property
    def torch_device(self) -> str:
        return "cuda" if self.device == "gpu" else "cpu"
