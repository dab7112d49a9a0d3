"""Runs that last: kill -9 at random moments, resume, and nothing committed is ever lost."""

import json
import os
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import zarr

import zlens

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}


def _committed(run_dir):
    state = json.loads((run_dir / "run.json").read_text())
    return state


def _start(*args):
    return subprocess.Popen([sys.executable, "-m", "zlens", *map(str, args), "--quiet"], env=ENV,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _wait_for_new_epoch(run_dir, proc, after: int, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (run_dir / "run.json").exists():
            try:
                if _committed(run_dir)["epochs_done"] > after:
                    return
            except json.JSONDecodeError:  # never: run.json is replaced atomically
                raise AssertionError("run.json was seen half-written") from None
        if proc.poll() is not None:
            raise AssertionError(f"training exited early ({proc.returncode}): {proc.stderr.read()}")
        time.sleep(0.05)
    raise AssertionError("no epoch was committed in time")


@pytest.mark.slow
def test_kill_9_at_random_points_then_resume_keeps_every_committed_epoch(tmp_path):
    rng = random.Random(7)
    run_dir = tmp_path / "run"
    epochs = 14
    seen = {}  # epoch -> its consistent z, as first read after a kill
    proc = _start("train", "--out", run_dir, "--epochs", epochs, "--encoding-dim", 3, "--seed", 0,
                  "--batch-size", 64)
    for _round in range(4):
        done_before = _committed(run_dir)["epochs_done"] if (run_dir / "run.json").exists() else 0
        _wait_for_new_epoch(run_dir, proc, after=done_before)
        time.sleep(rng.uniform(0.0, 0.8))  # somewhere inside an epoch, or inside a commit
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        state = _committed(run_dir)
        done = state["epochs_done"]
        # killed: nobody could say otherwise, unless the last epoch committed before the kill landed
        assert state["status"] == "running" or (state["status"] == "finished" and done == epochs), state["status"]
        assert [row["epoch"] for row in state["history"]] == list(range(done))
        g = zarr.open_group(run_dir / "latents.zarr", mode="r")
        n = g.attrs["committed"]
        store_epochs = list(g["epochs"][:n])
        assert store_epochs[:done] == list(range(done))  # every committed epoch is there
        assert len(store_epochs) in (done, done + 1)  # at most one epoch beyond run.json
        for epoch in range(done):
            z = g["consistent/z"][epoch]
            assert np.isfinite(z).all()
            if epoch in seen:
                np.testing.assert_array_equal(z, seen[epoch])  # committed epochs never change
            seen[epoch] = z
        if done >= epochs:
            break
        proc = _start("train", "--resume", run_dir)
    else:
        assert proc.wait(timeout=300) == 0, proc.stderr.read()

    run = zlens.open_run(run_dir)
    assert run.status == "finished"
    assert run.epochs == list(range(epochs)) and run.history["epoch"] == list(range(epochs))
    for epoch, z in seen.items():
        np.testing.assert_array_equal(run.z(epoch, kind="consistent"), z)
    assert len(seen) >= 4


def test_resume_from_python_continues_the_history(x_small, tmp_path):
    run_dir = tmp_path / "run"
    first = zlens.fit("dense", x_small, epochs=3, batch_size=16, encoding_dim=2, seed=0, run_dir=run_dir,
                      capture="both", labels=np.arange(101) % 4)
    z2 = first.z(2, kind="consistent")
    steps = first.model.optimizer.iterations.numpy()
    resumed = zlens.resume(run_dir, x_small, epochs=5)
    assert resumed.epochs == [0, 1, 2, 3, 4] and resumed.history["epoch"] == [0, 1, 2, 3, 4]
    np.testing.assert_array_equal(resumed.z(2, kind="consistent"), z2)
    assert resumed.model.optimizer.iterations.numpy() == steps + 2 * 7  # optimizer state carried on
    reopened = zlens.open_run(run_dir)
    assert reopened.status == "finished" and reopened.epochs == [0, 1, 2, 3, 4]
    np.testing.assert_array_equal(reopened.labels, np.arange(101) % 4)
    np.testing.assert_allclose(zlens.encode(reopened.model, x_small), reopened.z(kind="consistent"),
                               rtol=1e-5, atol=1e-6)
    with pytest.raises(zlens.RunError, match="differs from the data"):
        zlens.resume(run_dir, x_small[::-1].copy(), epochs=6)
    with pytest.raises(zlens.RunError, match="already finished 5 epochs"):
        zlens.resume(run_dir, x_small)


def test_a_resumed_run_is_the_uninterrupted_run(x_small, tmp_path):
    """Samples in memory are visited in an order fixed by (seed, epoch), and the weights and the
    optimizer state come back from the checkpoint: stopping after epoch 1 and resuming changes nothing."""
    whole = zlens.fit("dense", x_small, epochs=4, batch_size=16, encoding_dim=2, seed=3, capture="both")
    zlens.fit("dense", x_small, epochs=2, batch_size=16, encoding_dim=2, seed=3, capture="both",
              run_dir=tmp_path / "run")
    resumed = zlens.resume(tmp_path / "run", x_small, epochs=4)
    for epoch in range(4):
        for kind in ("in-flight", "consistent"):
            np.testing.assert_allclose(resumed.z(epoch, kind), whole.z(epoch, kind), rtol=1e-6, atol=1e-7)


def test_open_run_is_lazy_and_matches_fit(x_small, tmp_path):
    run = zlens.fit("dense", x_small, epochs=2, batch_size=32, seed=0, run_dir=tmp_path / "r")
    opened = zlens.open_run(tmp_path / "r")
    assert opened.epochs == run.epochs and opened.taps == run.taps
    np.testing.assert_array_equal(opened.z(), run.z())
    assert opened.history == run.history
    with pytest.raises(zlens.RunError, match="Epoch 7 was not captured; captured epochs: 0, 1"):
        opened.z(7)
