"""What the suite measures: a `Probe` runs one repetition and returns seconds for its rows.

A probe is built once (setup and data outside the timing), warmed up once (tracing), then
called once per repetition, interleaved with every other probe. Most probes time one row;
some time several that must share a process or a measurement (the limits, the streaming pair).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

TRAINING = "training"
CONV = "conv"
LARGE = "large"
ENCODE = "encode"
STREAM = "stream"


@dataclass(frozen=True)
class Row:
    """One line of the table.

    Args:
        key: short id, used by `--rows` and in the JSON ("zlens", "classic", ...).
        label: what the table prints.
        section: `TRAINING`, `CONV` or `LARGE` (seconds per epoch), `ENCODE` or `STREAM`
            (seconds per pass).
        note: how it is measured, in a few words.
    """

    key: str
    label: str
    section: str
    note: str = ""


@dataclass
class Probe:
    """A measurement: `measure()` runs one repetition and returns `{row key: seconds}`.

    Args:
        rows: the rows it measures.
        measure: one repetition; may add figures (peak RSS, rates) to `info`.
        warm_up: call `measure` once, untimed, before the repetitions (False when each call
            warms itself up, e.g. in a fresh child process).
        skipped: why the rows cannot run here (then `measure` is never called).
        info: extra figures, reported in the JSON and, where short, in the notes.
        close: releases what the probe holds (a child process), after the last repetition.
        heavy: an epoch of many seconds: measured in the first `Sizes.heavy_repeats`
            repetitions only.
    """

    rows: list[Row]
    measure: Callable[[], Mapping[str, float]] | None
    warm_up: bool = True
    skipped: str | None = None
    info: dict = field(default_factory=dict)
    close: Callable[[], None] | None = None
    heavy: bool = False


def timed(fn: Callable[[], object], key: str) -> Callable[[], dict[str, float]]:
    """A `measure` that times one call of `fn` (wall clock) for the row `key`."""

    def measure() -> dict[str, float]:
        start = time.perf_counter()
        fn()
        return {key: time.perf_counter() - start}

    return measure


def skipped(rows: list[Row], reason: str) -> Probe:
    """A probe whose rows cannot run here (an optional dependency is missing)."""
    return Probe(rows=rows, measure=None, warm_up=False, skipped=reason)
