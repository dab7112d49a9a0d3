"""Where a run lives on disk: the latent store (every tap, every epoch) and the run folder.
Plain NumPy + Zarr + JSON; nothing here imports TensorFlow.
"""

from zlens.store.latent_store import LatentStore
from zlens.store.run_directory import RunDirectory

__all__ = ["LatentStore", "RunDirectory"]
