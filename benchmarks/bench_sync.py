"""Sync throughput: full load and incremental run into SQLite (and DuckDB) from the simulator.

``--smoke`` syncs 5,000 tickets, ``--full`` 100,000 (``--tickets N`` any count). Figures:

- full load rows/s and requests per 1,000 records (target: ~2 = one 500-row page per 500 rows,
  plus two metadata requests per entity);
- the baseline measured in the same run: reading the same pages without writing (keyset pages over
  HTTP, JSON decoded) -> the sync/read ratio is what the database side costs;
- an incremental run after 1% of the tickets changed and 0.1% were deleted: requests (target:
  ceil(changed/500) + 3) and seconds.
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from pathlib import Path

from benchmarks._util import peak_rss_mb, report
from py_autotask import AutotaskClient
from py_autotask.simulator import Simulator


def _client(sim: Simulator) -> AutotaskClient:
    c = sim.credentials
    return AutotaskClient(c["username"], c["secret"], c["integration_code"], api_url=sim.url)


def _read_only(sim: Simulator) -> tuple[int, float]:
    """Baseline: keyset pages of every ticket, decoded, nothing written."""
    rows = 0
    last = -1
    start = time.perf_counter()
    with _client(sim) as client:
        while True:
            data = client.raw_request(
                "POST",
                "Tickets/query",
                json={"filter": [{"op": "gt", "field": "id", "value": last}], "MaxRecords": 500},
            )
            items = data["items"]
            if not items:
                break
            rows += len(items)
            last = items[-1]["id"]
            if not data["pageDetails"].get("nextPageUrl"):
                break
    return rows, time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--full", action="store_true")
    parser.add_argument("--tickets", type=int, default=None)
    parser.add_argument("--duckdb", action="store_true", help="also sync into DuckDB")
    args = parser.parse_args(argv)
    tickets = args.tickets or (5_000 if args.smoke or not args.full else 100_000)
    print(f"== bench_sync: tickets={tickets:,}")
    with (
        tempfile.TemporaryDirectory() as tmp,
        Simulator(
            profile="tiny",
            seed=42,
            counts={"Tickets": tickets},
            thread_limit=0,
            hourly_threshold=0,
        ) as sim,
    ):
        sim.state.schema.entity("Tickets").root_operations |= {"delete"}  # UI deletes
        base_rows, base_s = _read_only(sim)
        report("baseline: read pages, no writes", base_rows / base_s, "rows/s")

        targets = {"sqlite": f"sqlite:///{Path(tmp) / 'bench.db'}"}
        if args.duckdb or args.full:
            targets["duckdb"] = f"duckdb:///{Path(tmp) / 'bench.duckdb'}"
        for label, url in targets.items():
            sim.clear_journal()
            with _client(sim) as client:
                start = time.perf_counter()
                result = client.create_syncer().sync_to_database(
                    url, ["Tickets"], handle_signals=False
                )
                seconds = time.perf_counter() - start
            (res,) = result.entities
            assert res.status == "ok" and res.created == tickets, res.to_dict()
            requests = len(sim.journal())
            report(f"full sync -> {label}", tickets / seconds, "rows/s")
            report(
                f"full sync -> {label}: vs read-only",
                (tickets / seconds) / (base_rows / base_s),
                "x",
            )
            report(
                f"full sync -> {label}: requests per 1,000 records",
                requests * 1000 / tickets,
                "req",
                target="~2",
                ok=requests <= math.ceil(tickets / 500) + 4,
            )

        # incremental: 1% changed, 0.1% deleted (through the API, like a tenant's users)
        url = targets["sqlite"]
        changed = max(1, tickets // 100)
        deleted = max(1, tickets // 1000)
        step = max(1, tickets // changed)
        with _client(sim) as client:
            for i in range(1, tickets + 1, step)[:changed]:
                client.raw_request("PATCH", "Tickets", json={"id": i, "title": f"bench {i}"})
            for i in range(2, 2 + deleted):
                client.raw_request("DELETE", f"Tickets/{i}")
            sim.clear_journal()
            start = time.perf_counter()
            result = client.create_syncer().sync_to_database(url, ["Tickets"], handle_signals=False)
            seconds = time.perf_counter() - start
        (res,) = result.entities
        requests = len(sim.journal())
        print(
            "   incremental:",
            json.dumps(
                {k: res.to_dict()[k] for k in ("created", "updated", "deleted", "requests")}
            ),
        )
        report("incremental sync (1% changed, 0.1% deleted)", seconds, "s")
        report(
            "incremental sync: requests",
            requests,
            "req",
            target=f"<= {math.ceil(changed / 500) + 3}",
            ok=requests <= math.ceil(changed / 500) + 3,
        )
        report("incremental sync: changed rows/s", (res.updated + res.deleted) / seconds, "rows/s")
        report("peak RSS", peak_rss_mb(), "MB")


if __name__ == "__main__":
    main()
