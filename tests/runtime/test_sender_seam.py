"""The seam features are built on: ``client.sender``, flows and the one page iterator.

Flows are driven against the simulator over real sockets by both clients; the unit tests of the
drivers use exact wire shapes (``ApiResponse`` values) only.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from py_autotask import AsyncAutotaskClient, AutotaskClient, F
from py_autotask._config import Credentials
from py_autotask._core import ApiRequest, ApiResponse, ClientCore, count_request, query_request
from py_autotask._registry import spec_for
from py_autotask._sender import (
    Flow,
    adrive,
    aiter_pages,
    blocking,
    drive,
    iter_pages,
    pause,
    request,
)
from py_autotask.exceptions import (
    AutotaskConfigError,
    AutotaskConnectionError,
    AutotaskUnknownEntityError,
)
from py_autotask.simulator import Simulator

TICKETS = spec_for("Tickets")


@pytest.fixture(scope="module")
def sim() -> Any:
    with Simulator(
        seed=7, profile="tiny", counts={"Tickets": 1234}, hourly_threshold=0
    ) as simulator:
        yield simulator


def _client(sim: Any) -> AutotaskClient:
    return AutotaskClient(**sim.credentials)


def _count_and_first_page(reader: ClientCore) -> Flow[tuple[int, list[int]]]:
    """One flow, two requests: written once, driven by either client."""
    count = reader.read_count((yield from request(count_request(TICKETS, {"filter": []}))))
    body = {"filter": [{"op": "gte", "field": "id", "value": 0}], "MaxRecords": 5}
    page = reader.read_json((yield from request(query_request(TICKETS, body))))
    return count, [item["id"] for item in page["items"]]


def test_one_flow_runs_on_both_clients_with_the_same_result(sim: Any) -> None:
    with _client(sim) as client:
        sync_result = client.sender.run(_count_and_first_page(client.sender.reader))

    async def main() -> tuple[int, list[int]]:
        async with AsyncAutotaskClient(**sim.credentials) as client:
            return await client.sender.run(_count_and_first_page(client.sender.reader))

    assert sync_result == asyncio.run(main())
    assert sync_result[0] == 1234
    assert sync_result[1] == sorted(sync_result[1]) and len(sync_result[1]) == 5


def test_iter_pages_follows_next_page_urls_to_the_end_keeping_the_spec(sim: Any) -> None:
    with _client(sim) as client:
        sender = client.sender
        seen: list[ApiRequest] = []

        def read(response: ApiResponse) -> tuple[list[int], str | None]:
            assert response.request.source is not None
            seen.append(response.request.source)
            data = sender.reader.read_json(response)
            return [i["id"] for i in data["items"]], data["pageDetails"]["nextPageUrl"]

        first = query_request(TICKETS, {"filter": [{"op": "gte", "field": "id", "value": 0}]})
        ids = [i for page in iter_pages(sender, first, read) for i in page]
    assert len(ids) == 1234 and len(set(ids)) == 1234
    assert len(seen) == 3  # 500 + 500 + 234
    assert [r.operation for r in seen] == ["query", "next", "next"]
    assert all(r.spec is TICKETS for r in seen)  # never re-resolved from the name


def test_aiter_pages_gives_the_same_pages(sim: Any) -> None:
    async def main() -> list[int]:
        async with AsyncAutotaskClient(**sim.credentials) as client:
            reader = client.sender.reader

            def read(response: ApiResponse) -> tuple[list[int], str | None]:
                page = reader.read_json(response)
                return [i["id"] for i in page["items"]], page["pageDetails"]["nextPageUrl"]

            first = query_request(TICKETS, {"filter": [{"op": "lt", "field": "id", "value": 900}]})
            return [i async for page in aiter_pages(client.sender, first, read) for i in page]

    ids = asyncio.run(main())
    with _client(sim) as client:
        expected = [t.id for t in client.tickets.query_all(F("id").lt(900))]
    assert ids == expected and len(ids) > 500


def test_pages_behave_like_sequences_of_records(sim: Any) -> None:
    with _client(sim) as client:
        page = client.tickets.query(F("id").gte(0), max_records=7)
        records = list(page)
        assert len(page) == 7 == len(records)
        assert [t.id for t in page] == [t.id for t in page.items]
        assert page[0].id == records[0].id and page[-1].id == records[-1].id
        assert [t.id for t in page[1:3]] == [t.id for t in records[1:3]]
        assert bool(page) is True
        empty = client.tickets.query(F("id").lt(0))
        assert len(empty) == 0 and not empty and list(empty) == []


# --- the drivers, on exact wire shapes ------------------------------------------------------------


def _core() -> ClientCore:
    return ClientCore(
        Credentials("user@example.com", "s3cret", "CODE", "https://h.example/ATServicesRest/V1.0/")
    )


def _answer(core: ClientCore, req: ApiRequest, body: bytes, status: int = 200) -> ApiResponse:
    return ApiResponse(status, {"Content-Type": "application/json"}, body, core.prepare(req))


def _retrying_flow(reader: ClientCore, log: list[str]) -> Flow[int]:
    """Sends, sleeps and calls a blocking function; handles a thrown connection error."""
    req = count_request(TICKETS, {"filter": []})
    try:
        yield from request(req)
    except AutotaskConnectionError as exc:
        log.append(f"caught {exc}")
    yield from pause(0.25)
    yield from pause(0)  # no sleep at all
    doubled = yield from blocking(lambda n: n * 2, 21)
    response = yield from request(req)
    return reader.read_count(response) + doubled


def test_drive_and_adrive_send_sleep_block_and_throw_errors_into_the_flow() -> None:
    core = _core()

    def scripted() -> tuple[Any, Any, list[float]]:
        calls = {"n": 0}
        sleeps: list[float] = []

        def send(req: ApiRequest) -> ApiResponse:
            calls["n"] += 1
            if calls["n"] == 1:
                raise AutotaskConnectionError("reset", method="POST", url="u")
            return _answer(core, req, b'{"queryCount": 58}')

        return send, sleeps.append, sleeps

    send, sleep, sleeps = scripted()
    log: list[str] = []
    assert drive(_retrying_flow(core, log), send, sleep) == 58 + 42
    assert sleeps == [0.25] and log == ["caught reset"]

    send2, _sleep, async_sleeps = scripted()
    log2: list[str] = []
    threads: list[str] = []

    async def asend(req: ApiRequest) -> ApiResponse:
        return send2(req)

    async def asleep(seconds: float) -> None:
        async_sleeps.append(seconds)

    def record_thread(n: int) -> int:
        threads.append(threading.current_thread().name)
        return n * 2

    def flow_with_thread(reader: ClientCore) -> Flow[int]:
        value = yield from _retrying_flow(reader, log2)
        extra = yield from blocking(record_thread, 1)
        return value + extra

    result = asyncio.run(adrive(flow_with_thread(core), asend, asleep))
    assert result == 58 + 42 + 2 and async_sleeps == [0.25] and log2 == ["caught reset"]
    assert threads and threads[0] != threading.main_thread().name  # blocking calls leave the loop


def test_an_error_the_flow_does_not_handle_reaches_the_caller() -> None:
    core = _core()

    def send(req: ApiRequest) -> ApiResponse:
        return _answer(
            core, req, b'{"errors": ["Unable to find priorty in the Ticket Entity."]}', 500
        )

    def flow() -> Flow[int]:
        response = yield from request(count_request(TICKETS, {"filter": []}))
        return core.read_count(response)

    with pytest.raises(Exception, match="Unable to find priorty"):
        drive(flow(), send)


def test_the_one_resolver_accepts_every_spelling_and_explains_unknown_names() -> None:
    for spelling in ("Tickets", "tickets", "Ticket", "TICKETS", " tickets "):
        assert spec_for(spelling) is TICKETS
    assert spec_for("configuration_items").name == "ConfigurationItems"
    assert spec_for("Account").name == "Companies"  # SOAP-era name
    assert spec_for(TICKETS) is TICKETS
    with AutotaskClient("u@example.com", "s", "c", "https://h.example/ATServicesRest/V1.0/") as c:
        assert spec_for(c.tickets) is TICKETS
    with pytest.raises(
        AutotaskUnknownEntityError, match="unknown Autotask entity 'Tickts'; did you mean Tickets"
    ) as info:
        spec_for("Tickts")
    assert isinstance(info.value, AutotaskConfigError) and info.value.suggestions[0] == "Tickets"
