"""Small helpers shared by the benchmark scripts (figures, not pass/fail tests)."""

from __future__ import annotations

import resource
import statistics
import sys
import time
from collections.abc import Callable


def best_of(fn: Callable[[], object], repeat: int = 5) -> float:
    """Best wall time of ``repeat`` runs of ``fn`` (seconds)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def median(values: list[float]) -> float:
    return statistics.median(values)


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MB (Linux reports KB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def report(
    name: str, value: float, unit: str, target: str | None = None, ok: bool | None = None
) -> None:
    verdict = "" if ok is None else ("  [meets target]" if ok else "  [BELOW TARGET]")
    if ok is not None and "--smoke" in sys.argv:
        # smoke runs are sized to keep the scripts from rotting: fixed costs dominate at that size,
        # so the targets (stated for the --full sizes) are shown but not judged
        verdict = "  [smoke size: judged by --full]"
    tgt = f"  (target {target})" if target else ""
    print(f"{name:<58} {value:>14,.2f} {unit}{tgt}{verdict}")
