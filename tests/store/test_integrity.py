"""A damaged store is an error, never numbers; one writer per run; a kill leaves files that agree.

Real Zarr stores on disk, damaged the way disks, sync tools and people damage them: a chunk
file deleted, single bits flipped.
"""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import zarr

from zlens.errors import RunError
from zlens.run_open import open_run
from zlens.store import LatentStore, RunDirectory
from zlens.store._checks import nonfinite_rows
from zlens.store.run_directory import METRICS_CSV, RUN_JSON
from zlens.store.run_lock import RunLock
from zlens.store.verify import verify_run

N = 600


def values_for(epoch):
    rng = np.random.default_rng(epoch)
    return {"in-flight": {"z": rng.normal(size=(N, 4)).astype("float32"), "recon_error": rng.random(N)}}


def written_store(path, epochs=3):
    store = LatentStore.create(path, n_samples=N, taps={"z": (4,), "recon_error": ()}, kinds=["in-flight"],
                               labels=np.arange(N) % 5)
    for epoch in range(epochs):
        store.write_epoch(epoch, values_for(epoch))
    return store


def test_every_array_on_disk_carries_a_crc32c_checksum(tmp_path):
    written_store(tmp_path / "l.zarr")
    group = zarr.open_group(tmp_path / "l.zarr", mode="r")
    for name in ("in-flight/z", "in-flight/recon_error", "epochs", "labels"):
        codecs = [c["name"] for c in group[name].metadata.to_dict()["codecs"]]
        assert codecs[-1] == "crc32c", (name, codecs)


def test_a_deleted_chunk_of_a_committed_epoch_is_an_error_naming_tap_epoch_and_file(tmp_path):
    written_store(tmp_path / "l.zarr")
    chunk = tmp_path / "l.zarr" / "in-flight" / "z" / "c" / "1" / "0" / "0"
    chunk.unlink()
    store = LatentStore.open(tmp_path / "l.zarr")
    with pytest.raises(RunError, match=rf"in-flight/z of epoch 1 .*{chunk}' is missing"):
        store.read("z", 1)
    with pytest.raises(RunError, match="epoch 1"):
        store.read_all("z")
    with pytest.raises(RunError, match="epoch 1"):
        store.array("z")[:, :10]
    np.testing.assert_array_equal(store.read("z", 2), values_for(2)["in-flight"]["z"])  # the others read
    assert any("in-flight/z of epoch 1" in p for p in store.verify())


def test_every_single_bit_flip_in_a_z_chunk_is_detected(tmp_path):
    written_store(tmp_path / "l.zarr")
    chunk = tmp_path / "l.zarr" / "in-flight" / "z" / "c" / "2" / "0" / "0"
    original = chunk.read_bytes()
    rng = np.random.default_rng(9)
    for position in rng.choice(len(original) * 8, size=12, replace=False):
        damaged = bytearray(original)
        damaged[position // 8] ^= 1 << (position % 8)
        chunk.write_bytes(bytes(damaged))
        with pytest.raises(RunError, match=rf"in-flight/z of epoch 2 .*{chunk}' fails its checksum"):
            LatentStore.open(tmp_path / "l.zarr").read("z", 2)
    chunk.write_bytes(original)
    assert LatentStore.open(tmp_path / "l.zarr").verify() == []


def test_damaged_labels_and_epochs_arrays_are_found_by_verify(tmp_path):
    written_store(tmp_path / "l.zarr")
    (tmp_path / "l.zarr" / "labels" / "c" / "0").unlink()
    epochs_chunk = tmp_path / "l.zarr" / "epochs" / "c" / "0"
    epochs_chunk.write_bytes(epochs_chunk.read_bytes()[:-1] + b"\0")
    problems = LatentStore.open(tmp_path / "l.zarr").verify()
    assert any(p.startswith("labels cannot be read") for p in problems)
    assert any(p.startswith("epochs") and "checksum" in p for p in problems)


def test_nonfinite_rows_are_counted_and_flagged_at_commit(tmp_path):
    assert nonfinite_rows(np.full((3, 2), 3e38, "float32")) == 0  # a sum that overflows is not a NaN
    store = written_store(tmp_path / "l.zarr", epochs=1)
    values = values_for(1)
    values["in-flight"]["z"][[3, 7]] = np.nan
    values["in-flight"]["recon_error"][5] = np.inf
    store.write_epoch(1, values)
    again = LatentStore.open(tmp_path / "l.zarr")
    assert again.nonfinite == {1: {"in-flight/z": 2, "in-flight/recon_error": 1}}
    assert again.verify() == []  # flagged: recorded on purpose
    again = LatentStore.open(tmp_path / "l.zarr", mode="r+")
    again.truncate_after(0)
    assert LatentStore.open(tmp_path / "l.zarr").nonfinite == {}


def test_unflagged_nonfinite_values_are_damage(tmp_path):
    written_store(tmp_path / "l.zarr")
    zarr.open_array(tmp_path / "l.zarr" / "in-flight" / "z", mode="r+")[1, 0, 0] = np.nan
    assert any("epoch 1: 1 rows hold NaN" in p for p in LatentStore.open(tmp_path / "l.zarr").verify())


def test_a_reader_sees_only_the_epochs_run_json_committed(tmp_path):
    """Killed between the store's commit and run.json's: the extra epoch is not shown, and a resume
    redoes it."""
    directory = RunDirectory.create(tmp_path / "run", config={"epochs": 5, "capture_every": 1}, data={}, seed=0,
                                    versions={})
    store = written_store(directory.latents_path, epochs=3)
    for epoch in (0, 1):
        directory.checkpoint_path_for(epoch).write_bytes(b"")
        directory.record_epoch(epoch, {"loss": 1.0 / (epoch + 1)}, checkpoint=None)
    assert store.epochs == [0, 1, 2]
    assert open_run(tmp_path / "run").epochs == [0, 1]


def test_metrics_csv_is_written_before_run_json(tmp_path, monkeypatch):
    """A kill between the two writes leaves metrics.csv ahead of run.json, never behind it."""
    directory = RunDirectory.create(tmp_path / "run", config={}, data={}, seed=0, versions={})
    order = []
    import zlens.store.run_directory as module

    real = module.atomic_write_text
    monkeypatch.setattr(module, "atomic_write_text", lambda path, text: (order.append(path.name), real(path, text)))
    directory.record_epoch(0, {"loss": 1.0}, checkpoint=None)
    assert order == [METRICS_CSV, RUN_JSON]


def test_overwrite_replaces_only_a_zlens_run(tmp_path):
    mine = tmp_path / "my_project"
    mine.mkdir()
    (mine / "thesis.tex").write_text("years of work")
    (mine / "run.json").write_text('{"mine": true}')
    with pytest.raises(RunError,
                       match=r"is not a zlens run directory \(it holds thesis.tex\).*overwrite replaces only"):
        RunDirectory.create(mine, config={}, data={}, seed=0, versions={}, overwrite=True)
    (mine / "thesis.tex").unlink()
    with pytest.raises(RunError, match="has no format='zlens-run'"):
        RunDirectory.create(mine, config={}, data={}, seed=0, versions={}, overwrite=True)
    assert (mine / "run.json").read_text() == '{"mine": true}'
    run = RunDirectory.create(tmp_path / "run", config={}, data={}, seed=0, versions={})
    (run.path / "report.html").write_text("<html>")
    run.release()
    replaced = RunDirectory.create(tmp_path / "run", config={"new": 1}, data={}, seed=0, versions={}, overwrite=True)
    assert replaced.config == {"new": 1} and not (tmp_path / "run" / "report.html").exists()


def test_a_run_json_missing_a_field_is_one_line_naming_the_file(tmp_path):
    run = RunDirectory.create(tmp_path / "run", config={}, data={}, seed=0, versions={})
    record = json.loads((run.path / RUN_JSON).read_text())
    del record["epochs_done"]
    (run.path / RUN_JSON).write_text(json.dumps(record))
    with pytest.raises(RunError, match=rf"'{run.path / RUN_JSON}' is damaged: its field 'epochs_done' is missing"):
        RunDirectory.open(run.path)


HOLD_LOCK = textwrap.dedent("""
    import sys, time
    from zlens.store.run_lock import RunLock
    RunLock.acquire(sys.argv[1])
    print("held", flush=True)
    time.sleep(60)
""")


def test_a_second_writer_is_refused_with_the_first_ones_pid_and_a_dead_ones_lock_is_taken_over(tmp_path):
    run = RunDirectory.create(tmp_path / "run", config={}, data={}, seed=0, versions={})
    run.release()
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(run.path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(RunError, match=rf"in use by another process \(pid {holder.pid} on "):
            RunDirectory.create(run.path, config={}, data={}, seed=0, versions={}, overwrite=True)
        with pytest.raises(RunError, match=rf"pid {holder.pid}"):
            RunDirectory.open(run.path).lock()
    finally:
        holder.kill()  # kill -9: no clean-up of its own
        holder.wait()
    RunLock.check_free(run.path)
    again = RunDirectory.open(run.path)
    again.lock()
    again.release()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through file permissions; tests/cli use a read-only mount")
def test_a_run_that_cannot_be_written_is_refused_in_one_line(tmp_path):
    run = RunDirectory.create(tmp_path / "run", config={}, data={}, seed=0, versions={})
    run.release()
    os.chmod(run.path, 0o555)
    try:
        with pytest.raises(RunError, match="cannot write to the run directory"):
            RunDirectory.open(run.path).lock()
    finally:
        os.chmod(run.path, 0o755)


def test_verify_finds_a_damaged_checkpoint_and_metrics_csv(tmp_path):
    directory = RunDirectory.create(tmp_path / "run", config={"capture_every": 1}, data={}, seed=0, versions={})
    written_store(directory.latents_path, epochs=1)
    import zipfile

    with zipfile.ZipFile(directory.checkpoint_path_for(0), "w") as archive:
        archive.writestr("model.weights.h5", b"weights" * 100)
    directory.record_epoch(0, {"loss": 0.5}, checkpoint=directory.checkpoint_path_for(0))
    assert verify_run(directory.path).sound
    data = bytearray(directory.checkpoint_path.read_bytes())
    data[30 + len("model.weights.h5") + 300] ^= 1  # inside the stored member's bytes
    directory.checkpoint_path.write_bytes(bytes(data))
    directory.metrics_path.write_text("epoch,loss\n0,0.25\n")
    problems = verify_run(directory.path).problems
    assert any("the checkpoint" in p and "damaged" in p for p in problems)
    assert any("metrics.csv" in p and "disagrees" in p for p in problems)
