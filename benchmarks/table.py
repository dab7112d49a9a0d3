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
        (f"zlens benchmarks ({result['mode']}): training N={s['n_train']:,} x 784, batch {s['batch']}; "
         f"encode batch {s['encode_batch']}; stream N={s['n_stream']:,} x 64, batch {s['stream_batch']}; "
         f"{s['repeats']} repeats, interleaved, each row warmed up once"),
        f"machine: {one_line(machine)}",
        f"zlens settings: {settings}; {load} (a shared machine: noisy)",
    ]


def _section(section: dict) -> list[str]:
    title = f"{section['name']}: {section['unit']} (N={section['n_rows']:,})"
    lines = ["", f"{title:<{_W}}   median      min      max  x zlens  x limit"]
    for row in section["rows"]:
        label = row["label"][: _W - 2]
        if row["skipped"]:
            lines.append(f"  {label:<{_W - 2}}   {row['skipped']}")
            continue
        lines.append(
            f"  {label:<{_W - 2}} {_num(row['median'])} {_num(row['min'])} {_num(row['max'])}"
            f" {_num(row['ratio_to_zlens'], '{:8.2f}')} {_num(row['ratio_to_limit'], '{:8.2f}')}"
        )
    return lines


def _limit_lines(result: dict) -> list[str]:
    reps = result.get("info", {}).get("limit", {}).get("reps", [])
    if not reps:
        return []
    medians = {row["key"]: row["median"] for section in result["sections"] for row in section["rows"]}
    lines = ["", "limit rates (median over repetitions, GFLOP/s at the model's own matmul shapes):"]
    for key, zlens_key in (("limit", "zlens"), ("encode-limit", "encode-zlens"), ("stream-limit", "stream-memory")):
        nps = statistics.median(r[key]["numpy_gflops"] for r in reps)
        tfs = statistics.median(r[key]["tensorflow_gflops"] for r in reps)
        threads = reps[-1][key]["numpy_threads"]
        line = (f"  {key:<13} NumPy {nps:6.1f} (best at {threads} thread(s))  TF {tfs:6.1f}"
                f"  -> limit uses {'TF' if tfs >= nps else 'NumPy'}")
        if medians.get(key) and medians.get(zlens_key) and tfs < nps:
            # What the limit would be if it used the matmul rate TensorFlow itself reaches here:
            # zlens runs on TF's kernels, so this is the share of the arithmetic it can reach.
            line += f"; at TF's rate the limit is {medians[key] * nps / tfs:.3f} s: {zlens_key} at " \
                    f"{medians[key] * nps / tfs / medians[zlens_key]:.0%} of it"
        lines.append(line)
    blas = reps[-1]["blas"]
    kernel = blas if isinstance(blas, str) else "; ".join(
        f"{b['internal_api']} {b['version']} kernel {b['architecture']}" for b in blas)
    cleared = reps[-1].get("cleared_env") or "none set"
    lines.append(f"  BLAS (threadpoolctl): {kernel}; OpenBLAS pins cleared for NumPy: {cleared}")
    lines.append(f"  FLOPs counted: {result['flops_counted']}")
    return lines


def _extras(result: dict) -> list[str]:
    info, lines = result.get("info", {}), []
    stream = info.get("stream-zlens")
    if stream and stream.get("reps"):
        last, ready = stream["reps"][-1], stream["before_first_encode"]
        lines.append(
            f"  streaming child: peak RSS {stream['peak_rss_bytes'] / GIB:.2f} GiB, of which TF import + warm-up "
            f"{ready['peak_rss_bytes'] / GIB:.2f} GiB; now anon {last.get('rss_anon_bytes', 0) / GIB:.2f} + "
            f"file-backed (mmap pages, libraries) {last.get('rss_file_bytes', 0) / GIB:.2f} GiB; "
            f"streamed z == in-memory z: {stream.get('outputs_match')}"
        )
    zl = info.get("zlens")
    if zl and "prepare_seconds" in zl:
        lines.append(f"  zlens: preparing the indexed data once (outside the epoch times) took "
                     f"{zl['prepare_seconds']:.2f} s; fit(x) on an array pays it on every call")
    return ["", "notes:", *lines] if lines else []


def _targets(result: dict) -> list[str]:
    lines = ["", "targets (issue 4):"]
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
    lines.append(f"\n(wall time {result['wall_seconds']} s; x zlens = row / zlens row of its section, "
                 "x limit = row / arithmetic limit; lower is faster)")
    return "\n".join(lines)
