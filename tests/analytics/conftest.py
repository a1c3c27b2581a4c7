"""A simulator with a few thousand structured tickets, and its sync mirror, for the analytics tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from py_autotask import AutotaskClient
from py_autotask.analytics._data import TicketData, load_tickets
from py_autotask.simulator import Simulator
from py_autotask.sync import Syncer

TICKETS = 3000
COUNTS = {"Tickets": TICKETS, "Companies": 40, "Contacts": 200, "Resources": 30}


@pytest.fixture(scope="package")
def analytics_sim() -> Iterator[Simulator]:
    with Simulator(seed=42, profile="tiny", counts=COUNTS, hourly_threshold=0) as s:
        yield s


@pytest.fixture
def sim(analytics_sim: Simulator) -> Simulator:
    analytics_sim.clear_journal()
    return analytics_sim


@pytest.fixture
def client(sim: Simulator) -> Iterator[AutotaskClient]:
    with AutotaskClient(**sim.credentials) as c:
        yield c


@pytest.fixture(scope="package")
def mirror(analytics_sim: Simulator, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tickets synced into a SQLite mirror (made once)."""
    path = tmp_path_factory.mktemp("mirror") / "autotask.db"
    with AutotaskClient(**analytics_sim.credentials) as c:
        result = Syncer(c.sender).sync_to_database(
            f"sqlite:///{path}", ["Tickets"], handle_signals=False
        )
    assert all(e.status != "error" for e in result.entities), result.entities
    return path


@pytest.fixture(scope="package")
def tickets(analytics_sim: Simulator) -> TicketData:
    """The tickets read once through the client (fields and picklist labels), shared by tests."""
    with AutotaskClient(**analytics_sim.credentials) as c:
        return load_tickets(c)
