"""The two profiling tools run on a toy size and print what the README quotes from them.

Not a timing test: only the shape of the output is checked.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}


def _run(*args) -> str:
    done = subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, env=ENV, cwd=ROOT,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.mark.slow
def test_op_profile_names_the_dots_and_the_capture_scatters():
    out = _run("benchmarks.op_profile", "--rows", "1024", "--top", "5")
    assert "op profile: one epoch of N=1,024" in out
    grouped = out.split("grouped:")[1]
    shares = {line.rsplit(None, 1)[0].strip(): float(line.rsplit(None, 1)[1].rstrip("%"))
              for line in grouped.splitlines() if line.strip().endswith("%")}
    assert shares["matmuls (MatMul*)"] > 0 and shares["capture scatters (z, counts)"] > 0
    assert sum(shares.values()) <= 100.5


@pytest.mark.slow
def test_encode_blocks_times_every_block_size():
    out = _run("benchmarks.encode_blocks", "--rows", "2048", "--repeats", "1")
    rows = {line.split()[0]: line.split()[-5:] for line in out.splitlines()[2:]}
    assert set(rows) == {"zlens.encode", "first"} and all(float(v) > 0 for r in rows.values() for v in r)


@pytest.mark.slow
def test_encode_op_profile_names_the_matmuls_and_the_finiteness_check():
    out = _run("benchmarks.op_profile", "--encode", "--rows", "2048", "--top", "8")
    assert "encode profile: one zlens.encode pass of N=2,048" in out and "staging copies alone" in out
    assert "MatMul" in out and "Sum" in out
    assert "from an aligned copy of x" in out
