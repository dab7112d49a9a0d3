"""`zlens.load_model`: a saved zlens model back, with zlens' Keras classes registered first."""

from __future__ import annotations

import keras


def load_model(path) -> keras.Model:
    """`keras.models.load_model` for a model zlens saved: zlens' classes are registered first
    (Keras looks up custom classes by their registered name only; `import zlens` alone, which
    loads TensorFlow lazily, has not registered them yet). Your own classes must be imported.

    Example:
        >>> model = zlens.load_model("ae.keras")   # doctest: +SKIP
    """
    import zlens.capture.tapped_autoencoder  # noqa: F401  (registration)
    import zlens.models  # noqa: F401

    return keras.models.load_model(path)
