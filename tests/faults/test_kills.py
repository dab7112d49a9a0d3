"""Kill -9 a training run at >= 20 seeded random moments; nothing committed is ever lost or wrong.

Each kill lands somewhere else: inside the commit sequence (after the store, after the
checkpoint, after metrics.csv, after run.json, after the clean-up) or at a random time in an epoch. After every
kill: `zlens info --verify` passes, every committed epoch's z (both kinds) is finite and equal,
bit for bit, to the same epoch of an uninterrupted run with the same seed, and `--resume` goes
on (a run killed before its first commit starts again). At the end the run is whole: epochs
0..EPOCHS-1, continuous, each one the uninterrupted run's.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import zlens

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
KILL_AT = Path(__file__).with_name("kill_at.py")
EPOCHS = 60
COMMIT_POINTS = ("after-store", "after-checkpoint", "after-metrics-csv", "after-run-json", "after-commit")
KILLS = 24


def zlens_cli(*args, killed_at=None):
    prefix = [str(KILL_AT), *map(str, killed_at)] if killed_at else ["-m", "zlens"]
    return subprocess.run([sys.executable, *prefix, *map(str, args)], capture_output=True, text=True, env=ENV,
                          timeout=300)


def epochs_done(run: Path) -> int:
    return json.loads((run / "run.json").read_text())["epochs_done"] if (run / "run.json").exists() else 0


def latents(run_dir: Path) -> dict:
    run = zlens.open_run(run_dir)
    return {(e, kind): run.z(e, kind) for e in run.epochs for kind in run.kinds}


@pytest.mark.slow
def test_kills_at_random_moments_never_lose_or_change_a_committed_epoch(tmp_path):
    train = ("train", "--epochs", EPOCHS, "--seed", 0, "--quiet")
    reference = zlens_cli(*train, "--out", tmp_path / "reference")
    assert reference.returncode == 0, reference.stderr
    expected = latents(tmp_path / "reference")

    rng = np.random.default_rng(20261203)
    schedule = list(COMMIT_POINTS) * 3 + ["timer"] * (KILLS - 3 * len(COMMIT_POINTS))
    rng.shuffle(schedule)
    run = tmp_path / "run"
    seen = []
    for point in schedule:
        done = epochs_done(run)
        target = done + int(rng.integers(0, 2))
        delay = float(rng.uniform(0.0, 0.2))
        args = ("train", "--resume", run, "--quiet") if (run / "run.json").exists() else (*train, "--out", run)
        proc = zlens_cli(*args, killed_at=(point, target, round(delay, 3)))
        assert proc.returncode == -9, f"{point} at epoch {target}: not killed ({proc.returncode})\n{proc.stderr}"
        seen.append((point, target, epochs_done(run)))

        verify = zlens_cli("info", run, "--verify")
        assert verify.returncode == 0, f"after a kill {point} at epoch {target}:\n{verify.stdout}{verify.stderr}"
        assert "status    running (no process is writing it: it was killed" in zlens_cli("info", run).stdout
        for key, z in latents(run).items():
            assert np.isfinite(z).all() and np.array_equal(z, expected[key]), (point, target, key)
        assert epochs_done(run) < EPOCHS, seen

    assert len(seen) >= 20 and {p for p, _, _ in seen} >= set(COMMIT_POINTS)
    final = zlens_cli("train", "--resume", run, "--quiet")
    assert final.returncode == 0, final.stderr
    record = json.loads((run / "run.json").read_text())
    assert record["status"] == "finished" and [r["epoch"] for r in record["history"]] == list(range(EPOCHS))
    got = latents(run)
    assert got.keys() == expected.keys()
    for key, z in got.items():
        assert np.array_equal(z, expected[key]), key
    assert zlens_cli("info", run, "--verify").returncode == 0


def validation_latents(run_dir: Path) -> dict:
    run = zlens.open_run(run_dir)
    return {e: run.z(e, split="validation") for e in run.epochs}


@pytest.mark.slow
def test_a_kill_keeps_the_validation_z_whole_and_resume_continues_it_aligned(tmp_path):
    """With --validation-data, a kill inside the commit or in an epoch leaves every committed epoch's
    validation z as the uninterrupted run's, and --resume (which reloads the validation file) gives
    every epoch exactly once."""
    from sklearn.datasets import load_digits

    np.save(tmp_path / "val.npy", load_digits().data[-200:].astype("int64"))  # raw 0..16, scaled as training
    epochs = 6
    train = ("train", "--epochs", epochs, "--seed", 0, "--quiet", "--validation-data", tmp_path / "val.npy")
    reference = zlens_cli(*train, "--out", tmp_path / "reference")
    assert reference.returncode == 0, reference.stderr
    expected = validation_latents(tmp_path / "reference")
    run = tmp_path / "run"
    for point, target in (("after-store", 1), ("timer", 3), ("after-checkpoint", 4)):
        args = ("train", "--resume", run, "--quiet") if (run / "run.json").exists() else (*train, "--out", run)
        proc = zlens_cli(*args, killed_at=(point, target, 0.05))
        assert proc.returncode == -9, f"{point} at epoch {target}: not killed ({proc.returncode})\n{proc.stderr}"
        assert zlens_cli("info", run, "--verify").returncode == 0
        for e, z in validation_latents(run).items():
            assert np.array_equal(z, expected[e]), (point, target, e)
    assert zlens_cli("train", "--resume", run, "--quiet").returncode == 0
    got = validation_latents(run)
    assert list(got) == list(range(epochs)) and all(np.array_equal(got[e], expected[e]) for e in got)
    assert zlens.open_run(run).tap_array("z", split="validation").shape[0] == epochs  # every epoch once
