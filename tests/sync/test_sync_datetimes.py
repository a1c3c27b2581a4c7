"""Every sync target stores datetimes the same timezone-aware way, read back equal to the
simulator's values: PostgreSQL and DuckDB as ``timestamptz``, SQLite as ISO 8601 UTC text with
``Z`` (the text the export's SQLite output holds). A database written by the previous version
(naive ``timestamp`` columns, SQLite text without a zone) is migrated on the next sync."""

from __future__ import annotations

import datetime as _dt
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from py_autotask._values import parse_datetime
from py_autotask.simulator import Simulator
from tests.sync.helpers import client_for, sim_records

pytestmark = pytest.mark.xdist_group("sync")

FIELDS = ("createDate", "lastActivityDate")
UTC = _dt.timezone.utc


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(
        profile="tiny", seed=9, counts={"Tickets": 40}, thread_limit=0, hourly_threshold=0
    ) as s:
        yield s


def _sync(sim: Simulator, url: str) -> None:
    with client_for(sim) as client:
        result = client.create_syncer().sync_to_database(url, ["Tickets"], handle_signals=False)
    assert result.ok, result.to_dict()


def _expected(sim: Simulator) -> dict[int, tuple[_dt.datetime | None, ...]]:
    return {
        int(r["id"]): tuple(parse_datetime(r.get(f)) for f in FIELDS)
        for r in sim_records(sim, "Tickets")
    }


def _sqlite_rows(path: Path) -> dict[int, tuple[Any, ...]]:
    with sqlite3.connect(path) as con:
        cols = ", ".join(f'"{f}"' for f in FIELDS)
        return {r[0]: r[1:] for r in con.execute(f'SELECT "id", {cols} FROM tickets')}


def _duck_rows(path: Path) -> tuple[dict[int, tuple[Any, ...]], set[str]]:
    """A DuckDB mirror's tickets (id -> createDate, lastActivityDate) and those columns' types."""
    import duckdb

    con = duckdb.connect(str(path), read_only=True)
    try:
        types = {
            r[0]
            for r in con.execute(
                "SELECT data_type FROM information_schema.columns "
                "WHERE table_name = 'tickets' AND column_name IN ('createDate', 'lastActivityDate')"
            ).fetchall()
        }
        rows = {
            r[0]: r[1:]
            for r in con.execute(
                'SELECT "id", "createDate", "lastActivityDate" FROM tickets'
            ).fetchall()
        }
    finally:
        con.close()
    return rows, types


def _pg_rows(url: str) -> tuple[dict[int, tuple[Any, ...]], set[str]]:
    with psycopg.connect(url) as con:
        cols = ", ".join(f'"{f}"' for f in FIELDS)
        rows = {r[0]: r[1:] for r in con.execute(f'SELECT "id", {cols} FROM tickets')}
        types = {
            str(r[0])
            for r in con.execute(
                "SELECT data_type FROM information_schema.columns "
                "WHERE table_name = 'tickets' AND column_name = ANY(%s)",
                [list(FIELDS)],
            )
        }
    return rows, types


def test_sqlite_stores_utc_text_with_z_like_the_export(sim: Simulator, tmp_path: Path) -> None:
    db = tmp_path / "mirror.db"
    _sync(sim, f"sqlite:///{db}")
    rows = _sqlite_rows(db)
    expected = _expected(sim)
    assert rows.keys() == expected.keys()
    for rid, values in rows.items():
        for text, want in zip(values, expected[rid], strict=True):
            if want is None:
                assert text is None
                continue
            assert isinstance(text, str) and text.endswith("Z") and "T" in text, text
            assert parse_datetime(text) == want
    # the export's SQLite output holds the very same text for the same values
    out = tmp_path / "export.db"
    with client_for(sim) as client:
        exporter = client.create_exporter(fsync=False)
        exporter.add_entities("Tickets")
        exporter.export(out, format="sqlite")
    assert _sqlite_rows(out) == rows


def test_postgres_stores_timestamptz(sim: Simulator, postgres_url: str) -> None:
    _sync(sim, postgres_url)
    rows, types = _pg_rows(postgres_url)
    assert types == {"timestamp with time zone"}
    expected = _expected(sim)
    assert rows == expected  # aware datetimes, equal instants


def test_duckdb_stores_timestamptz(sim: Simulator, tmp_path: Path) -> None:

    path = tmp_path / "mirror.duckdb"
    _sync(sim, f"duckdb:///{path}")
    rows, types = _duck_rows(path)
    assert types == {"TIMESTAMP WITH TIME ZONE"}
    assert rows == _expected(sim)


def test_databases_of_the_previous_version_are_migrated(
    sim: Simulator, tmp_path: Path, postgres_url: str
) -> None:
    # what the previous version wrote: SQLite text without a zone, PostgreSQL naive timestamps
    db = tmp_path / "old.db"
    _sync(sim, f"sqlite:///{db}")
    with sqlite3.connect(db) as con:
        for f in FIELDS:
            con.execute(
                f'UPDATE tickets SET "{f}" = '
                f"replace(replace(\"{f}\", 'T', ' '), 'Z', '') WHERE \"{f}\" IS NOT NULL"
            )
        con.execute("PRAGMA user_version = 0")  # the previous version never set it
    old = _sqlite_rows(db)
    assert all(v is None or (" " in v and not v.endswith("Z")) for r in old.values() for v in r)
    _sync(sim, postgres_url)
    with psycopg.connect(postgres_url) as con:
        for f in FIELDS:
            con.execute(
                f'ALTER TABLE tickets ALTER COLUMN "{f}" TYPE TIMESTAMP '
                f"USING \"{f}\" AT TIME ZONE 'UTC'"
            )
    assert _pg_rows(postgres_url)[1] == {"timestamp without time zone"}
    import duckdb

    duck = tmp_path / "old.duckdb"
    _sync(sim, f"duckdb:///{duck}")
    con = duckdb.connect(str(duck))
    con.execute("SET TimeZone = 'UTC'")
    for f in FIELDS:
        con.execute(f'ALTER TABLE tickets ALTER COLUMN "{f}" TYPE TIMESTAMP')
    con.close()

    # the next sync (nothing changed on the server) brings both to the aware form
    _sync(sim, f"sqlite:///{db}")
    _sync(sim, postgres_url)
    _sync(sim, f"duckdb:///{duck}")
    expected = _expected(sim)
    for rid, values in _sqlite_rows(db).items():
        for text, want in zip(values, expected[rid], strict=True):
            assert text is None if want is None else text.endswith("Z")
            assert parse_datetime(text) == want
    rows, types = _pg_rows(postgres_url)
    assert types == {"timestamp with time zone"}
    assert rows == expected
    duck_rows, kinds = _duck_rows(duck)
    assert kinds == {"TIMESTAMP WITH TIME ZONE"}
    assert duck_rows == expected
