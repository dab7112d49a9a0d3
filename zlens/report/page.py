"""`build_report`: one self-contained HTML page about a run (every asset inline), plus a GIF beside it.

It reads the store one epoch at a time, draws subsets where there are too many points, and says so.
"""

from __future__ import annotations

import base64
import os
import time
from pathlib import Path

import numpy as np

from zlens.errors import ZlensError
from zlens.report import _html as h
from zlens.report import figures
from zlens.report._assets import CSS, JS
from zlens.report.analysis import (
    class_labels,
    movement_scores,
    plan_separation,
    read_epochs,
    separation_at,
    separation_from,
)
from zlens.report.colors import label_coloring
from zlens.report.frames import FRAME_POINTS, frames_from_rows, latent_points, write_gif
from zlens.report.held_out import validation_section
from zlens.report.projection import check_method
from zlens.report.sampling import MAX_FRAMES, check_max_points, count, draw_indices, spaced_epochs
from zlens.store.run_directory import atomic_write_text

GIF_NAME = "latent_motion.gif"
FPS = 4
NAV = (("summary", "Summary"), ("loss", "Loss"), ("latent", "Latent space"), ("motion", "Motion"),
       ("validation", "Validation"), ("reconstructions", "Reconstructions"), ("errors", "Errors"),
       ("separation", "Separation"))


def build_report(run_or_path, out_html: str | Path | None = None, *, epoch: int = -1, method: str = "pca",
                 max_points: int | None = 5000, kind: str | None = None, gif: bool = True) -> Path:
    """Write a self-contained HTML report of a run (and `latent_motion.gif` beside it); returns the page's path.

    The page shows the loss curves and drift, the latent scatter of `epoch` (hover a point for
    its sample index and label), an animation of z over the captured epochs under one fixed
    projection, inputs beside reconstructions (image data), the reconstruction-error histogram
    and the samples that moved most, and k-NN / silhouette separation per epoch (labels); for a
    run trained with validation data, its samples' z beside the training samples' under one
    projection, and both reconstruction errors per epoch (what overfitting looks like).
    Everything is inline: the page needs no network. Above `max_points` samples, a fixed
    random subset is drawn and the page says so; numbers use all samples unless it says otherwise.

    Args:
        run_or_path: a `Run`, or the path of a run directory.
        out_html: where to write the page (default: RUN/report.html).
        epoch: the epoch of the scatter (a captured epoch number; -1, the default, is the last).
        method: "pca" (default), "tsne" or "umap"; with d = 2 the latent itself is drawn. When
            UMAP is asked for but not installed, the page uses PCA and says how to install it.
        max_points: draw at most this many points (None: all).
        kind: "in-flight" or "consistent" (default: the run's kind).
        gif: also write the animation as `latent_motion.gif` beside the page.

    Example:
        >>> path = zlens.report.build_report("runs/digits")          # runs/digits/report.html
        >>> path = build_report(run, "out/digits.html", method="tsne", max_points=3000)
    """
    started = time.perf_counter()
    run = _as_run(run_or_path)
    max_points = check_max_points(max_points)
    if not run.epochs:
        raise ZlensError(f"{run.path} has no committed epoch yet: nothing to report.")
    kind = run.resolve_kind(kind)
    epoch = run.epochs[run.slot_of(epoch)]
    out_html = _page_path(run, out_html)
    warnings, method = _usable_method(method)

    coloring = label_coloring(run.labels, run.n_samples)
    pts = latent_points(run, epoch, kind, method=method, max_points=max_points)
    frames, sep = _scan(run, kind, epoch, method, max_points)
    moved = movement_scores(run, kind)
    gif_path = out_html.with_name(GIF_NAME) if gif else None
    if gif_path is not None:
        write_gif(frames, gif_path, coloring, fps=FPS, title=f"z ({kind})")

    body = [
        _summary(run, kind, epoch, pts, sep, warnings),
        h.section("loss", "Loss and drift", h.figure_img(figures.loss_curves(run), "loss and drift per epoch"),
                  _metrics_table(run)),
        _scatter_section(run, pts, coloring),
        _motion_section(frames, coloring, gif_path),
        validation_section(run, epoch, max_points),
        _reconstruction_section(run, kind),
        _error_section(run, epoch, kind, moved),
        _separation_section(run, sep, epoch),
    ]
    seconds = time.perf_counter() - started
    body.append(h.note(f"Built by zlens in {seconds:.1f} s. Numbers use all {count(run.n_samples)} samples "
                       "unless a note beside them says otherwise."))
    atomic_write_text(out_html, _document(run, [b for b in body if b]))
    return out_html


def _page_path(run, out_html: str | Path | None) -> Path:
    """Where the page goes: `out_html`, or RUN/report.html; its folder must exist."""
    if out_html is None:
        if run.path is None:
            raise ZlensError("this run lives in memory: pass out_html='report.html'.")
        out_html = run.path / "report.html"
    out_html = Path(out_html)
    if not out_html.parent.is_dir():
        raise ZlensError(f"cannot write {str(out_html)!r}: folder {str(out_html.parent)!r} does not exist.")
    return out_html


def _document(run, body: list[str]) -> str:
    """The whole HTML page around the report's sections: title, navigation to the sections
    present, the run's header line."""
    nav = [(anchor, text) for anchor, text in NAV if any(f'<section id="{anchor}">' in b for b in body)]
    title = f"zlens report: {run.path.name if run.path else 'run'}"
    header = h.note(f"{run.path or 'in-memory run'} · status {run.status} · {count(run.n_samples)} samples · "
                    f"z of {len(run.epochs)} captured epochs ({', '.join(run.kinds)})")
    return h.page(title, nav, header, "".join(body), CSS, JS)


def _as_run(run_or_path):
    if isinstance(run_or_path, (str, os.PathLike)):
        from zlens.run_open import open_run

        return open_run(run_or_path)
    return run_or_path


def _usable_method(method: str) -> tuple[list[str], str]:
    try:
        return [], check_method(method)
    except ZlensError as err:
        if str(method).lower() != "umap":
            raise
        return [f"{err} This page uses PCA instead."], "pca"


def _scan(run, kind, epoch, method, max_points):
    """One pass over (at most MAX_FRAMES) epochs: the animation's rows and the separation scores."""
    epochs = spaced_epochs(run.epochs, MAX_FRAMES, keep=(epoch,))
    frame_epochs = spaced_epochs(run.epochs, MAX_FRAMES)
    indices = draw_indices(run.n_samples, min(max_points or run.n_samples, FRAME_POINTS))
    classes = class_labels(run.labels)
    plan = None if classes is None else plan_separation(classes[0])
    rows, scores = [], []
    for e, z in read_epochs(run, epochs, kind):
        if e in frame_epochs:
            rows.append(z[indices])
        if plan is not None:
            scores.append(separation_at(z, plan))
    frames = frames_from_rows(rows, frame_epochs, indices, method=method, n_samples=run.n_samples,
                              n_captured=len(run.epochs))
    sep = None
    if plan is not None:
        sep = separation_from(plan, epochs, scores)
        if len(epochs) < len(run.epochs):
            sep.notes.append(f"measured at {len(epochs)} evenly spaced of the {len(run.epochs)} captured epochs")
    return frames, sep


def _summary(run, kind, epoch, pts, sep, warnings) -> str:
    history = run.history
    d = int(np.prod(run.taps["z"]))
    rows = [("latent size d", d), ("samples N", count(run.n_samples)),
            ("captured epochs", f"{len(run.epochs)} ({run.epochs[0]}..{run.epochs[-1]})"),
            ("kind shown", kind), ("scatter epoch", epoch), ("projection", pts.projection),
            ("labels", "none" if run.labels is None else label_coloring(run.labels, run.n_samples).title)]
    for name in ("loss", "val_loss", "z_drift_max"):
        values = [v for v in history.get(name, []) if v is not None]
        if values:
            rows.append((f"final {name}", h.fmt(values[-1])))
    if sep is not None and epoch in sep.epochs:
        at = sep.epochs.index(epoch)
        rows.append((f"{sep.k}-NN held-out accuracy, epoch {epoch}", f"{sep.knn_accuracy[at]:.3f}"))
        rows.append((f"silhouette, epoch {epoch}", h.fmt(sep.silhouette[at], 3)))
        if sep.notes:
            rows.append(("separation computed on", "; ".join(sep.notes) + " (see Label separation)"))
    parts = [h.note(w, "warn") for w in warnings]
    if len(pts.indices) < run.n_samples:
        parts.append(h.note(f"Drawing {count(len(pts.indices))} of {count(run.n_samples)} points; "
                            "numbers use all unless a note says otherwise.", "warn"))
    return h.section("summary", "Summary", *parts, h.table(["", "value"], rows))


def _metrics_table(run) -> str:
    history = run.history
    names = [k for k in history if k != "epoch"]
    if not names or not history["epoch"]:
        return h.note("No metrics recorded yet.")
    last = len(history["epoch"]) - 1
    rows = [(name, h.fmt(history[name][0]), h.fmt(history[name][last])) for name in names]
    return h.table(["metric", f"epoch {history['epoch'][0]}", f"epoch {history['epoch'][last]}"], rows,
                   numeric=[False, True, True])


def _scatter_section(run, pts, coloring) -> str:
    keep = np.all(np.isfinite(pts.points), axis=1)
    xy, idx = pts.points[keep], pts.indices[keep]
    data = {"x": h.numbers(xy[:, 0]), "y": h.numbers(xy[:, 1]), "i": idx.tolist(),
            "c": coloring.codes[idx].tolist(), "palette": coloring.palette,
            "xlabel": pts.axis_labels[0], "ylabel": pts.axis_labels[1]}
    if run.labels is not None:
        if coloring.legend and class_labels(run.labels) is not None:
            data["names"] = [text for text, _ in coloring.legend]
        else:
            data["labels"] = [str(v) for v in np.asarray(run.labels)[idx]]
    parts = [h.note(pts.describe() + " Hover a point for its sample index and label.")]
    if not keep.all():
        parts.append(h.note(f"{count((~keep).sum())} points have non-finite coordinates and are not drawn.", "warn"))
    plot = ('<div class="row"><div class="plot"><canvas id="zl-scatter" class="plot-canvas" '
            f'aria-label="latent scatter"></canvas><div id="zl-tip"></div></div>{_legend(coloring)}</div>')
    return h.section("latent", f"Latent space, epoch {pts.epoch}", *parts, plot,
                     h.json_block("zl-scatter-data", data))


def _motion_section(frames, coloring, gif_path) -> str:
    points = np.nan_to_num(frames.points, nan=0.0, posinf=0.0, neginf=0.0)
    xmin, xmax, ymin, ymax = (v if np.isfinite(v) else 0.0 for v in frames.limits)
    span = np.array([max(xmax - xmin, 1e-12), max(ymax - ymin, 1e-12)])
    quantized = np.clip(np.round((points - [xmin, ymin]) / span * 65535), 0, 65535).astype("<u2")
    data = {"epochs": frames.epochs, "n": int(len(frames.indices)), "lims": [xmin, xmax, ymin, ymax],
            "c": coloring.codes[frames.indices].tolist(), "palette": coloring.palette, "fps": FPS,
            "xlabel": frames.axis_labels[0], "ylabel": frames.axis_labels[1],
            "data": base64.b64encode(quantized.tobytes()).decode("ascii")}
    controls = ('<div class="controls"><button id="zl-play" type="button">Play</button>'
                '<input id="zl-slider" type="range" min="0" value="0" step="1" aria-label="epoch">'
                '<span id="zl-epoch"></span></div>')
    gif = h.note(f"The same animation as a GIF beside this page: {gif_path.name}.") if gif_path else ""
    plot = ('<div class="row"><div class="plot"><canvas id="zl-motion" class="plot-canvas" '
            f'aria-label="latent animation"></canvas></div>{_legend(coloring)}</div>')
    return h.section("motion", "How the latent space moved", h.note(frames.describe()), controls, plot, gif,
                     h.json_block("zl-frames-data", data))


def _legend(coloring) -> str:
    """The colours' legend beside a canvas: what each colour means."""
    rows = "".join(f'<div><span class="sw" style="background:{h.esc(c)}"></span>{h.esc(text)}</div>'
                   for text, c in coloring.legend)
    return f'<div class="legend"><strong>{h.esc(coloring.title)}</strong>{rows}</div>'


def _reconstruction_section(run, kind) -> str:
    from zlens.report.images import image_shape, reconstructions
    from zlens.store import RunDirectory

    shape = None
    if run.path is not None:
        data = RunDirectory.open(run.path).run_json.get("data", {})
        shape = data.get("shape")
        if shape is not None and image_shape(tuple(shape[1:]), data.get("source", "")) is None:
            return ""  # not image data: no grid
    try:
        pairs = reconstructions(run, 8, kind=kind)
    except (ZlensError, OSError) as err:
        return h.section("reconstructions", "Reconstructions", h.note(f"No reconstruction grid: {err}"))
    return h.section("reconstructions", "Reconstructions (final model)",
                     h.figure_img(figures.reconstruction_grid(run, pairs=pairs), "inputs and reconstructions"))


def _error_section(run, epoch, kind, moved) -> str:
    labels = run.labels
    parts = []
    if "recon_error" in run.taps:
        parts.append(h.figure_img(figures.recon_error_histogram(run, epoch, kind), "reconstruction error histogram"))
    else:
        parts.append(h.note("This run did not capture 'recon_error': no error histogram."))
    if moved.first_epoch == moved.last_epoch:
        parts.append(h.note(f"Only epoch {moved.first_epoch} was captured: nothing to compare."))
        return h.section("errors", "Reconstruction error and the samples that moved", *parts)
    parts.append(h.figure_img(figures.movement(run, scores=moved), "samples that moved most"))
    headers = ["sample", "label", "moved in z", f"error, epoch {moved.first_epoch}", f"error, epoch {moved.last_epoch}"]
    for by, what in (("displacement", "position in z"), ("error", "reconstruction error")):
        if by == "error" and moved.error_first is None:
            continue
        rows = [(int(i), "–" if labels is None else labels[i], h.fmt(moved.displacement[i]),
                 h.fmt(None if moved.error_first is None else moved.error_first[i]),
                 h.fmt(None if moved.error_last is None else moved.error_last[i])) for i in moved.top(by, 10)]
        parts.append(f"<h3>Most moved by {h.esc(what)}</h3>")
        parts.append(h.table(headers, rows, numeric=[True, False, True, True, True]))
    parts.append(h.note(f"Distances in z itself (d = {int(np.prod(run.taps['z']))}), between epochs "
                        f"{moved.first_epoch} and {moved.last_epoch}, over all {count(run.n_samples)} samples."))
    return h.section("errors", "Reconstruction error and the samples that moved", *parts)


def _separation_section(run, sep, epoch) -> str:
    if sep is None:
        why = "this run has no labels" if run.labels is None else "its labels are not classes (2 to 100 values)"
        return h.section("separation", "Label separation", h.note(f"Not measured: {why}."))
    rows = [(e, f"{a:.3f}", h.fmt(s, 3)) for e, a, s in zip(sep.epochs, sep.knn_accuracy, sep.silhouette, strict=True)]
    return h.section("separation", "Label separation per epoch", h.note(sep.describe()),
                     h.figure_img(figures.separation_curve(run, scores=sep), "separation per epoch"),
                     "<details><summary>table</summary>" +
                     h.table(["epoch", f"{sep.k}-NN accuracy", "silhouette"], rows, numeric=[True] * 3) +
                     "</details>")
