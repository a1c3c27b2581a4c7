"""Keyset paging: absolute next/prev URLs, stable under concurrent inserts, method rule."""

from __future__ import annotations

import json
import threading
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import orjson
import pytest
from sim_helpers import ALL_ROWS, api_client, errors_of, ticket_body

from py_autotask._values import parse_datetime
from py_autotask.simulator import Simulator


def _bulk_tickets(sim: Simulator, client: httpx.Client, n: int) -> None:
    template = client.get("Tickets/1").json()["item"]
    start = sim.state.store.next_id(sim.state.schema.entity("Tickets"))  # type: ignore[arg-type]
    records = [
        dict(
            template,
            id=start + i,
            title=f"bulk {i}",
            lastActivityDate=f"2024-{1 + i * 12 // n:02d}-{1 + i % 28:02d}T{i % 24:02d}:00:00.{i % 1000:03d}",
        )
        for i in range(n)
    ]
    sim.state.store.load(("Tickets", r) for r in records)


def test_paging_over_1200_records_with_concurrent_inserts(sim: Simulator) -> None:
    sim.reset()
    with api_client(sim) as c:
        _bulk_tickets(sim, c, 1200)
        tickets = sim.state.schema.entity("Tickets")
        assert tickets is not None
        expected = {i for i, _ in sim.state.store.select_page(tickets, "", [], limit=10**6)}
        total_before = c.post("Tickets/query/count", json=ALL_ROWS).json()["queryCount"]
        assert total_before >= 1220

        stop = threading.Event()
        created: list[int] = []

        def writer() -> None:
            with api_client(sim) as w:
                body = ticket_body(w, title="inserted while paging")
                while not stop.is_set() and len(created) < 40:
                    r = w.post("Tickets", json=body)
                    assert r.status_code == 200, r.text
                    created.append(r.json()["itemId"])

        t = threading.Thread(target=writer)
        t.start()
        seen: list[int] = []
        page = c.post("Tickets/query", json=ALL_ROWS)
        assert page.json()["pageDetails"]["prevPageUrl"] is None
        pages = 0
        while True:
            data = page.json()
            assert data["pageDetails"]["count"] == len(data["items"]) <= 500
            assert data["pageDetails"]["requestCount"] == 500
            seen.extend(int(i["id"]) for i in data["items"])
            pages += 1
            nxt = data["pageDetails"]["nextPageUrl"]
            if nxt is None:
                break
            assert nxt.startswith(sim.url + "Tickets/query/next?paging=")
            page = c.post(nxt, json=ALL_ROWS)
            assert page.status_code == 200, page.text
        stop.set()
        t.join()
        assert pages >= 3
        assert seen == sorted(seen) and len(seen) == len(set(seen))  # ascending, no duplicates
        assert len(expected) == total_before
        assert expected <= set(seen)  # nothing that existed before paging was skipped
        assert set(seen) - expected <= set(created)  # the rest are the concurrent inserts


def test_next_url_method_rule_and_prev_page(client: httpx.Client, fresh: Simulator) -> None:
    _bulk_tickets(fresh, client, 30)
    q: dict[str, Any] = {**ALL_ROWS, "MaxRecords": 10}
    first = client.post("Tickets/query", json=q).json()
    nxt = first["pageDetails"]["nextPageUrl"]
    split = urlsplit(nxt)
    params = parse_qs(split.query)
    assert json.loads(params["paging"][0])["pageSize"] == 10
    assert json.loads(params["search"][0]) == q
    assert "%7b" in nxt  # .NET-style lower-case escapes
    wrong = client.get(nxt)
    assert wrong.status_code == 405
    assert errors_of(wrong) == ["The requested resource does not support http method 'GET'."]
    second = client.post(nxt).json()  # no body: the search parameter carries the query
    assert second["items"][0]["id"] > first["items"][-1]["id"]
    prev = second["pageDetails"]["prevPageUrl"]
    assert prev is not None
    back = client.post(prev).json()
    assert [i["id"] for i in back["items"]] == [i["id"] for i in first["items"]]
    # GET-started cursors continue with GET
    g = client.get("Tickets/query", params={"search": json.dumps(q)}).json()
    g2 = client.get(g["pageDetails"]["nextPageUrl"])
    assert g2.status_code == 200 and g2.json()["items"] == second["items"]
    assert client.post(g["pageDetails"]["nextPageUrl"]).status_code == 405


def test_next_page_method_can_accept_both() -> None:
    with Simulator(profile="tiny", next_page_method="any") as sim, api_client(sim) as c:
        first = c.post("Tickets/query", json={**ALL_ROWS, "MaxRecords": 5}).json()
        assert c.get(first["pageDetails"]["nextPageUrl"]).status_code == 200


def test_child_list_pages(client: httpx.Client, fresh: Simulator) -> None:
    notes = client.get("Tickets/1/Notes").json()
    assert all(n["ticketID"] == 1 for n in notes["items"])
    assert notes["pageDetails"]["prevPageUrl"] is None


@pytest.mark.parametrize("budget", [0.0, 10.0])
def test_index_fallback_plan_returns_the_same_pages(sim: Simulator, budget: float) -> None:
    """Sparse matches at low ids switch to an index-only scan; the pages must not change."""
    sim.reset()
    sim.state.store.scan_budget = budget
    sim.state.store.index_fallbacks = 0
    sim.state.store.selective_rows = 100
    try:
        with api_client(sim) as c:
            _bulk_tickets(sim, c, 3000)
            tickets = sim.state.schema.entity("Tickets")
            assert tickets is not None
            everything = [
                orjson.loads(d)
                for _, d in sim.state.store.select_page(tickets, "", [], limit=10**6)
            ]
            cut = sorted(t["lastActivityDate"] for t in everything)[len(everything) // 2]
            flt = {
                "filter": [{"op": "gt", "field": "lastActivityDate", "value": cut}],
                "MaxRecords": 200,
            }
            got: list[int] = []
            page = c.post("Tickets/query", json=flt).json()
            while True:
                got.extend(i["id"] for i in page["items"])
                if not page["pageDetails"]["nextPageUrl"]:
                    break
                page = c.post(page["pageDetails"]["nextPageUrl"], json=flt).json()
            cut_dt = parse_datetime(cut)
            want = [
                t["id"]
                for t in everything
                if t["lastActivityDate"] and parse_datetime(t["lastActivityDate"]) > cut_dt
            ]  # type: ignore[operator]
            assert got == want and len(want) > 200
            assert (sim.state.store.index_fallbacks > 0) == (budget == 0.0)
            neq = c.post(
                "Tickets/query",
                json={"filter": [{"op": "noteq", "field": "companyID", "value": 1}]},
            )
            assert neq.status_code == 200
    finally:
        sim.state.store.scan_budget = 0.03
        sim.state.store.selective_rows = 5000
