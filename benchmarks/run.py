"""Run every ``benchmarks/bench_*.py`` script: ``--smoke`` (small, CI) or ``--full`` (on demand).

Benchmarks print figures and ratios against baselines measured in the same run; they fail only
when a script itself breaks (so they cannot rot), not when a machine is slow.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--smoke", action="store_true")
    mode.add_argument("--full", action="store_true")
    parser.add_argument("only", nargs="*", help="benchmark names (default: all)")
    args = parser.parse_args(argv)
    flag = "--smoke" if args.smoke else "--full"
    names = sorted(p.stem for p in HERE.glob("bench_*.py"))
    if args.only:
        names = [n for n in names if n in args.only or n.removeprefix("bench_") in args.only]
    failed = []
    for name in names:
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", f"benchmarks.{name}", flag], cwd=HERE.parent)
        print(
            f"-- {name} {flag}: exit {proc.returncode} in {time.perf_counter() - start:.1f}s\n",
            flush=True,
        )
        if proc.returncode != 0:
            failed.append(name)
    if failed:
        print(f"benchmarks that broke: {', '.join(failed)}", file=sys.stderr)
        return 1
    print(f"{len(names)} benchmark(s) ran")
    return 0


if __name__ == "__main__":
    sys.exit(main())
