"""Inputs beside their reconstructions, for image data: reload the run's data, run the final model.

The data is reloaded as `zlens train` read it (run.json's `data.load`), or passed in as `x`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from zlens.errors import ZlensError


@dataclass
class Reconstructions:
    """Images of some samples and the final model's reconstructions of them."""

    indices: np.ndarray  # (n,) sample indices
    inputs: np.ndarray  # (n, H, W[, C]) in [0, 1] (as the model saw them)
    outputs: np.ndarray  # (n, H, W[, C])
    errors: np.ndarray | None  # (n,) recon error from the store, or None
    title: str


def run_data(run):
    """The run's training data, reloaded as `zlens train` loaded it (a `DataSource`).

    Raises `ZlensError` when the run was not trained from a file or the default digits by
    `zlens train`, or when the file is gone or changed size.

    Example:
        >>> src = run_data(zlens.open_run("runs/digits"))
        >>> src.x.shape
        (1797, 64)
    """
    from zlens.data import load_data
    from zlens.store import RunDirectory

    if run.path is None:
        raise ZlensError("this run lives in memory: pass its data as x=... to draw reconstructions.")
    load = RunDirectory.open(run.path).run_json.get("data", {}).get("load")
    if load is None:
        raise ZlensError("the run's data cannot be reloaded (it was trained from Python, not by `zlens train`): "
                         "pass it as x=... to draw reconstructions.")
    try:
        source = load_data(**load)
    except ZlensError as err:
        raise ZlensError(f"the run's data cannot be reloaded: {err}") from None
    if source.n_samples != run.n_samples:
        raise ZlensError(f"the run's data file now has {source.n_samples} samples, the run {run.n_samples}: "
                         "it changed since training; pass the original data as x=....")
    return source


def image_shape(sample_shape: tuple[int, ...], name: str = "") -> tuple[int, ...] | None:
    """How to draw one sample as an image: (H, W) or (H, W, C), or None when it is not an image.

    Images are samples of rank 2 or 3, the 8x8 digits (64 values), or flat vectors of a
    square size of at least 16x16 (flattened images).

    Example:
        >>> image_shape((28, 28)), image_shape((64,), "digits"), image_shape((784,)), image_shape((12,))
        ((28, 28), (8, 8), (28, 28), None)
    """
    shape = tuple(int(s) for s in sample_shape)
    if len(shape) == 3 and shape[-1] == 1:
        return shape[:2]
    if len(shape) in (2, 3):
        return shape
    if len(shape) == 1:
        side = int(round(np.sqrt(shape[0])))
        if name == "digits" and shape[0] == 64:
            return (8, 8)
        if side * side == shape[0] and side >= 16:
            return (side, side)
    return None


def reconstructions(run, n: int = 8, *, x: np.ndarray | None = None, kind: str | None = None) -> tuple[
        Reconstructions, Reconstructions | None]:
    """`n` evenly spread samples, and the `n` with the largest reconstruction error, reconstructed.

    The reconstructions come from the run's final model; the largest errors are read from the
    store's `recon_error` of the last captured epoch (the consistent kind when captured, which
    was computed with those final weights). The second item is None without a `recon_error` tap.

    Example:
        >>> spread, worst = reconstructions(zlens.open_run("runs/mnist"), n=8)
    """
    if n < 1:
        raise ZlensError(f"`n` must be at least 1; got {n}.")
    if x is None:
        source = run_data(run)
        sample_shape, name = source.sample_shape, source.name
        rows = source.rows
    else:
        x = np.asarray(x)
        if len(x) != run.n_samples:
            raise ZlensError(f"x has {len(x)} samples but the run has {run.n_samples}: pass the training data.")
        sample_shape, name = x.shape[1:], "array"
        rows = lambda a, b: np.asarray(x[a:b], dtype=np.float32)  # noqa: E731
    shape = image_shape(sample_shape, name)
    if shape is None:
        raise ZlensError(f"samples of shape {tuple(sample_shape)} are not images: no reconstruction grid.")
    n = min(n, run.n_samples)
    spread = np.unique(np.linspace(0, run.n_samples - 1, n).round().astype(int))
    errors = worst = None
    if "recon_error" in run.taps:
        err_kind = "consistent" if "consistent" in run.kinds else run.resolve_kind(kind)
        errors = np.asarray(run.recon_error(-1, err_kind))
        worst = np.argsort(-errors, kind="stable")[:n]
    picked = spread if worst is None else np.concatenate([spread, worst])
    inputs = np.stack([rows(int(i), int(i) + 1)[0] for i in picked])
    outputs = np.asarray(run.model.predict(inputs, verbose=0))
    inputs, outputs = inputs.reshape(len(picked), *shape), outputs.reshape(len(picked), *shape)
    k = len(spread)
    first = Reconstructions(spread, inputs[:k], outputs[:k], None if errors is None else errors[spread],
                            "samples spread over the data set")
    if worst is None or errors is None:
        return first, None
    return first, Reconstructions(worst, inputs[k:], outputs[k:], errors[worst],
                                  f"the {len(worst)} samples with the largest reconstruction error "
                                  f"(epoch {run.epochs[-1]}, {err_kind})")
