"""RunDirectory: run.json as the single source of truth, atomic writes, resume and clear errors."""

import csv
import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from zlens.errors import RunError
from zlens.store import RunDirectory

REPO = Path(__file__).resolve().parents[2]


def new_run(path: Path, **kw) -> RunDirectory:
    args = dict(config={"latent_dim": 2, "layers": (128, 64)}, data={"rows": 10, "sha256": "ab"},
                seed=np.int64(7), versions={"zlens": "0.1.0"})
    args.update(kw)
    return RunDirectory.create(path, **args)


def test_create_writes_a_running_run(tmp_path):
    run = new_run(tmp_path / "run")
    doc = json.loads((tmp_path / "run" / "run.json").read_text())
    assert doc["format"] == "zlens-run" and doc["version"] == 1
    assert doc["status"] == "running" and doc["reason"] is None
    assert doc["epochs_done"] == 0 and doc["checkpoint"] is None and doc["history"] == []
    assert doc["config"] == {"latent_dim": 2, "layers": [128, 64]} and doc["seed"] == 7
    assert doc["created"] == doc["updated"]
    assert (tmp_path / "run" / "checkpoints").is_dir()
    assert run.latents_path == tmp_path / "run" / "latents.zarr"
    assert run.model_path == tmp_path / "run" / "model.keras"
    assert run.checkpoint_path_for(12) == tmp_path / "run" / "checkpoints" / "epoch-00012.keras"


def test_record_epoch_history_csv_and_checkpoints(tmp_path):
    run = new_run(tmp_path / "run")
    for epoch in range(3):
        ckpt = run.checkpoint_path_for(epoch)
        ckpt.write_bytes(b"model %d" % epoch)
        metrics = {"loss": np.float32(0.5) / (epoch + 1), "drift": float("nan") if epoch == 1 else epoch}
        if epoch == 2:
            metrics["val_loss"] = np.float64(0.25)
        run.record_epoch(epoch, metrics, checkpoint=ckpt)

    again = RunDirectory.open(tmp_path / "run")
    assert again.epochs_done == 3 and again.status == "running"
    assert again.history == [
        {"epoch": 0, "loss": 0.5, "drift": 0},
        {"epoch": 1, "loss": 0.25, "drift": None},
        {"epoch": 2, "loss": pytest.approx(0.5 / 3), "drift": 2, "val_loss": 0.25},
    ]
    assert again.checkpoint_path == run.checkpoint_path_for(2)
    assert again.run_json["checkpoint"] == "checkpoints/epoch-00002.keras"
    assert sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir()) == ["epoch-00002.keras"]
    with open(tmp_path / "run" / "metrics.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["epoch", "loss", "drift", "val_loss"]
    assert rows[2] == ["1", "0.25", "", ""] and rows[3][3] == "0.25"
    assert not [p for p in (tmp_path / "run").iterdir() if p.name.endswith(".tmp")]


def test_checkpoint_none_keeps_the_previous_one(tmp_path):
    run = new_run(tmp_path / "run")
    run.checkpoint_path_for(0).write_bytes(b"m")
    run.record_epoch(0, {"loss": 1.0}, checkpoint=run.checkpoint_path_for(0))
    run.record_epoch(1, {"loss": 0.5}, checkpoint=None)
    assert run.checkpoint_path == run.checkpoint_path_for(0) and run.checkpoint_epoch == 0
    assert run.checkpoint_path.is_file() and run.epochs_done == 2


def test_status_and_truncate_history(tmp_path):
    run = new_run(tmp_path / "run")
    for epoch in range(4):
        ckpt = run.checkpoint_path_for(epoch) if epoch in (1, 3) else None
        if ckpt:
            ckpt.write_bytes(b"m")
        run.record_epoch(epoch, {"loss": float(epoch)}, checkpoint=ckpt)
    run.set_status("failed", "killed")
    assert RunDirectory.open(tmp_path / "run").reason == "killed"

    run = RunDirectory.open(tmp_path / "run")
    run.truncate_history(2)
    again = RunDirectory.open(tmp_path / "run")
    assert again.epochs_done == 2 and [h["epoch"] for h in again.history] == [0, 1]
    assert again.checkpoint_path is None  # epoch 3's checkpoint is from the dropped future
    assert (tmp_path / "run" / "metrics.csv").read_text().splitlines() == ["epoch,loss", "0,0.0", "1,1.0"]
    again.set_status("running")
    again.record_epoch(2, {"loss": 9}, checkpoint=None)
    assert [h["epoch"] for h in RunDirectory.open(tmp_path / "run").history] == [0, 1, 2]


def test_update_config_and_model_to_load(tmp_path):
    run = new_run(tmp_path / "run")
    with pytest.raises(RunError, match="neither model.keras nor a checkpoint"):
        run.model_path_or_checkpoint()
    run.checkpoint_path_for(0).write_bytes(b"m")
    run.record_epoch(0, {"loss": 1.0}, checkpoint=run.checkpoint_path_for(0))
    assert run.model_path_or_checkpoint() == run.checkpoint_path_for(0)
    run.model_path.write_bytes(b"final")
    assert run.model_path_or_checkpoint() == run.model_path
    run.update_config(epochs=np.int32(40))
    assert RunDirectory.open(tmp_path / "run").config == {"latent_dim": 2, "layers": [128, 64], "epochs": 40}


def test_errors_name_the_problem_and_fix(tmp_path):
    run = new_run(tmp_path / "run")
    with pytest.raises(RunError, match="already exists and is not empty.*overwrite=True"):
        new_run(tmp_path / "run")
    with pytest.raises(RunError, match=r"is in use by another process \(pid \d+ on "):
        new_run(tmp_path / "run", overwrite=True)  # its writer still holds it
    run.release()
    replaced = new_run(tmp_path / "run", overwrite=True, seed=1)
    assert replaced.run_json["seed"] == 1 and replaced.epochs_done == 0
    (tmp_path / "empty").mkdir()
    new_run(tmp_path / "empty")  # an existing empty folder is fine
    with pytest.raises(RunError, match=r"is not a zlens run directory \(no run.json\)"):
        RunDirectory.open(tmp_path / "nowhere")
    with pytest.raises(RunError, match="next epoch of this run is 0.*truncate_history"):
        run.record_epoch(1, {"loss": 1.0}, checkpoint=None)
    with pytest.raises(RunError, match="does not exist"):
        run.record_epoch(0, {"loss": 1.0}, checkpoint=run.checkpoint_path_for(0))
    with pytest.raises(RunError, match="status must be one of running, finished, failed"):
        run.set_status("done")
    with pytest.raises(RunError, match=r"metrics\['model'\] = .*cannot be saved"):
        run.record_epoch(0, {"model": object()}, checkpoint=None)
    with pytest.raises(RunError, match="from 0 to 0"):
        run.truncate_history(3)
    assert RunDirectory.open(tmp_path / "run").history == []  # failed commits wrote nothing


# ----------------------------------------------------------------------------- kill -9
CHILD = textwrap.dedent("""
    import sys
    from zlens.store import RunDirectory
    path = sys.argv[1]
    try:
        run = RunDirectory.open(path)
        if run.checkpoint_epoch is not None:  # resume from the checkpoint, like a trainer
            run.truncate_history(run.checkpoint_epoch + 1)
    except Exception:
        run = RunDirectory.create(path, config={{"a": 1}}, data={{}}, seed=0, versions={{}})
    print("ready", flush=True)
    for epoch in range(run.epochs_done, 400):
        ckpt = None
        if epoch % 3 == 0:
            ckpt = run.checkpoint_path_for(epoch)
            ckpt.write_bytes(str(epoch).encode() * 1000)
        run.record_epoch(epoch, {{"loss": 1.0 / (epoch + 1), "epoch_sq": epoch * epoch}}, checkpoint=ckpt)
""").format()


def test_kill_9_leaves_valid_run_json(tmp_path):
    path, rng = tmp_path / "run", random.Random(99)
    env = dict(os.environ, PYTHONPATH=f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    for _ in range(5):
        child = subprocess.Popen([sys.executable, "-c", CHILD, str(path)], cwd=REPO, env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert child.stdout.readline().strip() == "ready", child.stderr.read()
            time.sleep(rng.uniform(0.02, 0.3))
            os.kill(child.pid, signal.SIGKILL)
            child.wait(timeout=30)
        finally:
            child.stdout.close()
            child.stderr.close()

        doc = json.loads((path / "run.json").read_text())  # always complete, valid JSON
        history = doc["history"]
        assert [h["epoch"] for h in history] == list(range(doc["epochs_done"]))
        for h in history:
            assert h["loss"] == 1.0 / (h["epoch"] + 1) and h["epoch_sq"] == h["epoch"] ** 2
        if doc["checkpoint"] is not None:
            ckpt = path / doc["checkpoint"]
            assert ckpt.read_bytes() == str(doc["checkpoint_epoch"]).encode() * 1000
        with open(path / "metrics.csv", newline="") as f:
            rows = list(csv.DictReader(f))
        # metrics.csv is written right before run.json: it may be one epoch ahead, never behind, never torn.
        assert [int(r["epoch"]) for r in rows] == list(range(len(rows)))
        assert len(history) <= len(rows) <= len(history) + 1
        assert all(float(r["loss"]) == h["loss"] for r, h in zip(rows, history, strict=False))

    run = RunDirectory.open(path)
    run.record_epoch(run.epochs_done, {"loss": 0.0}, checkpoint=None)
    assert not list(path.glob(".*.tmp"))  # the next commit removes temp files of killed writes


def test_a_relative_run_directory_commits_and_reopens_from_another_folder(tmp_path, monkeypatch):
    """What every user types: `runs/x`, relative to where they are (the checkpoint was once
    looked for at runs/x/runs/x/...)."""
    monkeypatch.chdir(tmp_path)
    run = new_run(Path("runs/rel"))
    assert run.path == tmp_path / "runs" / "rel"
    ckpt = run.checkpoint_path_for(0)
    ckpt.write_bytes(b"model")
    run.record_epoch(0, {"loss": 0.5}, checkpoint=ckpt)
    monkeypatch.chdir(tmp_path / "runs")  # the run stays where it was made
    again = RunDirectory.open(Path("rel"))
    assert again.checkpoint_path == tmp_path / "runs" / "rel" / "checkpoints" / "epoch-00000.keras"
    assert again.checkpoint_path.read_bytes() == b"model"
    assert json.loads((tmp_path / "runs" / "rel" / "run.json").read_text())["checkpoint"] == \
        "checkpoints/epoch-00000.keras"


def test_a_run_directory_under_home_and_through_a_symlink(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    run = new_run(Path("~/runs/h"))
    assert run.path == tmp_path / "home" / "runs" / "h" and (tmp_path / "home/runs/h/run.json").is_file()
    (tmp_path / "link").symlink_to(tmp_path / "home" / "runs")
    ckpt = RunDirectory.open(tmp_path / "link" / "h").checkpoint_path_for(0)
    ckpt.write_bytes(b"m")
    RunDirectory.open(tmp_path / "link" / "h").record_epoch(0, {}, checkpoint=ckpt)
    assert RunDirectory.open("~/runs/h").epochs_done == 1


def test_run_files_are_readable_by_colleagues(tmp_path):
    old = os.umask(0o022)
    try:
        run = RunDirectory.create(tmp_path / "r", config={}, data={}, seed=0, versions={})
        run.record_epoch(0, {"loss": 1.0}, checkpoint=None)
    finally:
        os.umask(old)
    for name in ("run.json", "metrics.csv"):
        assert oct((tmp_path / "r" / name).stat().st_mode & 0o777) == oct(0o644), name
