"""Argument checks shared by the model builders."""

from zlens.checks import check_count
from zlens.errors import ModelError


def check_encoding_dim(encoding_dim) -> None:
    """Raise `ModelError` unless the latent size is an integer >= 1."""
    check_count("encoding_dim", encoding_dim, meaning="the size of z", error=ModelError)


def check_positive(name: str, value) -> None:
    """Raise `ModelError` unless `value` is an integer >= 1."""
    check_count(name, value, error=ModelError)
