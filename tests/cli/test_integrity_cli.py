"""What a user sees when a run is damaged, written twice, stopped, diverges or runs out of disk.

Real `zlens` processes on real run directories: files deleted and bits flipped, a second
process started on a run in training, SIGTERM, a tmpfs that fills up, a read-only mount.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}


def zlens(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "zlens", *map(str, args)], capture_output=True, text=True,
                          env=ENV, cwd=cwd, timeout=300)


def one_line(proc) -> str:
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    return lines[0]


def run_json(run) -> dict:
    return json.loads((run / "run.json").read_text())


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A finished 3-epoch run of the embedded digits; tests damage copies of it."""
    run = tmp_path_factory.mktemp("trained") / "run"
    proc = zlens("train", "--out", run, "--epochs", 3, "--seed", 0, "--quiet")
    assert proc.returncode == 0, proc.stderr
    return run


@pytest.fixture
def copy(trained, tmp_path):
    return shutil.copytree(trained, tmp_path / "copy")


def test_overwrite_never_deletes_a_folder_that_is_not_a_run(tmp_path):
    project = tmp_path / "my_project"
    project.mkdir()
    (project / "data.csv").write_text("a,b\n1,2\n")
    (project / "notes").mkdir()
    proc = zlens("train", "--out", project, "--overwrite", "--epochs", 1)
    assert proc.returncode == 2
    assert "is not a zlens run directory (it holds data.csv, notes): overwrite replaces only a run" in one_line(proc)
    assert sorted(p.name for p in project.iterdir()) == ["data.csv", "notes"]
    assert (project / "data.csv").read_text() == "a,b\n1,2\n"


def test_verify_passes_a_sound_run_and_names_each_damage(copy):
    proc = zlens("info", copy, "--verify")
    assert proc.returncode == 0 and "is sound" in proc.stdout, proc.stdout + proc.stderr

    (copy / "latents.zarr" / "consistent" / "z" / "c" / "1" / "0" / "0").unlink()
    chunk = copy / "latents.zarr" / "in-flight" / "recon_error" / "c" / "2" / "0"
    data = bytearray(chunk.read_bytes())
    data[len(data) // 2] ^= 0x10
    chunk.write_bytes(bytes(data))
    proc = zlens("info", copy, "--verify")
    assert proc.returncode == 1
    damaged = [line for line in proc.stdout.splitlines() if line.startswith("damaged:")]
    assert len(damaged) == 2
    assert "consistent/z of epoch 1" in damaged[0] + damaged[1] and "missing" in proc.stdout
    assert "in-flight/recon_error of epoch 2" in proc.stdout and "fails its checksum" in proc.stdout

    proc = zlens("export", copy, "--epoch", 1, "--kind", "consistent", "--out", copy.parent / "z.csv")
    assert proc.returncode == 2 and "consistent/z of epoch 1 cannot be read" in one_line(proc)
    assert not (copy.parent / "z.csv").exists()
    proc = zlens("export", copy, "--epoch", 0, "--out", copy.parent / "z0.npy")  # the others read
    assert proc.returncode == 0 and np.load(copy.parent / "z0.npy").shape == (1797, 32)


def test_a_damaged_run_json_or_a_missing_checkpoint_is_one_line_exit_2(copy):
    record = run_json(copy)
    os.remove(copy / record["checkpoint"])
    record["status"] = "failed"
    (copy / "run.json").write_text(json.dumps(record))
    proc = zlens("train", "--resume", copy, "--epochs", 5)
    assert proc.returncode == 2
    assert f"names the checkpoint '{copy / record['checkpoint']}', which is missing" in one_line(proc)

    del record["history"]
    (copy / "run.json").write_text(json.dumps(record))
    for command in (("info", copy), ("report", copy, "--quiet"), ("train", "--resume", copy)):
        proc = zlens(*command)
        assert proc.returncode == 2
        assert f"'{copy / 'run.json'}' is damaged: its field 'history' is missing" in one_line(proc)


def test_info_into_a_pipe_closed_early_ends_quietly(trained):
    """`zlens info RUN | head -1`: the reader may leave first (`true` leaves before zlens writes)."""
    proc = subprocess.run(f"{sys.executable} -m zlens info {trained} | true; echo ${{PIPESTATUS[0]}}", shell=True,
                          executable="/bin/bash", capture_output=True, text=True, env=ENV)
    assert proc.stdout.strip() == "0" and proc.stderr == ""


def test_report_quiet_prints_nothing(copy):
    proc = zlens("report", copy, "--quiet", "--no-gif")
    assert proc.returncode == 0 and proc.stderr == "" and proc.stdout == ""


def wait_for_epochs(run, n, proc, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        try:
            if run_json(run)["epochs_done"] >= n:
                return
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.05)
    raise AssertionError(f"no {n} epochs within {timeout} s")


@pytest.mark.slow
def test_a_second_writer_is_refused_and_sigterm_marks_the_run_failed(tmp_path):
    run = tmp_path / "run"
    first = subprocess.Popen([sys.executable, "-m", "zlens", "train", "--out", str(run), "--epochs", "2000",
                              "--seed", "0", "--quiet"], env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
    try:
        wait_for_epochs(run, 2, first)
        for second in (("train", "--out", run, "--overwrite"), ("train", "--resume", run)):
            proc = zlens(*second)
            assert proc.returncode == 2
            assert f"is in use by another process (pid {first.pid} on " in one_line(proc)
        first.send_signal(signal.SIGTERM)
        _, stderr = first.communicate(timeout=60)
    finally:
        first.kill()
    assert first.returncode == 143
    assert "terminated (SIGTERM); the committed epochs" in stderr and "Traceback" not in stderr
    record = run_json(run)
    assert record["status"] == "failed" and record["reason"].startswith("terminated (SIGTERM)")
    done = record["epochs_done"]
    assert zlens("info", run, "--verify").returncode == 0

    proc = zlens("train", "--resume", run, "--epochs", done + 2, "--quiet")
    assert proc.returncode == 0, proc.stderr
    record = run_json(run)
    assert record["status"] == "finished" and [r["epoch"] for r in record["history"]] == list(range(done + 2))


@pytest.mark.slow
def test_a_run_that_diverges_exits_1_and_resume_with_a_lower_rate_starts_it(tmp_path):
    run = tmp_path / "run"
    proc = zlens("train", "--out", run, "--model", "vae", "--epochs", 3, "--learning-rate", 1e6, "--seed", 0)
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("zlens train: stopped: training diverged at epoch ") and "--learning-rate" in last
    record = run_json(run)
    assert record["status"] == "failed" and record["reason"].startswith("training diverged")
    assert zlens("info", run, "--verify").returncode == 0
    proc = zlens("train", "--resume", run, "--learning-rate", 1e-3, "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert run_json(run)["status"] == "finished" and run_json(run)["epochs_done"] == 3


@pytest.fixture
def small_disk(tmp_path):
    """A 3 MB tmpfs (root only): fills up after a few epochs of the digits run."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root; this test runs as another user")
    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(disk)]).returncode != 0:
        pytest.skip("this machine does not let root mount a tmpfs (a container without CAP_SYS_ADMIN)")
    yield disk
    subprocess.run(["umount", "-l", str(disk)])


@pytest.mark.slow
def test_a_full_disk_and_a_read_only_run_give_one_line_and_keep_the_committed_epochs(small_disk, tmp_path):
    run = small_disk / "run"
    proc = zlens("train", "--out", run, "--epochs", 200, "--seed", 0, "--quiet")
    assert proc.returncode == 1
    line = one_line(proc)
    assert "No space left on device" in line and f"zlens train --resume {run}" in line
    record = run_json(run)
    assert record["status"] in ("failed", "running") and record["epochs_done"] >= 1
    if record["status"] == "failed":
        assert "No space left on device" in record["reason"]
    proc = zlens("export", run, "--epoch", record["epochs_done"] - 1, "--out", tmp_path / "z.npy")
    assert proc.returncode == 0 and np.isfinite(np.load(tmp_path / "z.npy")).all()

    assert subprocess.run(["mount", "-o", "remount,ro", str(small_disk)]).returncode == 0
    proc = zlens("train", "--resume", run)
    assert proc.returncode == 2
    assert f"cannot write to the run directory '{run}' (Read-only file system)" in one_line(proc)
    assert zlens("info", run).returncode == 0
