"""Run every probe in its process, interleaved (rep 1 of all rows, then rep 2, ...), and gather.

`run_suite` is what `python -m benchmarks` and the smoke test call. Each `Process` below is a
warm worker (`benchmarks.worker`) holding only its own framework: zlens' rows share one
process with TensorFlow alone; every competitor row (PyTorch, Keras, the classic loop) and
every library timed for the limit has a process of its own. This process only asks them in
turn, so one row runs at a time. It returns one JSON-ready dict with per-row medians, the
ratios to zlens and to both limits, and each row's threads.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from benchmarks import (
    limit,
    rows_classic,
    rows_conv,
    rows_encode,
    rows_keras,
    rows_large,
    rows_torch,
    rows_zlens,
    streaming,
)
from benchmarks.context import Context
from benchmarks.device import check_device
from benchmarks.machine import describe, load_average
from benchmarks.probe import CONV, ENCODE, LARGE, STREAM, TRAINING, Probe, Row
from benchmarks.targets import evaluate
from benchmarks.work import COUNTED, SEED, Sizes
from benchmarks.worker import Worker


@dataclass(frozen=True)
class Process:
    """One worker process: its probe builders (each with the rows it measures), its framework
    ("tf" runs the builders under `use_device`), variables set (or removed: None) for it alone,
    whether it must start after every earlier process is built (it reads their files), and the
    process it takes over from: that one's heavy rows run in the first rounds and it is then
    closed; this one is started then and its heavy rows run in the last rounds (so the 3 GB
    the in-memory N=1M process holds are not taken from the page cache the memory-mapped
    one reads its file through)."""

    name: str
    framework: str
    builders: tuple[tuple[Callable[[Context], Probe], tuple[Row, ...]], ...]
    env: dict = field(default_factory=dict)
    after_previous: bool = False
    takes_over: str | None = None


PROCESSES = (
    Process("zlens", "tf", ((rows_zlens.capture_probe, (rows_zlens.ZLENS,)),
                            (rows_zlens.capture_off_probe, (rows_zlens.ZLENS_OFF,)),
                            (rows_conv.capture_probe, (rows_conv.CONV_ZLENS,)),
                            (rows_encode.encode_probe, (rows_encode.ZLENS_ENCODE,)),
                            (streaming.memory_probe, (streaming.IN_MEMORY,)))),
    Process("classic", "tf", ((rows_classic.classic_probe, (rows_classic.CLASSIC,)),)),
    Process("keras", "tf", ((rows_keras.fit_predict_probe, (rows_keras.KERAS,)),)),
    Process("torch", "torch", ((rows_torch.training_probe, (rows_torch.TORCH,)),)),
    Process("conv-torch", "torch", ((rows_torch.conv_training_probe, (rows_torch.CONV_TORCH,)),)),
    Process("large-memory", "tf", ((rows_large.memory_probe, (rows_large.LARGE_MEMORY,)),)),
    Process("large-memmap", "tf", ((rows_large.memmap_probe, (rows_large.LARGE_MEMMAP,)),), takes_over="large-memory"),
    Process("encode-keras", "tf", ((rows_keras.predict_probe, (rows_keras.KERAS_PREDICT,)),)),
    Process("encode-torch", "torch", ((rows_torch.encode_probe, (rows_torch.TORCH_ENCODE,)),)),
    Process("stream", "tf", ((streaming.stream_probe, (streaming.STREAMED,)),), after_previous=True),
)
#: The libraries the limits are timed in, each in its process (their probes have no rows).
RATE_PROCESSES = (
    Process("limit-numpy", "numpy", ((limit.numpy_rates_probe, ()),), env=dict.fromkeys(limit.OPENBLAS_PINS)),
    Process("limit-tensorflow", "tf", ((limit.tensorflow_rates_probe, ()),)),
    Process("limit-torch", "torch", ((limit.torch_rates_probe, ()),)),
)
#: Rows computed here from other rows: the resident path's epoch scaled to N=n_large.
DERIVED = (rows_large.RESIDENT,)
ROWS = (*(row for p in PROCESSES for _, rows in p.builders for row in rows), *DERIVED, *limit.ROWS)
#: Rows that cannot run without another: the streamed encode reads the input the in-memory row
#: writes; the derived row scales the zlens row.
NEEDS = {streaming.STREAMED.key: streaming.IN_MEMORY.key, rows_large.RESIDENT.key: rows_zlens.ZLENS.key}

#: Per section: its unit, its N (a `Sizes` field), the row "x zlens" divides by, its limit rows.
SECTIONS = {
    TRAINING: ("seconds per epoch", "n_train", rows_zlens.ZLENS.key, limit.LIMIT.key, limit.PEAK.key),
    CONV: ("seconds per epoch, 28x28x1 images", "n_conv", rows_conv.CONV_ZLENS.key, None, None),
    LARGE: ("seconds per epoch", "n_large", rows_large.RESIDENT.key, None, None),
    ENCODE: ("seconds per encode pass", "n_train", rows_encode.ZLENS_ENCODE.key, limit.ENCODE_LIMIT.key,
             limit.ENCODE_PEAK.key),
    STREAM: ("seconds per encode pass", "n_stream", streaming.IN_MEMORY.key, limit.STREAM_LIMIT.key,
             limit.STREAM_PEAK.key),
}


class UnknownRowError(ValueError):
    """`--rows` named a row or section the suite does not have."""


def select(rows: Iterable[str] | None) -> list[Process]:
    """The processes (with only the builders needed) for `rows`: row keys or section names
    (None: all). The limits always run."""
    if not rows:
        return list(PROCESSES)
    wanted = set(rows)
    unknown = wanted - {row.key for row in ROWS} - set(SECTIONS)
    if unknown:
        choices = ", ".join((*SECTIONS, *(row.key for row in ROWS)))
        raise UnknownRowError(f"unknown rows {sorted(unknown)}; choose from {choices}.")
    keys = {row.key for row in ROWS if row.key in wanted or row.section in wanted}
    keys |= {NEEDS[k] for k in keys if k in NEEDS}
    chosen = []
    for process in PROCESSES:
        builders = tuple(b for b in process.builders if any(row.key in keys for row in b[1]))
        if builders:
            chosen.append(Process(process.name, process.framework, builders, process.env, process.after_previous,
                                  process.takes_over))
    return chosen


def run_suite(
    sizes: Sizes,
    *,
    device: str = "cpu",
    rows: Iterable[str] | None = None,
    mode: str = "custom",
    rate_seconds: float = 0.3,
    log: Callable[[str], None] | None = None,
) -> dict:
    """Measure the selected rows; return the results as a JSON-ready dict (see `table.py`).

    Args:
        sizes: how big the work is and how many repetitions (`work.FULL`, `work.QUICK`, or
            a toy override for tests).
        device: "cpu" or "gpu" (TF on '/GPU:0', torch on cuda); an error if there is no GPU.
        rows: row keys or section names to run (default: all); the limits always run.
        mode: a label for the table ("full", "quick", ...).
        rate_seconds: time spent measuring the matmul rates of each library, per repetition.
        log: progress messages (default: to stderr).
    """
    started = time.perf_counter()
    log = log or (lambda msg: print(f"[{time.perf_counter() - started:6.1f}s] {msg}", file=sys.stderr, flush=True))
    processes = select(rows)
    check_device(device)
    machine = describe(device)
    with tempfile.TemporaryDirectory(prefix="zlens-bench-") as tmp:
        request = {"sizes": sizes.to_dict(), "device": device, "tmp": tmp, "rate_seconds": rate_seconds}
        workers: list[Worker] = []
        try:
            later = [p for p in processes if p.takes_over and p.takes_over in {q.name for q in processes}]
            probes, rate_probes = _start([p for p in processes if p not in later], workers, request, log)
            ctx = Context(sizes=sizes, device=device)
            probes.append(limit.limit_probe(ctx, rate_probes))
            samples = _measure(probes, sizes, log, lambda: _start(later, workers, request, log, rates=False)[0],
                               workers)
            for worker in workers:
                worker.close()
        finally:
            for worker in workers:
                worker.kill()
        machine["load_average_end"] = load_average()
    _derive(samples, sizes)
    result = {
        "suite": "zlens benchmarks (issue 14)",
        "mode": mode,
        "sizes": sizes.to_dict(),
        "seed": SEED,
        "machine": machine,
        "zlens_settings": dict(rows_zlens.ZLENS_SETTINGS),
        "flops_counted": COUNTED,
        "sections": _sections(probes, samples, sizes),
        "info": {row.key: probe.info for probe in probes for row in probe.rows[:1] if probe.info},
        "wall_seconds": round(time.perf_counter() - started, 1),
    }
    result["targets"] = evaluate(result)
    return result


def _start(processes: list[Process], workers: list[Worker], request: dict, log,
           rates: bool = True) -> tuple[list[Probe], list[Probe]]:
    """Start every worker (all at once, but those `after_previous`; with `rates`, the limits'
    processes first), and collect their probes: (the rows' probes, the rate probes)."""
    pending: list[tuple[Process, Worker]] = []
    probes: list[Probe] = []

    def collect():
        for process, worker in pending:
            for probe, (_, rows) in zip(worker.probes(), process.builders, strict=True):
                probe.rows = list(rows)
                probes.append(probe)
            log(f"built and warmed up: {process.name}")
        pending.clear()

    for process in (*(RATE_PROCESSES if rates else ()), *processes):
        if process.after_previous:
            collect()
        builders = [f"{fn.__module__}:{fn.__name__}" for fn, _ in process.builders]
        worker = Worker(process.name, builders, {**request, "framework": process.framework}, process.env)
        workers.append(worker)
        pending.append((process, worker))
    collect()
    rate_probes = [p for p in probes if not p.rows]
    return [p for p in probes if p.rows], rate_probes


def _measure(probes: list[Probe], sizes: Sizes, log: Callable[[str], None], start_later=None,
             workers: list[Worker] = ()) -> dict[str, list[float]]:
    """`repeats` interleaved rounds: {row key: seconds per rep}. Heavy probes run in
    `heavy_repeats` rounds spread out; a process that others take over from (`Process.takes_over`)
    runs its heavy rows in the first rounds and is then closed, and `start_later()` builds the
    takers, whose rows run in the last rounds. The workers warmed their probes up when they
    built them."""
    rounds, heavy = sizes.repeats, min(sizes.heavy_repeats, sizes.repeats)
    first, last = set(range(heavy)), set(range(rounds - heavy, rounds))
    spread = {round(i * rounds / heavy) for i in range(heavy)}
    handed = {p.takes_over for p in PROCESSES if p.takes_over}
    samples: dict[str, list[float]] = {row.key: [] for probe in probes for row in probe.rows}
    live = [probe for probe in probes if probe.skipped is None]
    when = {id(p): first if p.info.get("process") in handed else spread for p in live}
    for rep in range(rounds):
        if start_later is not None and rep == min(last):
            for worker in workers:  # the processes handing over are done (unless rounds overlap)
                if worker.name in handed and rep > max(first):
                    worker.close()
            for probe in start_later():
                samples.update({row.key: [] for row in probe.rows})
                if probe.skipped is None:
                    live.append(probe)
                    when[id(probe)] = last
                probes.insert(len(probes) - 1, probe)  # before the limits, which stay last
            start_later = None
        for probe in live:
            if probe.heavy and rep not in when[id(probe)]:
                continue
            for key, seconds in probe.measure().items():
                samples[key].append(float(seconds))
        log(f"repetition {rep + 1}/{rounds} done")
    return samples


def _derive(samples: dict[str, list[float]], sizes: Sizes) -> None:
    """The resident path's epochs scaled to n_large rows (per-row time x n_large)."""
    zlens = samples.get(rows_zlens.ZLENS.key)
    if zlens and {rows_large.LARGE_MEMORY.key, rows_large.LARGE_MEMMAP.key} & set(samples):
        samples[rows_large.RESIDENT.key] = [s * sizes.n_large / sizes.n_train for s in zlens]


def _stats(values: list[float]) -> dict:
    if not values:
        return {"median": None, "min": None, "max": None}
    return {"median": float(np.median(values)), "min": min(values), "max": max(values)}


def _threads(info: dict) -> str:
    """What the table prints of a row's process: its frameworks' thread counts."""
    t = info.get("threads") or {}
    parts = []
    if "tf_intra_op" in t:
        parts.append(f"TF {t['tf_intra_op']}/{t['tf_inter_op']}")
    used = info.get("threads_used")
    if used:  # chosen per repetition (rows_torch.at_faster_threads)
        parts.append("torch " + " ".join(f"{n}x{used.count(n)}" for n in sorted(set(used), reverse=True)))
    elif "torch_threads" in t:
        parts.append(f"torch {t['torch_threads']}")
    parts += [b.replace("openblas", "OpenBLAS").replace("mkl", "MKL") for b in t.get("blas", [])]
    return ", ".join(parts)


def _sections(probes: list[Probe], samples: dict[str, list[float]], sizes: Sizes) -> list[dict]:
    rows = {row.key: (row, probe) for probe in probes for row in probe.rows}
    rows.update({row.key: (row, Probe([row], None)) for row in DERIVED if row.key in samples})
    sections = []
    for name, (unit, n_field, reference, limit_key, peak_key) in SECTIONS.items():
        ref = _stats(samples.get(reference, []))["median"]
        lim = _stats(samples.get(limit_key, []))["median"]
        peak = _stats(samples.get(peak_key, []))["median"]
        entries = []
        for row in ROWS:
            if row.key not in rows or row.section != name:
                continue
            probe = rows[row.key][1]
            stats = _stats(samples[row.key])
            med = stats["median"]
            entries.append({
                "key": row.key, "section": name, "label": row.label, "note": row.note, "samples": samples[row.key],
                **stats,
                "ratio_to_zlens": med / ref if med is not None and ref else None,
                "ratio_to_limit": med / lim if med is not None and lim else None,
                "ratio_to_peak": med / peak if med is not None and peak else None,
                "skipped": probe.skipped, "process": probe.info.get("process"), "threads": _threads(probe.info),
                "other_cores": _stats([c["other_cores"] for c in probe.info.get("cpu", [])])["median"],
            })
        if any(e["median"] is not None or e["skipped"] for e in entries):
            sections.append({"name": name, "unit": unit, "n_rows": getattr(sizes, n_field), "reference": reference,
                             "limit": limit_key, "peak": peak_key, "rows": entries})
    return sections
