"""Row 7 (scale point): a million-row encode streamed from a memory-mapped `.npy` to a `.npy`.

The streaming encode runs in its own long-lived child process, so the peak RSS it reports is
its own (TF included) and holds across repetitions; the in-memory `zlens.encode` of the same
array, for the throughput ratio, runs in the suite's process with the same weights.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks import REPO_ROOT
from benchmarks.context import Context
from benchmarks.probe import STREAM, Probe, Row, timed
from benchmarks.work import LATENT, SEED, STREAM_FEATURES

STREAMED = Row("stream-zlens", "zlens encode_to_file, mmap .npy -> .npy", STREAM,
               "child process: encode_to_file(model, load_data(mmap .npy), out.npy); peak RSS in notes")
IN_MEMORY = Row("stream-memory", "zlens.encode, same array in memory", STREAM,
                "suite process: np.load whole, then zlens.encode(batch_size=stream_batch)")
_CHUNK = 65_536


def write_input(path: Path, n: int, features: int = STREAM_FEATURES, seed: int = SEED) -> Path:
    """Write an n x features float32 `.npy` in [0, 1) chunk by chunk (never whole in memory)."""
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, features))
    rng = np.random.default_rng(seed)
    for start in range(0, n, _CHUNK):
        stop = min(n, start + _CHUNK)
        out[start:stop] = rng.random((stop - start, features), dtype=np.float32)
    out.flush()
    del out
    return path


def _shared(ctx: Context) -> tuple[Path, Path, object]:
    """The input file and the 64-feature model (its weights saved for the child), made once."""
    if "stream_input" not in ctx.cache:
        import keras

        import zlens

        tmp = ctx.cache["tmp"]
        keras.utils.set_random_seed(SEED)
        model = zlens.models.dense(STREAM_FEATURES, LATENT, latent_activation="relu")
        weights = tmp / "stream_model.weights.h5"
        model.save_weights(weights)
        ctx.cache.update(stream_input=write_input(tmp / "stream_input.npy", ctx.sizes.n_stream),
                         stream_weights=weights, stream_model=model)
    return ctx.cache["stream_input"], ctx.cache["stream_weights"], ctx.cache["stream_model"]


def stream_probe(ctx: Context) -> Probe:
    """`encode_to_file` in a child process, one call per repetition; its peak RSS in `info`."""
    source, weights, _ = _shared(ctx)
    child = _Child(ctx.cache["tmp"], ctx.device, weights)
    output = ctx.cache["tmp"] / "stream_z.npy"
    info: dict = {"n_rows": ctx.sizes.n_stream, "features": STREAM_FEATURES, "reps": []}

    def measure():
        rep = child.ask({"input": str(source), "output": str(output), "batch": ctx.sizes.stream_batch})
        info["reps"].append(rep)
        info["peak_rss_bytes"] = rep["peak_rss_bytes"]
        info["before_first_encode"] = child.ready
        return {STREAMED.key: rep["seconds"]}

    def close():
        child.close()
        info["outputs_match"] = _matches(ctx, output)

    return Probe([STREAMED], measure, info=info, close=close)


def memory_probe(ctx: Context) -> Probe:
    """`zlens.encode` of the same array, loaded whole, in this process."""
    import zlens

    source, _, model = _shared(ctx)
    x = np.load(source)
    ctx.cache["stream_x"] = x
    batch = ctx.sizes.stream_batch
    return Probe([IN_MEMORY], timed(lambda: zlens.encode(model, x, batch_size=batch), IN_MEMORY.key))


def _matches(ctx: Context, output: Path) -> bool | None:
    """The child's streamed z equals this process's in-memory z (checked on the first rows)."""
    import zlens

    if not output.exists() or "stream_x" not in ctx.cache:
        return None
    rows = min(len(ctx.cache["stream_x"]), 20_000)
    z = zlens.encode(ctx.cache["stream_model"], ctx.cache["stream_x"][:rows])
    return bool(np.allclose(np.load(output, mmap_mode="r")[:rows], z, atol=1e-5))


class _Child:
    """A long-lived `python -m benchmarks.streaming` answering one JSON request per line."""

    def __init__(self, tmp: Path, device: str, weights: Path) -> None:
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "3")}
        self._stderr_path = tmp / "stream_child.stderr"
        with open(self._stderr_path, "w") as stderr:  # the child keeps its own copy of the handle
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "benchmarks.streaming", device, str(weights)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, text=True, env=env, cwd=REPO_ROOT,
            )
        self.ready: dict | None = None  # the child's memory after TF import and warm-up

    def ask(self, request: dict) -> dict:
        if self.ready is None:  # read late: the child starts up while the suite builds and warms up
            self.ready = self._read()
        self._proc.stdin.write(json.dumps(request) + "\n")
        self._proc.stdin.flush()
        return self._read()

    def _read(self) -> dict:
        for line in self._proc.stdout:  # skip anything a library printed to stdout
            if line.startswith("{"):
                return json.loads(line)
        self._proc.wait()
        raise RuntimeError(f"the streaming-encode child died:\n{self._stderr_path.read_text()[-3000:]}")

    def close(self) -> None:
        if self._proc.poll() is None:
            self._proc.stdin.close()
            self._proc.wait(timeout=60)


def _memory_now() -> dict[str, int]:
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


def _serve(device: str, weights: str) -> None:
    """The child: warm up, report memory, then one `encode_to_file` per request line."""
    from benchmarks.device import use_device

    with use_device(device):
        import zlens
        from zlens.encoding import encode_to_file

        model = zlens.models.dense(STREAM_FEATURES, LATENT, latent_activation="relu")
        model.load_weights(weights)
        zlens.encode(model, np.random.default_rng(SEED).random((1024, STREAM_FEATURES), dtype=np.float32))
        print(json.dumps(_memory_now()), flush=True)
        for line in sys.stdin:
            req = json.loads(line)
            # The last repetition's output goes first, untimed: replacing it would charge freeing
            # its pages to this encode (~20 ms per 25 MB here), which a new output never pays.
            Path(req["output"]).unlink(missing_ok=True)
            start = time.perf_counter()
            encode_to_file(model, zlens.data.load_data(req["input"]), req["output"], batch_size=req["batch"])
            print(json.dumps({"seconds": time.perf_counter() - start, **_memory_now()}), flush=True)


if __name__ == "__main__":
    _serve(sys.argv[1], sys.argv[2])
