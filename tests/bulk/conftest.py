"""Fixtures for the bulk tests: a private simulator per test (real HTTP, thread limit on, no
latency, hourly threshold off) and a client pointed at it with client-side pacing off (the tests
run thousands of requests; the hourly budget would spread them over hours), so what keeps the
simulator's thread limit from tripping is the manager working on at most 3 rows at once, its own
prefetch included. ``bulk`` gives the sync and the async manager to the same test."""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from py_autotask import AsyncAutotaskClient, AutotaskClient
from py_autotask.bulk import AsyncBulkManager, BulkManager
from py_autotask.resilience import PacingConfig
from py_autotask.simulator import Simulator

WRITE_OPERATIONS = frozenset({"create", "update", "replace", "delete"})


def make_simulator(**options: Any) -> Simulator:
    options.setdefault("profile", "tiny")
    options.setdefault("seed", 7)
    options.setdefault("hourly_threshold", 0)
    options.setdefault("thread_limit", 3)
    return Simulator(**options)


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with make_simulator() as s:
        yield s


def client_for(sim: Simulator, **options: Any) -> AutotaskClient:
    options.setdefault("pacing", PacingConfig(enabled=False))
    return AutotaskClient(**{**sim.credentials, "api_url": sim.url}, **options)


class _AsyncTwin:
    """An :class:`AsyncBulkManager` whose coroutine methods are called like the sync manager's:
    each runs to its end on the event loop the manager's client lives on."""

    def __init__(self, manager: AsyncBulkManager, loop: asyncio.AbstractEventLoop) -> None:
        self.manager = manager
        self._loop = loop

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.manager, name)
        if not inspect.iscoroutinefunction(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            return asyncio.run_coroutine_threadsafe(attr(*args, **kwargs), self._loop).result()

        return call


class Twins:
    """Makes bulk managers of one kind (``"sync"`` or ``"async"``) on simulators: a
    :class:`BulkManager` on an :class:`AutotaskClient`, or an :class:`AsyncBulkManager` on an
    :class:`AsyncAutotaskClient` whose loop runs in a thread of its own (wrapped in
    :class:`_AsyncTwin`). Tests call both the same way; the clients are closed at teardown."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._clients: dict[str, Any] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def __call__(
        self, sim: Simulator, *, client_options: dict[str, Any] | None = None, **options: Any
    ) -> Any:
        """A manager with ``options`` on a client of ``sim`` (made on first use, with
        ``client_options``: default no pacing)."""
        client = self._clients.get(sim.url)
        client_options = {"pacing": PacingConfig(enabled=False), **(client_options or {})}
        if self.kind == "sync":
            if client is None:
                client = self._clients[sim.url] = client_for(sim, **client_options)
            return BulkManager(client, **options)
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
            self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
            self._thread.start()
        if client is None:
            client = self._clients[sim.url] = AsyncAutotaskClient(
                **{**sim.credentials, "api_url": sim.url}, **client_options
            )
        return _AsyncTwin(client.create_bulk_manager(**options), self._loop)

    def close(self) -> None:
        for client in self._clients.values():
            if self._loop is None:
                client.close()
            else:
                asyncio.run_coroutine_threadsafe(client.close(), self._loop).result()
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()
            self._loop.close()


@pytest.fixture(params=["sync", "async"])
def twins(request: pytest.FixtureRequest) -> Iterator[Twins]:
    """``twins(sim, **options)``: a bulk manager on ``sim``; every test using it runs twice,
    with the sync and with the async manager."""
    made = Twins(request.param)
    try:
        yield made
    finally:
        made.close()


@pytest.fixture
def bulk(twins: Twins, sim: Simulator) -> Callable[..., Any]:
    """``bulk(**options)``: a bulk manager (sync or async, see :func:`twins`) on ``sim``."""
    return lambda **options: twins(sim, **options)


@pytest.fixture
def client(sim: Simulator) -> Iterator[AutotaskClient]:
    with client_for(sim) as c:
        yield c


@pytest.fixture
def journal_dir(tmp_path: Path) -> Path:
    return tmp_path / "journals"


def writes(sim: Simulator) -> list[Any]:
    """Requests that changed (or could have changed) data."""
    return [e for e in sim.journal() if (e.operation or "") in WRITE_OPERATIONS]


def thread_rejections(sim: Simulator) -> int:
    return len(sim.journal(outcome="rejected_thread"))


def ticket_base(client: AutotaskClient) -> dict[str, Any]:
    """Required fields of a valid ticket in the seeded tenant."""
    t = client.tickets.query(max_records=1).items[0]
    return {"companyID": t.company_id, "status": t.status, "priority": t.priority}


def tickets_with_token(sim: Simulator, prefix: str) -> dict[str, list[int]]:
    """externalID token -> ids of the Tickets carrying it, read from the simulator's store."""
    client = client_for(sim)
    out: dict[str, list[int]] = {}
    with client:
        for t in client.tickets.query_all(
            {"op": "beginsWith", "field": "externalID", "value": prefix},
            include_fields=["id", "externalID"],
        ):
            out.setdefault(str(t.external_id), []).append(int(t.id or 0))
    return out
