"""`zlens train --validation-data`: held-out samples read like --data, their z every epoch, shown
by info, checked by info --verify, exported with --split validation, reloaded by --resume."""

import json

import numpy as np
import pandas as pd
import pytest

import zlens
from zlens import cli


@pytest.fixture
def mnist_like(tmp_path):
    """A Keras mnist.npz layout: uint8 images, x_train/y_train and x_test/y_test."""
    rng = np.random.default_rng(0)
    path = tmp_path / "tiny.npz"
    np.savez(path, x_train=rng.integers(0, 256, (120, 6, 6), dtype=np.uint8), y_train=np.arange(120) % 10,
             x_test=rng.integers(0, 256, (30, 6, 6), dtype=np.uint8), y_test=np.arange(30) % 3)
    return path


@pytest.mark.slow
def test_train_with_validation_data_then_info_export_verify_and_resume(tmp_path, mnist_like, capsys):
    run_dir = tmp_path / "run"
    assert cli.main(["train", "--data", str(mnist_like), "--flatten", "--validation-data", str(mnist_like),
                     "--validation-key", "test", "--epochs", "2", "--encoding-dim", "2", "--seed", "0",
                     "--out", str(run_dir)]) == 0
    assert "validation on" in capsys.readouterr().err
    run = zlens.open_run(run_dir)
    x_test = np.load(mnist_like)["x_test"].reshape(30, 36) / 255.0  # scaled as the training pixels were
    np.testing.assert_allclose(run.z(split="validation"), zlens.encode(run.model, x_test.astype("float32")),
                               atol=1e-6)
    np.testing.assert_array_equal(run.labels_of("validation"), np.arange(30) % 3)

    assert cli.main(["info", str(run_dir)]) == 0
    assert "held out  30 validation samples (labelled): their consistent z" in capsys.readouterr().out
    assert cli.main(["info", str(run_dir), "--json"]) == 0
    splits = json.loads(capsys.readouterr().out)["splits"]
    assert splits["validation"] == {"n_samples": 30, "labelled": True, "kinds": ["consistent"]}
    assert cli.main(["info", str(run_dir), "--verify"]) == 0
    assert "12 latent matrices read" in capsys.readouterr().out  # 2 epochs x 2 taps x (2 kinds + validation)

    out = tmp_path / "z_val.csv"
    assert cli.main(["export", str(run_dir), "--split", "validation", "--out", str(out)]) == 0
    table = pd.read_csv(out)
    assert list(table.columns) == ["index", "label", "z_0", "z_1"] and len(table) == 30
    np.testing.assert_allclose(table[["z_0", "z_1"]].to_numpy(), run.z(split="validation"), rtol=1e-6)
    assert cli.main(["export", str(run_dir), "--split", "validation", "--kind", "in-flight",
                     "--out", str(out)]) == 2
    assert "no in-flight z" in capsys.readouterr().err

    assert cli.main(["train", "--resume", str(run_dir), "--epochs", "3"]) == 0  # reloads --validation-data itself
    again = zlens.open_run(run_dir)
    assert again.epochs == [0, 1, 2] and again.tap_array("z", split="validation").shape == (3, 30, 2)


def test_validation_options_without_validation_data_are_refused_in_one_line(tmp_path, capsys):
    assert cli.main(["train", "--validation-key", "test", "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert "give it" in err and "--validation-data FILE" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "run").exists()


def test_resume_reloads_the_recorded_validation_file_and_refuses_another(tmp_path, capsys):
    assert cli.main(["train", "--resume", str(tmp_path / "run"), "--validation-data", "other.npy"]) == 2
    err = capsys.readouterr().err
    assert "reloads that file" in err and len(err.strip().splitlines()) == 1
