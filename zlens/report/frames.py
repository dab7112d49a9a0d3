"""The latent space over the epochs: one fixed projection applied to every frame, and the GIF.

The projection is fitted ONCE, so a point that moves on screen moved in z, not in the projection.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from zlens.report.analysis import read_epochs
from zlens.report.colors import Coloring, add_label_legend, label_coloring
from zlens.report.projection import Projection, check_method
from zlens.report.sampling import MAX_FRAMES, count, draw_indices, spaced_epochs
from zlens.store.run_directory import replace_durably

FRAME_POINTS = 2000  # points per animation frame (a fixed random subset, the same samples in every frame)


@dataclass
class LatentFrames:
    """2-D positions of the same samples at several epochs, under one fixed projection.

    `points[f, j]` is sample `indices[j]` at epoch `epochs[f]`; `limits` is (xmin, xmax, ymin,
    ymax) over all frames, so the view is fixed too.
    """

    epochs: list[int]
    points: np.ndarray  # (F, P, 2) float32
    indices: np.ndarray  # (P,)
    projection: str
    axis_labels: tuple[str, str]
    n_samples: int
    n_captured: int
    notes: list[str] = field(default_factory=list)

    @property
    def limits(self) -> tuple[float, float, float, float]:
        """(xmin, xmax, ymin, ymax) of every frame, with a 5% margin."""
        lo, hi = self.points.reshape(-1, 2).min(axis=0), self.points.reshape(-1, 2).max(axis=0)
        pad = np.where(hi > lo, (hi - lo) * 0.05, 1.0)
        return (float(lo[0] - pad[0]), float(hi[0] + pad[0]), float(lo[1] - pad[1]), float(hi[1] + pad[1]))

    def describe(self) -> str:
        """What the animation shows and how it was subsampled, in one sentence."""
        text = (f"{len(self.epochs)} frames ({_epoch_span(self.epochs, self.n_captured)}); "
                f"{self.projection}")
        if len(self.indices) < self.n_samples:
            text += f"; drawing the same {count(len(self.indices))} of {count(self.n_samples)} samples in every frame"
        return text + "".join(f"; {n}" for n in self.notes) + "."


def frames_from_rows(rows: list[np.ndarray], epochs: list[int], indices: np.ndarray, *, method: str = "pca",
                     n_samples: int, n_captured: int, seed: int = 0) -> LatentFrames:
    """Fit one projection to the drawn rows of `epochs` and apply it to every frame.

    PCA is fitted on the rows of all frames stacked; UMAP on the last frame; t-SNE cannot
    project rows it was not fitted on, so the animation falls back to PCA (and says so).
    """
    method = check_method(method)
    notes = []
    if method == "tsne":
        method = "pca"
        notes.append("t-SNE cannot hold a projection fixed across epochs, so the animation uses PCA")
    projection = Projection(method, seed=seed)
    if method == "pca":
        projection.fit(np.concatenate(rows))
        fitted = "fitted once on the drawn samples of all frames stacked"
    else:
        projection.fit(rows[-1])
        fitted = f"fitted once on epoch {epochs[-1]}"
    points = np.stack([projection.transform(r) for r in rows]).astype(np.float32)
    text = projection.describe()
    if projection.kind_ != "identity":
        text += f", {fitted}"
    return LatentFrames(list(epochs), points, np.asarray(indices), text, projection.axis_labels(),
                        n_samples, n_captured, notes)


def latent_frames(run, kind: str | None = None, *, method: str = "pca", max_frames: int = MAX_FRAMES,
                  max_points: int | None = FRAME_POINTS, seed: int = 0) -> LatentFrames:
    """The frames of the latent-motion animation of `run` (at most `max_frames` evenly spaced epochs).

    Example:
        >>> frames = latent_frames(zlens.open_run("runs/digits"))
        >>> frames.points.shape          # (frames, points, 2)
        (30, 1797, 2)
    """
    epochs = spaced_epochs(run.epochs, max_frames)
    indices = draw_indices(run.n_samples, max_points, seed)
    rows = [z[indices] for _, z in read_epochs(run, epochs, kind)]
    return frames_from_rows(rows, epochs, indices, method=method, n_samples=run.n_samples,
                            n_captured=len(run.epochs), seed=seed)


def write_gif(frames: LatentFrames, path: str | Path, coloring: Coloring | None = None, *, fps: int = 4,
              title: str = "z") -> Path:
    """Write the animation as a GIF (matplotlib + Pillow), one frame per epoch of `frames`.

    Example:
        >>> write_gif(latent_frames(run), "run/latent_motion.gif", label_coloring(run.labels, run.n_samples))
    """
    from matplotlib.animation import PillowWriter

    fig, ax, scatter, heading = motion_figure(frames, coloring)
    path = Path(path)
    tmp = path.with_name(f".{path.name}.partial.gif")
    writer = PillowWriter(fps=fps)
    try:
        with writer.saving(fig, tmp, dpi=fig.dpi):
            for f, epoch in enumerate(frames.epochs):
                scatter.set_offsets(frames.points[f])
                xmin, xmax, ymin, ymax = frame_limits(frames.points[f], frames.limits)
                ax.set(xlim=(xmin, xmax), ylim=(ymin, ymax))
                heading.set_text(f"{title}, epoch {epoch}  ({f + 1}/{len(frames.epochs)}; axes follow the points)")
                writer.grab_frame()
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    replace_durably(tmp, path)
    return path


def motion_figure(frames: LatentFrames, coloring: Coloring | None = None):
    """`(figure, axes, scatter, heading)` of the animation, at its first frame: the axes labelled,
    the label colours' legend drawn, a fixed layout (re-laying out every frame costs seconds)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    coloring = coloring or label_coloring(None, frames.n_samples)
    fig = Figure(figsize=(5.2, 5.2), dpi=80)
    FigureCanvasAgg(fig)
    fig.subplots_adjust(left=0.13, right=0.97, bottom=0.1, top=0.93)
    ax = fig.add_subplot()
    ax.set(xlabel=frames.axis_labels[0], ylabel=frames.axis_labels[1])
    scatter = ax.scatter(frames.points[0, :, 0], frames.points[0, :, 1], s=5, linewidths=0,
                         c=coloring.rgba(frames.indices))
    add_label_legend(ax, coloring)
    heading = ax.set_title("", fontsize=10)
    xmin, xmax, ymin, ymax = frame_limits(frames.points[0], frames.limits)
    ax.set(xlim=(xmin, xmax), ylim=(ymin, ymax))
    return fig, ax, scatter, heading


def frame_limits(points: np.ndarray, whole: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    """Axis limits for one frame: around this frame's points (their 1st to 99th percentile, padded),
    so an early epoch's tight cluster fills the frame instead of sitting as a blob at the edge of
    the whole run's extent; never wider than `whole`. The projection stays the one fitted once, so
    directions of motion are real; the scale follows the points, as the heading says."""
    lo = np.percentile(points, 1, axis=0)
    hi = np.percentile(points, 99, axis=0)
    span = np.maximum(hi - lo, 1e-6 * max(whole[1] - whole[0], whole[3] - whole[2], 1e-12))
    lo, hi = lo - 0.15 * span, hi + 0.15 * span
    return (max(lo[0], whole[0]), min(hi[0], whole[1]), max(lo[1], whole[2]), min(hi[1], whole[3]))


def _epoch_span(epochs: list[int], n_captured: int) -> str:
    if len(epochs) == n_captured:
        return "every captured epoch"
    return f"{len(epochs)} evenly spaced of the {n_captured} captured epochs"


@dataclass
class LatentPoints:
    """One epoch's 2-D points to draw: `points[j]` is sample `indices[j]`."""

    epoch: int
    kind: str
    points: np.ndarray  # (P, 2) float32
    indices: np.ndarray  # (P,)
    projection: str
    axis_labels: tuple[str, str]
    n_samples: int

    def describe(self) -> str:
        """What the scatter shows, in one sentence."""
        text = f"z of epoch {self.epoch} ({self.kind}); {self.projection}"
        if len(self.indices) < self.n_samples:
            text += f"; drawing {count(len(self.indices))} of {count(self.n_samples)} points"
        return text + "."


def latent_points(run, epoch: int = -1, kind: str | None = None, *, method: str = "pca",
                  max_points: int | None = 5000, seed: int = 0) -> LatentPoints:
    """2-D points of one epoch's z: PCA fitted on all N rows; t-SNE / UMAP on the drawn rows only.

    Example:
        >>> pts = latent_points(zlens.open_run("runs/digits"), epoch=-1, method="pca")
        >>> pts.points.shape, pts.describe()
    """
    method = check_method(method)
    kind = run.resolve_kind(kind)
    epoch = run.epochs[run.slot_of(epoch)]
    z = np.asarray(run.tap_array("z", kind)[run.slot_of(epoch)])
    indices = draw_indices(run.n_samples, max_points, seed)
    projection = Projection(method, seed=seed)
    if method == "pca" or z.reshape(len(z), -1).shape[1] <= 2:
        points = projection.fit(z).transform(z[indices])
        where = f"fitted on all {count(len(z))} samples" if projection.kind_ == "pca" else ""
    else:
        points = projection.fit_transform(z[indices])
        where = f"fitted on the {count(len(indices))} drawn samples" if len(indices) < len(z) else ""
    text = projection.describe() + (f", {where}" if where else "")
    return LatentPoints(epoch, kind, points, indices, text, projection.axis_labels(), run.n_samples)
