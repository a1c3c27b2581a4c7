"""Wall time of ``make check-drift`` (render into a temporary tree and compare). Target: < 60 s."""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from benchmarks._util import report

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--full", action="store_true")
    parser.parse_args(argv)
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "codegen", "check-drift"], cwd=ROOT, capture_output=True, text=True
    )
    elapsed = time.perf_counter() - start
    print("== bench_drift: python -m codegen check-drift")
    report("check-drift wall time", elapsed, "s", "< 60", elapsed < 60)
    if proc.returncode != 0:
        print(proc.stderr[-2000:])
        raise SystemExit("check-drift failed")


if __name__ == "__main__":
    main()
