"""Import time of ``py_autotask`` in a fresh interpreter (target: under 0.3 s)."""

from __future__ import annotations

import argparse
import subprocess
import sys

from benchmarks._util import median, report

_SNIPPET = "import time; t=time.perf_counter(); import {mod}; print(time.perf_counter()-t)"


def measure(module: str, runs: int) -> float:
    values = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", _SNIPPET.format(mod=module)],
            capture_output=True,
            text=True,
            check=True,
        )
        values.append(float(out.stdout.strip()))
    return median(values)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--full", action="store_true")
    args = parser.parse_args(argv)
    runs = 3 if args.smoke else 11
    print("== bench_import: median wall time of the import in a fresh interpreter")
    base = measure("httpx, pydantic", runs)
    ours = measure("py_autotask", runs)
    report("import httpx, pydantic (baseline)", base, "s")
    report("import py_autotask", ours, "s", "< 0.3", ours < 0.3)
    model = measure("py_autotask.models; py_autotask.models.Ticket", runs)
    report("import py_autotask.models + load Ticket", model, "s")


if __name__ == "__main__":
    main()
