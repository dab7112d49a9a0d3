"""docs/scale-out.md's two-machine recipe, as documented: the same `zlens train --strategy
multi-worker` command in two processes, each with its own TF_CONFIG (here on 127.0.0.1)."""

import json
import subprocess
import sys

import numpy as np
import pytest
from local_cluster import ENV, free_ports

import zlens

pytestmark = pytest.mark.slow


def test_the_documented_two_worker_cli_recipe_trains_one_complete_run(tmp_path):
    x = np.random.default_rng(0).random((101, 12), dtype=np.float32)
    np.save(tmp_path / "x.npy", x)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in free_ports(2)]}
    procs = []
    try:
        for index in range(2):
            env = {**ENV, "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})}
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "zlens", "train", "--data", "x.npy", "--out", "runs/x", "--epochs", "2",
                 "--batch-size", "16", "--seed", "0", "--strategy", "multi-worker", "--quiet"],
                cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
        outputs = [p.communicate(timeout=300)[0] for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert [p.returncode for p in procs] == [0, 0], "\n".join(o[-3000:] for o in outputs)
    run = zlens.open_run(tmp_path / "runs/x")
    assert run.status == "finished" and run.epochs == [0, 1]
    assert run.summary()["config"]["workers"] == 2
    np.testing.assert_allclose(run.z(kind="consistent"), zlens.encode(run.model, x), rtol=1e-5, atol=1e-6)
