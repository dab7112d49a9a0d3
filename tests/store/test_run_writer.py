"""`RunWriter` writes each epoch on a background thread while the next one trains: the commit
order (latents, checkpoint, run.json) holds, and a write that fails fails the run loudly."""

import json

import numpy as np
import pytest

import zlens
from zlens.store import LatentStore


@pytest.fixture
def x():
    return np.random.default_rng(0).random((300, 10), dtype=np.float32)


def test_queued_writes_land_in_order_and_are_all_there_when_fit_returns(x, tmp_path):
    run = zlens.fit("dense", x, epochs=4, batch_size=64, encoding_dim=2, seed=0, capture="both",
                    run_dir=tmp_path / "run")
    state = json.loads((tmp_path / "run" / "run.json").read_text())
    assert state["status"] == "finished" and state["epochs_done"] == 4
    assert [row["epoch"] for row in state["history"]] == [0, 1, 2, 3]
    store = LatentStore.open(tmp_path / "run" / "latents.zarr")
    assert store.epochs == [0, 1, 2, 3]
    for epoch in range(4):
        np.testing.assert_array_equal(store.read("z", epoch, "consistent"), run.z(epoch, "consistent"))
    np.testing.assert_allclose(zlens.encode(run, x), run.z(3, "consistent"), rtol=1e-5, atol=1e-6)


def test_a_failed_background_write_fails_the_run_and_keeps_what_was_committed(x, tmp_path, monkeypatch):
    real_commit = LatentStore.write_epoch

    def disk_full_at_epoch_2(self, epoch, values, **kwargs):
        if epoch == 2:
            raise OSError(28, "No space left on device")
        real_commit(self, epoch, values, **kwargs)

    monkeypatch.setattr(LatentStore, "write_epoch", disk_full_at_epoch_2)
    with pytest.raises(OSError, match="No space left on device"):
        zlens.fit("dense", x, epochs=6, batch_size=64, encoding_dim=2, seed=0, run_dir=tmp_path / "run")
    state = json.loads((tmp_path / "run" / "run.json").read_text())
    assert state["status"] == "failed" and "No space left on device" in state["reason"]
    assert state["epochs_done"] == 2  # epochs 0 and 1: latents, checkpoint and record all landed
    assert LatentStore.open(tmp_path / "run" / "latents.zarr").epochs == [0, 1]
    monkeypatch.setattr(LatentStore, "write_epoch", real_commit)
    resumed = zlens.resume(tmp_path / "run", x, epochs=3)
    assert resumed.epochs == [0, 1, 2] and resumed.status == "finished"


def test_a_slow_store_write_still_stores_each_epochs_own_host_buffer(x, monkeypatch):
    """The background write of epoch e may still run while epoch e+1 scatters into the host
    buffer: what it stores must be epoch e's matrix (the buffer is read as a copy)."""
    import time

    fit = dict(epochs=3, batch_size=64, encoding_dim=2, seed=0, capture="in-flight", jit_compile=False)
    device = zlens.fit("dense", x, tap_storage="device", **fit)
    real_commit = LatentStore.write_epoch

    def slow_commit(self, epoch, values, **kwargs):
        time.sleep(0.5)  # the next epoch (~0.1 s here) runs meanwhile
        real_commit(self, epoch, values, **kwargs)

    monkeypatch.setattr(LatentStore, "write_epoch", slow_commit)
    host = zlens.fit("dense", x, tap_storage="host", **fit)
    for epoch in range(3):
        np.testing.assert_array_equal(host.z(epoch), device.z(epoch))
