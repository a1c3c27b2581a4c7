"""``--correlation none`` / ``correlation=None`` writes no token into the created records: not the
bulk job's ``pyat-<job>-<row>`` and not the client's own ``pyat-<uuid>`` either (a bulk job
does its own exactly-once bookkeeping, so the client's layer must not add a second token)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from py_autotask.simulator import Simulator
from tests._cli import cli_env, run_cli
from tests.bulk.conftest import client_for, ticket_base


def _created(sim: Simulator) -> list[dict[str, Any]]:
    """Every ticket the simulator created (ids from its request journal), with all fields."""
    ids = sorted(i for e in sim.journal(method="POST", operation="create") for i in e.item_ids)
    assert ids
    with client_for(sim) as client:
        return [client.tickets.get(i).model_dump(by_alias=True) for i in ids]  # type: ignore[union-attr]


def _tokens(records: list[dict[str, Any]]) -> list[str]:
    return [json.dumps(r, default=str) for r in records if "pyat-" in json.dumps(r, default=str)]


@pytest.mark.parametrize("correlation", [None, "none", "None"])
def test_library_correlation_none_writes_no_token(sim, client, tmp_path, correlation):
    base = ticket_base(client)
    rows = [{"title": f"plain {i}", **base} for i in range(3)]
    sim.clear_journal()
    result = client.create_bulk_manager(journal_dir=tmp_path).bulk_create(
        "Tickets", rows, correlation=correlation
    )
    assert result.exit_code == 0, result.summary()
    created = _created(sim)
    assert len(created) == 3
    assert _tokens(created) == []
    assert [r["externalID"] for r in created] == [None, None, None]


def test_cli_correlation_none_writes_no_token(sim, client, tmp_path):
    base = ticket_base(client)
    csv_path = tmp_path / "new.csv"
    csv_path.write_text(
        "title,companyID,status,priority\n"
        + "".join(
            f"cli plain {i},{base['companyID']},{base['status']},{base['priority']}\n"
            for i in range(3)
        ),
        encoding="utf-8",
    )
    sim.clear_journal()
    proc = run_cli(
        "bulk-create",
        "Tickets",
        "--csv",
        str(csv_path),
        "--correlation",
        "none",
        "-q",
        env=cli_env(sim.environ, tmp_path),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    created = _created(sim)
    assert len(created) == 3
    assert _tokens(created) == []
