"""Training vs validation samples: what a user watches for overfitting, as figures and a page section.

Both splits are drawn under ONE projection, fitted on the training samples, so that a validation
sample lying where no training sample lies is visible; errors are compared epoch by epoch.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from zlens.errors import ZlensError
from zlens.kinds import CONSISTENT, TRAIN, VALIDATION
from zlens.report import _html as h
from zlens.report.colors import add_label_legend, label_coloring
from zlens.report.projection import Projection
from zlens.report.sampling import count, draw_indices

__all__ = ["train_vs_validation", "validation_errors", "validation_section"]


def train_vs_validation(run, epoch: int = -1, max_points: int | None = 5000, *, seed: int = 0) -> Figure:
    """The latent space of one epoch, training samples (left) beside validation samples (right).

    Both are the consistent z where the run captured it (the validation samples' only kind), under
    one PCA fitted on the training samples (with d = 2, z itself), on shared axes, coloured by
    label with one legend for both.

    Args:
        run: a `Run` trained with `validation_data`.
        epoch: a captured epoch number, or -1 (default) for the last.
        max_points: draw at most this many points of each split (a fixed random subset).
        seed: seed of the subsets.

    Example:
        >>> fig = zlens.plot.train_vs_validation(zlens.open_run("runs/digits"), epoch=-1)
        >>> fig.savefig("train_vs_validation.png")
    """
    from zlens.report.figures import NotebookFigure

    _check_validation(run)
    epoch = run.epochs[run.slot_of(epoch)]
    kind = _train_kind(run)
    z_train, z_val = run.z(epoch, kind), run.z(epoch, split=VALIDATION)
    projection = Projection("pca", seed=seed).fit(z_train)
    (train_colors, start_train), (val_colors, start_val) = _colorings(run)
    fig = NotebookFigure(figsize=(11.0, 5.0), layout="constrained")
    axes = fig.subplots(1, 2, sharex=True, sharey=True)
    for ax, z, split, coloring, start in ((axes[0], z_train, TRAIN, train_colors, start_train),
                                          (axes[1], z_val, VALIDATION, val_colors, start_val)):
        drawn = draw_indices(len(z), max_points, seed)
        xy = projection.transform(z[drawn])
        ax.scatter(xy[:, 0], xy[:, 1], s=6 if len(drawn) > 2000 else 12, linewidths=0,
                   c=coloring.rgba(drawn + start))
        shown = "" if len(drawn) == len(z) else f", {count(len(drawn))} drawn"
        which = kind if split == TRAIN else CONSISTENT
        ax.set_title(f"{split}: {count(len(z))} samples ({which}{shown})", fontsize=9)
        ax.set(xlabel=projection.axis_labels()[0])
        if coloring is not train_colors or split == VALIDATION:
            add_label_legend(ax, coloring)
    axes[0].set(ylabel=projection.axis_labels()[1])
    fig.suptitle(f"epoch {epoch}: {projection.describe()}, fitted on the training samples", fontsize=9)
    return fig


def validation_errors(run) -> Figure:
    """Mean reconstruction error per captured epoch, training vs validation samples: a validation
    curve that turns up while the training one goes down is overfitting.

    Example:
        >>> zlens.plot.validation_errors(zlens.open_run("runs/digits")).savefig("errors.png")
    """
    from zlens.report.figures import NotebookFigure

    epochs, train, val = error_means(run)
    fig = NotebookFigure(figsize=(6.4, 4.0), layout="constrained")
    ax = fig.add_subplot()
    ax.plot(epochs, train, marker="o", ms=3, label=f"training samples ({_train_kind(run)})")
    ax.plot(epochs, val, marker="o", ms=3, label="validation samples (consistent)")
    ax.set(xlabel="epoch", ylabel="mean reconstruction error (per-sample MSE)")
    ax.legend(fontsize=8)
    ax.set_title(f"last epoch: training {train[-1]:.4g}, validation {val[-1]:.4g} "
                 f"(gap {val[-1] - train[-1]:+.4g})", fontsize=9)
    return fig


def error_means(run) -> tuple[list[int], np.ndarray, np.ndarray]:
    """`(epochs, training means, validation means)` of the per-sample reconstruction error, read one
    epoch of the store at a time (the training means of the kind `train_vs_validation` draws).

    Example:
        >>> epochs, train, val = error_means(zlens.open_run("runs/digits"))
    """
    _check_validation(run)
    if "recon_error" not in run.taps:
        raise ZlensError("this run did not capture 'recon_error': train with taps=('z', 'recon_error').")
    kind = _train_kind(run)
    arrays = run.tap_array("recon_error", kind), run.tap_array("recon_error", split=VALIDATION)
    means = [[float(np.mean(np.asarray(a[run.slot_of(e)], dtype=np.float64))) for e in run.epochs] for a in arrays]
    return run.epochs, np.array(means[0]), np.array(means[1])


def validation_section(run, epoch: int, max_points: int | None) -> str:
    """The page's "Validation" section ("" for a run without validation samples)."""
    if VALIDATION not in run.splits:
        return ""
    n_val = run.n_samples_of(VALIDATION)
    parts = [h.note(f"{count(n_val)} held-out samples, never trained on, encoded at each captured epoch's final "
                    "weights (their consistent z), drawn under the training samples' projection."),
             h.figure_img(train_vs_validation(run, epoch, max_points), "training and validation latent space")]
    if "recon_error" in run.taps:
        epochs, train, val = error_means(run)
        parts.append(h.figure_img(validation_errors(run), "training and validation reconstruction error"))
        shown = range(len(epochs)) if len(epochs) <= 12 else np.linspace(0, len(epochs) - 1, 12).round().astype(int)
        rows = [(epochs[i], h.fmt(train[i]), h.fmt(val[i]), h.fmt(val[i] - train[i])) for i in dict.fromkeys(shown)]
        parts.append(h.table(["epoch", "training error", "validation error", "gap"], rows, numeric=[True] * 4))
    return h.section("validation", f"Validation samples, epoch {epoch}", *parts)


def _check_validation(run) -> None:
    if VALIDATION not in run.splits:
        raise ZlensError("this run has no validation samples: train with validation_data= "
                         "(CLI: --validation-data FILE).")


def _train_kind(run) -> str:
    """The training samples' kind to compare with the validation samples': consistent when captured
    (the same weights for every row, as theirs), else the run's kind."""
    return CONSISTENT if CONSISTENT in run.kinds else run.resolve_kind(None)


def _colorings(run):
    """`[(colouring, offset)]` of the training and the validation samples: one colouring over both
    (the same class, the same colour; the validation samples from offset N) when both are
    labelled alike, else one each."""
    n, n_val = run.n_samples, run.n_samples_of(VALIDATION)
    train, val = run.labels, run.labels_of(VALIDATION)
    if train is not None and val is not None and (train.dtype.kind == "U") == (val.dtype.kind == "U"):
        both = label_coloring(np.concatenate([train, val]), n + n_val)
        return [(both, 0), (both, n)]
    return [(label_coloring(train, n), 0), (label_coloring(val, n_val), 0)]
