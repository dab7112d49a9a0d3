"""Issue 14's targets (and two of issue 4's), checked against one run's figures: met, not met, or not measured."""

from __future__ import annotations

import statistics

GIB = 2**30


def _samples(result: dict) -> dict[str, list[float]]:
    return {row["key"]: row["samples"] for section in result["sections"] for row in section["rows"]}


def _medians(result: dict) -> dict[str, float | None]:
    return {row["key"]: row["median"] for section in result["sections"] for row in section["rows"]}


def _ratio(num: float | None, den: float | None) -> float | None:
    return num / den if num is not None and den else None


def _paired_ratio(result: dict, num_key: str, den_key: str) -> float | None:
    """The median over repetitions of row `num_key` / row `den_key`, each pair measured back to back.

    Pairs cancel the machine's drift between repetitions (here often +-15%), which a ratio of
    medians does not: what a small difference such as the capture's own cost needs.
    """
    samples = _samples(result)
    num, den = samples.get(num_key), samples.get(den_key)
    if not num or not den or len(num) != len(den):
        return None
    return statistics.median(a / b for a, b in zip(num, den, strict=True))


def _check(text: str, value: float | None, ok, shown: str, missing: str = "not measured") -> dict:
    if value is None:
        return {"target": text, "met": None, "measured": missing}
    return {"target": text, "met": bool(ok(value)), "measured": shown.format(value), "value": value}


def evaluate(result: dict) -> list[dict]:
    """The checklist: one entry per target, `met` True / False / None (not measured)."""
    m = _medians(result)
    info = result.get("info", {})
    torch_missing = "torch not installed" if m.get("torch") is None else "not measured"
    zlens_epochs = len(_samples(result).get("zlens", []))
    capture_cost = _paired_ratio(result, "zlens", "zlens-off") if zlens_epochs >= 10 else None
    peak_share = _ratio(m.get("limit-peak"), m.get("zlens"))
    memmap_rss = info.get("large-memmap", {}).get("peak_rss_bytes")
    stream_rss = info.get("stream-zlens", {}).get("peak_rss_bytes")
    return [
        _check("dense: zlens with capture >= 1.5x faster per epoch than PyTorch (own process)",
               _ratio(m.get("torch"), m.get("zlens")), lambda v: v >= 1.5, "{:.2f}x", torch_missing),
        _check("dense: zlens with capture >= 90% of the limit at the model's shapes",
               _ratio(m.get("limit"), m.get("zlens")), lambda v: v >= 0.90,
               "{:.0%} of it" + ("" if peak_share is None else f" ({peak_share:.0%} of the peak limit)")),
        _check("dense: zlens with capture >= 65% of the peak limit", peak_share, lambda v: v >= 0.65,
               "{:.0%} of it"),
        _check("conv: zlens with capture >= 1.2x faster per epoch than PyTorch (own process)",
               _ratio(m.get("conv-torch"), m.get("conv-zlens")), lambda v: v >= 1.2, "{:.2f}x", torch_missing),
        _check("capture's own cost <= 2% of the epoch (>= 10 epochs of one fit, paired with capture off)",
               capture_cost, lambda v: v <= 1.02, "{:.3f}x of capture off (median of per-epoch pairs)",
               f"not measured: {zlens_epochs} epochs (< 10; the full run has 10)"),
        _check("encode >= 1.0x PyTorch's no_grad batched encode (own process)",
               _ratio(m.get("encode-torch"), m.get("encode-zlens")), lambda v: v >= 1.0, "{:.2f}x", torch_missing),
        _check("encode >= 4x faster than Keras predict (own process)",
               _ratio(m.get("encode-keras"), m.get("encode-zlens")), lambda v: v >= 4.0, "{:.2f}x"),
        *(_check(f"N=1M {where} >= 80% of the resident path's per-row throughput",
                 _ratio(m.get("large-resident"), m.get(key)), lambda v: v >= 0.80, "{:.0%}")
          for where, key in (("in memory (past the resident budget)", "large-memory"),
                             ("memory-mapped", "large-memmap"))),
        _check("N=1M memory-mapped: peak RSS of its process < 2 GiB",
               None if memmap_rss is None else memmap_rss / GIB, lambda v: v < 2.0, "{:.2f} GiB"),
        _check("streaming encode >= 90% of the in-memory encode throughput",
               _ratio(m.get("stream-memory"), m.get("stream-zlens")), lambda v: v >= 0.90, "{:.0%}"),
        _check("(issue 4) zlens >= 2x faster per epoch than the classic loop (own process)",
               _ratio(m.get("classic"), m.get("zlens")), lambda v: v >= 2.0, "{:.2f}x"),
        _check("(issue 4) streaming encode: peak RSS of its process < 1 GiB",
               None if stream_rss is None else stream_rss / GIB, lambda v: v < 1.0, "{:.2f} GiB"),
    ]
