"""Start the tests' helper processes: probes over logical devices, and workers of a local cluster.

Every process is bounded in time and killed by the test that started it, whatever happens.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}


def run_probe(script: str, *args, timeout: float = 240) -> subprocess.CompletedProcess:
    """Run `tests/distribute/<script>` in a fresh Python; raise with its output if it fails."""
    proc = subprocess.run([sys.executable, str(HERE / script), *map(str, args)], env=ENV, timeout=timeout,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise AssertionError(f"{script} {' '.join(map(str, args))} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return proc


def free_ports(count: int) -> list[int]:
    """Ports free on 127.0.0.1 now (held open together, so they differ)."""
    socks = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


class LocalCluster:
    """N worker processes of one MultiWorkerMirroredStrategy run on 127.0.0.1, with TF_CONFIG set.

    Use as a context manager: leaving it kills every worker still alive.
    """

    def __init__(self, workers: int, script: str, *args, log_dir: Path) -> None:
        self.workers, self.script, self.args, self.log_dir = workers, script, args, Path(log_dir)
        self.procs: list[subprocess.Popen] = []

    def __enter__(self) -> LocalCluster:
        cluster = {"worker": [f"127.0.0.1:{p}" for p in free_ports(self.workers)]}
        for index in range(self.workers):
            env = {**ENV, "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})}
            log = open(self.log_dir / f"worker-{index}.log", "w")
            self.procs.append(subprocess.Popen([sys.executable, str(HERE / self.script), *map(str, self.args)],
                                               env=env, stdout=log, stderr=subprocess.STDOUT))
        return self

    def wait(self, timeout: float) -> list[int]:
        """Wait for every worker (at most `timeout` seconds each); their exit codes."""
        return [p.wait(timeout=timeout) for p in self.procs]

    def log(self, index: int) -> str:
        return (self.log_dir / f"worker-{index}.log").read_text()

    def __exit__(self, *exc) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=30)
