"""Run every probe interleaved (rep 1 of all rows, then rep 2, ...) and gather the results.

`run_suite` is what `python -m benchmarks` and the smoke test call: build each probe (setup
untimed), warm each up once (tracing), then R interleaved repetitions; it returns one
JSON-ready dict with per-row medians and the ratios to zlens and to the arithmetic limit.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from benchmarks import limit, rows_classic, rows_encode, rows_keras, rows_torch, rows_zlens, streaming
from benchmarks.context import Context
from benchmarks.device import use_device
from benchmarks.machine import describe, load_average
from benchmarks.probe import ENCODE, STREAM, TRAINING, Probe, Row
from benchmarks.targets import evaluate
from benchmarks.work import COUNTED, SEED, Sizes, make_data

#: Every probe builder, in table order, with the rows it measures.
BUILDERS: list[tuple[Callable[[Context], Probe], tuple[Row, ...]]] = [
    (rows_zlens.capture_probe, (rows_zlens.ZLENS,)),
    (rows_zlens.capture_off_probe, (rows_zlens.ZLENS_OFF,)),
    (rows_classic.classic_probe, (rows_classic.CLASSIC,)),
    (rows_keras.fit_predict_probe, (rows_keras.KERAS,)),
    (rows_torch.training_probe, (rows_torch.TORCH,)),
    (rows_encode.encode_probe, (rows_encode.ZLENS_ENCODE,)),
    (rows_keras.predict_probe, (rows_keras.KERAS_PREDICT,)),
    (rows_torch.encode_probe, (rows_torch.TORCH_ENCODE,)),
    (streaming.stream_probe, (streaming.STREAMED,)),
    (streaming.memory_probe, (streaming.IN_MEMORY,)),
    (limit.limit_probe, (limit.LIMIT, limit.ENCODE_LIMIT, limit.STREAM_LIMIT)),
]
ROWS = tuple(row for _, rows in BUILDERS for row in rows)

#: Per section: its unit, the row the "x zlens" column divides by, and its limit row.
SECTIONS = {
    TRAINING: ("seconds per epoch", rows_zlens.ZLENS.key, limit.LIMIT.key),
    ENCODE: ("seconds per encode pass", rows_encode.ZLENS_ENCODE.key, limit.ENCODE_LIMIT.key),
    STREAM: ("seconds per encode pass", streaming.IN_MEMORY.key, limit.STREAM_LIMIT.key),
}


class UnknownRowError(ValueError):
    """`--rows` named a row or section the suite does not have."""


def select(rows: Iterable[str] | None) -> list[Callable[[Context], Probe]]:
    """The builders for `rows` (row keys or section names; None: all). The limits always run."""
    if not rows:
        return [builder for builder, _ in BUILDERS]
    wanted = set(rows)
    unknown = wanted - {row.key for row in ROWS} - set(SECTIONS)
    if unknown:
        choices = ", ".join((*SECTIONS, *(row.key for row in ROWS)))
        raise UnknownRowError(f"unknown rows {sorted(unknown)}; choose from {choices}.")
    return [
        builder for builder, its_rows in BUILDERS
        if builder is limit.limit_probe or any(r.key in wanted or r.section in wanted for r in its_rows)
    ]


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
        rate_seconds: time spent measuring each matmul rate, per repetition.
        log: progress messages (default: to stderr).
    """
    started = time.perf_counter()
    log = log or (lambda msg: print(f"[{time.perf_counter() - started:6.1f}s] {msg}", file=sys.stderr, flush=True))
    builders = select(rows)
    with use_device(device), tempfile.TemporaryDirectory(prefix="zlens-bench-") as tmp:
        machine = describe(device)
        ctx = Context(sizes=sizes, x=make_data(sizes.n_train), device=device)
        ctx.cache.update(tmp=Path(tmp), rate_seconds=rate_seconds)
        probes: list[Probe] = []
        try:
            for builder in builders:
                log(f"building {builder.__module__.split('.')[-1]}.{builder.__name__}")
                probes.append(builder(ctx))
            samples = _measure(probes, sizes.repeats, log)
        finally:
            for probe in probes:
                if probe.close is not None:
                    probe.close()
        machine["load_average_end"] = load_average()
    result = {
        "suite": "zlens benchmarks (issue 4)",
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


def _measure(probes: list[Probe], repeats: int, log: Callable[[str], None]) -> dict[str, list[float]]:
    """Warm every probe up once, then `repeats` interleaved rounds: {row key: seconds per rep}."""
    live = [probe for probe in probes if probe.skipped is None]
    for probe in live:
        if probe.warm_up:
            log(f"warm-up: {', '.join(row.key for row in probe.rows)}")
            probe.measure()
    samples: dict[str, list[float]] = {row.key: [] for probe in probes for row in probe.rows}
    for rep in range(repeats):
        for probe in live:
            for key, seconds in probe.measure().items():
                samples[key].append(float(seconds))
        log(f"repetition {rep + 1}/{repeats} done")
    return samples


def _stats(values: list[float]) -> dict:
    if not values:
        return {"median": None, "min": None, "max": None}
    return {"median": float(np.median(values)), "min": min(values), "max": max(values)}


def _sections(probes: list[Probe], samples: dict[str, list[float]], sizes: Sizes) -> list[dict]:
    rows = {row.key: (row, probe) for probe in probes for row in probe.rows}
    sections = []
    for name, (unit, reference, limit_key) in SECTIONS.items():
        ref = _stats(samples.get(reference, []))["median"]
        lim = _stats(samples.get(limit_key, []))["median"]
        entries = []
        for row in ROWS:
            if row.key not in rows or row.section != name:
                continue
            probe = rows[row.key][1]
            stats = _stats(samples[row.key])
            med = stats["median"]
            entries.append({
                "key": row.key, "label": row.label, "note": row.note, "samples": samples[row.key], **stats,
                "ratio_to_zlens": med / ref if med is not None and ref else None,
                "ratio_to_limit": med / lim if med is not None and lim else None,
                "skipped": probe.skipped,
            })
        if entries:
            n = sizes.n_stream if name == STREAM else sizes.n_train
            sections.append({"name": name, "unit": unit, "n_rows": n, "reference": reference,
                             "limit": limit_key, "rows": entries})
    return sections
