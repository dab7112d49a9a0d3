"""`build_report`: a self-contained page with every section, the run's numbers, escaped labels, a GIF."""

import re

import numpy as np
import pytest
from PIL import Image
from report_data import HOSTILE, make_data

import zlens
from zlens.errors import ZlensError
from zlens.report import build_report, projection
from zlens.report.analysis import separation_scores

NETWORK = ("http://", "https://", "//cdn", "<link", 'src="http', "src='http", "@import", "url(", "ftp://",
           'src="//', 'href="//', "xmlns")


@pytest.fixture(scope="module")
def page(small_run):
    path = build_report(small_run)
    return path, path.read_text(encoding="utf-8")


def test_report_is_written_beside_the_run_with_a_gif(small_run, page):
    path, _ = page
    assert path == small_run.path / "report.html"
    gif = small_run.path / "latent_motion.gif"
    with Image.open(gif) as image:
        assert image.format == "GIF" and image.n_frames == len(small_run.epochs)


def test_every_section_is_there(page):
    _, text = page
    for anchor in ("summary", "loss", "latent", "motion", "errors", "separation"):
        assert f'<section id="{anchor}">' in text, anchor
    assert 'id="reconstructions"' not in text  # 16 features are not images
    assert '<canvas id="zl-scatter"' in text and '<canvas id="zl-motion"' in text
    assert 'id="zl-scatter-data"' in text and 'id="zl-frames-data"' in text
    assert text.count("data:image/png;base64,") >= 4  # loss, histogram, movement, separation


def test_the_runs_numbers_appear(small_run, page):
    _, text = page
    history = small_run.history
    assert f"{history['loss'][-1]:.4g}" in text
    assert f"{history['val_loss'][-1]:.4g}" in text
    assert f"{history['z_drift_max'][-1]:.4g}" in text
    sep = separation_scores(small_run)
    assert f"{sep.knn_accuracy[-1]:.3f}" in text
    assert "5-NN held-out accuracy, epoch 2" in text
    # d = 2: the latent itself is drawn, and the page says which projection it uses
    assert "z itself (d = 2, no projection)" in text
    # all 200 samples are drawn: no subsampling claimed
    assert "Drawing " not in text


def test_labels_from_the_data_are_escaped(page):
    _, text = page
    assert HOSTILE not in text
    assert "alert(1)" in text  # it is there, but only escaped
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text  # in the legend and tables
    assert "\\u003cscript\\u003ealert(1)\\u003c/script\\u003e" in text  # in the embedded JSON
    assert "cat &amp; dog" in text
    assert len(re.findall(r"<script\b", text)) == 3  # two JSON blocks and the page's own script
    assert len(re.findall(r"</script", text)) == 3


def test_no_network_references(page):
    _, text = page
    lowered = text.lower()
    for marker in NETWORK:
        assert marker not in lowered, marker
    for attribute in re.findall(r'(?:src|href)="([^"]*)"', text):
        assert attribute.startswith(("data:", "#")), attribute


def test_subsampling_is_said_on_the_page(small_run, tmp_path):
    text = build_report(small_run, tmp_path / "r.html", max_points=50, gif=False).read_text()
    assert "Drawing 50 of 200 points; numbers use all" in text
    assert "drawing 50 of 200 points" in text
    assert not (tmp_path / "latent_motion.gif").exists()


def test_a_chosen_epoch_and_kind(small_run, tmp_path):
    text = build_report(small_run, tmp_path / "r.html", epoch=0, kind="consistent").read_text()
    assert "Latent space, epoch 0" in text and "z of epoch 0 (consistent)" in text


def test_without_umap_the_method_names_the_extra_and_the_report_still_builds(small_run, tmp_path, monkeypatch):
    monkeypatch.setattr(projection, "umap_installed", lambda: False)
    with pytest.raises(ZlensError, match=r'pip install "zlens\[umap\]"'):
        projection.Projection("umap")
    with pytest.raises(ZlensError, match="umap-learn"):
        zlens.report.latent_scatter(small_run, method="umap")
    text = build_report(small_run, tmp_path / "umap.html", method="umap").read_text()
    assert "zlens[umap]" in text and "This page uses PCA instead." in text
    assert build_report(small_run, tmp_path / "pca.html", method="pca").is_file()


def test_bad_arguments_are_one_line_errors(small_run, tmp_path):
    with pytest.raises(ZlensError, match="projection method must be one of"):
        build_report(small_run, tmp_path / "r.html", method="lda")
    with pytest.raises(ZlensError, match="max_points"):
        build_report(small_run, tmp_path / "r.html", max_points=0)
    with pytest.raises(ZlensError, match="was not captured"):
        build_report(small_run, tmp_path / "r.html", epoch=7)
    with pytest.raises(ZlensError, match="does not exist"):
        build_report(small_run, tmp_path / "missing" / "r.html")
    with pytest.raises(ZlensError, match="not a zlens run directory"):
        build_report(tmp_path)


def test_a_path_works_like_a_run(small_run, tmp_path):
    out = build_report(str(small_run.path), tmp_path / "from_path.html", gif=False)
    assert f"zlens report: {small_run.path.name}" in out.read_text()


def test_tsne_is_used_for_the_scatter_and_pca_holds_the_animation(tmp_path):
    x, labels = make_data(n=120)
    run = zlens.fit("dense", x, epochs=2, encoding_dim=4, labels=labels, run_dir=tmp_path / "d4", seed=0)
    text = build_report(run, method="tsne", gif=False).read_text()
    assert "t-SNE of z (d = 4)" in text
    assert "t-SNE cannot hold a projection fixed across epochs, so the animation uses PCA" in text
    assert np.isfinite(run.z()).all()
