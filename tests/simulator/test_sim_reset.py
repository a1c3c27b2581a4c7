"""reset() puts back the seeded database from a copy: in memory while it is small, in a temporary
file when it is big (so a big simulator does not hold its database twice in memory)."""

from __future__ import annotations

import os

import pytest
from sim_helpers import ALL_ROWS, api_client, ticket_body

from py_autotask.simulator import Simulator, _store


def _snapshot_file(sim: Simulator) -> str:
    """The file behind the simulator's reset copy ('' for an in-memory database)."""
    snapshot = sim.state._snapshot
    assert snapshot is not None
    return str(snapshot.conn.execute("PRAGMA database_list").fetchone()[2])


@pytest.mark.parametrize("limit", [_store.MEMORY_SNAPSHOT_BYTES, 0], ids=["memory", "file"])
def test_reset_restores_the_seeded_records_from_its_copy(
    monkeypatch: pytest.MonkeyPatch, limit: int
) -> None:
    monkeypatch.setattr(_store, "MEMORY_SNAPSHOT_BYTES", limit)
    with Simulator(seed=7, profile="tiny", hourly_threshold=0) as sim:
        where = _snapshot_file(sim)
        assert (where == "") is (limit > 0)
        with api_client(sim) as http:
            seeded = http.post("Tickets/query", json=ALL_ROWS).json()["items"]
            first = seeded[0]
            created = http.post("Tickets", json=ticket_body(http, title="gone after reset"))
            new_id = created.json()["itemId"]
            http.patch("Tickets", json={"id": first["id"], "title": "changed"}).raise_for_status()
            assert http.get(f"Tickets/{first['id']}").json()["item"]["title"] == "changed"
            for _ in range(2):  # the copy serves more than one reset
                sim.reset()
                assert http.post("Tickets/query", json=ALL_ROWS).json()["items"] == seeded
                assert http.get(f"Tickets/{new_id}").json()["item"] is None
                # ids continue from the seeded state again
                again = http.post("Tickets", json=ticket_body(http, title="new again"))
                assert again.json()["itemId"] == new_id
        snapshot = sim.state._snapshot
    # closing the simulator removes its copy (an unlinked file is gone with its connection)
    assert sim.state._snapshot is None and snapshot is not None
    assert snapshot.tmpdir is None and not (where and os.path.exists(where))
