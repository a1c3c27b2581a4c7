"""The async shell sends exactly what the sync one does (same core)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx
import pytest

from py_autotask import AsyncAutotaskClient, F
from py_autotask.exceptions import (
    AutotaskConfigError,
    AutotaskConnectionError,
    AutotaskRateLimitError,
)

from .conftest import (
    BASE,
    INTEGRATION_CODE,
    SECRET,
    SECRETS,
    USERNAME,
    AsyncTicketsEntity,
    AsyncTicketsNotesCollection,
    Recorder,
    json_response,
    make_async_client,
)
from .test_client_sync import next_url, page

T = TypeVar("T")


def run(factory: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(factory())  # type: ignore[arg-type]


def test_async_get_query_count_and_writes() -> None:
    rec = Recorder().reply(
        json_response(200, {"item": {"id": 1, "title": "a"}}),
        json_response(200, {"item": None}),
        page([{"id": 1}]),
        json_response(200, {"queryCount": 3}),
        json_response(200, {"itemId": 10}),
        json_response(200, {"itemId": 10}),
        json_response(200, {"itemId": 10}),
    )

    async def scenario() -> list[Any]:
        async with make_async_client(rec) as client:
            tickets = client._entity(AsyncTicketsEntity)
            return [
                await tickets._get(1),
                await tickets._get(2),
                await tickets._query(F("id").gt(0), max_records=1),
                await tickets._count(),
                await tickets._create({"title": "n"}),
                await tickets._update({"id": 10, "title": None}),
                await tickets._replace({"id": 10, "title": "r"}),
            ]

    got, missing, first_page, count, created, updated, replaced = run(scenario)
    assert got.id == 1 and missing is None
    assert [t.id for t in first_page.items] == [1]
    assert (count, created, updated, replaced) == (3, 10, 10, 10)
    assert [(r.method, str(r.url)) for r in rec.requests] == [
        ("GET", BASE + "Tickets/1"),
        ("GET", BASE + "Tickets/2"),
        ("POST", BASE + "Tickets/query"),
        ("POST", BASE + "Tickets/query/count"),
        ("POST", BASE + "Tickets"),
        ("PATCH", BASE + "Tickets"),
        ("PUT", BASE + "Tickets"),
    ]
    assert rec.body(2) == {"filter": [{"op": "gt", "field": "id", "value": 0}], "MaxRecords": 1}
    assert rec.body(5) == {"id": 10, "title": None}
    assert all(r.headers["Secret"] == SECRET for r in rec.requests)


def test_async_query_all_iter_walks_three_pages() -> None:
    url2, url3 = next_url("Tickets", 2), next_url("Tickets", 3)
    rec = Recorder().reply(
        page([{"id": i} for i in range(1, 501)], url2),
        page([{"id": i} for i in range(501, 1001)], url3),
        page([{"id": 1001}]),
    )

    async def scenario() -> list[int | None]:
        async with make_async_client(rec) as client:
            tickets = client._entity(AsyncTicketsEntity)
            streamed = [t.id async for t in tickets._query_all_iter(F("status").eq(1))]
            assert len(rec.requests) == 3
            return streamed

    assert run(scenario) == list(range(1, 1002))
    assert [(r.method, str(r.url)) for r in rec.requests] == [
        ("POST", BASE + "Tickets/query"),
        ("POST", url2),
        ("POST", url3),
    ]
    body = {"filter": [{"op": "eq", "field": "status", "value": 1}]}
    assert [rec.body(i) for i in range(3)] == [body, body, body]


def test_async_child_collection() -> None:
    list_next = f"{BASE}Tickets/9/Notes/next?paging=x"
    rec = Recorder().reply(
        page([{"id": 1}], list_next),
        page([{"id": 2}]),
        json_response(200, {"itemId": 3}),
    )

    async def scenario() -> tuple[list[int | None], int]:
        async with make_async_client(rec) as client:
            notes = AsyncTicketsNotesCollection(client, 9)
            listed = [n.id for n in await notes._list()]
            return listed, await notes._create({"title": "t"})

    assert run(scenario) == ([1, 2], 3)
    assert [(r.method, str(r.url)) for r in rec.requests] == [
        ("GET", BASE + "Tickets/9/Notes"),
        ("GET", list_next),
        ("POST", BASE + "Tickets/9/Notes"),
    ]


def test_async_errors_and_secrets() -> None:
    rec = Recorder().reply(
        json_response(429, {"errors": ["Thread threshold exceeded"]}, **{"Retry-After": "2"})
    )

    async def scenario() -> None:
        async with make_async_client(rec) as client:
            await client._entity(AsyncTicketsEntity)._get(1)

    with pytest.raises(AutotaskRateLimitError) as info:
        run(scenario)
    assert info.value.retry_after == 2.0 and info.value.thread_limit
    for value in SECRETS:
        assert value not in str(info.value) + repr(info.value)


def test_async_zone_discovery_and_raw_request() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("zoneInformation"):
            assert "Secret" not in request.headers
            return json_response(200, {"url": "https://webservices5.autotask.net/ATServicesRest/"})
        return json_response(200, {"majorVersion": 1})

    rec = Recorder(handler)

    async def scenario() -> tuple[Any, Any, str | None]:
        async with AsyncAutotaskClient(
            USERNAME, SECRET, INTEGRATION_CODE, transport=httpx.MockTransport(rec)
        ) as client:
            first, second = await asyncio.gather(
                client.raw_request("GET", "Version"), client.raw_request("GET", "Version")
            )
            return first, second, client.api_url

    first, second, api_url = run(scenario)
    assert first == second == {"majorVersion": 1}
    assert api_url == "https://webservices5.autotask.net/ATServicesRest/V1.0/"
    zone_calls = [r for r in rec.requests if r.url.path.endswith("zoneInformation")]
    assert len(zone_calls) == 1  # concurrent first calls share one discovery


def test_async_connection_error_and_config_checks() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    async def scenario() -> None:
        async with AsyncAutotaskClient(
            USERNAME, SECRET, INTEGRATION_CODE, BASE, transport=httpx.MockTransport(handler)
        ) as client:
            await client.raw_request("GET", "Version")

    with pytest.raises(AutotaskConnectionError, match="connection refused"):
        run(scenario)
    with pytest.raises(AutotaskConfigError):
        AsyncAutotaskClient(USERNAME, SECRET, INTEGRATION_CODE, BASE, next_page_method="PUT")  # type: ignore[arg-type]
