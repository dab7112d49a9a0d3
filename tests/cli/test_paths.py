"""Every path-taking command as users type paths: relative to their own folder, under `~`,
through a symlinked folder; and no TensorFlow start-up noise in any command."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from sklearn.datasets import load_digits

pytestmark = pytest.mark.slow

NOISE = ("I0000", "E0000", "W0000", "cuInit", "cuda", "oneDNN", "absl::InitializeLog")


def zlens(*args, cwd, home):
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}  # as a user's shell has it
    env["HOME"] = str(home)
    proc = subprocess.run([sys.executable, "-m", "zlens", *map(str, args)], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=300)
    assert not [n for n in NOISE if n in proc.stderr], f"TensorFlow noise in `zlens {args[0]}`:\n{proc.stderr}"
    return proc


def test_relative_home_and_symlinked_paths_in_every_command(tmp_path):
    home, work = tmp_path / "home", tmp_path / "work"
    (home / "data").mkdir(parents=True)
    work.mkdir()
    np.save(home / "data" / "new.npy", load_digits().data[:50])  # raw 0..16, as the data comes
    (work / "linked").symlink_to(home / "data")

    ok = zlens("train", "--out", "~/runs/d", "--epochs", 2, "--seed", 0, cwd=work, home=home)
    assert ok.returncode == 0, ok.stderr
    assert (home / "runs/d/run.json").is_file() and not (work / "~").exists()
    info = zlens("info", "../home/runs/d", "--json", cwd=work, home=home)
    assert json.loads(info.stdout)["captured_epochs"] == [0, 1]
    (work / "runs").symlink_to(home / "runs")
    for args in (["export", "runs/d", "--to", "csv", "--out", "z.csv"],
                 ["export", "~/runs/d", "--to", "projector", "--out", "proj"],
                 ["encode", "runs/d", "--data", "linked/new.npy", "--out", "z_new.npy"],
                 ["plot", "runs/d", "--out", "z.png"],
                 ["report", "runs/d", "--out", "page.html", "--no-gif"]):
        proc = zlens(*args, cwd=work, home=home)
        assert proc.returncode == 0, f"zlens {' '.join(args)}: {proc.stderr}"
    for made in ("z.csv", "proj/projector_config.pbtxt", "z_new.npy", "z.png", "page.html"):
        assert (work / made).is_file(), made
    z_new = np.load(work / "z_new.npy")
    import zlens as zl

    stored = zl.open_run(home / "runs/d").z(kind="consistent")
    np.testing.assert_allclose(z_new, stored[:50], rtol=1e-5, atol=1e-5)  # raw digits scaled as in training


def test_an_existing_run_names_resume_and_overwrite_before_tensorflow_loads(tmp_path):
    ok = zlens("train", "--out", "r", "--epochs", 1, "--quiet", cwd=tmp_path, home=tmp_path)
    assert ok.returncode == 0, ok.stderr
    again = zlens("train", "--out", "r", "--epochs", 1, cwd=tmp_path, home=tmp_path)
    assert again.returncode == 2 and "--resume" in again.stderr and "--overwrite" in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1
    resumed = zlens("train", "--resume", "r", "--epochs", 2, "--quiet", cwd=tmp_path, home=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads((tmp_path / "r/run.json").read_text())["epochs_done"] == 2



def test_a_killed_relative_run_resumes_from_another_folder(tmp_path):
    import signal
    import time

    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.Popen([sys.executable, "-m", "zlens", "train", "--out", "runs/k", "--epochs", "300",
                             "--batch-size", "64", "--seed", "0", "--quiet"], cwd=tmp_path, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    state_file = tmp_path / "runs/k/run.json"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if state_file.exists() and json.loads(state_file.read_text())["epochs_done"] >= 1:
            break
        assert proc.poll() is None, proc.stderr.read()
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = json.loads(state_file.read_text())["epochs_done"]
    resumed = zlens("train", "--resume", "k", "--epochs", done + 1, "--quiet", cwd=tmp_path / "runs", home=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    state = json.loads(state_file.read_text())
    assert state["status"] == "finished" and [r["epoch"] for r in state["history"]] == list(range(done + 1))
