"""The figures (`zlens.plot`) and the pieces under them: projections, subsets, separation, movement."""

import numpy as np
import pytest
from matplotlib.figure import Figure

import zlens.plot
from zlens.errors import ZlensError
from zlens.report._html import safe_json
from zlens.report.analysis import class_labels, movement_scores, separation_scores
from zlens.report.frames import latent_frames
from zlens.report.images import image_shape
from zlens.report.projection import Projection
from zlens.report.sampling import draw_indices, spaced_epochs


@pytest.mark.parametrize("name", ["latent_scatter", "loss_curves", "recon_error_histogram", "separation_curve",
                                  "movement"])
def test_each_figure_is_a_matplotlib_figure_that_saves(small_run, tmp_path, name):
    fig = getattr(zlens.plot, name)(small_run)
    assert isinstance(fig, Figure)
    fig.savefig(tmp_path / f"{name}.png")
    assert (tmp_path / f"{name}.png").stat().st_size > 5000


def test_reconstruction_grid_explains_why_it_cannot_draw(small_run):
    with pytest.raises(ZlensError, match="cannot be reloaded"):
        zlens.plot.reconstruction_grid(small_run)
    x = np.zeros((small_run.n_samples, 16), "float32")
    with pytest.raises(ZlensError, match="not images"):
        zlens.plot.reconstruction_grid(small_run, x=x)


def test_scatter_title_says_what_is_drawn(small_run):
    fig = zlens.plot.latent_scatter(small_run, epoch=0, kind="consistent", max_points=20)
    title = fig.axes[0].get_title()
    assert "epoch 0 (consistent)" in title and "drawing 20 of 200 points" in title
    assert fig.axes[0].get_legend() is not None  # coloured by label


def test_identity_for_d2_and_pca_held_fixed():
    z = np.random.default_rng(0).normal(size=(50, 2)).astype("float32")
    p = Projection("pca").fit(z)
    np.testing.assert_array_equal(p.transform(z), z)
    assert p.describe() == "z itself (d = 2, no projection)"
    z8 = np.random.default_rng(1).normal(size=(60, 8)).astype("float32")
    p8 = Projection("pca").fit(z8)
    moved = z8 + 1.0
    # fitted once: the same map applies to another epoch, so a shift in z is a shift on screen
    np.testing.assert_allclose(p8.transform(moved) - p8.transform(z8),
                               np.broadcast_to(p8.transform(moved[:1]) - p8.transform(z8[:1]), (60, 2)), atol=1e-5)
    assert p8.describe().startswith("PCA of z (d = 8; PC1 ")


def test_tsne_embeds_only_what_it_was_fitted_on():
    z = np.random.default_rng(0).normal(size=(40, 5)).astype("float32")
    p = Projection("tsne")
    assert p.fit_transform(z).shape == (40, 2)
    with pytest.raises(ZlensError, match="t-SNE cannot project rows"):
        p.transform(z)


def test_subsets_are_fixed_sorted_and_said():
    a, b = draw_indices(70_000, 5000), draw_indices(70_000, 5000)
    np.testing.assert_array_equal(a, b)
    assert len(a) == 5000 and np.all(np.diff(a) > 0)
    epochs = spaced_epochs(list(range(100)), 50, keep=(37,))
    assert epochs[0] == 0 and epochs[-1] == 99 and 37 in epochs and len(epochs) <= 51


def test_frames_follow_the_same_samples_under_one_projection(small_run):
    frames = latent_frames(small_run, max_points=30)
    assert frames.points.shape == (len(small_run.epochs), 30, 2)
    np.testing.assert_array_equal(frames.points[-1], small_run.z()[frames.indices])  # d = 2: z itself
    assert "drawing the same 30 of 200 samples in every frame" in frames.describe()


def test_separation_and_movement_numbers(small_run):
    sep = separation_scores(small_run)
    assert sep.epochs == small_run.epochs and sep.n_train + sep.n_test == small_run.n_samples
    assert all(0 <= a <= 1 for a in sep.knn_accuracy) and all(-1 <= s <= 1 for s in sep.silhouette)
    assert sep.notes == []  # 200 samples: nothing subsampled
    moved = movement_scores(small_run)
    expected = np.linalg.norm(small_run.z(-1) - small_run.z(0), axis=1)
    np.testing.assert_allclose(moved.displacement, expected, rtol=1e-6)
    assert moved.top("displacement", 1)[0] == int(np.argmax(expected))


def test_class_labels_and_image_shapes():
    assert class_labels(None) is None
    assert class_labels(np.linspace(0, 1, 300)) is None
    codes, names = class_labels(np.array([3.0, 1.0, 3.0]))
    assert codes.tolist() == [1, 0, 1] and names.tolist() == [1.0, 3.0]
    assert image_shape((28, 28, 1)) == (28, 28) and image_shape((64,), "digits") == (8, 8)
    assert image_shape((16,)) is None


def test_json_embedded_in_the_page_cannot_close_its_script():
    text = safe_json({"label": "</script><script>alert(1)</script>", "amp": "a & b"})
    assert "<" not in text and ">" not in text and "&" not in text
    import json

    assert json.loads(text)["label"] == "</script><script>alert(1)</script>"
