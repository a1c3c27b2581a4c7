"""The runtime client against the real simulator (HTTP server) and the generated entity classes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from py_autotask import AutotaskClient, F
from py_autotask.exceptions import (
    AutotaskAuthError,
    AutotaskMethodNotAllowedError,
    AutotaskRateLimitError,
    AutotaskServerError,
    AutotaskValidationError,
)

simulator = pytest.importorskip("py_autotask.simulator")
pytest.importorskip("py_autotask_generated._client_mixin")

ALL_ROWS_PAGED = {"filter": [{"op": "gte", "field": "id", "value": 0}], "MaxRecords": 7}


@pytest.fixture(scope="module")
def sim() -> Iterator[Any]:
    with simulator.Simulator(seed=42, profile="tiny", hourly_threshold=0) as s:
        yield s


def _creds(sim: Any, **override: str) -> tuple[str, str, str]:
    headers = {k.lower(): v for k, v in sim.headers.items()}
    return (
        override.get("username", headers["username"]),
        override.get("secret", headers["secret"]),
        override.get("integration_code", headers["apiintegrationcode"]),
    )


@pytest.fixture
def client(sim: Any) -> Iterator[Any]:
    sim.reset()
    with AutotaskClient(*_creds(sim), api_url=sim.url) as c:
        yield c


def test_paging_follows_every_next_page_with_post(client: Any, sim: Any) -> None:
    total = client.tickets.count()
    assert total > 14  # at least three pages of 7
    sim.clear_journal()
    ids = [t.id for t in client.tickets.query_all_iter(ALL_ROWS_PAGED)]
    assert len(ids) == total and len(set(ids)) == total and ids == sorted(ids)
    methods = [e.method for e in sim.journal()]
    assert len(methods) == -(-total // 7) and set(methods) == {"POST"}
    assert [t.id for t in client.tickets.query_all()] == ids


def test_wrong_next_page_method_raises_not_truncates(sim: Any) -> None:
    sim.reset()
    with AutotaskClient(*_creds(sim), api_url=sim.url, next_page_method="GET") as c:
        with pytest.raises(AutotaskMethodNotAllowedError):
            c.tickets.query_all(ALL_ROWS_PAGED)


def test_get_query_and_missing(client: Any) -> None:
    first = client.tickets.query(max_records=1).items[0]
    again = client.tickets.get(first.id)
    assert again is not None and again.id == first.id and again["title"] == first.title
    assert client.tickets.get(987654321) is None
    page = client.tickets.query(F("id").in_([first.id]), include_fields=["title"])
    assert [t.id for t in page.items] == [first.id]


def test_child_writes_go_through_the_parent(client: Any) -> None:
    ticket_id = client.tickets.query(max_records=1).items[0].id
    before = len(client.tickets.notes(ticket_id).query_all())
    note_id = client.ticket_notes.create(
        {"ticketID": ticket_id, "title": "t", "description": "d", "noteType": 1, "publish": 1}
    )
    assert len(client.tickets.notes(ticket_id).query_all()) == before + 1
    client.ticket_notes.update({"id": note_id, "title": "changed"}, parent_id=ticket_id)
    note = client.ticket_notes.get(note_id)
    assert note is not None and note.title == "changed" and note.ticket_id == ticket_id


def test_validation_errors_keep_the_servers_words(client: Any) -> None:
    with pytest.raises(AutotaskValidationError) as info:
        client.tickets.create({"title": "incomplete"})
    assert info.value.errors and all(e in str(info.value) for e in info.value.errors)


def test_bad_credentials(sim: Any) -> None:
    sim.reset()
    with AutotaskClient(*_creds(sim, secret="wrong-secret"), api_url=sim.url) as c:
        with pytest.raises(AutotaskAuthError) as info:
            c.tickets.count()
        assert info.value.status_code == 401
    with AutotaskClient(*_creds(sim, integration_code="NOPE0000"), api_url=sim.url) as c:
        with pytest.raises(AutotaskAuthError) as info:
            c.tickets.count()
        assert info.value.status_code == 500


def test_faults_surface_as_errors(sim: Any) -> None:
    from py_autotask.resilience import RetryConfig

    sim.reset()
    client = AutotaskClient(*_creds(sim), api_url=sim.url, retry_config=RetryConfig(max_retries=0))
    sim.add_fault({"match": {"operation": "next"}, "effect": {"type": "status", "status": 503}})
    with pytest.raises(AutotaskServerError):
        client.tickets.query_all(ALL_ROWS_PAGED)
    sim.reset()
    sim.add_fault({"match": {"entity": "Tickets"}, "effect": "throttle", "count": 1})
    with pytest.raises(AutotaskRateLimitError) as info:
        client.tickets.count()
    assert info.value.thread_limit
    client.close()


def test_async_client_against_the_simulator(sim: Any) -> None:
    import asyncio

    from py_autotask import AsyncAutotaskClient

    sim.reset()

    async def scenario() -> tuple[int, list[int], Any]:
        async with AsyncAutotaskClient(*_creds(sim), api_url=sim.url) as c:
            total = await c.tickets.count()
            ids = [t.id async for t in c.tickets.query_all_iter(ALL_ROWS_PAGED) if t.id is not None]
            first = await c.tickets.get(ids[0])
            return total, ids, first

    total, ids, first = asyncio.run(scenario())
    assert len(ids) == total and ids == sorted(set(ids))
    assert first is not None and first.id == ids[0]


def _live_responses() -> int:
    import gc

    import httpx

    return sum(1 for o in gc.get_objects() if isinstance(o, httpx.Response))


def test_a_response_and_its_body_are_freed_without_waiting_for_the_cyclic_gc(sim: Any) -> None:
    """httpx binds a response and its stream to each other (encode/httpx#3733), so every page
    body stayed in memory until the cyclic GC ran; the client unbinds them once it has the body."""
    import asyncio
    import gc

    from py_autotask import AsyncAutotaskClient

    async def read_async() -> int:
        async with AsyncAutotaskClient(*_creds(sim), api_url=sim.url) as client:
            rows = [t async for t in client.tickets.query_all_iter(ALL_ROWS_PAGED)]
            return len(rows)

    gc.collect()
    gc.disable()
    try:
        with AutotaskClient(*_creds(sim), api_url=sim.url) as client:
            before = _live_responses()
            rows = list(client.tickets.query_all_iter(ALL_ROWS_PAGED))
            assert len(rows) > 14  # more than two pages of 7
            assert _live_responses() == before
        assert asyncio.run(read_async()) == len(rows)
        assert _live_responses() == before
    finally:
        gc.enable()
