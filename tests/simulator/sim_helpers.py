"""Helpers shared by the simulator tests (imported as a plain module)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from py_autotask.simulator import Simulator

REPO = Path(__file__).resolve().parents[2]
SCHEMAS = REPO / "schemas"
ALL_ROWS = {"filter": [{"op": "gte", "field": "id", "value": 0}]}


def api_client(sim: Simulator, **headers: str) -> httpx.Client:
    return httpx.Client(base_url=sim.url, headers={**sim.headers, **headers}, timeout=30.0)


def ticket_body(client: httpx.Client, **changes: Any) -> dict[str, Any]:
    """A valid create body for a Ticket: a seeded ticket minus its id and read-only fields."""
    item = client.get("Tickets/1").json()["item"]
    fields = client.get("Tickets/entityInformation/fields").json()["fields"]
    writable = {f["name"] for f in fields if not f["isReadOnly"]}
    body = {k: v for k, v in item.items() if k in writable and v is not None}
    body.update(changes)
    return body


def errors_of(response: httpx.Response) -> list[str]:
    data = response.json()
    assert isinstance(data, dict) and isinstance(data.get("errors"), list), response.text
    assert all(isinstance(e, str) for e in data["errors"])
    return list(data["errors"])
