"""`Run` as a notebook user meets it: a compact repr, an HTML summary, progress by default,
figures that show as pictures."""

import numpy as np

import zlens


def test_repr_is_compact_and_the_notebook_gets_a_table(x_small):
    run = zlens.fit("dense", x_small, epochs=8, batch_size=64, seed=0, verbose=0)
    assert repr(run) == ("Run(101 samples, epochs 0..7 (8), taps ['z', 'recon_error'], kinds ['in-flight'] "
                         "(in memory))")
    page = run._repr_html_()
    assert page.startswith("<table>") and "epochs 0..7 (8)" in page and "recon_error (" in page


def test_fit_shows_keras_progress_by_default(x_small, capfd):
    zlens.fit("dense", x_small, epochs=1, batch_size=64, seed=0)
    out = capfd.readouterr().out
    assert "step" in out and "loss" in out  # the progress bar keras.Model.fit shows


def test_the_default_dense_latent_is_not_collapsed(x_small):
    """At d = 2 a relu code can die (every sample 0 in one dimension): the default code is linear."""
    run = zlens.fit("dense", x_small, epochs=3, batch_size=32, encoding_dim=2, seed=0, verbose=0)
    assert np.all(run.z().std(axis=0) > 1e-4) and (run.z() < 0).any()


def test_figures_show_as_pictures_in_a_notebook(x_small):
    run = zlens.fit("dense", x_small, epochs=1, batch_size=64, encoding_dim=2, seed=0, verbose=0,
                    labels=np.arange(101) % 3)
    png = zlens.plot.latent_scatter(run)._repr_png_()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 1000
