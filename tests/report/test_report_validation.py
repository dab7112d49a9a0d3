"""The report's training vs validation view: both splits under one projection, both errors per epoch."""

import numpy as np
import pytest

import zlens
from zlens.errors import ZlensError
from zlens.report import build_report
from zlens.report.held_out import error_means, validation_section
from zlens.report.projection import Projection


def test_validation_points_are_drawn_under_the_training_projection(small_run):
    fig = zlens.plot.train_vs_validation(small_run, epoch=-1)
    left, right = fig.axes[:2]
    projection = Projection("pca").fit(small_run.z(-1, "consistent"))
    np.testing.assert_allclose(right.collections[0].get_offsets(),
                               projection.transform(small_run.z(-1, split="validation")), rtol=1e-5)
    assert len(left.collections[0].get_offsets()) == small_run.n_samples
    assert "validation: 40 samples (consistent)" in right.get_title()


def test_validation_errors_are_each_epochs_mean_over_each_split(small_run):
    epochs, train, val = error_means(small_run)
    assert epochs == small_run.epochs
    for i, e in enumerate(epochs):
        assert train[i] == pytest.approx(small_run.recon_error(e, "consistent").mean(), rel=1e-6)
        assert val[i] == pytest.approx(small_run.recon_error(e, split="validation").mean(), rel=1e-6)
    assert "gap" in zlens.plot.validation_errors(small_run).axes[0].get_title()


def test_the_page_shows_the_validation_section(small_run, tmp_path):
    page = build_report(small_run, tmp_path / "r.html", gif=False).read_text()
    assert '<section id="validation">' in page and 'href="#validation"' in page
    assert "40 held-out samples" in page and "validation error" in page


def test_a_run_without_validation_samples_says_so(x_small):
    run = zlens.fit("dense", x_small, epochs=1, batch_size=64, seed=0, verbose=0)
    with pytest.raises(ZlensError, match="no validation samples: train with validation_data="):
        zlens.plot.train_vs_validation(run)
    assert validation_section(run, -1, 5000) == ""  # the page has no such section
