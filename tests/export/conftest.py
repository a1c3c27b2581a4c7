"""A simulator with a few thousand tickets for the export tests (reset before each test)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from py_autotask import AutotaskClient
from py_autotask.simulator import Simulator

TICKETS = 3000


@pytest.fixture(scope="session")
def export_sim() -> Iterator[Simulator]:
    with Simulator(
        seed=42,
        profile="tiny",
        counts={"Tickets": TICKETS, "Companies": 150, "Contacts": 1200},
        hourly_threshold=0,
    ) as s:
        yield s


@pytest.fixture
def sim(export_sim: Simulator) -> Simulator:
    export_sim.reset()
    return export_sim


@pytest.fixture
def client(sim: Simulator) -> Iterator[AutotaskClient]:
    with AutotaskClient(**sim.credentials) as c:
        yield c


def related_ids(sim: Any, source_rows: list[dict[str, Any]], fields: list[str]) -> set[int]:
    return {r[f] for r in source_rows for f in fields if r.get(f) is not None}
