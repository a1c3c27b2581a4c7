"""The seed plan's GraphQL example (tickets with their company, assigned resource and time
entries) against a per-ticket loop, at 200 ms simulated latency per request.

The simulator (its own process, Autotask's 3-per-endpoint thread limit on) holds 10,000 tickets
(``--smoke``: 1,000). Measured in the same run:

- ``GraphQLQuery(client).execute(...)`` through the async client: requests (the simulator's
  journal) and wall time. The bound it is checked against, worked out from direct reads made
  before the latency is switched on: the matching tickets' pages + per reference
  ceil(distinct ids / 500) + the time-entry ``in`` batches (500 ticket ids each) and the extra
  pages their results need.
- the naive loop: the same ticket pages, then per ticket a GET of its company, a GET of its
  resource (when assigned) and a query of its time entries, one after another. Over every ticket
  at 200 ms that takes hours, so it runs on a sample of tickets and its time is EXTRAPOLATED
  (sample time per ticket x tickets + the ticket pages); its request count is exact (counted).

Also: the same query over a SQLite mirror synced from the simulator (zero requests).

Target (issue 17): >= 50x fewer requests than the naive loop.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx

from benchmarks._simproc import SimulatorProcess
from benchmarks._util import report
from py_autotask import AsyncAutotaskClient, AutotaskClient
from py_autotask.graph._schema import schema
from py_autotask.query import GraphQLQuery

LATENCY = 0.2
PAGE = 500
TARGET = 50.0
SEED_QUERY = """
{
    tickets(status: "open", priority: [1, 2]) {
        id
        title
        priority
        company { name isActive }
        assignedResource { firstName lastName email }
        timeEntries { hours billableHours dateWorked }
    }
}
"""


def _all(sim: SimulatorProcess, entity: str) -> list[dict[str, Any]]:
    """Every record of ``entity`` (keyset pages over HTTP; run before the latency is on)."""
    out: list[dict[str, Any]] = []
    last = -1
    with httpx.Client(headers=sim.headers, timeout=60) as http:
        while True:
            body = {"filter": [{"op": "gt", "field": "id", "value": last}], "MaxRecords": PAGE}
            items = http.post(sim.url + f"{entity}/query", json=body).json()["items"]
            if not items:
                return out
            out += items
            last = items[-1]["id"]


def _open_statuses(sim: SimulatorProcess) -> list[int]:
    """``status: "open"`` in this tenant: every status but Complete (docs/graphql.md)."""
    with httpx.Client(headers=sim.headers, timeout=60) as http:
        meta = http.get(sim.url + "Tickets/entityInformation/fields").json()
    status = next(f for f in meta["fields"] if f["name"] == "status")
    return [int(p["value"]) for p in status["picklistValues"] if p["label"].lower() != "complete"]


def _pages(n: int) -> int:
    return max(1, math.ceil(n / PAGE))


def bound(sim: SimulatorProcess) -> tuple[int, int, list[dict[str, Any]]]:
    """``(requests bound, matching tickets, matching tickets)`` from direct reads."""
    statuses = set(_open_statuses(sim))
    tickets = [
        t for t in _all(sim, "Tickets") if t["status"] in statuses and t["priority"] in (1, 2)
    ]
    per_ticket: dict[int, int] = defaultdict(int)
    for te in _all(sim, "TimeEntries"):
        per_ticket[te["ticketID"]] += 1
    ids = sorted(t["id"] for t in tickets)
    companies = {t["companyID"] for t in tickets if t.get("companyID") is not None}
    resources = {
        t["assignedResourceID"] for t in tickets if t.get("assignedResourceID") is not None
    }
    te_pages = sum(
        _pages(sum(per_ticket[i] for i in ids[s : s + PAGE])) for s in range(0, len(ids), PAGE)
    )
    total = (
        _pages(len(tickets))
        + math.ceil(len(companies) / PAGE)
        + math.ceil(len(resources) / PAGE)
        + te_pages
    )
    return total, len(tickets), tickets


def _query_requests(journal: list[dict[str, Any]]) -> int:
    return sum(1 for e in journal if e["operation"] in ("query", "next"))


async def run_graphql(sim: SimulatorProcess) -> tuple[float, int]:
    async with AsyncAutotaskClient(**sim.credentials) as client:
        await client.tickets.count([{"op": "eq", "field": "id", "value": 0}])  # connect, warm up
        sim.clear_journal()
        start = time.perf_counter()
        result = await GraphQLQuery(client).execute(SEED_QUERY)
        elapsed = time.perf_counter() - start
    return elapsed, len(result.tickets)


async def run_naive(
    sim: SimulatorProcess, statuses: list[int], sample: list[dict[str, Any]]
) -> tuple[float, float, int]:
    """``(ticket pages time, time per ticket over the sample, requests per sampled ticket)``."""
    async with AsyncAutotaskClient(**sim.credentials) as client:
        start = time.perf_counter()
        await client.tickets.query_all(
            [
                {"op": "in", "field": "status", "value": statuses},
                {"op": "in", "field": "priority", "value": [1, 2]},
            ]
        )
        pages_time = time.perf_counter() - start
        sim.clear_journal()
        start = time.perf_counter()
        for t in sample:
            await client.companies.get(t["companyID"])
            if t.get("assignedResourceID") is not None:
                await client.resources.get(t["assignedResourceID"])
            await client.time_entries.query_all(
                [{"op": "eq", "field": "ticketID", "value": t["id"]}]
            )
        per_ticket = (time.perf_counter() - start) / len(sample)
    requests = sum(1 for e in sim.journal() if e["operation"] != "threshold")
    return pages_time, per_ticket, requests


def run_mirror(sim: SimulatorProcess, path: Path) -> tuple[float, int, int]:
    """Sync the four collections into a SQLite file (before the latency is on), then the seed
    query over it: ``(wall time, tickets returned, requests sent while querying)``."""
    url = f"sqlite:///{path}"
    with AutotaskClient(**sim.credentials) as client:
        result = client.create_syncer().sync_to_database(
            url, ["Tickets", "Companies", "Resources", "TimeEntries"], handle_signals=False
        )
        assert result.ok, result.to_dict()
    sim.clear_journal()
    start = time.perf_counter()
    found = GraphQLQuery(db=url).execute_sync(SEED_QUERY)
    elapsed = time.perf_counter() - start
    return elapsed, len(found.tickets), len(sim.journal())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--smoke", action="store_true")
    mode.add_argument("--full", action="store_true")
    args = parser.parse_args(argv)
    tickets, sample_size = (1_000, 5) if args.smoke else (10_000, 40)
    counts = {"Tickets": tickets, "TimeEntries": tickets * 3 // 2, "Companies": 200}
    sim_args = ["--profile", "tiny", "--seed", "17", "--hourly-limit", "100000000"]
    for entity, n in {**counts, "Resources": 50}.items():
        sim_args += ["--count", f"{entity}={n}"]
    with SimulatorProcess(*sim_args) as sim:
        limit, matching, matched = bound(sim)
        start = time.perf_counter()
        GraphQLQuery.schema_sdl()
        schema()  # built once per process: timed apart from the queries
        schema_time = time.perf_counter() - start
        with tempfile.TemporaryDirectory() as tmp:
            mirror_time, mirror_returned, mirror_requests = run_mirror(sim, Path(tmp) / "m.db")
        statuses = _open_statuses(sim)
        sim.add_fault({"effect": {"type": "latency", "dist": "fixed", "seconds": LATENCY}})
        graphql_time, returned = asyncio.run(run_graphql(sim))
        journal = sim.journal()
        graphql_queries = _query_requests(journal)
        graphql_all = sum(1 for e in journal if e["operation"] != "threshold")
        step = max(1, len(matched) // sample_size)
        sample = matched[::step][:sample_size]
        pages_time, per_ticket, sample_requests = asyncio.run(run_naive(sim, statuses, sample))
    assert returned == matching == mirror_returned, (returned, matching, mirror_returned)
    naive_requests = _pages(matching) + round(sample_requests / len(sample) * matching)
    naive_time = pages_time + per_ticket * matching
    print(
        f"{tickets:,} tickets ({matching:,} match the seed query), {counts['TimeEntries']:,} time "
        f"entries, {LATENCY * 1000:.0f} ms latency per request, 3 in flight per endpoint"
    )
    report("bound: ticket pages + ceil(ids/500) per relation + pages", limit, "requests")
    report(
        "GraphQL query requests (journal: query + next pages)",
        graphql_queries,
        "requests",
        f"<= {limit}",
        graphql_queries <= limit,
    )
    report("GraphQL all requests (+ the status label's metadata)", graphql_all, "requests")
    report("GraphQL wall time", graphql_time, "s")
    report("GraphQL schema build (once per process, not in the above)", schema_time, "s")
    report("the same query over the synced SQLite mirror", mirror_time, "s")
    report("  its API requests", mirror_requests, "requests", "0", mirror_requests == 0)
    report(f"naive loop: measured on {len(sample)} tickets", per_ticket, "s/ticket")
    report("naive loop requests (per-ticket rate x tickets)", naive_requests, "requests")
    report("naive loop wall time, EXTRAPOLATED from the sample", naive_time, "s")
    ratio = naive_requests / graphql_all
    report("naive / GraphQL requests", ratio, "x", f">= {TARGET:.0f}", ratio >= TARGET)
    report("naive (extrapolated) / GraphQL wall time", naive_time / graphql_time, "x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
