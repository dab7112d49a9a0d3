"""Autoencoders zlens ships: `dense` (the default), `conv` for images, and a `vae`.

Each is a plain functional Keras model whose latent layer has a known name (`"z"`, or
`"z_mean"` for the VAE), so zlens can tap it; your own models work too (see `TappedAutoencoder`).
"""

from zlens.models.conv import conv
from zlens.models.dense import dense
from zlens.models.vae import GaussianSample, vae
from zlens.options import MODEL_NAMES

__all__ = ["dense", "conv", "vae", "GaussianSample", "build", "MODEL_NAMES"]


def build(name: str, sample_shape, encoding_dim: int | None = None, **kwargs):
    """Build a zlens model by name ("dense", "conv" or "vae") for samples of `sample_shape`.

    Example:
        >>> build("dense", (64,), encoding_dim=2).name
        'dense_autoencoder'
    """
    from zlens.errors import ModelError

    sample_shape = tuple(int(s) for s in sample_shape)
    if encoding_dim is not None:
        kwargs["encoding_dim"] = encoding_dim
    if name == "conv":
        if len(sample_shape) not in (2, 3):
            raise ModelError(f"the conv model needs image samples (H, W) or (H, W, C); the data's samples have "
                             f"shape {sample_shape}.")
        return conv(sample_shape, **kwargs)
    if name in ("dense", "vae"):
        if len(sample_shape) != 1:
            raise ModelError(
                f"the {name} model needs flat samples (features,); the data's samples have shape {sample_shape}. "
                "Flatten them (CLI: --flatten) or use the conv model."
            )
        return (dense if name == "dense" else vae)(sample_shape[0], **kwargs)
    raise ModelError(f"unknown model {name!r}; choose dense, conv or vae, or pass a Keras model.")

