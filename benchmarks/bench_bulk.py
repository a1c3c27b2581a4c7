"""Bulk create/update throughput against the simulator, and requests per record.

Three figures:

1. **Limits off** (no thread limit, no hourly threshold, no latency; client pacing off): creates and
   updates per minute through the whole bulk path (validation, journal, reconciliation, prefetch).
   Target: >= 10,000 records/minute each.
2. **200 ms latency, 3 concurrent requests per endpoint enforced by the simulator**: the bound is
   ``3 / 0.2 s = 15 requests/s``; target >= 90% of it with zero thread-limit rejections.
3. **Requests per record**: about 1 for creates, about 1 + 1/500 for updates (one prefetch query
   per 500 rows), from the simulator's own request journal.

``--smoke`` (CI, seconds): 1,000 records limits-off, 90 with latency. ``--full``: 10,000 and 450.
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks._util import report
from py_autotask import AutotaskClient
from py_autotask.bulk import BulkManager
from py_autotask.resilience import PacingConfig
from py_autotask.simulator import Simulator

WRITE_OPS = {"create", "update", "replace", "delete"}


def _client(sim: Simulator) -> AutotaskClient:
    return AutotaskClient(
        **{**sim.credentials, "api_url": sim.url}, pacing=PacingConfig(enabled=False)
    )


def _base(client: AutotaskClient) -> dict[str, Any]:
    t = client.tickets.query(max_records=1).items[0]
    return {"companyID": t.company_id, "status": t.status, "priority": t.priority}


def _run(sim: Simulator, n: int, journal_dir: Path, label: str) -> dict[str, float]:
    """Create ``n`` tickets, then update them; rates and request counts from the sim journal."""
    with _client(sim) as client:
        base = _base(client)
        bulk = BulkManager(client, journal_dir=journal_dir)
        rows = [{**base, "title": f"{label} {i}"} for i in range(n)]
        # warm-up: the tenant metadata (2 GETs) is fetched once per client and cached; time the
        # writes, not the one-off metadata reads
        bulk.bulk_create("Tickets", rows[:1], dry_run=True)
        sim.clear_journal()
        start = time.perf_counter()
        created = bulk.bulk_create("Tickets", rows)
        create_s = time.perf_counter() - start
        assert created.exit_code == 0, created.summary()
        create_requests = len([e for e in sim.journal() if e.operation not in ("meta",)])
        updates = [{"id": i, "title": f"{label} updated {i}"} for i in created.ids]
        sim.clear_journal()
        start = time.perf_counter()
        updated = bulk.bulk_update("Tickets", updates, conflict_resolution="merge")
        update_s = time.perf_counter() - start
        assert updated.exit_code == 0, updated.summary()
        update_requests = len([e for e in sim.journal() if e.operation not in ("meta",)])
        rejected = len(sim.journal(outcome="rejected_thread"))
    return {
        "create_s": create_s,
        "update_s": update_s,
        "create_rpr": create_requests / n,
        "update_rpr": update_requests / n,
        "create_writes": float(created.requests["create"]),
        "update_writes": float(updated.requests["update"]),
        "rejected": float(rejected),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--full", action="store_true")
    parser.add_argument("--records", type=int, default=None, help="records for the limits-off run")
    parser.add_argument("--latency-records", type=int, default=None)
    parser.add_argument("--latency", type=float, default=0.2)
    args = parser.parse_args(argv)
    n = args.records or (1_000 if args.smoke or not args.full else 10_000)
    m = args.latency_records or (90 if args.smoke or not args.full else 450)
    print(
        f"== bench_bulk: {n:,} records limits off; {m} records at {args.latency * 1000:.0f} ms x 3"
    )

    with tempfile.TemporaryDirectory() as tmp:
        with Simulator(profile="tiny", seed=3, thread_limit=0, hourly_threshold=0) as sim:
            free = _run(sim, n, Path(tmp) / "free", "free")
        report(
            "creates per minute, limits off",
            n / free["create_s"] * 60,
            "rec/min",
            ">= 10,000",
            n / free["create_s"] * 60 >= 10_000,
        )
        report(
            "updates per minute, limits off",
            n / free["update_s"] * 60,
            "rec/min",
            ">= 10,000",
            n / free["update_s"] * 60 >= 10_000,
        )
        ideal_update = 1 + math.ceil(n / 500) / n
        for name, value, ideal in (
            ("requests per created record", free["create_rpr"], 1.0),
            ("requests per updated record (prefetch 500/query)", free["update_rpr"], ideal_update),
        ):
            verdict = "[meets target]" if value <= ideal + 1e-9 else "[ABOVE TARGET]"
            print(f"{name:<58} {value:>14.4f} req/rec  (target {ideal:.4f})  {verdict}")

        with Simulator(profile="tiny", seed=3, thread_limit=3, hourly_threshold=0) as sim:
            sim.add_fault(
                match={"entity": "Tickets"}, effect={"type": "latency", "seconds": args.latency}
            )
            slow = _run(sim, m, Path(tmp) / "slow", "slow")
        bound = 3 / args.latency
        create_rate = m / slow["create_s"]
        update_rate = (m + m / 500) / slow["update_s"]  # requests/s incl. the prefetch
        report(
            "creates/s at latency, 3 per endpoint",
            create_rate,
            "req/s",
            f">= {0.9 * bound:.1f} (90% of {bound:.0f})",
            create_rate >= 0.9 * bound,
        )
        report("  as a share of the bound 3/latency", 100 * create_rate / bound, "%")
        report(
            "updates/s at latency, 3 per endpoint",
            update_rate,
            "req/s",
            f">= {0.9 * bound:.1f}",
            update_rate >= 0.9 * bound,
        )
        report("  as a share of the bound 3/latency", 100 * update_rate / bound, "%")
        report("thread-limit rejections", slow["rejected"], "", "0", slow["rejected"] == 0)


if __name__ == "__main__":
    main()
