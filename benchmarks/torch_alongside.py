"""Why PyTorch's epoch was slower inside the suite's process: each suspect, alone, side by side.

    python -m benchmarks.torch_alongside [--rows 12000] [--epochs 5]

Times the PyTorch row's epoch (`rows_torch.training_probe`: dense 784-128-32, batch 256) in a
fresh process per case: alone; in a process that imported TensorFlow and runs a zlens epoch
before each torch epoch (what the old suite did); and alone while another process keeps one
core busy (a Python busy loop this tool starts and stops), at torch's default threads, at 1
thread, and with OMP_WAIT_POLICY=PASSIVE. Beside each median: the CPU seconds torch's own
threads and the process' other (TensorFlow) threads used per epoch.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmarks import REPO_ROOT

#: name -> (variables for its process, another process busy meanwhile, a zlens epoch before each
#: torch epoch in the same process, torch's thread count: None for its default)
CASES = {
    "alone": ({}, False, False, None),
    "after a zlens epoch, same process (TF loaded)": ({}, False, True, None),
    "another process busy on one core": ({}, True, False, None),
    "  the same, torch at 1 thread": ({}, True, False, 1),
    "  the same, OMP_WAIT_POLICY=PASSIVE": ({"OMP_WAIT_POLICY": "PASSIVE"}, True, False, None),
}


def _thread_ticks() -> dict[str, int]:
    """CPU ticks per thread name of this process (Linux /proc)."""
    out: dict[str, int] = {}
    for task in Path("/proc/self/task").iterdir():
        try:
            stat = (task / "stat").read_text()
        except OSError:
            continue
        name, fields = stat[stat.index("(") + 1 : stat.rindex(")")], stat[stat.rindex(")") + 2 :].split()
        out[name] = out.get(name, 0) + int(fields[11]) + int(fields[12])
    return out


def _case(rows: int, epochs: int, zlens_before: bool, threads: int | None) -> dict:
    """In this (fresh) process: the torch epochs, and what each thread group used meanwhile."""
    from benchmarks.context import Context
    from benchmarks.work import Sizes

    ctx = Context(sizes=Sizes(n_train=rows, repeats=epochs))
    other = None
    if zlens_before:
        from benchmarks import rows_zlens

        other = rows_zlens.capture_probe(ctx)
        other.measure()  # warm-up
    import torch

    if threads:
        torch.set_num_threads(threads)
    run = _plain_epoch(ctx, torch)
    run()
    seconds, own, rest = [], [], []
    tick = os.sysconf("SC_CLK_TCK")
    for _ in range(epochs):
        if other is not None:
            other.measure()
        a = _thread_ticks()
        start = time.perf_counter()
        run()
        seconds.append(time.perf_counter() - start)
        b = _thread_ticks()
        spent = {name: b[name] - a.get(name, 0) for name in b}
        own.append(spent.get("python", 0) / tick)  # torch's OpenMP threads keep the process' name
        rest.append(sum(v for k, v in spent.items() if k != "python") / tick)
    if other is not None:
        other.close()
    return {"seconds": seconds, "torch_cpu": own, "other_threads_cpu": rest, "threads": torch.get_num_threads()}


def _plain_epoch(ctx, torch):
    """One epoch of the PyTorch row's loop at the threads set now (no per-epoch thread choice)."""
    from benchmarks.rows_torch import _dense_modules, training_loop
    from benchmarks.work import SEED

    torch.manual_seed(SEED)
    encoder, decoder = _dense_modules(torch)
    return training_loop(torch, encoder, decoder, torch.from_numpy(ctx.x), ctx.sizes.batch)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.torch_alongside", description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=12_000)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--case", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.case:  # a child: one case, its result on stdout
        _, _, zlens_before, threads = CASES[args.case]
        print(json.dumps(_case(args.rows, args.epochs, zlens_before, threads)))
        return
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    print(f"PyTorch epoch, dense 784-128-32, N={args.rows:,}, batch 256, median of {args.epochs} "
          f"(load average now {os.getloadavg()[0]:.2f}):")
    print(f"  {'case':<48} {'s/epoch':>8} {'min':>6} {'max':>7} {'torch CPU-s':>12} {'TF threads CPU-s':>17}")
    for name, (extra_env, busy, _, _) in CASES.items():
        hog = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if busy else None
        try:
            done = subprocess.run([sys.executable, "-m", "benchmarks.torch_alongside", "--rows", str(args.rows),
                                   "--epochs", str(args.epochs), "--case", name], capture_output=True, text=True,
                                  env={**env, **extra_env}, cwd=REPO_ROOT, timeout=900, check=True)
        finally:
            if hog is not None:
                hog.kill()
                hog.wait()
        r = json.loads(done.stdout.strip().splitlines()[-1])
        med = statistics.median
        print(f"  {name:<48} {med(r['seconds']):8.3f} {min(r['seconds']):6.2f} {max(r['seconds']):7.2f} "
              f"{med(r['torch_cpu']):12.2f} {med(r['other_threads_cpu']):17.2f}   ({r['threads']} threads)")


if __name__ == "__main__":
    main()
