"""The py_autotask client against the simulator over a real socket (``Client(**sim.credentials)``)."""

from __future__ import annotations

from typing import Any

from sim_helpers import api_client, ticket_body

from py_autotask import AutotaskClient
from py_autotask.simulator import Simulator


def test_client_reads_writes_and_pages(fresh: Simulator) -> None:
    with api_client(fresh) as raw:
        body: dict[str, Any] = ticket_body(raw, title="from the client")
    client = AutotaskClient(**fresh.credentials)
    try:
        assert client.tickets.get(1).id == 1  # type: ignore[union-attr]
        every = [{"op": "gte", "field": "id", "value": 0}]
        total = client.tickets.count(every)
        new_id = client.tickets.create(body)  # type: ignore[arg-type]
        assert client.tickets.count(every) == total + 1
        client.tickets.update({"id": new_id, "title": "renamed"})
        assert client.tickets.get(new_id).title == "renamed"  # type: ignore[union-attr]
        ids = [t.id for t in client.tickets.query_all_iter(every)]
        assert ids == sorted(ids) and new_id in ids and len(ids) == total + 1
    finally:
        client.close()
    ops = [(e.method, e.operation) for e in fresh.journal()]
    assert ("POST", "create") in ops and ("PATCH", "update") in ops
