"""Seed-data generation speed and memory (py_autotask.simulator._seed).

``--full`` generates 1,000,000 tickets (target: well under 2 minutes on 2 cores, ~60-100k
tickets/s); ``--smoke`` 20,000; ``--tickets N`` any count. By default only the ticket count is
raised over the ``tiny`` profile so the figure is the ticket rate; ``--profile bench`` generates
the whole profile (tickets plus notes, time entries, companies ... scaled by the profile).
``--serialize`` also JSON-encodes every record (what a store loader pays on top).
Rates are wall-clock; the per-CPU-second figure is the one to compare on a shared machine.
Peak RSS is the process maximum: the generator streams, so it should stay near the interpreter's
baseline whatever the count.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path

from benchmarks._util import peak_rss_mb, report
from py_autotask.simulator._seed import generate, generation_plan

SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--full", action="store_true")
    parser.add_argument("--tickets", type=int, default=None, help="ticket count")
    parser.add_argument("--profile", default="tiny", help="tiny (default), demo or bench")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--serialize", action="store_true", help="json.dumps every record")
    parser.add_argument("--schemas", type=Path, default=SCHEMAS)
    args = parser.parse_args(argv)
    tickets = args.tickets
    if tickets is None:
        tickets = 20_000 if args.smoke else 1_000_000
    counts = {"Tickets": tickets}
    plan = dict(generation_plan(args.schemas, args.profile, counts=counts))
    total_planned = sum(plan.values())
    print(
        f"== bench_seed: profile={args.profile} tickets={tickets:,} "
        f"records planned={total_planned:,} seed={args.seed}"
    )
    rss_before = peak_rss_mb()
    per: Counter[str] = Counter()
    spent: Counter[str] = Counter()
    dumps = json.dumps
    current = None
    cpu_start = time.process_time()
    mark = start = time.perf_counter()
    size = 0
    for coll, rec in generate(args.schemas, args.profile, args.seed, counts=counts):
        if coll != current:
            now = time.perf_counter()
            if current is not None:
                spent[current] += now - mark
            current, mark = coll, now
        per[coll] += 1
        if args.serialize:
            size += len(dumps(rec))
    end = time.perf_counter()
    cpu = time.process_time() - cpu_start
    if current is not None:
        spent[current] += end - mark
    elapsed = end - start
    total = sum(per.values())
    assert total == total_planned, (total, total_planned)
    report("records generated", total, "records")
    report("wall time", elapsed, "s", "< 120 for 1M tickets", elapsed < 120 or tickets < 1_000_000)
    report("all records/s", total / elapsed, "rec/s")
    report("all records per CPU second (robust to a busy machine)", total / cpu, "rec/s")
    if spent["Tickets"] > 0:
        rate = per["Tickets"] / spent["Tickets"]
        if args.serialize:
            report("Tickets/s including json.dumps", rate, "rec/s")
        else:
            report("Tickets/s", rate, "rec/s", ">= 60,000", rate >= 60_000)
    for coll, n in per.most_common(5):
        if coll != "Tickets" and spent[coll] > 0 and n >= 10_000:
            report(f"{coll}/s", n / spent[coll], "rec/s")
    if args.serialize:
        report("JSON bytes", size / 1e6, "MB")
    rss = peak_rss_mb()
    report("peak RSS (process)", rss, "MB", "< 200", rss < 200)
    report("peak RSS growth while generating", rss - rss_before, "MB")


if __name__ == "__main__":
    main()
