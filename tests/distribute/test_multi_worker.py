"""MultiWorkerMirroredStrategy with 2 worker processes on 127.0.0.1: one complete z on the chief,
written once; a dead worker fails the run loudly and leaves the committed epochs; resume works."""

import json
import time

import numpy as np
import pytest
from local_cluster import LocalCluster

import zlens

X = np.random.default_rng(0).random((101, 12), dtype=np.float32)  # the workers' data

pytestmark = pytest.mark.slow


def _results(out):
    return [json.loads((out / f"worker-{i}.json").read_text()) for i in range(2)]


def _check_complete_z(run_dir, out):
    run = zlens.open_run(run_dir)
    assert run.status == "finished"
    counts = np.load(out / "counts.npy")
    assert counts.shape == (101,) and np.all(counts == 1), "each row written by exactly one worker, once"
    z = run.z(kind="consistent")
    np.testing.assert_allclose(z, zlens.encode(run.model, X), rtol=1e-5, atol=1e-6)  # one device, same weights
    assert np.all(np.isfinite(run.z(kind="in-flight")))
    return run


def test_two_workers_give_the_single_device_z_and_only_the_chief_writes(tmp_path):
    """With streamed taps: each worker's scratch file is summed block by block over the workers."""
    run_dir = tmp_path / "run"
    with LocalCluster(2, "probe_worker.py", "fit", run_dir, 3, tmp_path, 0, "stream", log_dir=tmp_path) as cluster:
        assert cluster.wait(timeout=240) == [0, 0], cluster.log(0)[-3000:] + cluster.log(1)[-3000:]
    chief, other = _results(tmp_path)
    assert chief["epochs"] == [0, 1, 2] and chief["path"] == str(run_dir)
    assert other["epochs"] == [] and other["path"] == "None", "a non-chief worker writes no latents"
    assert chief["loss"] == other["loss"] and np.all(np.isfinite(chief["loss"])), "every worker logs the same"
    run = _check_complete_z(run_dir, tmp_path)
    config = run.summary()["config"]
    assert (config["strategy"], config["replicas"], config["workers"], config["tap_storage"]) == (
        "multi-worker", 2, 2, "stream")
    assert not list(tmp_path.glob("run/**/*.partial")) and not list(tmp_path.glob("run/.*.tmp"))


def test_a_dead_worker_fails_the_run_loudly_and_resume_finishes_it(tmp_path):
    run_dir = tmp_path / "run"
    with LocalCluster(2, "probe_worker.py", "fit", run_dir, 40, tmp_path, 0.5, log_dir=tmp_path) as cluster:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:  # let two epochs commit, then kill the second worker
            state = json.loads((run_dir / "run.json").read_text()) if (run_dir / "run.json").exists() else {}
            if state.get("epochs_done", 0) >= 2:
                break
            assert all(p.poll() is None for p in cluster.procs), cluster.log(0)[-3000:]
            time.sleep(0.1)
        cluster.procs[1].kill()
        killed = time.monotonic()
        assert cluster.procs[0].wait(timeout=120) != 0, "the chief must fail when a worker dies"
        detected = time.monotonic() - killed
    state = json.loads((run_dir / "run.json").read_text())
    assert state["status"] == "failed" and state["reason"], "the failure is recorded with its reason"
    done = state["epochs_done"]
    run = zlens.open_run(run_dir)
    assert run.epochs == list(range(done)) and done >= 2, "every committed epoch is intact, no half epoch"
    print(f"dead worker detected by the chief in {detected:.1f} s; {done} epochs committed")

    with LocalCluster(2, "probe_worker.py", "resume", run_dir, done + 2, tmp_path, log_dir=tmp_path) as cluster:
        assert cluster.wait(timeout=240) == [0, 0], cluster.log(0)[-3000:] + cluster.log(1)[-3000:]
    run = _check_complete_z(run_dir, tmp_path)
    assert run.summary()["config"]["tap_storage"] == "device"
    assert run.epochs == list(range(done + 2)), "resumed after the last committed epoch, no gap, no repeat"
