"""One preprocessing rule through the CLI: `zlens train` says truthfully what it did to the
values, records it, and `zlens encode` / `--resume` / `zlens.resume` apply exactly that rule
(checked against scikit-learn's scaler applied by hand), tables' label columns included.

In-process (`zlens.cli.main`), so TensorFlow starts once for the file."""

import json

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.preprocessing import MinMaxScaler

import zlens
from zlens.cli import main
from zlens.errors import RunError

QUICK = ("--epochs", "1", "--batch-size", "128", "--encoding-dim", "2", "--seed", "0", "--capture", "consistent")


def _zlens(capsys, *args) -> tuple[int, str]:
    code = main([str(a) for a in args])
    return code, capsys.readouterr().err


def _final_z(run_dir) -> np.ndarray:
    return zlens.open_run(run_dir).z(kind="consistent")


@pytest.mark.slow
def test_uint8_images_are_divided_by_255_and_encode_applies_the_same(tmp_path, capsys):
    pixels = np.random.default_rng(0).integers(0, 200, size=(96, 8, 8), dtype=np.uint8)
    np.save(tmp_path / "px.npy", pixels)
    code, err = _zlens(capsys, "train", "--data", tmp_path / "px.npy", "--flatten", "--out", tmp_path / "run", *QUICK)
    assert code == 0, err
    hi = int(pixels.max())
    assert f"scaled by 1/255 (uint8 range 0..255): values 0..{hi} -> [0, {hi / 255:.3g}]" in err  # not "[0, 1]"
    record = json.loads((tmp_path / "run" / "run.json").read_text())["data"]["preprocess"]
    assert record["method"] == "range" and record["range"] == [0.0, pytest.approx(hi / 255)]
    code, err = _zlens(capsys, "encode", tmp_path / "run", "--data", tmp_path / "px.npy", "--out", tmp_path / "z.npy")
    assert code == 0, err
    z = np.load(tmp_path / "z.npy")
    np.testing.assert_allclose(z, _final_z(tmp_path / "run"), rtol=1e-5, atol=1e-6)  # what training saw
    by_hand = (pixels.reshape(96, -1) / 255).astype("float32")
    np.testing.assert_allclose(z, zlens.encode(zlens.open_run(tmp_path / "run").model, by_hand), rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_the_digits_are_scaled_one_way_embedded_as_an_int_npy_and_through_zlens_fit(tmp_path, capsys):
    raw = load_digits().data
    np.save(tmp_path / "digits.npy", raw.astype("int64"))
    runs = {}
    for name, data in (("embedded", ()), ("npy", ("--data", tmp_path / "digits.npy"))):
        code, err = _zlens(capsys, "train", *data, "--out", tmp_path / name, *QUICK)
        assert code == 0, err
        assert "scaled 0..16 -> [0, 1] per feature (min-max)" in err
        runs[name] = json.loads((tmp_path / name / "run.json").read_text())["data"]["preprocess"]
    runs["fit"] = zlens.fit("dense", raw, epochs=1, encoding_dim=2, seed=0, verbose=0).preprocessing
    by_hand = MinMaxScaler().fit(raw)
    for record in runs.values():
        np.testing.assert_allclose(record["fitted"]["scale_"], by_hand.scale_)  # scikit-learn's own names
        np.testing.assert_allclose(record["fitted"]["min_"], by_hand.min_)
    z_cli = _final_z(tmp_path / "npy")
    np.testing.assert_allclose(z_cli, _final_z(tmp_path / "embedded"), rtol=1e-5, atol=1e-6)  # the same run
    model = zlens.open_run(tmp_path / "npy").model
    np.testing.assert_allclose(z_cli, zlens.encode(model, by_hand.transform(raw).astype("float32")),
                               rtol=1e-5, atol=1e-5)


@pytest.mark.slow
def test_a_table_with_a_target_column_trains_on_its_features_and_encode_reads_the_recorded_columns(tmp_path, capsys):
    cancer = load_breast_cancer(as_frame=True).frame  # 30 features up to 4254, then "target"
    cancer.to_csv(tmp_path / "cancer.csv", index=False)
    code, err = _zlens(capsys, "train", "--data", tmp_path / "cancer.csv", "--out", tmp_path / "run", *QUICK)
    assert code == 0, err
    assert "column 'target' taken as the labels, not trained on" in err and "per feature (min-max)" in err
    data = json.loads((tmp_path / "run" / "run.json").read_text())["data"]
    features = [c for c in cancer.columns if c != "target"]
    assert data["feature_columns"] == features and data["label_column"] == "target" and data["shape"] == [569, 30]
    assert zlens.open_run(tmp_path / "run").labels.tolist() == cancer["target"].tolist()

    shuffled = cancer[["target", *reversed(features)]]  # another column order, the label column first
    shuffled.to_csv(tmp_path / "new.csv", index=False)
    code, err = _zlens(capsys, "encode", tmp_path / "run", "--data", tmp_path / "new.csv", "--out", tmp_path / "z.npy")
    assert code == 0, err
    z = np.load(tmp_path / "z.npy")
    np.testing.assert_allclose(z, _final_z(tmp_path / "run"), rtol=1e-5, atol=1e-5)
    by_hand = MinMaxScaler().fit_transform(cancer[features].to_numpy()).astype("float32")
    np.testing.assert_allclose(z, zlens.encode(zlens.open_run(tmp_path / "run").model, by_hand), rtol=1e-5, atol=1e-5)

    code, err = _zlens(capsys, "train", "--resume", tmp_path / "run", "--epochs", 2)  # no flag repeated
    assert code == 0, err
    assert zlens.open_run(tmp_path / "run").epochs == [0, 1]


def test_standard_scaling_with_a_sigmoid_output_is_refused_before_training(tmp_path, capsys):
    code, err = _zlens(capsys, "train", "--scale", "standard", "--out", tmp_path / "run", *QUICK)
    assert code == 2
    line = err.strip().splitlines()[-1]
    assert line.startswith("zlens train: error: the prepared data lies in [") and "standardized per feature" in line
    assert "output activation is sigmoid, which reaches only [0, 1]" in line and "--scale minmax" in line
    assert not (tmp_path / "run" / "latents.zarr").exists()


@pytest.mark.slow
def test_resume_of_a_cli_run_takes_the_raw_digits_and_names_what_differs_otherwise(tmp_path, capsys):
    code, err = _zlens(capsys, "train", "--out", tmp_path / "run", *QUICK)
    assert code == 0, err
    raw = load_digits().data
    with pytest.raises(RunError, match=r"content hash mismatch\): it was trained on digits \(float64, values "
                                       r"0\.\.16 as given, then scaled 0\.\.16 -> \[0, 1\] per feature \(min-max\)\); "
                                       r"this data is float64 \(1797, 64\) with values from 0 to 1.*--resume"):
        zlens.resume(tmp_path / "run", raw / 16, epochs=2, verbose=0)
    resumed = zlens.resume(tmp_path / "run", raw, epochs=2, verbose=0)  # as the CLI was given them: raw
    assert resumed.epochs == [0, 1] and resumed.status == "finished"
