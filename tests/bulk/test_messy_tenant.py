"""Bulk jobs on a tenant that sends values off their declared types (the simulator's ``messy=``):
an update of every record reads them (prefetch and conflict checks), writes what was asked, and
undo puts every changed value back as it was, for the sync and the async manager alike."""

from __future__ import annotations

from typing import Any

import pytest

from py_autotask import F
from py_autotask._values import from_wire
from tests.bulk.conftest import client_for, make_simulator, thread_rejections

pytestmark = pytest.mark.xdist_group("bulk-messy")


def _raw(sim: Any, ids: list[int]) -> dict[int, dict[str, Any]]:
    with client_for(sim) as client:
        sender = client.sender
        out: dict[int, dict[str, Any]] = {}
        from py_autotask._core import get_request
        from py_autotask._registry import spec_for

        spec = spec_for("Tickets")
        for i in ids:
            out[i] = sender.reader.read_json(sender.send(get_request(spec, i)))["item"]
        return out


def test_update_and_undo_of_records_with_off_type_values(twins: Any, tmp_path: Any) -> None:
    with make_simulator(counts={"Tickets": 120}, messy=0.5) as sim:
        with client_for(sim) as client:
            tickets = client.tickets.query_all(F("id").gte(0))
            messy = [t for t in tickets if t.off_type_fields]
            assert len(messy) >= 20  # the job really meets off-type records
            ids = [t.id for t in tickets]
        before = _raw(sim, ids)
        rows = [{"id": i, "title": f"edited {i}", "priority": 1} for i in ids]
        result = twins(sim, journal_dir=tmp_path).bulk_update(
            "tickets", rows, conflict_resolution="merge"
        )
        assert result.exit_code == 0, result.summary()
        statuses = {r.status for r in result.rows}
        assert statuses <= {"ok", "skipped"} and len(result.rows) == len(ids)
        after = _raw(sim, ids)
        # the tenant may keep sending a field in its odd shape ("1" for 1): read by the one rule
        wrong = [
            (i, after[i]["title"], after[i]["priority"])
            for i in ids
            if (after[i]["title"], from_wire("integer", after[i]["priority"])[0])
            != (f"edited {i}", 1)
        ]
        assert wrong == []
        # every other value is untouched, off-type ones included
        for i in ids:
            for key, value in before[i].items():
                if key not in ("title", "priority", "lastActivityDate"):
                    assert after[i][key] == value, (i, key)

        sim.clear_journal()
        undo = twins(sim).undo(result.journal_path)
        restored = _raw(sim, ids)
        # a previous value the tenant sent off its type ("p" for the integer priority) cannot be
        # written back: that record is reported, not sent (the API would refuse it)
        unwritable = {i for i in ids if from_wire("integer", before[i]["priority"])[1] is False}
        assert unwritable  # this seed has such records: the case is exercised
        failed = {r.id: r for r in undo.rows if r.status == "failed"}
        assert set(failed) == unwritable
        assert all(
            r.field == "priority" and "sent off its declared type" in (r.reason or "")
            for r in failed.values()
        )
        assert undo.exit_code == (5 if unwritable else 0), undo.summary()
        assert len(sim.journal(method="PATCH")) == len(ids) - len(unwritable)
        for i in set(ids) - unwritable:
            assert restored[i]["title"] == before[i]["title"], i
            assert from_wire("integer", restored[i]["priority"]) == from_wire(
                "integer", before[i]["priority"]
            ), i
        assert thread_rejections(sim) == 0
