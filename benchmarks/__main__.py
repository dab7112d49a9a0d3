"""`python -m benchmarks`: run the suite, print the table, write it as JSON.

    python -m benchmarks [--quick] [--device cpu|gpu] [--json PATH] [--repeats R] [--rows KEY ...]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from benchmarks.device import DEVICES, DeviceError
from benchmarks.suite import ROWS, SECTIONS, UnknownRowError, run_suite, select
from benchmarks.table import render
from benchmarks.work import FULL, QUICK

DEFAULT_JSON = Path("bench-output") / "latest.json"
FULL_RATE_SECONDS, QUICK_RATE_SECONDS = 0.4, 0.15  # time per library's matmul rates, per repetition


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help=f"N={QUICK.n_train:,} training rows, {QUICK.n_conv:,} images, {QUICK.n_large:,} "
                             f"large rows, {QUICK.n_stream:,} streamed, {QUICK.repeats} repeats")
    parser.add_argument("--device", choices=DEVICES, default="cpu", help="where TF (and torch) run")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help=f"where to write the JSON ({DEFAULT_JSON})")
    parser.add_argument("--repeats", type=int, help="measured repetitions per row (after one warm-up)")
    parser.add_argument("--rows", nargs="+", metavar="KEY",
                        help=f"only these rows or sections: {', '.join((*SECTIONS, *(r.key for r in ROWS)))}")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before TensorFlow is first imported
    args = parse_args(argv)
    if args.repeats is not None and args.repeats < 1:
        print("--repeats must be >= 1", file=sys.stderr)
        return 2
    sizes = (QUICK if args.quick else FULL).override(repeats=args.repeats)
    try:
        select(args.rows)
        result = run_suite(sizes, device=args.device, rows=args.rows, mode="quick" if args.quick else "full",
                           rate_seconds=QUICK_RATE_SECONDS if args.quick else FULL_RATE_SECONDS)
    except (DeviceError, UnknownRowError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(render(result))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=1))
    print(f"\nJSON: {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
