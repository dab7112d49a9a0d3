"""The `zlens` command end to end: real processes, real runs, real files."""

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import zarr

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}


def zlens(*args, check=True):
    proc = subprocess.run([sys.executable, "-m", "zlens", *map(str, args)], capture_output=True, text=True,
                          env=ENV, timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f"zlens {' '.join(map(str, args))} -> {proc.returncode}\n{proc.stderr}")
    return proc


@pytest.mark.slow
def test_train_on_embedded_digits_then_info_export_encode(tmp_path):
    run = tmp_path / "digits"
    proc = zlens("train", "--out", run, "--epochs", 3, "--encoding-dim", 2, "--seed", 0)
    assert "epoch 2 of 0..2" in proc.stderr and str(run / "latents.zarr") in proc.stderr
    assert "Traceback" not in proc.stderr and "cuda" not in proc.stderr.lower()

    info = json.loads(zlens("info", run, "--json").stdout)
    assert info["status"] == "finished" and info["n_samples"] == 1797 and info["labelled"]
    assert info["captured_epochs"] == [0, 1, 2] and info["taps"] == {"z": [2], "recon_error": []}
    assert set(info["last_metrics"]) >= {"loss", "z_drift_max", "z_drift_mean"}
    assert "status    finished" in zlens("info", run).stdout

    zlens("export", run, "--to", "csv", "--kind", "consistent", "--out", tmp_path / "z.csv")
    table = pd.read_csv(tmp_path / "z.csv")
    assert list(table.columns) == ["index", "label", "z_0", "z_1"]
    g = zarr.open_group(run / "latents.zarr", mode="r")
    np.testing.assert_allclose(table[["z_0", "z_1"]].to_numpy(), g["consistent/z"][2], rtol=1e-6)
    assert table["index"].tolist() == list(range(1797))

    zlens("export", run, "--tap", "recon_error", "--epoch", 1, "--out", tmp_path / "err.parquet")
    err = pd.read_parquet(tmp_path / "err.parquet")
    np.testing.assert_allclose(err["recon_error"].to_numpy(), g["in-flight/recon_error"][1], rtol=1e-6)

    zlens("export", run, "--to", "npy", "--out", tmp_path / "z.npy")
    np.testing.assert_array_equal(np.load(tmp_path / "z.npy"), g["in-flight/z"][2])

    from sklearn.datasets import load_digits

    np.save(tmp_path / "new.npy", load_digits().data[:100].astype("int64"))  # raw 0..16, as training was given them
    zlens("encode", run, "--data", tmp_path / "new.npy", "--out", tmp_path / "z_new.npy")
    # the run's consistent z of the last epoch is the final model's encoding
    np.testing.assert_allclose(np.load(tmp_path / "z_new.npy"), g["consistent/z"][2][:100], rtol=1e-5, atol=1e-6)

    proc = zlens("report", run)
    page = (run / "report.html").read_text()
    assert "report.html" in proc.stderr and "<canvas" in page and (run / "latent_motion.gif").exists()
    zlens("plot", run, "--epoch", 1, "--out", tmp_path / "z.png", "--quiet")
    assert (tmp_path / "z.png").read_bytes()[:4] == b"\x89PNG"
    zlens("export", run, "--to", "projector", "--out", tmp_path / "projector", "--quiet")
    assert (tmp_path / "projector" / "projector_config.pbtxt").exists()


@pytest.mark.slow
def test_train_on_a_keras_mnist_layout_npz(tmp_path):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "mnist.npz", x_train=rng.integers(0, 256, (60, 28, 28), dtype=np.uint8),
             y_train=rng.integers(0, 10, 60), x_test=rng.integers(0, 256, (20, 28, 28), dtype=np.uint8),
             y_test=rng.integers(0, 10, 20))
    run = tmp_path / "mnist"
    zlens("train", "--data", tmp_path / "mnist.npz", "--out", run, "--epochs", 2, "--batch-size", 16,
          "--capture-every", 2, "--quiet")
    info = json.loads(zlens("info", run, "--json").stdout)
    assert info["n_samples"] == 60 and info["captured_epochs"] == [1] and info["config"]["model"] == "conv"
    run_json = json.loads((run / "run.json").read_text())
    assert run_json["data"]["scaled"] is True and run_json["data"]["shape"] == [60, 28, 28]
    flat = tmp_path / "flat"
    zlens("train", "--data", tmp_path / "mnist.npz", "--flatten", "--out", flat, "--epochs", 1, "--last-only",
          "--quiet")
    assert json.loads(zlens("info", flat, "--json").stdout)["taps"]["z"] == [32]


@pytest.mark.parametrize(
    "args,message",
    [
        (["train", "--data", "missing.npy", "--out", "r"], "missing.npy: file not found"),
        (["train", "--epochs", "0", "--out", "r"], "--epochs must be at least 1"),
        (["train", "--encoding-dim", "0", "--out", "r"], "--encoding-dim must be at least 1"),
        (["train"], "name the run directory to write with --out"),
        (["train", "--model", "mlp", "--out", "r"],
         "--model must be one of dense, conv, vae or a Keras model file (.keras); got 'mlp'"),
        (["train", "--buffer-budget", "lots", "--out", "r"], "--buffer-budget must be a size such as"),
        (["train", "--tap-storage", "disk", "--out", "r"], "invalid choice: 'disk'"),
        (["info", "nowhere"], "is not a zlens run directory"),
        (["export", "nowhere", "--out", "z.txt"], "choose a format"),
        (["encode", "nowhere", "--data", "x.npy", "--out", "z.npy"], "is not a zlens run directory"),
        (["train", "--resume", "nowhere"], "is not a zlens run directory"),
        (["report", "nowhere"], "is not a zlens run directory"),
        (["plot", "nowhere", "--out", "z.png"], "is not a zlens run directory"),
        (["export", "nowhere", "--to", "projector", "--out", "p"], "is not a zlens run directory"),
    ],
)
def test_bad_arguments_give_one_line_and_exit_2(args, message, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "zlens", *args], capture_output=True, text=True, env=ENV,
                          cwd=tmp_path, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr and "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 or proc.stderr.startswith("usage:")
    assert not (tmp_path / "r").exists()


def test_bad_data_files_exit_2_and_write_nothing(tmp_path):
    bad = tmp_path / "nan.npy"
    np.save(bad, np.array([[0.0, np.nan], [1.0, 2.0]], dtype=np.float32))
    proc = zlens("train", "--data", bad, "--out", tmp_path / "r", check=False)
    assert proc.returncode == 2 and "NaN" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "r").exists()
    pickled = tmp_path / "obj.npy"
    np.save(pickled, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    proc = zlens("train", "--data", pickled, "--out", tmp_path / "r", check=False)
    assert proc.returncode == 2 and "never unpickles" in proc.stderr


def test_existing_run_is_not_overwritten(tmp_path):
    run = tmp_path / "r"
    run.mkdir()
    (run / "precious.txt").write_text("keep me")
    proc = zlens("train", "--out", run, "--epochs", 1, check=False)
    assert proc.returncode == 2 and "--overwrite" in proc.stderr
    assert (run / "precious.txt").read_text() == "keep me"


def test_help_is_quick_and_lists_the_commands():
    proc = zlens("--help")
    for command in ("train", "encode", "export", "info"):
        assert command in proc.stdout
    assert "--resume" in zlens("train", "--help").stdout


@pytest.mark.slow
@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_train_on_a_table_with_a_label_column(tmp_path, suffix):
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(rng.random((40, 5)), columns=[f"f{i}" for i in range(5)])
    frame.insert(2, "kind", np.where(np.arange(40) % 2, "odd", "even"))
    path = tmp_path / f"table.{suffix}"
    frame.to_csv(path, index=False) if suffix == "csv" else frame.to_parquet(path)
    run = tmp_path / "run"
    zlens("train", "--data", path, "--label-column", "kind", "--out", run, "--epochs", 1, "--batch-size", 8,
          "--encoding-dim", 2, "--quiet")
    zlens("export", run, "--out", tmp_path / "z.csv", "--quiet")
    table = pd.read_csv(tmp_path / "z.csv")
    assert table["label"].tolist() == frame["kind"].tolist() and table.shape == (40, 4)


@pytest.mark.slow
def test_train_on_a_memory_mapped_npy_keeps_it_mapped_and_aligned(tmp_path):
    x = np.random.default_rng(2).random((300, 16), dtype=np.float32)
    np.save(tmp_path / "x.npy", x)
    run = tmp_path / "run"
    zlens("train", "--data", tmp_path / "x.npy", "--out", run, "--epochs", 2, "--encoding-dim", 3,
          "--capture", "consistent", "--buffer-budget", "1KiB", "--quiet")
    assert json.loads((run / "run.json").read_text())["config"]["tap_storage"] == "stream"  # z past the budget
    zlens("encode", run, "--data", tmp_path / "x.npy", "--out", tmp_path / "z.npy", "--quiet")
    g = zarr.open_group(run / "latents.zarr", mode="r")
    np.testing.assert_allclose(np.load(tmp_path / "z.npy"), g["consistent/z"][1], rtol=1e-5, atol=1e-6)


def test_the_former_memory_budget_option_still_works_and_says_its_new_name(tmp_path):
    np.save(tmp_path / "x.npy", np.random.default_rng(3).random((40, 6), dtype=np.float32))
    proc = zlens("train", "--data", tmp_path / "x.npy", "--out", tmp_path / "run", "--epochs", 1,
                 "--encoding-dim", 2, "--memory-budget", "1KiB", "--quiet")
    assert "--memory-budget is now --buffer-budget" in proc.stderr
    assert json.loads((tmp_path / "run" / "run.json").read_text())["config"]["tap_storage"] == "stream"


@pytest.mark.slow
def test_train_and_encode_a_zarr_store_with_labels(tmp_path):
    x = np.random.default_rng(5).random((130, 10), dtype=np.float32)
    group = zarr.open_group(str(tmp_path / "data.zarr"), mode="w")
    group.create_array("x", shape=x.shape, chunks=(16, 10), dtype="float32")[...] = x
    group.create_array("y", shape=(130,), dtype="int64")[...] = np.arange(130) % 3
    run = tmp_path / "run"
    zlens("train", "--data", tmp_path / "data.zarr", "--out", run, "--epochs", 2, "--encoding-dim", 3,
          "--capture", "consistent", "--quiet")
    recorded = json.loads((run / "run.json").read_text())["data"]
    assert recorded["shape"] == [130, 10] and recorded["source"].endswith("data.zarr/x")
    zlens("encode", run, "--data", tmp_path / "data.zarr", "--out", tmp_path / "z.csv", "--quiet")
    table = pd.read_csv(tmp_path / "z.csv")
    assert table["label"].tolist() == (np.arange(130) % 3).tolist()
    g = zarr.open_group(run / "latents.zarr", mode="r")
    np.testing.assert_allclose(table.filter(like="z").to_numpy(), g["consistent/z"][1], rtol=1e-5, atol=1e-6)
    assert g["labels"][:].tolist() == (np.arange(130) % 3).tolist()


@pytest.mark.slow
def test_train_on_a_large_integer_npy_scales_it_batch_by_batch(tmp_path):
    """An 8-bit .npy past MATERIALIZE_BYTES (lowered here, in the CLI's own process) is never
    converted whole: the run is the run of the scaled float32 data, and resume reloads it the same way."""
    pixels = np.random.default_rng(4).integers(0, 256, size=(400, 16), dtype=np.uint8)
    np.save(tmp_path / "px.npy", pixels)
    np.save(tmp_path / "scaled.npy", pixels.astype(np.float32) / np.float32(255))
    lowered = ("import sys; import zlens.data.sources as s; s.MATERIALIZE_BYTES = 1000; "
               "from zlens.cli import main; sys.exit(main(sys.argv[1:]))")

    def train(*args):
        proc = subprocess.run([sys.executable, "-c", lowered, "train", *map(str, args), "--quiet"],
                              capture_output=True, text=True, env=ENV, timeout=300)
        assert proc.returncode == 0, proc.stderr

    common = ("--encoding-dim", 3, "--seed", 0, "--capture", "consistent", "--tap-storage", "host")
    train("--data", tmp_path / "px.npy", "--out", tmp_path / "lazy", "--epochs", 2, *common)
    train("--resume", tmp_path / "lazy", "--epochs", 3)
    train("--data", tmp_path / "scaled.npy", "--out", tmp_path / "float", "--epochs", 3, *common)
    lazy, scaled = (json.loads((tmp_path / name / "run.json").read_text()) for name in ("lazy", "float"))
    assert lazy["data"]["dtype"] == "uint8" and lazy["data"]["scale_factor"] == pytest.approx(1 / 255)
    assert lazy["config"]["tap_storage"] == "host"  # --tap-storage reached the run
    assert lazy["epochs_done"] == 3 and lazy["status"] == "finished"
    z_lazy = zarr.open_group(tmp_path / "lazy" / "latents.zarr", mode="r")["consistent/z"]
    z_float = zarr.open_group(tmp_path / "float" / "latents.zarr", mode="r")["consistent/z"]
    np.testing.assert_allclose(z_lazy[1], z_float[1], rtol=1e-4, atol=1e-5)  # before the resume: the same run
    proc = subprocess.run([sys.executable, "-c", lowered, "encode", tmp_path / "lazy", "--data", tmp_path / "px.npy",
                           "--out", tmp_path / "z.npy", "--quiet"], capture_output=True, text=True, env=ENV,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    np.testing.assert_allclose(np.load(tmp_path / "z.npy"), z_lazy[2], rtol=1e-5, atol=1e-6)  # resumed: the final model


@pytest.mark.slow
def test_the_readme_first_command_with_a_relative_out_from_a_fresh_folder(tmp_path):
    """`zlens train --out runs/x` as a newcomer types it: relative to their own folder."""
    work = tmp_path / "fresh"
    work.mkdir()
    proc = subprocess.run([sys.executable, "-m", "zlens", "train", "--out", "runs/check", "--epochs", "2"],
                          cwd=work, capture_output=True, text=True, env=ENV, timeout=300)
    assert proc.returncode == 0, proc.stderr
    state = json.loads((work / "runs/check/run.json").read_text())
    assert state["status"] == "finished" and state["epochs_done"] == 2
    assert (work / "runs/check/model.keras").is_file() and not (work / "runs/check/runs").exists()
    info = subprocess.run([sys.executable, "-m", "zlens", "info", "check", "--json"], cwd=work / "runs",
                          capture_output=True, text=True, env=ENV, timeout=300)
    assert info.returncode == 0 and json.loads(info.stdout)["captured_epochs"] == [0, 1]


def test_every_option_has_help_and_every_command_has_examples():
    import argparse

    from zlens.cli import build_parser

    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    for name, sub in commands.items():
        for action in sub._actions:
            if not isinstance(action, argparse._HelpAction):
                assert action.help, f"zlens {name} {action.option_strings or action.dest} has no help text"
        examples = sub.format_help().split("examples:")[-1].strip().splitlines()
        assert 2 <= len(examples) <= 4 and all(line.strip().startswith("zlens " + name) for line in examples), name


@pytest.mark.parametrize("args, suggestion", [
    (["train", "--epochz", "3", "--out", "r"], "did you mean --epochs?"),
    (["export", "r", "--tapp", "z", "--out", "z.csv"], "did you mean --tap?"),
    (["encode", "r", "--data", "x.npy", "--out", "z.npy", "--no-scael"], "did you mean --no-scale?"),
])
def test_a_mistyped_option_suggests_the_closest(args, suggestion, capsys):
    from zlens import cli

    with pytest.raises(SystemExit) as exit_:
        cli.main(args)
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and suggestion in err and len(err.strip().splitlines()) == 1
