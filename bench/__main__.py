"""`make bench`: run every benchmark module in this package and write its results as JSON.

A benchmark module defines `run(results: Path) -> dict` and returns what it measured;
each figure it reports is a ratio against a baseline it measured in the same run, on the
same database, because these machines are noisy. Every result file also says what
machine it was measured on. `--quick` runs tiny sizes, only to show that it all works.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import pkgutil
import sys
import time
from pathlib import Path

import bench
from bench._environment import machine


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("names", nargs="*", help="benchmark modules to run (default: all)")
    parser.add_argument("--results", type=Path, default=Path("bench-results"))
    parser.add_argument(
        "--quick",
        action="store_true",
        help="tiny sizes: proves the benchmarks run, measures little",
    )
    args = parser.parse_args()
    if args.quick:
        os.environ["RAILYARD_BENCH_QUICK"] = "1"
        os.environ.setdefault("RAILYARD_BENCH_SIZES", "2000")
        os.environ.setdefault("RAILYARD_BENCH_HASH_EVENTS", "96")
    args.results.mkdir(parents=True, exist_ok=True)
    names = args.names or sorted(
        m.name for m in pkgutil.iter_modules(bench.__path__) if not m.name.startswith("_")
    )
    summary = {}
    for name in names:
        module = importlib.import_module(f"bench.{name}")
        started = time.perf_counter()
        print(f"== {name}", flush=True)
        result = {"machine": machine(), **module.run(args.results)}
        result["elapsed_s"] = round(time.perf_counter() - started, 1)
        (args.results / f"{name}.json").write_text(json.dumps(result, indent=2))
        summary[name] = result
        print(json.dumps(result, indent=2), flush=True)
    (args.results / "summary.json").write_text(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
