"""Probes in processes of their own: no row shares its process with another framework's rows.

`Worker` (the suite's side) starts `python -m benchmarks.worker`, which builds the probes it is
named (builders as "module:function"), warms them up, then runs one repetition per request and
answers with one JSON line. The suite keeps every worker warm and asks them in turn, so the
rows stay interleaved while each runs alone in its process, with its own threads.
"""

from __future__ import annotations

import importlib
import json
import os
import resource
import subprocess
import sys
import traceback
from pathlib import Path

from benchmarks import REPO_ROOT
from benchmarks.probe import Probe


class WorkerError(RuntimeError):
    """A worker process failed; the message ends with its stderr."""


class Worker:
    """A warm child process hosting the probes of `builders` (see the module docstring).

    Args:
        name: what the table calls the process.
        builders: "module:function" of each probe builder, run in the child in this order.
        request: what the child's `Context` is made of: `sizes` (a dict), `device`, `tmp`,
            `rate_seconds`, and `framework` ("tf" runs the builders under `use_device`).
        env: variables to set (a value) or remove (None) for this child alone.
    """

    def __init__(self, name: str, builders: list[str], request: dict, env: dict | None = None) -> None:
        self.name = name
        environ = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "3")}
        for key, value in (env or {}).items():
            environ.pop(key, None) if value is None else environ.__setitem__(key, value)
        self._stderr_path = Path(request["tmp"]) / f"worker-{name}.stderr"
        with open(self._stderr_path, "w") as stderr:  # the child keeps its own copy of the handle
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "benchmarks.worker"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=stderr, text=True, env=environ, cwd=REPO_ROOT,
            )
        self._send({**request, "builders": builders})
        self._built: dict | None = None

    def probes(self) -> list[Probe]:
        """The built probes, as probes of this process: `measure` asks the child for one repetition."""
        built = self._built = self._built or self._read()
        out, self._infos = [], []
        for i, desc in enumerate(built["probes"]):
            info = {**desc["info"], "process": self.name, **built["process"]}
            self._infos.append(info)
            measure = None if desc["skipped"] else (lambda i=i, info=info: self._measure(i, info))
            out.append(Probe(rows=[], measure=measure, warm_up=False, skipped=desc["skipped"], info=info,
                             heavy=desc["heavy"]))
        return out

    def _measure(self, i: int, info: dict) -> dict[str, float]:
        self._send({"measure": i})
        reply = self._read()
        info.update(reply["info"])
        info.setdefault("cpu", []).append(reply["cpu"])
        return reply["seconds"]

    def close(self) -> None:
        """Let the child close its probes and exit (again: nothing)."""
        if self._proc.poll() is None and not self._proc.stdin.closed:
            self._send({"close": True})
            for info, closed in zip(self._infos, self._read()["infos"], strict=True):
                info.update(closed)
            self._proc.stdin.close()
            self._proc.wait(timeout=120)

    def kill(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()

    def _send(self, request: dict) -> None:
        self._proc.stdin.write(json.dumps(request) + "\n")
        self._proc.stdin.flush()

    def _read(self) -> dict:
        line = self._proc.stdout.readline()
        reply = json.loads(line) if line else {"error": "the process ended"}
        if "error" in reply:
            self._proc.wait(timeout=30) if self._proc.poll() is not None else None
            tail = self._stderr_path.read_text()[-3000:]
            raise WorkerError(f"benchmark worker {self.name!r} failed: {reply['error']}\n{tail}")
        return reply


def process_memory() -> dict[str, int]:
    """Peak and current RSS of this process, in bytes (Linux /proc; getrusage elsewhere)."""
    fields = {"VmHWM": "peak_rss_bytes", "RssAnon": "rss_anon_bytes", "RssFile": "rss_file_bytes"}
    out = {"peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in fields:
                out[fields[name]] = int(value.split()[0]) * 1024
    except OSError:
        pass
    return out


def cpu_ticks() -> tuple[int, int, int]:
    """(this process' CPU ticks, the machine's busy ticks, the machine's total ticks) so far."""
    try:
        own = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except OSError:
        return 0, 0, 0
    return int(own[11]) + int(own[12]), sum(fields) - fields[3] - fields[4], sum(fields)


def _cpu_used(before, after) -> dict[str, float]:
    """Cores this process kept busy during a measurement, and cores busy elsewhere on the machine
    (other processes: what a shared machine's load took from the row)."""
    own, busy, total = (b - a for a, b in zip(before, after, strict=True))
    cores = os.cpu_count() or 1
    if total <= 0:
        return {"own_cores": 0.0, "other_cores": 0.0}
    return {"own_cores": round(cores * own / total, 2), "other_cores": round(cores * max(0, busy - own) / total, 2)}


def thread_counts() -> dict:
    """The threads this process' frameworks compute with, and which frameworks it has loaded."""
    out: dict = {"frameworks": sorted(name for name in ("tensorflow", "torch") if name in sys.modules)}
    if "tensorflow" in sys.modules:
        tf = sys.modules["tensorflow"]
        cores = os.cpu_count() or 1  # TF's 0 means its default: one thread per core
        out["tf_intra_op"] = tf.config.threading.get_intra_op_parallelism_threads() or cores
        out["tf_inter_op"] = tf.config.threading.get_inter_op_parallelism_threads() or cores
    if "torch" in sys.modules:
        torch = sys.modules["torch"]
        out["torch_threads"], out["torch_interop"] = torch.get_num_threads(), torch.get_num_interop_threads()
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return out
    out["blas"] = sorted({f"{i['internal_api']} {i['num_threads']}" for i in threadpool_info()
                          if i.get("user_api") == "blas"})
    return out


def _serve() -> None:
    """The child: build the probes of the first request line, then answer one line per request."""
    replies = os.fdopen(os.dup(1), "w")  # what libraries print to stdout goes to stderr instead
    os.dup2(2, 1)

    def reply(obj) -> None:
        replies.write(json.dumps(obj) + "\n")
        replies.flush()

    try:
        probes = _build(json.loads(sys.stdin.readline()))
        reply({"probes": [{"skipped": p.skipped, "heavy": p.heavy, "info": p.info} for p in probes],
               "process": {"threads": thread_counts(), "pid": os.getpid()}})
        for line in sys.stdin:
            request = json.loads(line)
            if "close" in request:
                for probe in probes:
                    if probe.close is not None:
                        probe.close()
                reply({"infos": [probe.info for probe in probes]})
                return
            probe = probes[request["measure"]]
            before = cpu_ticks()
            seconds = dict(probe.measure())
            reply({"seconds": seconds, "info": probe.info, "cpu": _cpu_used(before, cpu_ticks())})
    except BaseException as err:  # reported to the suite, which shows this process' stderr
        traceback.print_exc()
        reply({"error": repr(err)})


def _build(request: dict) -> list[Probe]:
    """Make the `Context`, build each probe and warm it up (so the suite's warm-up is here)."""
    import contextlib

    from benchmarks.context import Context
    from benchmarks.work import Sizes

    ctx = Context(sizes=Sizes(**request["sizes"]), device=request["device"])
    ctx.cache.update(tmp=Path(request["tmp"]), rate_seconds=request["rate_seconds"])
    scope = contextlib.nullcontext()
    if request.get("framework") == "tf":
        from benchmarks.device import use_device

        scope = use_device(request["device"])
    scope.__enter__()  # for the life of this process: every row's TF work runs on the device asked
    probes = []
    for spec in request["builders"]:
        module, _, function = spec.partition(":")
        probes.append(getattr(importlib.import_module(module), function)(ctx))
    for probe in probes:
        if probe.skipped is None and probe.warm_up:
            probe.measure()
    return probes


if __name__ == "__main__":
    _serve()
