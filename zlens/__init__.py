"""zlens: train autoencoders with Keras 3 and keep the complete, row-aligned latent matrix z.

Three ways in, one engine: `zlens.fit` (one call, returns a `Run`), `TappedAutoencoder`
(a Keras model wrapper: compile / fit / callbacks / save), and the custom-loop building blocks
`zlens.data.index_array` / `index_dataset` and `zlens.capture.TapBuffer`.
"""

__version__ = "0.1.0"

from zlens import models  # noqa: E402
from zlens.capture.tapped_autoencoder import TappedAutoencoder  # noqa: E402
from zlens.encode import encode  # noqa: E402
from zlens.errors import DataError, ModelError, RunError, ZlensError  # noqa: E402
from zlens.fit import fit, resume  # noqa: E402
from zlens.run import Run  # noqa: E402
from zlens.run_open import open_run  # noqa: E402

__all__ = [
    "fit", "resume", "encode", "open_run", "Run", "TappedAutoencoder", "models",
    "ZlensError", "DataError", "ModelError", "RunError", "__version__",
]
