"""Syncing a tenant that sends values off their declared types (the simulator's ``messy=``) into
SQLite, a real PostgreSQL server and DuckDB: every record and every value arrives (converted when
nothing is lost, else the text received; PostgreSQL/DuckDB turn such a column into text, SQLite
stores the text in the column as it is), counts are reported once per field, incremental runs
keep working on the text columns, and ``strict=True`` names the value instead.

Expectations come from the raw API rows by the rules of ``tests/_offtype.py``, not the syncer's
code."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from py_autotask_generated.entities import spec as entity_spec

from py_autotask.simulator import Simulator
from py_autotask.sync import Syncer
from tests._offtype import NOT_LOSSLESS, lossless, off_type, parse_text, received
from tests.export._helpers import parse_dt
from tests.sync.helpers import client_for, sim_records

pytestmark = pytest.mark.xdist_group("sync-messy")

COUNTS = {"Tickets": 900, "Companies": 40, "Contacts": 200}
ENTITIES = ["Tickets", "Contacts"]
TABLES = {"Tickets": "tickets", "Contacts": "contacts"}
KINDS = {"integer": "int", "long": "int", "double": "float", "decimal": "float"}


def _kinds(entity: str) -> dict[str, str]:
    out = {}
    for name, f in entity_spec(entity).fields.items():
        dt = f.data_type.lower()
        out[name] = KINDS.get(dt, {"boolean": "bool", "datetime": "datetime"}.get(dt, "string"))
    out["id"] = "int"
    return out


def _stored(kind: str, got: Any) -> Any:
    """A typed column's stored value in Python terms (SQLite keeps booleans as 0/1 and
    datetimes as text)."""
    if got is None:
        return None
    if kind == "bool":
        return bool(got)
    if kind == "datetime":
        return parse_dt(got)
    if kind == "float":
        return float(got)
    return got


def _db(url: str, table: str) -> tuple[dict[int, dict[str, Any]], dict[str, str]]:
    """Rows of ``table`` and its column types (lower case)."""
    if url.startswith("duckdb:"):
        import duckdb

        con = duckdb.connect(url.split("///", 1)[1])
        try:
            cur = con.execute(f'SELECT * FROM "{table}"')
            names = [d[0] for d in cur.description]
            rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
            types = dict(
                con.execute(
                    "SELECT column_name, data_type FROM information_schema.columns "
                    "WHERE table_name = ?",
                    [table],
                ).fetchall()
            )
        finally:
            con.close()
    else:
        engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
        try:
            with engine.connect() as conn:
                rows = [dict(r._mapping) for r in conn.exec_driver_sql(f'SELECT * FROM "{table}"')]
            types = {c["name"]: str(c["type"]) for c in sa.inspect(engine).get_columns(table)}
        finally:
            engine.dispose()
    return {int(r["id"]): r for r in rows}, {k: v.lower() for k, v in types.items()}


def assert_synced(sim: Simulator, url: str, dialect: str, result: Any) -> None:
    reports = {(r.entity, r.field): r for r in result.off_type}
    promoted = {(e.entity, c) for e in result.entities for c in e.promoted_columns}
    for entity in ENTITIES:
        raw = {r["id"]: r for r in sim_records(sim, entity)}
        rows, types = _db(url, TABLES[entity])
        assert sorted(rows) == sorted(raw), f"{entity}: records lost or added"
        for name, kind in _kinds(entity).items():
            values = [raw[i].get(name) for i in raw]
            needs_text = any(lossless(kind, v) is NOT_LOSSLESS for v in values)
            is_text = types[name] in ("text", "varchar", "character varying")
            if dialect == "sqlite":
                assert not is_text or kind == "string"  # SQLite keeps the declared type
            else:
                assert is_text == (needs_text or kind == "string"), (entity, name, types[name])
            n_off = sum(off_type(kind, v) for v in values)
            r = reports.get((entity, name))
            assert (r.values if r else 0) == n_off, (entity, name)
            for rid, v in zip(raw, values, strict=True):
                want, got = lossless(kind, v), rows[rid][name]
                if want is NOT_LOSSLESS:
                    assert got == received(v), (entity, rid, name, v, got)
                elif is_text and kind != "string" and got is not None:
                    assert parse_text(kind, got) == want, (entity, rid, name, v, got)
                else:
                    assert _stored(kind, got) == want, (entity, rid, name, v, got)
        udf = [
            json.loads(rows[i]["userDefinedFields"] or "[]")
            for i in raw
            if "userDefinedFields" in rows[i]
        ]
        assert all(isinstance(u, list) for u in udf)
    assert result.off_type_values > 0 and result.warnings == [str(r) for r in result.off_type]
    if dialect != "sqlite":
        assert promoted == {(r.entity, r.field) for r in result.off_type if r.promoted}
        assert promoted


@pytest.fixture(scope="module")
def messy_sim() -> Iterator[Simulator]:
    with Simulator(
        profile="tiny", seed=42, counts=COUNTS, messy=0.05, thread_limit=0, hourly_threshold=0
    ) as s:
        yield s


@pytest.fixture
def sim(messy_sim: Simulator) -> Simulator:
    messy_sim.reset()
    return messy_sim


def _sync(sim: Simulator, url: str, **kwargs: Any) -> Any:
    with client_for(sim) as client:
        return client.create_syncer().sync_to_database(
            url, ENTITIES, handle_signals=False, **kwargs
        )


@pytest.mark.parametrize("backend", ["sqlite", "postgresql", "duckdb"])
def test_full_then_incremental_sync_keeps_every_value(
    sim: Simulator, tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    url = {
        "sqlite": f"sqlite:///{tmp_path / 'm.db'}",
        "duckdb": f"duckdb:///{tmp_path / 'm.duckdb'}",
    }.get(backend) or str(request.getfixturevalue("postgres_url"))
    first = _sync(sim, url)
    assert first.ok and first.entities[0].mode == "full"
    assert_synced(sim, url, backend, first)
    # incremental: a messy record changes, and a clean value lands in a column that is text now
    tickets = sim_records(sim, "Tickets")
    text_cols = [c for c in first.entities[0].promoted_columns] or ["priority"]
    kinds = _kinds("Tickets")
    messy = next(
        t for t in tickets if any(lossless(kinds[c], t[c]) is NOT_LOSSLESS for c in text_cols)
    )
    clean = next(t for t in tickets if all(not off_type(kinds[c], t[c]) for c in text_cols))
    with client_for(sim) as client:
        client.raw_request("PATCH", "Tickets", json={"id": messy["id"], "title": "changed messy"})
        client.raw_request("PATCH", "Tickets", json={"id": clean["id"], "title": "changed clean"})
    again = _sync(sim, url)
    res = next(e for e in again.entities if e.entity == "Tickets")
    assert (res.mode, res.created, res.updated) == ("incremental", 0, 2)
    assert res.promoted_columns == []  # already text since the first run
    rows, _types = _db(url, "tickets")
    assert rows[messy["id"]]["title"] == "changed messy"
    for c in text_cols:
        for t in (messy, clean):
            want, got = lossless(kinds[c], t[c]), rows[t["id"]][c]
            if want is NOT_LOSSLESS:
                assert got == received(t[c])
            elif backend != "sqlite" and got is not None:
                assert parse_text(kinds[c], got) == want  # a typed value as text
            else:
                assert _stored(kinds[c], got) == want
    # the messy ticket's off-type values were counted in this run too
    assert {r.field for r in res.off_type} >= {c for c in text_cols if off_type(kinds[c], messy[c])}


def test_strict_sync_records_an_error_naming_the_value(sim: Simulator, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    with client_for(sim) as client:
        syncer = Syncer(
            client.sender, strict=True
        )  # create_syncer(strict=True) once the client has it
        result = syncer.sync_to_database(url, ["Tickets"], handle_signals=False)
    (res,) = result.entities
    assert res.status == "error" and "strict=True" in (res.message or "")
    m = re.search(r"Tickets id (\d+): field '(\w+)' is declared (\w+)", res.message or "")
    assert m, res.message
    raw = {r["id"]: r for r in sim_records(sim, "Tickets")}[int(m.group(1))]
    assert off_type(_kinds("Tickets")[m.group(2)], raw[m.group(2)])
