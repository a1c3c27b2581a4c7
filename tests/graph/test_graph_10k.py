"""Issue 17's done-when test: the seed plan's GraphQL example on a 10,000-ticket tenant.

Every nested value of the result is checked against direct API reads (every ticket, company,
resource and time entry read page by page over HTTP), and the requests the query sent (the
simulator's journal) against the bound: the top-level query's pages, plus per relationship
ceil(distinct ids / 500) ``in`` queries and the extra pages their results need.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import pytest

from py_autotask.query import GraphQLQuery
from py_autotask.simulator import Simulator
from tests.graph._tenant import SEED_QUERY, reopen_half
from tests.graph.test_graph_db import api_records
from tests.sync.helpers import client_for

pytestmark = pytest.mark.xdist_group("graph_10k")

TICKETS = 10_000
TIME_ENTRIES = 15_000
PAGE = 500


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    counts = {"Tickets": TICKETS, "TimeEntries": TIME_ENTRIES, "Companies": 200, "Resources": 50}
    with Simulator(profile="tiny", seed=17, counts=counts, thread_limit=0, hourly_threshold=0) as s:
        reopen_half(s)
        yield s


def _open_statuses(sim: Simulator) -> set[int]:
    """``status: "open"``: this tenant has no "Open" label, so every status but Complete
    (docs/graphql.md)."""
    with client_for(sim) as client:
        meta = client.raw_request("GET", "Tickets/entityInformation/fields")
    status = next(f for f in meta["fields"] if f["name"] == "status")
    labels = {int(p["value"]): str(p["label"]).lower() for p in status["picklistValues"]}
    assert "open" not in labels.values() and "complete" in labels.values()
    return {v for v, label in labels.items() if label != "complete"}


def _pages(n: int) -> int:
    """Pages the API needs for ``n`` records (an empty result is one page)."""
    return max(1, math.ceil(n / PAGE))


def test_the_seed_query_on_10000_tickets_matches_direct_reads_within_the_request_bound(
    sim: Simulator,
) -> None:
    sim.clear_journal()
    with client_for(sim) as client:
        result = GraphQLQuery(client).execute_sync(SEED_QUERY)
    journal = sim.journal()

    # -- direct API reads, the truth every nested value is checked against
    everything = [{"op": "gte", "field": "id", "value": 0}]
    all_tickets = api_records(sim, "Tickets", everything)
    assert len(all_tickets) == TICKETS
    companies = {c["id"]: c for c in api_records(sim, "Companies", everything)}
    resources = {r["id"]: r for r in api_records(sim, "Resources", everything)}
    entries: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for te in api_records(sim, "TimeEntries", everything):  # id-ordered
        entries[te["ticketID"]].append(te)
    open_statuses = _open_statuses(sim)
    matching = [t for t in all_tickets if t["status"] in open_statuses and t["priority"] in (1, 2)]
    assert 1_000 < len(matching) < TICKETS  # the filter selects, and selects a lot

    expected = []
    for t in matching:
        company = companies.get(t["companyID"])
        resource = resources.get(t["assignedResourceID"])
        expected.append(
            {
                "id": t["id"],
                "title": t["title"],
                "priority": t["priority"],
                "company": None
                if company is None
                else {"name": company["companyName"], "isActive": company["isActive"]},
                "assignedResource": None
                if resource is None
                else {
                    "firstName": resource["firstName"],
                    "lastName": resource["lastName"],
                    "email": resource["email"],
                },
                "timeEntries": [
                    {
                        "hours": te["hoursWorked"],
                        "billableHours": te["hoursToBill"],
                        # a DateTime: ISO 8601 with its UTC offset, as GraphQL serializes it
                        "dateWorked": None
                        if te["dateWorked"] is None
                        else te["dateWorked"].isoformat(),
                    }
                    for te in entries.get(t["id"], [])
                ],
            }
        )
    got = result.to_dict()["tickets"]
    assert [t["id"] for t in got] == [t["id"] for t in expected]
    assert got == expected
    # the seed's own access path
    assert result.tickets[0].company.name == expected[0]["company"]["name"]
    with_entries = [t for t in got if t["timeEntries"]]
    assert with_entries and sum(len(t["timeEntries"]) for t in got) > 1_000
    assert any(t["assignedResource"] is None for t in got)  # unassigned tickets stay null

    # -- the request bound
    queries = [e for e in journal if e.operation in ("query", "next")]  # first pages, next pages
    other = [e for e in journal if e.operation not in ("query", "next")]
    by_entity: dict[str, int] = defaultdict(int)
    for e in queries:
        by_entity[e.entity or ""] += 1
    ids = sorted(t["id"] for t in matching)
    company_ids = {t["companyID"] for t in matching if t["companyID"] is not None}
    resource_ids = {
        t["assignedResourceID"] for t in matching if t["assignedResourceID"] is not None
    }
    te_pages = sum(
        _pages(sum(len(entries.get(i, [])) for i in ids[start : start + PAGE]))
        for start in range(0, len(ids), PAGE)
    )
    bound = {
        "Tickets": _pages(len(matching)),
        "Companies": math.ceil(len(company_ids) / PAGE),
        "Resources": math.ceil(len(resource_ids) / PAGE),
        "TimeEntries": te_pages,
    }
    assert dict(by_entity) == bound, (dict(by_entity), bound)
    naive = 1 + len(matching) * 3  # one query, then company, resource, time entries per ticket
    assert naive / sum(bound.values()) >= 50
    # besides the queries: the Tickets metadata that resolves the "open" label, and the client's
    # own threshold check
    assert {e.operation or "" for e in other} <= {"meta", "threshold"}, other
    assert len([e for e in other if e.operation == "meta"]) == 1
    assert len(other) <= 2
