"""Issue 4's targets, checked against one run's figures: met, not met, or not measured."""

from __future__ import annotations

import statistics

GIB = 2**30


def _medians(result: dict) -> dict[str, float | None]:
    return {row["key"]: row["median"] for section in result["sections"] for row in section["rows"]}


def _ratio(num: float | None, den: float | None) -> float | None:
    return num / den if num is not None and den else None


def _paired_ratio(result: dict, num_key: str, den_key: str) -> float | None:
    """The median over repetitions of row `num_key` / row `den_key`, each pair measured back to back.

    Pairs cancel the machine's drift between repetitions (here often +-15%), which a ratio of
    medians does not: what a small difference such as the capture's own cost needs.
    """
    samples = {row["key"]: row["samples"] for section in result["sections"] for row in section["rows"]}
    num, den = samples.get(num_key), samples.get(den_key)
    if not num or not den or len(num) != len(den):
        return None
    return statistics.median(a / b for a, b in zip(num, den))


def _check(text: str, value: float | None, ok, shown: str, missing: str = "not measured") -> dict:
    if value is None:
        return {"target": text, "met": None, "measured": missing}
    return {"target": text, "met": bool(ok(value)), "measured": shown.format(value), "value": value}


def evaluate(result: dict) -> list[dict]:
    """The checklist: one entry per target, `met` True / False / None (not measured)."""
    m = _medians(result)
    peak = result.get("info", {}).get("stream-zlens", {}).get("peak_rss_bytes")
    torch_missing = "torch not installed" if m.get("torch") is None else "not measured"
    return [
        _check("training with capture >= 75% of the arithmetic limit (epoch <= 1.33 x limit)",
               _ratio(m.get("limit"), m.get("zlens")), lambda v: v >= 0.75, "{:.0%} of the limit"),
        _check("zlens >= 1.5x faster per epoch than the PyTorch loop",
               _ratio(m.get("torch"), m.get("zlens")), lambda v: v >= 1.5, "{:.2f}x", torch_missing),
        _check("zlens >= 2x faster per epoch than the classic loop",
               _ratio(m.get("classic"), m.get("zlens")), lambda v: v >= 2.0, "{:.2f}x"),
        _check("capture's own cost <= 2% over zlens with capture off",
               _paired_ratio(result, "zlens", "zlens-off"), lambda v: v <= 1.02,
               "{:.3f}x of capture off (median of per-repetition pairs)"),
        _check("encode >= 80% of its arithmetic limit",
               _ratio(m.get("encode-limit"), m.get("encode-zlens")), lambda v: v >= 0.80, "{:.0%} of the limit"),
        _check("encode >= 4x faster than Keras predict",
               _ratio(m.get("encode-keras"), m.get("encode-zlens")), lambda v: v >= 4.0, "{:.2f}x"),
        _check("streaming encode peak RSS < 1 GiB",
               None if peak is None else peak / GIB, lambda v: v < 1.0, "{:.2f} GiB"),
        _check("streaming encode >= 90% of the in-memory encode throughput",
               _ratio(m.get("stream-memory"), m.get("stream-zlens")), lambda v: v >= 0.90, "{:.0%}"),
    ]
