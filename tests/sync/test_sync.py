"""The syncer against the simulator over real sockets, into real SQLite files, a real PostgreSQL
server and DuckDB files; every test reads back what was written and compares it with what the
simulator holds."""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from py_autotask.simulator import Simulator
from py_autotask.sync import STATE_TABLE, MassDeletionError, deletion_logs, open_database
from tests.sync.helpers import (
    allow_ui_delete,
    assert_same,
    client_for,
    db_rows,
    expected_rows,
    sim_records,
)

pytestmark = pytest.mark.xdist_group("sync")

TICKETS = 2_000


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(
        profile="tiny", seed=7, counts={"Tickets": TICKETS}, thread_limit=0, hourly_threshold=0
    ) as s:
        allow_ui_delete(s)
        yield s


@pytest.fixture
def fresh(sim: Simulator) -> Simulator:
    sim.reset()
    return sim


def _sync(sim: Simulator, url: str, entities: list[str], **kwargs: Any) -> Any:
    with client_for(sim) as client:
        return client.create_syncer().sync_to_database(
            url, entities, handle_signals=False, **kwargs
        )


def test_deletion_logs_are_found_from_metadata() -> None:
    logs = deletion_logs()
    assert logs["Tickets"].log == "DeletedTicketLogs"
    assert logs["Tickets"].id_field == "ticketID"
    assert logs["Tickets"].time_field == "deletedDateTime"
    # activity logs carry no deleted-record id: they are not used for deletes
    assert all(log.log != "DeletedTicketActivityLogs" for log in logs.values())


def test_sqlite_and_postgres_hold_the_simulators_rows(
    fresh: Simulator, tmp_path: Path, postgres_url: str
) -> None:
    entities = ["Tickets", "Companies", "Contacts"]
    sqlite_url = f"sqlite:///{tmp_path / 'mirror.db'}"
    for url in (sqlite_url, postgres_url):
        result = _sync(fresh, url, entities)
        assert result.ok, result.to_dict()
        by_entity = {e.entity: e for e in result.entities}
        assert by_entity["Tickets"].mode == "full"
        assert by_entity["Tickets"].created == TICKETS
        # 2 metadata requests + ceil(N/500) pages (+1 empty page when N is a multiple of 500)
        assert by_entity["Tickets"].requests <= 2 + math.ceil(TICKETS / 500) + 1
    for entity, table in [
        ("Tickets", "tickets"),
        ("Companies", "companies"),
        ("Contacts", "contacts"),
    ]:
        expected = expected_rows(fresh, entity)
        from_sqlite = db_rows(sqlite_url, table, entity)
        from_pg = db_rows(postgres_url, table, entity)
        assert_same(expected, from_sqlite)
        assert_same(expected, from_pg)
    # typed columns: PostgreSQL got real types from the metadata
    db = open_database(postgres_url)
    try:
        cols = db.columns("tickets")
        assert cols["id"].upper() == "BIGINT"
        assert cols["createDate"].upper().startswith("TIMESTAMP")
        assert cols["title"].upper() == "TEXT"
        state = db.read_state("Tickets")
        assert state is not None and state.status == "ok" and state.rows == TICKETS
        assert state.watermark and state.last_full_load and state.phase == "idle"
        picks = db.query(
            'SELECT "value", "label" FROM autotask_picklists WHERE "entity" = %s AND "field" = %s',
            ("Tickets", "status"),
        )
    finally:
        db.close()
    meta = json.loads(fresh.state.schema.entity("Tickets").raw("fields"))
    status = next(f for f in meta["fields"] if f["name"] == "status")
    assert sorted(picks) == sorted((p["value"], p["label"]) for p in status["picklistValues"])


def test_duckdb_holds_the_simulators_rows(fresh: Simulator, tmp_path: Path) -> None:
    path = tmp_path / "mirror.duckdb"
    result = _sync(fresh, f"duckdb:///{path}", ["Tickets", "Companies"])
    assert result.ok, result.to_dict()
    # incremental run after a change, to exercise DuckDB's upsert path
    with client_for(fresh) as client:
        client.raw_request("PATCH", "Tickets", json={"id": 5, "title": "duck changed"})
    result = _sync(fresh, f"duckdb:///{path}", ["Tickets"])
    assert result.entities[0].updated == 1
    for entity, table in [("Tickets", "tickets"), ("Companies", "companies")]:
        assert_same(expected_rows(fresh, entity), db_rows(f"duckdb:{path}", table, entity))


def test_incremental_sync_reads_only_the_changes(fresh: Simulator, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'inc.db'}"
    assert _sync(fresh, url, ["Tickets"]).ok
    records = sim_records(fresh, "Tickets")
    changed_ids = [r["id"] for r in records[:: len(records) // 20]][:20]  # 1% of the tickets
    deleted_ids = [r["id"] for r in records[7:12]]
    with client_for(fresh) as client:
        for i in changed_ids:
            client.raw_request("PATCH", "Tickets", json={"id": i, "title": f"changed {i}"})
        for i in deleted_ids:
            client.raw_request("DELETE", f"Tickets/{i}")
    changed = len(set(changed_ids) - set(deleted_ids))
    since = fresh.journal()[-1].seq
    result = _sync(fresh, url, ["Tickets"])
    (res,) = result.entities
    assert (res.mode, res.created, res.updated, res.deleted) == (
        "incremental",
        0,
        changed,
        len(deleted_ids),
    )
    sent = fresh.journal(since=since)
    # metadata (2) + ceil(changed/500) pages + the deletion log (1): nothing proportional to the table
    assert len(sent) <= math.ceil(changed / 500) + 3, [(e.method, e.path) for e in sent]
    assert res.requests == len(sent)
    assert_same(expected_rows(fresh, "Tickets"), db_rows(url, "tickets", "Tickets"))

    # nothing changed: the overlap window re-reads rows but reports no updates
    again = _sync(fresh, url, ["Tickets"]).entities[0]
    assert (again.created, again.updated, again.deleted) == (0, 0, 0)


def test_new_rows_and_reconciliation_for_entities_without_a_tracking_field(
    fresh: Simulator, tmp_path: Path
) -> None:
    from py_autotask_generated.entities import spec

    assert spec("Resources").change_tracking_field is None
    url = f"sqlite:///{tmp_path / 'res.db'}"
    assert _sync(fresh, url, ["Resources"]).ok
    # an update cannot be seen incrementally; reconciliation re-reads the rows
    first = sim_records(fresh, "Resources")[0]
    with client_for(fresh) as client:
        client.raw_request("PATCH", "Resources", json={"id": first["id"], "title": "Dr."})
    res = _sync(fresh, url, ["Resources"], reconcile=True).entities[0]
    assert res.reconciled and res.status == "ok"
    assert_same(expected_rows(fresh, "Resources"), db_rows(url, "resources", "Resources"))


def test_reconciliation_deletes_vanished_rows_and_fetches_missing_ones(
    fresh: Simulator, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'rec.db'}"
    assert _sync(fresh, url, ["Companies"]).ok
    meta = fresh.state.schema.entity("Companies")
    gone = sim_records(fresh, "Companies")[-1]["id"]
    fresh.state.store.delete(meta, gone)  # vanished without a deletion log
    # a row lost locally is fetched back
    con = sqlite3.connect(tmp_path / "rec.db")
    first = con.execute("SELECT min(id) FROM companies").fetchone()[0]
    con.execute("DELETE FROM companies WHERE id = ?", (first,))
    con.commit()
    con.close()
    res = _sync(fresh, url, ["Companies"], reconcile=True).entities[0]
    assert (res.deleted, res.created, res.status) == (1, 1, "ok")
    assert_same(expected_rows(fresh, "Companies"), db_rows(url, "companies", "Companies"))


def test_mass_deletion_guard(fresh: Simulator, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'guard.db'}"
    assert _sync(fresh, url, ["Tickets"]).ok
    meta = fresh.state.schema.entity("Tickets")
    ids = [r["id"] for r in sim_records(fresh, "Tickets")]
    for i in ids[: int(len(ids) * 0.6)]:  # 60% vanish (e.g. a permission change), no logs
        fresh.state.store.delete(meta, i)
    res = _sync(fresh, url, ["Tickets"], reconcile=True).entities[0]
    assert res.status == "guarded" and "60%" in (res.message or "")
    assert len(db_rows(url, "tickets", "Tickets")) == len(ids)  # nothing deleted
    # the exception is what the CLI maps to exit code 5
    assert issubclass(MassDeletionError, Exception)
    res = _sync(fresh, url, ["Tickets"], reconcile=True, force=True).entities[0]
    assert res.status == "ok" and res.deleted == int(len(ids) * 0.6)
    assert_same(expected_rows(fresh, "Tickets"), db_rows(url, "tickets", "Tickets"))


@pytest.mark.parametrize("backend", ["sqlite", "duckdb", "postgresql"])
def test_new_metadata_field_becomes_a_column(
    fresh: Simulator, tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    url = {
        "sqlite": f"sqlite:///{tmp_path / 'cols.db'}",
        "duckdb": f"duckdb:///{tmp_path / 'cols.duckdb'}",
    }.get(backend) or str(request.getfixturevalue("postgres_url"))
    assert _sync(fresh, url, ["Companies"]).ok
    meta = fresh.state.schema.entity("Companies")
    original = meta.raw("fields")
    doc = json.loads(original)
    doc["fields"].append(
        {
            "name": "carbonScore",
            "dataType": "decimal",
            "length": 0,
            "isRequired": False,
            "isReadOnly": True,
            "isQueryable": True,
            "isReference": False,
            "referenceEntityType": "",
            "isPickList": False,
            "picklistValues": None,
            "picklistParentValueField": "",
            "isSupportedWebhookField": False,
        }
    )
    meta._raw["fields"] = json.dumps(doc).encode()
    try:
        res = _sync(fresh, url, ["Companies"]).entities[0]
        again = _sync(fresh, url, ["Companies"]).entities[0]
    finally:
        meta._raw["fields"] = original
    assert res.added_columns == ["carbonScore"] and res.status == "ok"
    assert again.added_columns == [] and again.status == "ok"
    db = open_database(url)
    try:
        cols = db.columns("companies")
        rows = db.count("companies")
    finally:
        db.close()
    expected_type = {"sqlite": "REAL", "duckdb": "DOUBLE", "postgresql": "DOUBLE PRECISION"}
    assert cols["carbonScore"].upper() == expected_type[backend]
    assert rows == len(sim_records(fresh, "Companies"))


def _rows_read_by_another_process(url: str, table: str) -> int:
    """Open the database in a separate process (as a BI tool would) and count ``table``."""
    if url.startswith("duckdb:///"):
        code = (
            "import duckdb, sys; con = duckdb.connect(sys.argv[1], read_only=True); "
            f"print(con.execute('SELECT count(*) FROM {table}').fetchone()[0])"
        )
        target = url.split(":///", 1)[1]
    else:
        code = (
            "import sqlite3, sys; "
            f"print(sqlite3.connect(sys.argv[1]).execute('SELECT count(*) FROM {table}')"
            ".fetchone()[0])"
        )
        target = url.split(":///", 1)[1]
    out = subprocess.run(
        [sys.executable, "-c", code, target], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    return int(out.stdout)


@pytest.mark.parametrize("kind", ["sqlite", "duckdb", "sqlite-memory", "duckdb-memory"])
def test_daemon_mode_runs_until_stopped(fresh: Simulator, tmp_path: Path, kind: str) -> None:
    url = {
        "sqlite": f"sqlite:///{tmp_path / 'daemon.db'}",
        "duckdb": f"duckdb:///{tmp_path / 'daemon.duckdb'}",
        "sqlite-memory": "sqlite:///:memory:",
        "duckdb-memory": "duckdb:///:memory:",
    }[kind]
    runs: list[Any] = []
    read_between_runs: list[int] = []
    with client_for(fresh) as client:
        syncer = client.create_syncer()

        def on_run(result: Any) -> None:
            runs.append(result)
            if len(runs) == 1 and "memory" not in kind:
                # between runs the daemon has the file closed: other processes can read it
                # (DuckDB admits one process per file at a time)
                read_between_runs.append(_rows_read_by_another_process(url, "companies"))
            if len(runs) == 2:
                syncer.stop()

        syncer.sync_to_database(
            url,
            ["Companies"],
            sync_interval=_dt.timedelta(seconds=0.05),
            on_run=on_run,
            handle_signals=False,
        )
    # an in-memory database stays open across runs, so the second run is incremental there too
    assert [r.entities[0].mode for r in runs] == ["full", "incremental"]
    if "memory" not in kind:
        assert read_between_runs == [len(sim_records(fresh, "Companies"))]


def test_kill_9_mid_sync_then_rerun_reads_at_most_one_page_again(
    fresh: Simulator, tmp_path: Path
) -> None:
    db = tmp_path / "killed.db"
    fresh.add_fault(
        {
            "id": "slow-tickets",
            "match": {"path": "/Tickets/query"},
            "effect": {"type": "latency", "dist": "fixed", "seconds": 0.15},
        }
    )
    since = fresh.journal()[-1].seq if fresh.journal() else 0
    env = {**os.environ, **fresh.environ}
    script = Path(sys.executable).parent / "py-autotask"
    proc = subprocess.Popen(
        [str(script), "sync", "Tickets", "--db", f"sqlite:///{db}", "-q"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    committed = 0
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if db.exists():
                try:
                    con = sqlite3.connect(db, timeout=1)
                    row = con.execute(
                        f"SELECT cursor_id FROM {STATE_TABLE} WHERE entity = 'Tickets'"
                    ).fetchone()
                    con.close()
                except sqlite3.OperationalError:
                    row = None
                if row and row[0] and row[0] >= 1000:
                    break
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(10)
    assert proc.returncode == -signal.SIGKILL
    con = sqlite3.connect(db)
    committed = con.execute("SELECT count(*) FROM tickets").fetchone()[0]
    phase = con.execute(f"SELECT phase FROM {STATE_TABLE} WHERE entity='Tickets'").fetchone()[0]
    con.close()
    assert 1000 <= committed < TICKETS and phase == "full"
    fresh.faults.clear()

    result = _sync(fresh, f"sqlite:///{db}", ["Tickets"])
    (res,) = result.entities
    assert res.mode == "resumed-full" and res.status == "ok"
    fetched = sum(
        e.record_count or 0
        for e in fresh.journal(since=since, path_contains="/Tickets/query")
        if e.status == 200
    )
    # every ticket was read once, plus at most the one page in flight when the process died
    assert TICKETS <= fetched <= TICKETS + 500
    assert_same(expected_rows(fresh, "Tickets"), db_rows(f"sqlite:///{db}", "tickets", "Tickets"))


def test_signal_finishes_the_current_page_and_commits(fresh: Simulator, tmp_path: Path) -> None:
    db = tmp_path / "term.db"
    fresh.add_fault(
        {
            "id": "slow",
            "match": {"path": "/Tickets/query"},
            "effect": {"type": "latency", "dist": "fixed", "seconds": 0.15},
        }
    )
    env = {**os.environ, **fresh.environ}
    script = Path(sys.executable).parent / "py-autotask"
    proc = subprocess.Popen(
        [str(script), "sync", "Tickets", "--db", f"sqlite:///{db}", "-q", "-o", "json"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not db.exists():
        time.sleep(0.02)
    time.sleep(0.4)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    fresh.faults.clear()
    assert proc.returncode == 0, err
    summary = json.loads(out)
    (entity,) = summary["entities"]
    assert entity["status"] == "stopped"
    con = sqlite3.connect(db)
    rows = con.execute("SELECT count(*) FROM tickets").fetchone()[0]
    cursor = con.execute(f"SELECT cursor_id FROM {STATE_TABLE} WHERE entity='Tickets'").fetchone()
    con.close()
    assert rows == entity["created"] and rows % 500 == 0 and 0 < rows < TICKETS
    assert cursor[0] is not None


def test_an_api_error_mid_pass_is_recorded_and_the_next_run_resumes(
    fresh: Simulator, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'err.db'}"
    fresh.add_fault(
        {
            "id": "third-page-fails",
            "match": {"path": "/Tickets/query"},
            "sequence": [
                "ok",
                "ok",
                {"type": "status", "status": 400, "errors": ["simulated failure"]},
            ],
        }
    )
    res = _sync(fresh, url, ["Tickets"]).entities[0]
    fresh.faults.clear()
    assert res.status == "error" and "simulated failure" in (res.message or "")
    db = open_database(url)
    try:
        state = db.read_state("Tickets")
        assert state is not None
        assert (state.status, state.phase, state.rows) == ("error", "full", 0)
        assert db.count("tickets") == 1000  # the two committed pages
    finally:
        db.close()
    res = _sync(fresh, url, ["Tickets"]).entities[0]
    assert res.mode == "resumed-full" and res.status == "ok" and res.created == TICKETS - 1000
    assert_same(expected_rows(fresh, "Tickets"), db_rows(url, "tickets", "Tickets"))


def test_rows_changed_behind_the_cursor_during_a_full_load_are_caught_next_run(
    fresh: Simulator, tmp_path: Path
) -> None:
    """The watermark is the pass's start, not the newest value read: a ticket updated after the
    full load passed its id (while a later ticket was updated too) is read by the next run, even
    with no overlap window."""
    url = f"sqlite:///{tmp_path / 'behind.db'}"
    records = sim_records(fresh, "Tickets")
    early, late = records[0]["id"], records[-1]["id"]
    with client_for(fresh) as client:

        def after_page(entity: str, phase: str, done: int, total: int | None) -> None:
            if phase == "full" and done == 500:
                client.raw_request("PATCH", "Tickets", json={"id": early, "title": "behind"})
                time.sleep(0.01)
                client.raw_request("PATCH", "Tickets", json={"id": late, "title": "ahead"})

        syncer = client.create_syncer(progress=after_page)
        zero = _dt.timedelta(0)
        syncer.sync_to_database(url, ["Tickets"], overlap=zero, handle_signals=False)
        res = client.create_syncer().sync_to_database(
            url, ["Tickets"], overlap=zero, handle_signals=False
        )
    assert res.entities[0].updated >= 1
    rows = db_rows(url, "tickets", "Tickets")
    assert rows[early]["title"] == "behind" and rows[late]["title"] == "ahead"
    assert_same(expected_rows(fresh, "Tickets"), rows)
