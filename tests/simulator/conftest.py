"""Shared fixtures: a simulator on a real socket plus an httpx client pointed at it."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sim_helpers import SCHEMAS, api_client

from py_autotask.simulator import Simulator


@pytest.fixture(scope="session")
def sim() -> Iterator[Simulator]:
    """A shared tiny-profile simulator without the hourly budget (tests reset what they change)."""
    with Simulator(seed=42, profile="tiny", hourly_threshold=0) as s:
        yield s


@pytest.fixture
def fresh(sim: Simulator) -> Simulator:
    sim.reset()
    return sim


@pytest.fixture
def client(fresh: Simulator) -> Iterator[httpx.Client]:
    with api_client(fresh) as c:
        yield c


@pytest.fixture(scope="session")
def subset_schemas(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of part of schemas/ in which Tickets may be deleted (to exercise DeletedTicketLogs)."""
    root = tmp_path_factory.mktemp("schemas")
    names = ["Companies", "Contacts", "Resources", "Tickets", "TicketNotes", "DeletedTicketLogs"]
    (root / "entities").mkdir()
    for name in names:
        shutil.copytree(SCHEMAS / "entities" / name, root / "entities" / name)
    derived_path = root / "entities" / "Tickets" / "derived.json"
    derived = json.loads(derived_path.read_text())
    derived["root"]["operations"] = sorted({*derived["root"]["operations"], "delete"})
    derived_path.write_text(json.dumps(derived))
    (root / "index.json").write_text(json.dumps({"entities": names}))
    return root
