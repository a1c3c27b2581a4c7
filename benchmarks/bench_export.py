"""Export speed, request economy, client CPU per format and peak memory (py_autotask.export).

The simulator runs in its own process (no shared GIL). Three measurements:

1. **Latency-bound export**: ``--latency 200ms`` and the 3-per-endpoint thread limit on; a Tickets
   export to Parquet should take at most 1.25x the bound ``pages / 3 x latency`` and cost at most
   2.05 requests per 1,000 records (every request the simulator journaled: count, UDF metadata,
   the client's ThresholdInformation polls included).
2. **Client CPU per 100,000 records** for each format (no latency; CPU seconds of this process,
   which holds only the client).
3. **Peak RSS** of an export in a fresh subprocess (the whole process: interpreter, imports and
   the export), Parquet for the full count and for a tenth of it (``id <=`` filter on the same
   simulator): under 150 MB and within 1.3x of each other; then every other format
   (``--rss-formats``) for the full count, each under 150 MB.

``--full``: 100,000 tickets for 1-2, 1,000,000 for 3 (seeding takes a minute or two);
``--smoke``: 5,000 / 20,000 (seconds). ``--tickets N`` overrides the latency/CPU count,
``--rss-tickets N`` the RSS count.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks._simproc import SimulatorProcess
from benchmarks._util import peak_rss_mb, report

ROOT = Path(__file__).resolve().parents[1]
_CREDS_ENV = "BENCH_EXPORT_CREDENTIALS"
FORMATS = ["parquet", "csv", "jsonl", "json", "sqlite", "duckdb", "excel"]
SUFFIX = {"sqlite": ".db", "duckdb": ".duckdb", "excel": ".xlsx"}


def _client(creds: dict[str, str], *, paced: bool = True) -> Any:
    from py_autotask import AutotaskClient
    from py_autotask.resilience import PacingConfig

    pacing = None if paced else PacingConfig(enabled=False)
    return AutotaskClient(**creds, pacing=pacing)


def _export(client: Any, out: Path, fmt: str, flt: Any = None) -> Any:
    exporter = client.create_exporter(fsync=True)
    exporter.add_entities("tickets", filter=flt)
    return exporter.export(out, format=fmt, overwrite=True)


def latency_bound(tickets: int, latency_ms: int, work: Path) -> None:
    with SimulatorProcess(
        "--count",
        f"Tickets={tickets}",
        "--latency",
        f"{latency_ms}ms",
        "--thread-limit",
        "3",
        "--hourly-limit",
        "0",
        startup_timeout=900,
    ) as sim:
        with _client(sim.credentials) as client:
            from py_autotask import F

            # warm-up (imports, Arrow compute kernels, connections): one page, not measured
            _export(client, work / "warm", "parquet", F("id").lte(500))
            sim.clear_journal()
            start = time.perf_counter()
            result = _export(client, work / "latency", "parquet")
            wall = time.perf_counter() - start
        journal = sim.journal()
    rows = result.entities["Tickets"].rows
    pages = math.ceil(rows / 500)
    bound = pages / 3 * latency_ms / 1000
    per_k = 1000 * len(journal) / rows
    rejected = sum(1 for e in journal if e["status"] == 429)
    print(f"== latency-bound export: {rows:,} tickets, {latency_ms} ms per request, 3 per endpoint")
    report("export wall time", wall, "s")
    report("bound: pages / 3 x latency", bound, "s")
    report("wall / bound", wall / bound, "x", "<= 1.25", wall / bound <= 1.25)
    report("requests (simulator journal)", len(journal), "req")
    report("requests per 1,000 records", per_k, "req", "<= 2.05", per_k <= 2.05)
    report("429 rejections", rejected, "req", "0", rejected == 0)
    report("records per second", rows / wall, "rec/s")


def cpu_per_format(tickets: int, work: Path) -> None:
    print(f"== client CPU per 100,000 records ({tickets:,} tickets, no latency, own process)")
    with (
        SimulatorProcess(
            "--count",
            f"Tickets={tickets}",
            "--thread-limit",
            "3",
            "--hourly-limit",
            "0",
            startup_timeout=900,
        ) as sim,
        _client(sim.credentials, paced=False) as client,
    ):
        _export(client, work / "warm", "parquet")  # imports, metadata, sockets
        for fmt in FORMATS:
            out = work / f"cpu{SUFFIX.get(fmt, '')}"
            cpu0, wall0 = time.process_time(), time.perf_counter()
            result = _export(client, out, fmt)
            cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
            rows = result.entities["Tickets"].rows
            size = (
                sum(p.stat().st_size for p in out.rglob("*"))
                if out.is_dir()
                else out.stat().st_size
            )
            report(f"{fmt}: CPU s per 100k records", cpu * 100_000 / rows, "s")
            report(f"{fmt}: wall s per 100k records", wall * 100_000 / rows, "s")
            report(f"{fmt}: output size per 100k records", size * 100_000 / rows / 1e6, "MB")
            shutil.rmtree(out) if out.is_dir() else out.unlink()


def _hwm_mb() -> float:
    """Peak RSS of this process from /proc (VmHWM; ru_maxrss can carry the parent's peak over
    fork/exec), falling back to ru_maxrss elsewhere."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return peak_rss_mb()


def _child(out: str, upto: int, fmt: str) -> None:
    # credentials come through the environment, never the command line (ps shows argv)
    creds = json.loads(os.environ.pop(_CREDS_ENV))
    from py_autotask import F

    base = _hwm_mb()
    with _client(creds, paced=False) as client:
        start = time.perf_counter()
        result = _export(client, Path(out), fmt, F("id").lte(upto) if upto else None)
        wall = time.perf_counter() - start
    print(json.dumps({"rows": result.rows, "rss_mb": _hwm_mb(), "base_mb": base, "wall": wall}))


def _measure(sim: Any, out: Path, upto: int, fmt: str) -> dict[str, Any] | None:
    """Peak RSS (and wall time) of one export in a fresh process; None (and its error shown)
    when the export failed."""
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_export", "--child", str(out), str(upto), fmt],
        cwd=ROOT,
        env={**os.environ, _CREDS_ENV: json.dumps(sim.credentials)},
        capture_output=True,
        text=True,
    )
    if out.is_dir():
        shutil.rmtree(out)
    elif out.exists():
        out.unlink()
    if proc.returncode != 0:
        print(f"{fmt}: the export failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
        return None
    figures: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return figures


def rss(tickets: int, work: Path, formats: list[str]) -> None:
    print(f"== peak RSS of an export in a fresh process (simulator: {tickets:,} tickets)")
    with SimulatorProcess(
        "--count",
        f"Tickets={tickets}",
        "--thread-limit",
        "3",
        "--hourly-limit",
        "0",
        startup_timeout=900,
    ) as sim:
        tenth = _measure(sim, work / "rss-tenth", tickets // 10, "parquet")
        full = _measure(sim, work / "rss-full", 0, "parquet")
        if tenth is not None and full is not None:
            report(f"peak RSS, parquet, {tenth['rows']:,} tickets", tenth["rss_mb"], "MB")
            report(
                f"peak RSS, parquet, {full['rows']:,} tickets",
                full["rss_mb"],
                "MB",
                "< 150",
                full["rss_mb"] < 150,
            )
            ratio = full["rss_mb"] / tenth["rss_mb"]
            report("RSS full / tenth", ratio, "x", "<= 1.3", ratio <= 1.3)
            report("interpreter + imports before the export", full["base_mb"], "MB")
            report(
                f"export rate, {full['rows']:,} tickets (no latency)",
                full["rows"] / full["wall"],
                "rec/s",
            )
        for fmt in formats:
            if fmt == "parquet":
                continue
            fig = _measure(sim, work / f"rss-{fmt}{SUFFIX.get(fmt, '')}", 0, fmt)
            if fig is not None:
                report(
                    f"peak RSS, {fmt}, {fig['rows']:,} tickets",
                    fig["rss_mb"],
                    "MB",
                    "< 150",
                    fig["rss_mb"] < 150,
                )
                report(f"{fmt}: export wall time", fig["wall"], "s")
            sys.stdout.flush()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--full", action="store_true")
    parser.add_argument("--tickets", type=int, default=None)
    parser.add_argument("--rss-tickets", type=int, default=None)
    parser.add_argument("--latency-ms", type=int, default=200)
    parser.add_argument("--only", choices=["latency", "cpu", "rss"], action="append")
    parser.add_argument(
        "--rss-formats",
        default=",".join(FORMATS),
        help="formats whose peak RSS is measured (comma-separated; default: all)",
    )
    parser.add_argument("--child", nargs=3, metavar=("OUT", "UPTO", "FMT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(args.child[0], int(args.child[1]), args.child[2])
        return
    tickets = args.tickets or (5_000 if args.smoke else 100_000)
    rss_tickets = args.rss_tickets or (20_000 if args.smoke else 1_000_000)
    only = set(args.only or ["latency", "cpu", "rss"])
    work = Path(tempfile.mkdtemp(prefix="bench-export-"))
    try:
        if "latency" in only:
            latency_bound(tickets, args.latency_ms, work)
        if "cpu" in only:
            cpu_per_format(tickets, work)
        if "rss" in only:
            formats = [f for f in args.rss_formats.split(",") if f]
            unknown = sorted(set(formats) - set(FORMATS))
            if unknown:
                parser.error(f"unknown --rss-formats {unknown}; choose from {FORMATS}")
            rss(rss_tickets, work, formats)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
