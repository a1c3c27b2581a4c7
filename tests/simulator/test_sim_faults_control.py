"""Fault injection and the /_sim/ control plane, over real sockets."""

from __future__ import annotations

import time

import httpx
import pytest
from sim_helpers import ALL_ROWS, api_client, errors_of, ticket_body

from py_autotask.simulator import Simulator


def test_status_faults_with_count_then_recover(client: httpx.Client, fresh: Simulator) -> None:
    fresh.faults.add(match={"entity": "Tickets", "operation": "get"}, effect=503, count=2)
    assert [client.get("Tickets/1").status_code for _ in range(3)] == [503, 503, 200]
    assert (
        client.post("Tickets/query", json=ALL_ROWS).status_code == 200
    )  # other operation untouched


def test_sequence_and_retry_after(client: httpx.Client, fresh: Simulator) -> None:
    fresh.faults.add(
        match={"method": "GET", "path": "/Companies/"},
        sequence=[
            {"type": "status", "status": 429, "retry_after": 2},
            "ok",
            {"type": "validation", "message": "nope"},
        ],
    )
    first = client.get("Companies/1")
    assert first.status_code == 429 and first.headers["retry-after"] == "2"
    assert client.get("Companies/1").status_code == 200
    third = client.get("Companies/1")
    assert third.status_code == 500 and errors_of(third) == ["nope"]
    assert client.get("Companies/1").status_code == 200  # sequence spent


def test_opaque_malformed_truncated_empty(client: httpx.Client, fresh: Simulator) -> None:
    fresh.faults.add(
        match={"entity": "Tickets"},
        sequence=["opaque", "malformed", "truncated", "empty", "throttle"],
    )
    r = client.get("Tickets/1")
    assert r.status_code == 500 and r.headers["content-type"].startswith("text/html")
    r = client.get("Tickets/1")
    assert r.status_code == 200
    with pytest.raises(ValueError):
        r.json()
    with pytest.raises(httpx.HTTPError):
        client.get("Tickets/1")
    r = client.get("Tickets/1")
    assert r.status_code == 200 and r.content == b""
    r = client.get("Tickets/1")
    assert r.status_code == 429 and "Itgenatr005" in errors_of(r)[0]


def test_connection_reset(client: httpx.Client, fresh: Simulator) -> None:
    fresh.faults.add(match={"operation": "get"}, effect="reset", count=1)
    with pytest.raises(httpx.HTTPError):
        client.get("Tickets/1")
    assert client.get("Tickets/1").status_code == 200


def test_commit_then_drop_applies_the_write(client: httpx.Client, fresh: Simulator) -> None:
    fresh.faults.add(
        match={"operation": "create", "entity": "Tickets"}, effect="commit_then_drop", count=1
    )
    before = client.post("Tickets/query/count", json=ALL_ROWS).json()["queryCount"]
    with pytest.raises(httpx.HTTPError):
        client.post("Tickets", json=ticket_body(client, title="ghost"))
    after = client.post("Tickets/query/count", json=ALL_ROWS).json()["queryCount"]
    assert after == before + 1
    (entry,) = fresh.journal(operation="create")
    assert entry.item_ids and entry.status == 0 and entry.outcome.startswith("fault:")
    ghost = client.get(f"Tickets/{entry.item_ids[0]}").json()["item"]
    assert ghost["title"] == "ghost"


def test_latency_fixed_and_per_record(client: httpx.Client, fresh: Simulator) -> None:
    fresh.faults.add(
        match={"operation": "query"},
        effect={"type": "latency", "seconds": 0.05, "per_record": 0.01},
    )
    t = time.perf_counter()
    client.post("Tickets/query", json={**ALL_ROWS, "MaxRecords": 10})
    assert time.perf_counter() - t >= 0.14
    fresh.faults.clear()
    fresh.faults.add(
        match={"operation": "get"},
        effect={"type": "latency", "dist": "lognormal", "median": 0.02, "sigma": 0.1},
    )
    t = time.perf_counter()
    client.get("Tickets/1")
    assert 0.01 <= time.perf_counter() - t < 1.0


def test_probability_is_seeded() -> None:
    def pattern() -> list[int]:
        with Simulator(profile=None, fault_seed=7) as sim, api_client(sim) as c:
            sim.faults.add(match={"operation": "version"}, effect=502, probability=0.5)
            return [c.get("Version").status_code for _ in range(12)]

    first = pattern()
    assert first == pattern() and {200, 502} == set(first)


def test_control_plane_over_http(fresh: Simulator) -> None:
    base = fresh.base_url + "/_sim"
    with httpx.Client(timeout=10) as http, api_client(fresh) as c:
        state = http.get(base + "/state").json()
        assert state["records"]["Tickets"] >= 1 and state["profile"] == "tiny"
        rule = http.post(
            base + "/faults", json={"match": {"entity": "Companies"}, "effect": 504}
        ).json()[0]
        assert [r["id"] for r in http.get(base + "/faults").json()] == [rule["id"]]
        assert c.get("Companies/1").status_code == 504
        assert http.delete(f"{base}/faults/{rule['id']}").json() == {"ok": True}
        assert c.get("Companies/1").status_code == 200
        assert http.post(base + "/faults", json={"effect": {"type": "explode"}}).status_code == 400
        journal = http.get(base + "/journal", params={"entity": "Companies", "status": 504}).json()
        assert (
            len(journal) == 1 and journal[0]["method"] == "GET" and journal[0]["operation"] == "get"
        )
        assert {"in_flight_at_start", "started_at", "finished_at", "item_ids"} <= set(journal[0])
        http.delete(base + "/journal")
        assert http.get(base + "/journal").json() == []
        before = http.get(base + "/clock").json()["timestamp"]
        after = http.post(base + "/clock", json={"advance": 7200}).json()["timestamp"]
        assert after - before >= 7200
        assert http.post(base + "/clock", json={"scale": 60}).json()["scale"] == 60
        http.post(base + "/clock", json={"scale": 1})
        assert (
            http.post(base + "/threshold", json={"count": 123}).json()[
                "currentTimeframeRequestCount"
            ]
            == 123
        )
        r = c.post("Tickets", json=ticket_body(c))
        changes = http.get(base + "/changes", params={"since": 0}).json()
        assert changes[-1]["id"] == r.json()["itemId"] and changes[-1]["action"] == "created"
        assert http.post(base + "/reset", json={}).json()["ok"] is True
        assert c.get(f"Tickets/{r.json()['itemId']}").json() == {"item": None}
        assert http.get(base + "/nothing").status_code == 404


def test_seed_endpoint_adds_records(fresh: Simulator) -> None:
    with httpx.Client(timeout=60) as http:
        r = http.post(
            fresh.base_url + "/_sim/seed",
            json={"profile": "tiny", "seed": 1, "counts": {"Tickets": 5}},
        )
        assert r.status_code == 200, r.text
    fresh.reset()


def test_commit_then_delay_outlives_the_client_timeout(fresh: Simulator) -> None:
    fresh.faults.add(
        match={"operation": "update"}, effect={"type": "commit_then_delay", "seconds": 1.0}
    )
    with httpx.Client(base_url=fresh.url, headers=fresh.headers, timeout=0.3) as c:
        with pytest.raises(httpx.ReadTimeout):
            c.patch("Tickets", json={"id": 1, "title": "slow but saved"})
    with api_client(fresh) as c:
        assert c.get("Tickets/1").json()["item"]["title"] == "slow but saved"
