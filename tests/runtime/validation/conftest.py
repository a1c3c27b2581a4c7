"""A simulator whose tenant has an ambiguous picklist label, and clients that record the exact
bytes they put on the wire (real sockets, real server)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from py_autotask import AsyncAutotaskClient, AutotaskClient
from py_autotask.validation import ValidationConfig

simulator = pytest.importorskip("py_autotask.simulator")

pytestmark = pytest.mark.xdist_group("validation")

#: The simulated tenant labels two different Ticket statuses "Waiting Customer" (7 and 27).
AMBIGUOUS_LABEL = "Waiting Customer"
#: ... and two sub-issue types "Printer jam" under different issue types (164 under 22, 165
#: under 34): a dependent picklist whose label is only unique given its parent.
DEPENDENT_LABEL = "Printer jam"


def _tenant_schemas(target: Path) -> Path:
    from py_autotask.simulator._metadata import default_schemas_dir

    shutil.copytree(default_schemas_dir(), target)
    path = target / "entities" / "Tickets" / "fields.json"
    data = json.loads(path.read_text())
    for fld in data["fields"]:
        if fld["name"] == "status":
            for value in fld["picklistValues"]:
                if value["value"] == "27":
                    value["label"] = AMBIGUOUS_LABEL
        if fld["name"] == "subIssueType":
            for value in fld["picklistValues"]:
                if value["value"] in ("164", "165"):
                    value["label"] = DEPENDENT_LABEL
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    return target


@pytest.fixture(scope="session")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    schemas = _tenant_schemas(tmp_path_factory.mktemp("tenant") / "schemas")
    with simulator.Simulator(
        schemas, seed=11, profile="tiny", hourly_threshold=0, thread_limit=0
    ) as s:
        yield s


@pytest.fixture
def fresh_sim(sim: Any) -> Any:
    sim.reset()
    return sim


class Wire:
    """The requests a client sent, as bytes, recorded by its transport."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def bodies(self, method: str | None = None, path_end: str = "") -> list[Any]:
        return [
            json.loads(r.content)
            for r in self.requests
            if r.content
            and (method is None or r.method == method)
            and r.url.path.endswith(path_end)
        ]

    def writes(self) -> list[httpx.Request]:
        return [
            r
            for r in self.requests
            if r.method in ("POST", "PATCH", "PUT", "DELETE")
            and not r.url.path.endswith(("/query", "/count"))
        ]


class RecordingTransport(httpx.HTTPTransport):
    def __init__(self, wire: Wire) -> None:
        super().__init__()
        self.wire = wire

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.wire.requests.append(request)
        return super().handle_request(request)


class AsyncRecordingTransport(httpx.AsyncHTTPTransport):
    def __init__(self, wire: Wire) -> None:
        super().__init__()
        self.wire = wire

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        self.wire.requests.append(request)
        return await super().handle_async_request(request)


@pytest.fixture
def wire() -> Wire:
    return Wire()


@pytest.fixture
def make_client(fresh_sim: Any, wire: Wire) -> Iterator[Callable[..., AutotaskClient]]:
    clients: list[AutotaskClient] = []

    def make(config: ValidationConfig | None = None, **kwargs: Any) -> AutotaskClient:
        client = AutotaskClient(
            **fresh_sim.credentials,
            transport=RecordingTransport(wire),
            validation_config=config,
            **kwargs,
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def client(make_client: Callable[..., AutotaskClient]) -> AutotaskClient:
    return make_client(ValidationConfig())


@pytest.fixture
def make_async_client(fresh_sim: Any, wire: Wire) -> Callable[..., AsyncAutotaskClient]:
    def make(config: ValidationConfig | None = None) -> AsyncAutotaskClient:
        return AsyncAutotaskClient(
            **fresh_sim.credentials,
            transport=AsyncRecordingTransport(wire),
            validation_config=config,
        )

    return make
