"""Updates: conflict resolution against batched prefetch, requests per record, undo; deletes."""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Iterator
from typing import Any

import pytest

from py_autotask import AutotaskClient, F
from py_autotask.bulk import BulkJournal
from py_autotask.simulator import Simulator
from tests.bulk.conftest import client_for, make_simulator, thread_rejections, writes

FIELDS = [
    "title",
    "priority",
    "description",
    "dueDateTime",
    "estimatedHours",
    "isVisibleToComanaged",
]


@pytest.fixture
def big() -> Iterator[tuple[Simulator, AutotaskClient]]:
    with make_simulator(counts={"Tickets": 600}) as s, client_for(s) as c:
        yield s, c


def _records(client: AutotaskClient, ids: list[int]) -> dict[int, dict[str, Any]]:
    out: dict[int, dict[str, Any]] = {}
    for start in range(0, len(ids), 500):
        for t in client.tickets.query_all(
            F("id").in_(ids[start : start + 500]), include_fields=["id", *FIELDS]
        ):
            d = t.to_api_dict()
            out[int(d["id"])] = {f: d.get(f) for f in FIELDS}
    return out


@pytest.mark.xdist_group("bulk")
def test_undo_after_a_500_row_update_restores_every_field(big, twins, tmp_path):
    sim, client = big
    ids = sorted(t.id for t in client.tickets.query_all(include_fields=["id"]))[:500]
    before = _records(client, ids)
    priorities = sorted({str(v["priority"]) for v in before.values()})
    updates = [
        {
            "id": i,
            "title": f"bulk edited {i}",
            "priority": priorities[(n + 1) % len(priorities)],
            "description": f"new description {n}" if n % 3 else "<null>",
            "dueDateTime": "2031-02-03T04:05:06Z",
            "estimatedHours": f"{n % 7}.25",
            "isVisibleToComanaged": "true" if n % 2 else "false",
        }
        for n, i in enumerate(ids)
    ]
    sim.clear_journal()
    result = twins(sim, journal_dir=tmp_path).bulk_update(
        "tickets", updates, conflict_resolution="overwrite"
    )
    assert result.exit_code == 0, result.summary()
    assert result.counts()["ok"] == 500
    # 500 PATCHes + one prefetch per 500 rows (+ metadata): about 1 + 1/500 requests per record
    assert result.requests["update"] == 500 and result.requests["prefetch"] == 1
    assert len(sim.journal(method="PATCH")) == 500
    after = _records(client, ids)
    assert all(after[i]["title"] == f"bulk edited {i}" for i in ids)
    assert sum(after[i]["description"] is None for i in ids) == math.ceil(500 / 3)

    undo = twins(sim).undo(result.journal_path)
    assert undo.exit_code == 0, undo.summary()
    assert undo.counts()["ok"] == 500
    restored = _records(client, ids)
    assert restored == before  # every field of every record is back to its previous value
    assert thread_rejections(sim) == 0
    with BulkJournal.open(result.journal_path) as jr:
        assert jr.counts() == {"undone": 500}
    again = twins(sim).undo(result.journal_path)  # nothing left to undo
    assert len(again.rows) == 0


def test_merge_sends_only_what_differs_and_skips_unchanged_rows(sim, client, bulk, tmp_path):
    tickets = client.tickets.query(max_records=6, include_fields=["id", "title", "priority"]).items
    rows = [{"id": t.id, "title": t.title, "priority": t.priority} for t in tickets[:3]]
    rows += [{"id": t.id, "title": f"merged {t.id}", "priority": t.priority} for t in tickets[3:]]
    since = sim.changes()[-1].sequence if sim.changes() else 0
    result = bulk(journal_dir=tmp_path).bulk_update("tickets", rows, conflict_resolution="merge")
    assert [r.status for r in result.rows] == ["skipped"] * 3 + ["ok"] * 3
    assert all("no change" in (r.reason or "") for r in result.rows[:3])
    assert all(r.changed_fields == ("title",) for r in result.rows[3:])
    changes = sim.changes(since=since, entity="Tickets")
    assert len(changes) == 3 and all(c.fields == ["title"] for c in changes)
    assert len(writes(sim)) == 3


def test_overwrite_sends_every_given_field(sim, client, bulk, tmp_path):
    t = client.tickets.query(max_records=1, include_fields=["id", "title", "priority"]).items[0]
    result = bulk(journal_dir=tmp_path).bulk_update(
        "tickets",
        [{"id": t.id, "title": t.title, "priority": t.priority}],
        conflict_resolution="overwrite",
    )
    assert result.rows[0].status == "ok"
    assert set(result.rows[0].changed_fields) == {"title", "priority"}
    with BulkJournal.open(result.journal_path) as jr:
        row = jr.rows()[0]
    assert row.payload == {"id": t.id, "title": t.title, "priority": t.priority}
    assert row.previous == {"title": t.title, "priority": t.priority}


def test_skip_leaves_records_changed_on_the_server_since_the_snapshot(sim, client, bulk, tmp_path):
    snap = client.tickets.query(
        max_records=4, include_fields=["id", "title", "lastActivityDate"]
    ).items
    snapshot_rows = [
        {"id": t.id, "title": f"mine {t.id}", "lastActivityDate": t.last_activity_date}
        for t in snap
    ]
    # someone else edits ticket 0 after our snapshot (the virtual clock moves on first)
    sim.clock.advance(120)
    client.tickets.update({"id": snap[0].id, "title": "theirs"})
    # ticket 1: our expected value no longer holds
    snapshot_rows[1]["expected.title"] = "not what the server has"
    result = bulk(journal_dir=tmp_path).bulk_update(
        "tickets", snapshot_rows, conflict_resolution="skip"
    )
    assert [r.status for r in result.rows] == ["skipped", "skipped", "ok", "ok"]
    assert (
        "lastActivityDate" in (result.rows[0].reason or "")
        and result.rows[0].field == "lastActivityDate"
    )
    assert "expected" in (result.rows[1].reason or "")
    assert client.tickets.get(snap[0].id).title == "theirs"  # type: ignore[union-attr]
    assert client.tickets.get(snap[2].id).title == f"mine {snap[2].id}"  # type: ignore[union-attr]
    # a snapshot time works too: everything changed after it is left alone
    later = bulk(journal_dir=tmp_path).bulk_update(
        "tickets",
        [{"id": snap[0].id, "title": "again"}],
        conflict_resolution="skip",
        snapshot_time=_dt.datetime(2000, 1, 1, tzinfo=_dt.timezone.utc),
    )
    assert later.rows[0].status == "skipped"


def test_undo_skips_records_changed_again_unless_forced(sim, client, bulk, tmp_path):
    t = client.tickets.query(max_records=1, include_fields=["id", "title"]).items[0]
    result = bulk(journal_dir=tmp_path).bulk_update("tickets", [{"id": t.id, "title": "ours"}])
    client.tickets.update({"id": t.id, "title": "someone else"})
    undo = bulk().undo(result.journal_path)
    assert undo.rows[0].status == "skipped" and "changed again" in (undo.rows[0].reason or "")
    assert client.tickets.get(t.id).title == "someone else"  # type: ignore[union-attr]
    forced = bulk().undo(result.journal_path, force=True)
    assert forced.rows[0].status == "ok"
    assert client.tickets.get(t.id).title == t.title  # type: ignore[union-attr]


def test_undo_of_creates_deletes_where_allowed_and_lists_tickets_it_cannot_delete(
    sim, client, bulk, tmp_path
):
    manager = bulk(journal_dir=tmp_path)
    groups = manager.bulk_create(
        "ContactGroups", [{"name": f"g{i}", "isActive": "true"} for i in range(4)]
    )
    assert groups.exit_code == 0
    undone = manager.undo(groups.journal_path)
    assert undone.counts()["ok"] == 4
    assert client.contact_groups.query(F("id").in_(groups.ids)).items == []
    t = client.tickets.query(max_records=1).items[0]
    tickets = manager.bulk_create(
        "Tickets",
        [
            {
                "title": "cannot undo",
                "companyID": t.company_id,
                "status": t.status,
                "priority": t.priority,
            }
        ],
    )
    not_undone = manager.undo(tickets.journal_path)
    assert not_undone.rows[0].status == "failed"
    assert "Tickets cannot be deleted" in (not_undone.rows[0].reason or "")
    assert str(tickets.ids[0]) in (not_undone.rows[0].reason or "")
    assert not_undone.exit_code == 5


def test_bulk_delete_checks_support_up_front_and_dry_run_checks_ids(sim, client, bulk, tmp_path):
    manager = bulk(journal_dir=tmp_path)
    from py_autotask.exceptions import AutotaskOperationNotSupportedError

    with pytest.raises(AutotaskOperationNotSupportedError):
        manager.bulk_delete("Tickets", [1, 2])
    made = manager.bulk_create(
        "ContactGroups", [{"name": f"d{i}", "isActive": True} for i in range(3)]
    )
    sim.clear_journal()
    dry = manager.bulk_delete("ContactGroups", [*made.ids, 424242], dry_run=True)
    assert [r.status for r in dry.rows] == ["ok", "ok", "ok", "failed"]
    assert writes(sim) == []
    done = manager.bulk_delete("ContactGroups", made.ids)
    assert done.counts()["ok"] == 3
    assert client.contact_groups.query(F("id").in_(made.ids)).items == []


def test_estimate_counts_requests_per_record(bulk):
    est = bulk().estimate("tickets", "update", 10_000, latency=0.2)
    assert est.writes == 10_000 and est.prefetch == 20
    assert est.requests_per_record == pytest.approx(1 + 1 / 500, abs=0.001)
    assert est.seconds_concurrency_bound == pytest.approx(est.requests * 0.2 / 3)
    assert est.seconds_budget_bound == pytest.approx(est.requests / 5000 * 3600)
    create = bulk().estimate("tickets", "create", 1000)
    assert create.prefetch == 0 and create.requests == 1000 + create.metadata
