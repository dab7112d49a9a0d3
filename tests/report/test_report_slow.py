"""Slow report tests: the size the issue names (100 epochs of 70,000 x 32) and an image run's grid."""

import time

import numpy as np
import pytest

from zlens.report import build_report
from zlens.store import LatentStore, RunDirectory

EPOCHS, N, D = 100, 70_000, 32


def make_big_run(path):
    """A run directory of 100 epochs of 70,000 x 32 z (+ recon_error, labels, history), no training."""
    directory = RunDirectory.create(path, config={"epochs": EPOCHS}, data={"shape": [N, 64]}, seed=0,
                                    versions={})
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, N)
    store = LatentStore.create(directory.latents_path, n_samples=N, taps={"z": (D,), "recon_error": ()},
                               kinds=["in-flight"], labels=labels)
    centers = rng.normal(size=(10, D)).astype("float32")
    for epoch in range(EPOCHS):
        z = centers[labels] * (epoch / EPOCHS) + rng.normal(size=(N, D)).astype("float32")
        error = rng.random(N, dtype=np.float32) / (epoch + 1)
        store.write_epoch(epoch, {"in-flight": {"z": z, "recon_error": error}})
        directory.record_epoch(epoch, {"loss": 1 / (epoch + 1), "val_loss": 1.1 / (epoch + 1)}, checkpoint=None)
    directory.set_status("finished")
    return path


@pytest.mark.slow
def test_report_of_100_epochs_of_70000_by_32(tmp_path):
    run_dir = make_big_run(tmp_path / "big")
    started = time.perf_counter()
    page = build_report(run_dir)
    seconds = time.perf_counter() - started
    print(f"\nbuild_report: {EPOCHS} epochs x {N:,} x {D}: {seconds:.1f} s, page {page.stat().st_size / 1e6:.2f} MB, "
          f"GIF {(run_dir / 'latent_motion.gif').stat().st_size / 1e6:.2f} MB")
    text = page.read_text()
    assert "Drawing 5,000 of 70,000 points; numbers use all unless a note says otherwise." in text
    assert "50 frames (50 evenly spaced of the 100 captured epochs)" in text
    assert "drawing the same 2,000 of 70,000 samples in every frame" in text
    assert "k-NN uses a fixed random 5,000 of the 70,000 samples" in text
    assert "silhouette uses a fixed random 1,000 of the 70,000 samples" in text
    assert "measured at 51 evenly spaced of the 100 captured epochs" in text \
        or "measured at 50 evenly spaced of the 100 captured epochs" in text
    assert "all 70,000 samples" in text  # the error histogram and movement use every sample
    assert page.stat().st_size < 5e6  # stays light in a browser


@pytest.mark.slow
def test_image_run_shows_inputs_beside_reconstructions(tmp_path):
    import zlens
    from zlens.data import load_data
    from zlens.plot import reconstruction_grid

    rng = np.random.default_rng(0)
    images = np.zeros((64, 28, 28), "uint8")
    for i in range(64):  # bright squares at different places: easy to see in the grid
        r, c = rng.integers(0, 20, 2)
        images[i, r:r + 8, c:c + 8] = 255
    labels = np.arange(64) % 4
    np.savez(tmp_path / "mnist.npz", x_train=images, y_train=labels, x_test=images[:8], y_test=labels[:8])
    load = {"path": str(tmp_path / "mnist.npz"), "label_column": None, "labels_path": None, "key": None,
            "flatten": False, "scale": "auto"}
    source = load_data(**load)
    run = zlens.fit("conv", source.to_numpy(), epochs=2, labels=source.labels, run_dir=tmp_path / "img",
                    capture="both", seed=0, data_info={"source": source.name, "load": load})
    text = build_report(run).read_text()
    assert '<section id="reconstructions">' in text and "Reconstructions (final model)" in text
    assert 'alt="inputs and reconstructions"' in text
    fig = reconstruction_grid(run, n=4)
    assert len(fig.subfigs) == 2  # spread samples, and the largest errors
