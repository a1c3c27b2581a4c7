"""A first real job: every open ticket of a tenant, by priority and queue, written to JSON Lines.

With no ``AUTOTASK_*`` credentials this starts the embedded Autotask simulator with a seeded demo
tenant on 127.0.0.1 and runs against it; with credentials it runs against your tenant (read only).

    make demo                      # or: python -m examples.first_job [--out demo-output]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from contextlib import ExitStack
from pathlib import Path

from py_autotask import AutotaskClient, F
from py_autotask.exceptions import AutotaskError


def run(client: AutotaskClient, out_dir: Path) -> int:
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / "open-tickets.jsonl"
    partial = target.with_suffix(".jsonl.partial")
    started = time.perf_counter()
    total = client.tickets.count()
    open_filter = F("status").noteq(5)  # 5 = Complete (a system picklist value)
    expected = client.tickets.count(open_filter)
    by_priority: Counter[object] = Counter()
    by_queue: Counter[object] = Counter()
    written = 0
    with partial.open("w", encoding="utf-8") as fh:
        for ticket in client.tickets.query_all_iter(open_filter):
            fh.write(json.dumps(ticket.to_api_dict(), default=str) + "\n")
            by_priority[ticket.priority] += 1
            by_queue[ticket.queue_id] += 1
            written += 1
    if written != expected:  # never present a partial file as complete
        print(
            f"error: wrote {written} tickets but Autotask counts {expected}; kept {partial}",
            file=sys.stderr,
        )
        return 1
    partial.replace(target)
    companies = client.companies.count(F("isActive").eq(True))
    elapsed = time.perf_counter() - started
    print(f"tickets in tenant: {total:,}; open: {expected:,}; active companies: {companies:,}")
    print(f"wrote {written:,} open tickets to {target} in {elapsed:.1f}s")
    print(
        "open tickets by priority: "
        + ", ".join(f"{k}: {v}" for k, v in sorted(by_priority.items(), key=lambda kv: str(kv[0])))
    )
    print(f"queues with open tickets: {len(by_queue)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=Path("demo-output"))
    parser.add_argument("--profile", default="demo", help="simulator data profile (tiny, demo)")
    args = parser.parse_args(argv)
    with ExitStack() as stack:
        if os.environ.get("AUTOTASK_USERNAME"):
            client = stack.enter_context(AutotaskClient())
            print("running against your Autotask tenant (AUTOTASK_* credentials)", file=sys.stderr)
        else:
            from py_autotask.simulator import Simulator

            print(
                f"no AUTOTASK_USERNAME set: starting the embedded Autotask simulator ({args.profile} tenant)...",
                file=sys.stderr,
            )
            sim = stack.enter_context(Simulator(profile=args.profile, seed=42))
            print(f"simulator at {sim.url}", file=sys.stderr)
            client = stack.enter_context(AutotaskClient(api_url=sim.url, **sim.credentials))
        try:
            return run(client, args.out)
        except AutotaskError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1


if __name__ == "__main__":
    sys.exit(main())
