"""The report's figures, one function each, returned as matplotlib `Figure`s (no pyplot state).

Save one with `fig.savefig("f.png")`; in a notebook, a figure left as a cell's value shows as
the picture (`NotebookFigure`), whichever matplotlib backend is active.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from zlens.errors import ZlensError
from zlens.report.analysis import Movement, Separation, movement_scores, separation_scores
from zlens.report.colors import add_label_legend, label_coloring
from zlens.report.frames import LatentPoints, latent_points
from zlens.report.images import Reconstructions, reconstructions

__all__ = ["latent_scatter", "loss_curves", "recon_error_histogram", "separation_curve",
           "reconstruction_grid", "movement"]

_DRIFT = ("z_drift_max", "z_drift_mean")


class NotebookFigure(Figure):
    """A matplotlib `Figure` that Jupyter shows as a picture: without pyplot, nothing registers
    one with IPython's display, so a bare `Figure` would show as `<Figure size ...>`."""

    def _repr_png_(self) -> bytes:
        import io

        from matplotlib.backends.backend_agg import FigureCanvasAgg

        if self.canvas is None or not hasattr(self.canvas, "print_png"):
            FigureCanvasAgg(self)
        buffer = io.BytesIO()
        self.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
        return buffer.getvalue()


def latent_scatter(run, epoch: int = -1, kind: str | None = None, method: str = "pca",
                   max_points: int | None = 5000, *, seed: int = 0, points: LatentPoints | None = None) -> Figure:
    """The latent space of one epoch in 2-D, coloured by label when the run has labels.

    Args:
        run: a `Run` (`zlens.open_run(path)` or what `zlens.fit` returned).
        epoch: a captured epoch number, or -1 (default) for the last.
        kind: "in-flight" or "consistent" (default: the run's kind).
        method: "pca" (default), "tsne" or "umap" (the extra `zlens[umap]`); with d = 2 the
            latent itself is drawn.
        max_points: draw at most this many points (a fixed random subset; the title says so).
        seed: seed of the subset and the projection.
        points: already computed `latent_points(...)` to draw instead.

    Example:
        >>> fig = zlens.plot.latent_scatter(zlens.open_run("runs/digits"), epoch=-1, method="pca")
        >>> fig.savefig("z.png", dpi=200)
    """
    pts = points or latent_points(run, epoch, kind, method=method, max_points=max_points, seed=seed)
    coloring = label_coloring(run.labels, run.n_samples)
    fig = NotebookFigure(figsize=(6.4, 5.6), layout="constrained")
    ax = fig.add_subplot()
    ax.scatter(pts.points[:, 0], pts.points[:, 1], s=6 if len(pts.indices) > 2000 else 12, linewidths=0,
               c=coloring.rgba(pts.indices))
    add_label_legend(ax, coloring)
    ax.set(xlabel=pts.axis_labels[0], ylabel=pts.axis_labels[1])
    ax.set_title(pts.describe(), fontsize=8, wrap=True)
    return fig


def loss_curves(run) -> Figure:
    """Training and validation loss per epoch (top) and the in-flight / consistent drift of z (bottom).

    Example:
        >>> zlens.plot.loss_curves(zlens.open_run("runs/digits")).savefig("loss.png")
    """
    history = run.history
    epochs = history.get("epoch", [])
    fig = NotebookFigure(figsize=(7.0, 5.2), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True)
    drawn = False
    for name, values in history.items():
        if name == "epoch" or name in _DRIFT:
            continue
        x, y = _present(epochs, values)
        if len(x):
            top.plot(x, y, marker="o" if len(x) < 30 else None, ms=3, label=name)
            drawn = True
    if drawn:
        top.legend(fontsize=8)
        if _positive_wide(history):
            top.set_yscale("log")
    else:
        _empty(top, "no metrics recorded yet")
    top.set(ylabel="loss", title="loss per epoch")
    drift_drawn = False
    for name in _DRIFT:
        x, y = _present(epochs, history.get(name, []))
        if len(x):
            bottom.plot(x, y, marker="o" if len(x) < 30 else None, ms=3, label=name)
            drift_drawn = True
    if drift_drawn:
        bottom.legend(fontsize=8)
        bottom.set_title("drift between in-flight and consistent z (max / mean |difference|)", fontsize=9)
    else:
        _empty(bottom, "no drift: the run did not capture both kinds (capture='both')")
    bottom.set(xlabel="epoch", ylabel="drift")
    bottom.xaxis.set_major_locator(MaxNLocator(integer=True))
    return fig


def recon_error_histogram(run, epoch: int = -1, kind: str | None = None) -> Figure:
    """Histogram of the per-sample reconstruction error at `epoch` (the first captured epoch as an outline).

    Example:
        >>> zlens.plot.recon_error_histogram(zlens.open_run("runs/digits"), epoch=-1).savefig("err.png")
    """
    if "recon_error" not in run.taps:
        raise ZlensError("this run did not capture 'recon_error': train with taps=('z', 'recon_error').")
    kind = run.resolve_kind(kind)
    epoch = run.epochs[run.slot_of(epoch)]
    err = np.asarray(run.recon_error(epoch, kind), dtype=np.float64)
    fig = NotebookFigure(figsize=(6.4, 4.0), layout="constrained")
    ax = fig.add_subplot()
    bins: Any = np.histogram_bin_edges(err, bins=min(60, max(10, int(np.sqrt(len(err))))))
    first = run.epochs[0]
    if first != epoch:
        err0 = np.asarray(run.recon_error(first, kind), dtype=np.float64)
        bins = np.histogram_bin_edges(np.concatenate([err, err0]), bins=len(bins) - 1)
        ax.hist(err0, bins=bins, histtype="step", color="0.5", label=f"epoch {first}")
    ax.hist(err, bins=bins, color="#1f77b4", alpha=0.8, label=f"epoch {epoch}")
    for q, style in ((50, "--"), (99, ":")):
        ax.axvline(np.percentile(err, q), color="k", ls=style, lw=1, label=f"{q}th percentile")
    ax.legend(fontsize=8)
    ax.set(xlabel="reconstruction error (per-sample MSE)", ylabel="samples")
    ax.set_title(f"reconstruction error, epoch {epoch} ({kind}): mean {err.mean():.4g}, "
                 f"median {np.median(err):.4g}, all {len(err):,} samples", fontsize=9)
    return fig


def separation_curve(run, kind: str | None = None, *, scores: Separation | None = None) -> Figure:
    """How well z separates the labels per epoch: held-out k-NN accuracy (top) and silhouette (bottom).

    Args:
        run: a `Run` with class labels.
        kind: "in-flight" or "consistent" (default: the run's kind).
        scores: already computed `separation_scores(...)` to draw instead.

    Example:
        >>> zlens.plot.separation_curve(zlens.open_run("runs/digits")).savefig("sep.png")
    """
    sep = scores or separation_scores(run, kind)
    if sep is None:
        raise ZlensError("this run has no class labels (2 to 100 distinct values): no separation to measure.")
    fig = NotebookFigure(figsize=(7.0, 5.0), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True)
    marker = "o" if len(sep.epochs) < 30 else None
    top.plot(sep.epochs, sep.knn_accuracy, marker=marker, ms=3, label=f"{sep.k}-NN held-out accuracy")
    top.axhline(sep.chance, color="0.5", ls="--", lw=1, label=f"chance ({sep.chance:.3f})")
    top.set(ylabel="accuracy", ylim=(0, 1.02))
    top.set_title("how well z predicts the label (k nearest neighbours)", fontsize=9)
    top.legend(fontsize=8)
    bottom.plot(sep.epochs, sep.silhouette, marker=marker, ms=3, color="#ff7f0e")
    bottom.axhline(0, color="0.5", lw=0.8)
    bottom.set(xlabel="epoch", ylabel="silhouette")
    bottom.set_title("how apart the label groups lie in z (silhouette, -1 to 1)", fontsize=9)
    bottom.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.suptitle(sep.describe(), fontsize=8, wrap=True)
    return fig


def reconstruction_grid(run, n: int = 8, *, x: np.ndarray | None = None, kind: str | None = None,
                        pairs: tuple[Reconstructions, Reconstructions | None] | None = None) -> Figure:
    """Inputs beside the final model's reconstructions, and the samples with the largest error.

    The run's data is reloaded as `zlens train` read it, or pass the training data as `x`;
    a `ZlensError` says why when neither works or the samples are not images.

    Example:
        >>> zlens.plot.reconstruction_grid(zlens.open_run("runs/mnist"), n=8).savefig("grid.png")
    """
    groups = [g for g in (pairs or reconstructions(run, n, x=x, kind=kind)) if g is not None]
    cols = max(len(g.indices) for g in groups)
    fig = NotebookFigure(figsize=(1.1 * cols + 1.2, 2.4 * len(groups) + 0.4), layout="constrained")
    subfigs = np.atleast_1d(fig.subfigures(len(groups), 1))  # type: ignore[arg-type]  # (one SubFigure, or several)
    for sub, group in zip(subfigs, groups, strict=True):
        sub.suptitle(group.title, fontsize=9)
        axes = sub.subplots(2, cols, squeeze=False)
        for j in range(cols):
            for row, images in enumerate((group.inputs, group.outputs)):
                ax = axes[row, j]
                ax.set_axis_off()
                if j < len(group.indices):
                    ax.imshow(np.clip(images[j], 0, 1), cmap="gray" if images.ndim == 3 else None, vmin=0, vmax=1)
            if j < len(group.indices):
                err = "" if group.errors is None else f"\nerr {group.errors[j]:.3g}"
                axes[0, j].set_title(f"#{group.indices[j]}{err}", fontsize=7)
        axes[0, 0].text(-0.15, 0.5, "input", transform=axes[0, 0].transAxes, rotation=90, ha="right", va="center")
        axes[1, 0].text(-0.15, 0.5, "output", transform=axes[1, 0].transAxes, rotation=90, ha="right", va="center")
    return fig


def movement(run, kind: str | None = None, n: int = 10, *, scores: Movement | None = None) -> Figure:
    """Which samples moved most between the first and last captured epoch: in z, and in error.

    Left: each sample's distance travelled in z (in z itself, not a projection). Right: error at
    the first epoch against the last, the `n` biggest changes marked with their sample index.

    Example:
        >>> zlens.plot.movement(zlens.open_run("runs/digits"), n=10).savefig("moved.png")
    """
    moved = scores or movement_scores(run, kind)
    fig = NotebookFigure(figsize=(10.0, 4.2), layout="constrained")
    left, right = fig.subplots(1, 2)
    left.hist(moved.displacement, bins=50, color="#2ca02c")
    left.set(xlabel=f"|z(epoch {moved.last_epoch}) - z(epoch {moved.first_epoch})|", ylabel="samples",
             title="how far each sample moved in z")
    for i in moved.top("displacement", min(n, 3)):
        left.axvline(moved.displacement[i], color="k", lw=0.6, ls=":")
    if moved.error_first is None or moved.error_last is None:
        _empty(right, "no recon_error tap captured")
    else:
        right.scatter(moved.error_first, moved.error_last, s=4, linewidths=0, color="0.6")
        top = moved.top("error", n)
        right.scatter(moved.error_first[top], moved.error_last[top], s=16, color="#d62728")
        # The top five's numbers stand in a column in the corner, each with a line to its point,
        # so they never overlap however close the points are.
        for k, i in enumerate(top[:5]):
            right.annotate(f"#{i}", (moved.error_first[i], moved.error_last[i]), fontsize=7,
                           xytext=(0.03, 0.93 - 0.075 * k), textcoords="axes fraction", va="center",
                           arrowprops={"arrowstyle": "-", "lw": 0.4, "color": "0.35"})
        both = np.concatenate([moved.error_first, moved.error_last])
        lim = [both.min(), both.max()]
        right.plot(lim, lim, color="k", lw=0.6, ls="--")
        right.set(xlabel=f"error at epoch {moved.first_epoch}", ylabel=f"error at epoch {moved.last_epoch}")
        right.set_title(f"reconstruction error, first vs last epoch\nred: the {len(top)} biggest changes "
                        "(top 5 numbered)", fontsize=10)
    return fig


def _present(epochs: list, values: list) -> tuple[np.ndarray, np.ndarray]:
    """The epochs with a finite value; a metric the history lacks comes as [] (no points)."""
    pairs = [(e, v) for e, v in zip(epochs, values, strict=False) if isinstance(v, (int, float)) and np.isfinite(v)]
    return np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs], dtype=float)


def _positive_wide(history: dict) -> bool:
    values = [v for k, vs in history.items() if k not in ("epoch", *_DRIFT) for v in vs
              if isinstance(v, (int, float)) and np.isfinite(v)]
    return bool(values) and min(values) > 0 and max(values) / min(values) > 20


def _empty(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", fontsize=9, color="0.4")
    ax.set_xticks([])
    ax.set_yticks([])
