"""Fixtures for the bulk tests: a private simulator per test (real HTTP, thread limit on, no
latency, hourly threshold off) and a client pointed at it with client-side pacing off, so the bulk
manager's own per-endpoint limit is what keeps the simulator's thread limit from tripping."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from py_autotask import AutotaskClient
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


def client_for(sim: Simulator) -> AutotaskClient:
    return AutotaskClient(
        **{**sim.credentials, "api_url": sim.url}, pacing=PacingConfig(enabled=False)
    )


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
