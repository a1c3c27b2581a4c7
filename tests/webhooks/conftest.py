"""Fixtures of the webhook tests: a simulator whose tenant metadata carries the webhook field
catalogs (see :mod:`tests.webhooks.helpers`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from py_autotask.simulator import Simulator

from .helpers import build_webhook_schemas, client_for


@pytest.fixture(scope="session")
def webhook_schemas(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_webhook_schemas(tmp_path_factory.mktemp("webhook-schemas"))


@pytest.fixture(scope="module")
def sim(webhook_schemas: Path) -> Iterator[Simulator]:
    with Simulator(schemas_dir=webhook_schemas, seed=7, profile="tiny", hourly_threshold=0) as s:
        yield s


@pytest.fixture
def own_resource(sim: Simulator) -> int:
    """A seeded resource made the API user's own: its email set to the API user name (the
    simulator's API user has no Resources row of its own)."""
    with client_for(sim) as client:
        first = client.raw_request(
            "POST", "Resources/query", json={"filter": [{"op": "gt", "field": "id", "value": 0}]}
        )["items"][0]
        client.raw_request(
            "PATCH", "Resources", json={"id": first["id"], "email": sim.credentials["username"]}
        )
        return int(first["id"])
