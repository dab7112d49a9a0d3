"""The figures as a reader sees them: every panel titled, legends where colours or lines need
one, and no text cut off or overlapping (matplotlib's own extents of every text, once drawn)."""

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from PIL import Image

import zlens.plot
from zlens.report.colors import label_coloring
from zlens.report.frames import frame_limits, latent_frames, motion_figure, write_gif

FIGURES = ["latent_scatter", "loss_curves", "recon_error_histogram", "separation_curve", "movement"]


def _drawn(fig):
    FigureCanvasAgg(fig)
    fig.canvas.draw()
    return fig.canvas.get_renderer()


def _texts(fig):
    return [t for t in fig.findobj(lambda a: hasattr(a, "get_text") and hasattr(a, "get_window_extent"))
            if t.get_visible() and t.get_text().strip()]


@pytest.mark.parametrize("name", FIGURES)
def test_every_text_lies_inside_the_figure(small_run, name):
    fig = getattr(zlens.plot, name)(small_run)
    renderer = _drawn(fig)
    tight, page = fig.get_tightbbox(renderer), fig.bbox_inches  # what is drawn, in inches
    assert tight.x0 >= page.x0 - 0.01 and tight.y0 >= page.y0 - 0.01 and tight.x1 <= page.x1 + 0.01 and \
        tight.y1 <= page.y1 + 0.01, f"{name}: something drawn lies outside the figure ({tight} vs {page})"
    ticks = {id(t) for ax in fig.axes for t in ax.get_xticklabels() + ax.get_yticklabels()}
    canvas = fig.bbox
    for text in _texts(fig):
        if id(text) in ticks:
            continue  # in the tight box above: only the ticks in view are drawn
        box = text.get_window_extent(renderer)
        assert box.x0 >= canvas.x0 - 1 and box.x1 <= canvas.x1 + 1 and box.y0 >= canvas.y0 - 1 and \
            box.y1 <= canvas.y1 + 1, f"{name}: {text.get_text()!r} is cut off ({box} outside {canvas})"


@pytest.mark.parametrize("name", FIGURES)
def test_every_panel_has_a_title_and_labelled_colours_have_a_legend(small_run, name):
    fig = getattr(zlens.plot, name)(small_run)
    for ax in fig.axes:
        assert ax.get_title().strip(), f"{name}: a panel without a title"
    if name == "latent_scatter":
        assert fig.axes[0].get_legend() is not None  # the run has 4 labels


def test_the_movement_labels_do_not_overlap(small_run):
    fig = zlens.plot.movement(small_run, n=10)
    renderer = _drawn(fig)
    labels = [t for t in _texts(fig) if t.get_text().startswith("#")]
    assert len(labels) == 5
    from matplotlib.text import Text

    boxes = [Text.get_window_extent(t, renderer) for t in labels]  # the text alone, not its line
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert not a.overlaps(b), "two sample numbers overlap"


def test_the_animation_has_a_legend_and_its_title_fits(small_run, tmp_path):
    frames = latent_frames(small_run)
    fig, ax, _, heading = motion_figure(frames, label_coloring(small_run.labels, small_run.n_samples))
    assert ax.get_legend() is not None and len(ax.get_legend().get_texts()) == 4
    n = len(frames.epochs)
    heading.set_text(f"z, epoch {frames.epochs[-1]}  ({n}/{n}; axes follow the points)")
    renderer = _drawn(fig)
    box = heading.get_window_extent(renderer)
    assert box.x0 >= 0 and box.x1 <= fig.bbox.x1 and box.y1 <= fig.bbox.y1
    path = write_gif(frames, tmp_path / "motion.gif", label_coloring(small_run.labels, small_run.n_samples))
    with Image.open(path) as gif:
        assert gif.n_frames == len(frames.epochs)


def test_a_tight_early_cluster_fills_its_frame_instead_of_sitting_at_the_edge():
    """The first epochs' z is often a small cluster; the whole run's extent is far wider."""
    cluster = np.random.default_rng(0).normal([9.0, 9.0], 0.05, size=(500, 2))
    whole = (-10.0, 10.0, -10.0, 10.0)
    xmin, xmax, ymin, ymax = frame_limits(cluster, whole)
    assert xmin < 9.0 < xmax and ymin < 9.0 < ymax
    assert (xmax - xmin) < 1.0 and (ymax - ymin) < 1.0  # the cluster fills the view
    inside = (cluster[:, 0] > xmin) & (cluster[:, 0] < xmax) & (cluster[:, 1] > ymin) & (cluster[:, 1] < ymax)
    assert inside.mean() > 0.97
    assert frame_limits(np.array([[-50.0, 0.0], [50.0, 1.0]]), whole)[:2] == (-10.0, 10.0)  # never wider than the run
