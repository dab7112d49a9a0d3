"""Argument checks shared by the model builders."""

from zlens.errors import ModelError


def check_encoding_dim(encoding_dim) -> None:
    """Raise `ModelError` unless the latent size is an integer >= 1."""
    if not isinstance(encoding_dim, int) or isinstance(encoding_dim, bool) or encoding_dim < 1:
        raise ModelError(
            f"encoding_dim must be an integer >= 1 (the size of z); got {encoding_dim!r}."
        )


def check_positive(name: str, value) -> None:
    """Raise `ModelError` unless `value` is an integer >= 1."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ModelError(f"{name} must be an integer >= 1; got {value!r}.")
