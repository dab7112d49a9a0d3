"""zlens: train autoencoders with Keras 3 and keep the complete, row-aligned latent matrix z.

Three ways in, one engine: `zlens.fit` (one call, returns a `Run`), `TappedAutoencoder`
(a Keras model wrapper: compile / fit / callbacks / save), and the custom-loop building blocks
`zlens.data.index_array` / `index_dataset` and `zlens.capture.TapBuffer`.

TensorFlow is imported on first use of a name that needs it, so `zlens --help`, `zlens info`
and reading a run's store stay quick.
"""

from importlib import import_module

from zlens.errors import DataError, ModelError, NonFiniteError, RunError, ZlensError

__version__ = "0.1.0"

_LAZY = {
    "fit": "zlens.training",
    "resume": "zlens.training",
    "encode": "zlens.encoding",
    "open_run": "zlens.run_open",
    "Run": "zlens.run",
    "TappedAutoencoder": "zlens.capture.tapped_autoencoder",
    "load_model": "zlens.loading",
}
_MODULES = ("models", "capture", "data", "store", "report", "plot")

__all__ = [*_LAZY, *_MODULES, "ZlensError", "DataError", "ModelError", "RunError", "NonFiniteError",
           "__version__"]


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
    elif name in _MODULES:
        value = import_module(f"zlens.{name}")
    else:
        raise AttributeError(f"module 'zlens' has no attribute {name!r}")
    globals()[name] = value
    return value
