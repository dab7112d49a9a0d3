"""2-D views of a latent matrix: the latent itself when d = 2, else PCA, t-SNE or UMAP.

A `Projection` is fitted once and then applied to any epoch, so motion between epochs is real.
"""

from __future__ import annotations

import importlib.util
from typing import Any

import numpy as np

from zlens.checks import check_choice
from zlens.errors import ZlensError
from zlens.options import PROJECTION_METHODS

METHODS = PROJECTION_METHODS
_NAMES = {"pca": "PCA", "tsne": "t-SNE", "umap": "UMAP", "identity": "the latent itself"}


def check_method(method: str) -> str:
    """`method` checked: one of "pca", "tsne", "umap", and its library installed.

    Example:
        >>> check_method("PCA")
        'pca'
    """
    name = str(method).lower().replace("-", "")
    if name not in METHODS:
        check_choice("projection method", method, METHODS)  # names the value as given
    if name == "umap" and not umap_installed():
        raise ZlensError('method="umap" needs the optional package umap-learn: pip install "zlens[umap]" '
                         '(or use method="pca" or "tsne").')
    return name


def umap_installed() -> bool:
    """Whether the optional `umap-learn` package can be imported (the `zlens[umap]` extra)."""
    return importlib.util.find_spec("umap") is not None


class Projection:
    """Map latent rows (n, d) to 2-D points, fitted once, then applied to any epoch.

    With d = 2 the latent itself is drawn (no projection; d = 1 is drawn against 0). Else
    "pca" (scikit-learn PCA, the default: fast, linear, applies to new rows), "tsne"
    (scikit-learn t-SNE: embeds only the rows it was fitted on, so it cannot hold an animation
    fixed) or "umap" (umap-learn, an optional extra: `pip install "zlens[umap]"`).

    Args:
        method: "pca", "tsne" or "umap".
        seed: random seed of the projection (t-SNE, UMAP and randomized PCA).

    Example:
        >>> p = Projection("pca").fit(z_last)          # fit once, on one epoch or on stacked epochs
        >>> xy0, xy9 = p.transform(z_first), p.transform(z_last)
        >>> p.describe()
        'PCA of z (d = 32; PC1 41%, PC2 18% of variance)'
    """

    def __init__(self, method: str = "pca", *, seed: int = 0) -> None:
        self.method = check_method(method)
        self.seed = seed
        self.kind_: str | None = None  # "identity" or the method, once fitted
        self.model_: Any = None  # the fitted scikit-learn / umap estimator
        self.d_: int | None = None

    @property
    def can_transform(self) -> bool:
        """Whether rows other than the fitted ones can be projected (False for t-SNE)."""
        return self.method != "tsne" or self.kind_ == "identity"

    def fit(self, z: np.ndarray) -> Projection:
        """Fit on (n, d) rows; returns self."""
        self._fit(z, keep_embedding=False)
        return self

    def fit_transform(self, z: np.ndarray) -> np.ndarray:
        """Fit on (n, d) rows and return their (n, 2) points."""
        points = self._fit(z, keep_embedding=True)
        assert points is not None
        return points

    def transform(self, z: np.ndarray) -> np.ndarray:
        """Project (n, d) rows with the fitted projection; returns (n, 2) float32."""
        if self.kind_ is None:
            raise ZlensError("fit the projection first: Projection(method).fit(z).")
        z = _rows(z)
        if z.shape[1] != self.d_:
            raise ZlensError(f"this projection was fitted on d = {self.d_}; got rows with d = {z.shape[1]}.")
        if self.kind_ == "identity":
            return _identity(z)
        if not self.can_transform:
            raise ZlensError("t-SNE cannot project rows it was not fitted on: use fit_transform, "
                             'or method="pca" / "umap" to hold a projection fixed across epochs.')
        return np.asarray(self.model_.transform(z), dtype=np.float32)

    def describe(self, tap: str = "z") -> str:
        """What the two axes are, in words, for captions and the page."""
        if self.kind_ is None:
            return f"{_NAMES[self.method]} of {tap} (not fitted yet)"
        if self.kind_ == "identity":
            return f"{tap} itself (d = {self.d_}, no projection)"
        text = f"{_NAMES[self.kind_]} of {tap} (d = {self.d_}"
        if self.kind_ == "pca":
            share = self.model_.explained_variance_ratio_
            text += "; " + ", ".join(f"PC{i + 1} {100 * v:.0f}%" for i, v in enumerate(share)) + " of variance"
        return text + ")"

    def axis_labels(self) -> tuple[str, str]:
        """Names for the x and y axes."""
        if self.kind_ == "identity":
            return ("z_0", "z_1" if self.d_ == 2 else "(none)")
        prefix = {"pca": "PC", "tsne": "t-SNE ", "umap": "UMAP "}[self.method]
        return (f"{prefix}1", f"{prefix}2")

    def _fit(self, z: np.ndarray, *, keep_embedding: bool) -> np.ndarray | None:
        z = _rows(z)
        self.d_ = int(z.shape[1])
        if self.d_ <= 2:
            self.kind_ = "identity"
            return _identity(z) if keep_embedding else None
        self.kind_ = self.method
        if self.method == "pca":
            from sklearn.decomposition import PCA

            self.model_ = PCA(n_components=2, random_state=self.seed).fit(z)
            return self.model_.transform(z).astype(np.float32) if keep_embedding else None
        if self.method == "tsne":
            from sklearn.manifold import TSNE

            if len(z) < 5:
                raise ZlensError(f"t-SNE needs at least 5 points; got {len(z)}: use method='pca'.")
            self.model_ = TSNE(n_components=2, init="pca", random_state=self.seed,
                               perplexity=float(min(30.0, (len(z) - 1) / 3)))
            return self.model_.fit_transform(z).astype(np.float32)
        import umap

        self.model_ = umap.UMAP(n_components=2, random_state=self.seed, n_neighbors=min(15, len(z) - 1))
        xy = self.model_.fit_transform(z)
        return np.asarray(xy, dtype=np.float32) if keep_embedding else None


def _rows(z: np.ndarray) -> np.ndarray:
    z = np.asarray(z, dtype=np.float32)
    if z.ndim == 0 or len(z) == 0:
        raise ZlensError(f"expected latent rows of shape (n, d) with n >= 1; got shape {z.shape}.")
    return z.reshape(len(z), -1)  # (n,) -> (n, 1); a tap of shape (n, h, w, c) -> (n, h*w*c)


def _identity(z: np.ndarray) -> np.ndarray:
    if z.shape[1] == 2:
        return z.astype(np.float32, copy=True)
    return np.column_stack([z[:, 0], np.zeros(len(z), np.float32)])
