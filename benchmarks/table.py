"""Render a suite result as the plain-text table `python -m benchmarks` prints."""

from __future__ import annotations

import statistics

_W = 46  # label column width
GIB = 2**30


def _num(value, fmt: str = "{:8.3f}") -> str:
    return fmt.format(value) if value is not None else f"{'-':>{len(fmt.format(0.0))}}"


def _header(result: dict) -> list[str]:
    from benchmarks.machine import one_line

    s, machine = result["sizes"], result["machine"]
    settings = ", ".join(f"{k}={v}" for k, v in result["zlens_settings"].items())
    load = f"load average {machine.get('load_average_start')} -> {machine.get('load_average_end')}"
    return [
        (f"zlens benchmarks ({result['mode']}): dense N={s['n_train']:,} x 784, batch {s['batch']}; conv "
         f"N={s['n_conv']:,} x 28x28x1, batch {s['conv_batch']}; large N={s['n_large']:,} x 784 (resident budget "
         f"{s['large_budget'] / GIB:.3g} GiB); encode batch {s['encode_batch']}; stream N={s['n_stream']:,} x 64, "
         f"batch {s['stream_batch']}"),
        (f"{s['repeats']} repetitions interleaved ({s['heavy_repeats']} for the conv and large rows), every row "
         "warmed up once in its own warm process (the zlens rows share one, with TensorFlow only)"),
        f"machine: {one_line(machine)}",
        f"zlens settings: {settings}; {load} (a shared machine: noisy)",
    ]


def _section(section: dict) -> list[str]:
    title = f"{section['name']}: {section['unit']} (N={section['n_rows']:,})"
    lines = ["", f"{title:<{_W}}   median      min      max  x zlens  x limit   x peak  other  threads"]
    for row in section["rows"]:
        label = row["label"][: _W - 2]
        if row["skipped"]:
            lines.append(f"  {label:<{_W - 2}}   {row['skipped']}")
            continue
        lines.append(
            f"  {label:<{_W - 2}} {_num(row['median'])} {_num(row['min'])} {_num(row['max'])}"
            f" {_num(row['ratio_to_zlens'], '{:8.2f}')} {_num(row['ratio_to_limit'], '{:8.2f}')}"
            f" {_num(row['ratio_to_peak'], '{:8.2f}')} {_num(row.get('other_cores'), '{:6.2f}')}  {row['threads']}"
        )
    return lines


def _limit_lines(result: dict) -> list[str]:
    info = result.get("info", {}).get("limit", {})
    reps = info.get("reps", [])
    if not reps:
        return []
    lines = ["", "limits: GFLOP/s per matmul shape (m x k x n, n/t = operand transposed), median over repetitions, "
                 "each library in its own process; the shape-wise limit takes the best at each shape"]
    libs = info["libraries"]
    for name in ("limit", "encode-limit", "stream-limit"):
        sets = [r["sets"][name] for r in reps if name in r["sets"]]
        if not sets:
            continue
        step = statistics.median(s["step_gflops"] for s in sets)
        own = "  ".join(f"{lib} {statistics.median(s['library_gflops'][lib] for s in sets):6.1f}" for lib in libs)
        lines.append(f"  {name}: step at the best per shape {step:6.1f} GFLOP/s; each library alone: {own}")
        for shape in sets[-1]["shapes"]:
            rates = "  ".join(f"{lib} {statistics.median(s['shapes'][shape][lib] for s in sets):6.1f}"
                              for lib in libs)
            lines.append(f"    {shape:<16} {rates}   best: {sets[-1]['shapes'][shape]['best']}")
    peak = statistics.median(r["peak_gflops"] for r in reps)
    lines.append(f"  peak: {peak:6.1f} GFLOP/s (median; last at {reps[-1]['peak_at']})")
    procs = info.get("processes", {})
    lines.append("  threads: " + "; ".join(f"{lib}: {_process_threads(t)}" for lib, t in procs.items())
                 + " (NumPy and torch timed at 1 thread and at all, the faster kept; TF as a graph and under XLA)")
    lines.append(f"  FLOPs counted: {result['flops_counted']}")
    return lines


def _process_threads(threads: dict | None) -> str:
    from benchmarks.suite import _threads

    return _threads({"threads": threads})


def _extras(result: dict) -> list[str]:
    info, lines = result.get("info", {}), []
    stream = info.get("stream-zlens")
    if stream and stream.get("reps"):
        last, ready = stream["reps"][-1], stream["before_first_encode"]
        match = info.get("stream-memory", {}).get("outputs_match")
        lines.append(
            f"  streaming process: peak RSS {stream['peak_rss_bytes'] / GIB:.2f} GiB, of which TF import + warm-up "
            f"{ready['peak_rss_bytes'] / GIB:.2f} GiB; now anon {last.get('rss_anon_bytes', 0) / GIB:.2f} + "
            f"file-backed (mmap pages, libraries) {last.get('rss_file_bytes', 0) / GIB:.2f} GiB; "
            f"streamed z == in-memory z: {match}"
        )
    large = info.get("large-memmap")
    if large and "peak_rss_bytes" in large:
        lines.append(
            f"  large, memory-mapped: {large['bytes'] / GIB:.2f} GiB of samples; its process' peak RSS "
            f"{large['peak_rss_bytes'] / GIB:.2f} GiB (now anon {large.get('rss_anon_bytes', 0) / GIB:.2f} + "
            f"file-backed {large.get('rss_file_bytes', 0) / GIB:.2f} GiB)")
    zl = info.get("zlens")
    if zl and "prepare_seconds" in zl:
        lines.append(f"  zlens: preparing the indexed data once (outside the epoch times) took "
                     f"{zl['prepare_seconds']:.2f} s; fit(x) on an array pays it on every call")
    frameworks = sorted({(p.get("process"), ", ".join(p.get("threads", {}).get("frameworks", [])))
                         for p in info.values() if p.get("process")})
    lines.append("  frameworks loaded per process: " + "; ".join(f"{name}: {fw or 'none'}" for name, fw in frameworks))
    lines.append("  other: cores busy with other processes while the row ran (median; of "
                 f"{result['machine']['cores']}): the shared machine's load taken from it")
    lines.append("  threads: TF a/b = intra-op / inter-op threads (TF's default 0 means one per core; XLA's "
                 "CPU runtime uses one per core), torch n = torch.get_num_threads(), BLAS = threadpoolctl's count; "
                 "torch 2x7 1x4 = 2 threads in 7 repetitions, 1 in 4 (chosen per repetition: rows_torch.py)")
    return ["", "notes:", *lines]


def _targets(result: dict) -> list[str]:
    lines = ["", "targets (issue 14):"]
    for t in result["targets"]:
        mark = {True: "[x] met    ", False: "[ ] NOT met", None: "[-] n/a    "}[t["met"]]
        lines.append(f"  {mark}  {t['target']}: {t['measured']}")
    return lines


def render(result: dict) -> str:
    """The whole table: header, one block per section, limit rates, notes, targets."""
    lines = _header(result)
    for section in result["sections"]:
        lines += _section(section)
    lines += _limit_lines(result) + _extras(result) + _targets(result)
    lines.append(f"\n(wall time {result['wall_seconds']} s; x zlens = row / the section's zlens row, x limit = "
                 "row / limit at the model's shapes, x peak = row / limit at the peak rate; lower is faster)")
    return "\n".join(lines)
