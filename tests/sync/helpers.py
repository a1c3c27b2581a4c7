"""Helpers for sync tests: read what the simulator holds and what a database holds, normalised the
same way, so the two can be compared row for row."""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Iterable, Iterator
from typing import Any

import sqlalchemy as sa
from py_autotask_generated.entities import spec as entity_spec

from py_autotask import AutotaskClient
from py_autotask._values import datetime_or_none
from py_autotask.sync._db import column_kind, to_db_value
from tests._digest import row_digest


def client_for(sim: Any) -> AutotaskClient:
    c = sim.credentials
    return AutotaskClient(c["username"], c["secret"], c["integration_code"], api_url=sim.url)


def sim_pages(sim: Any, entity: str) -> Iterator[list[dict[str, Any]]]:
    """The records of ``entity`` as the API returns them (read over HTTP, keyset by id), a page
    at a time."""
    last = -1
    with client_for(sim) as client:
        while True:
            data = client.raw_request(
                "POST",
                f"{entity}/query",
                json={"filter": [{"op": "gt", "field": "id", "value": last}], "MaxRecords": 500},
            )
            items = data["items"]
            if not items:
                return
            yield items
            last = items[-1]["id"]


def sim_records(sim: Any, entity: str) -> list[dict[str, Any]]:
    """Every record of ``entity`` as the API returns it (read over HTTP, keyset by id)."""
    return [rec for page in sim_pages(sim, entity) for rec in page]


def kinds(entity: str) -> dict[str, str]:
    spec = entity_spec(entity)
    result = {name: column_kind(f.data_type) for name, f in spec.fields.items()}
    result["id"] = "int"
    if spec.has_udfs:
        result["userDefinedFields"] = "str"
    return result


def _norm(kind: str, value: Any) -> Any:
    if value is None:
        return None
    if kind == "datetime":
        # aware (PostgreSQL, DuckDB, the API) or ISO text (SQLite): compared as naive UTC
        v = datetime_or_none(value if isinstance(value, _dt.datetime) else str(value), naive=True)
        return None if v is None else v.replace(microsecond=(v.microsecond // 1000) * 1000)
    if kind == "bool":
        return bool(value)
    if kind == "float":
        return round(float(value), 6)
    if kind == "int":
        return int(value)
    if kind == "str" and isinstance(value, str) and value.startswith(("[", "{")):
        try:
            return json.dumps(json.loads(value), sort_keys=True)
        except ValueError:
            return value
    return value


def _expected_row(k: dict[str, str], rec: dict[str, Any]) -> dict[str, Any]:
    lowered = {key.lower(): v for key, v in rec.items()}
    return {
        name: _norm(kind, to_db_value(kind, lowered.get(name.lower()))) for name, kind in k.items()
    }


def expected_rows(sim: Any, entity: str) -> dict[int, dict[str, Any]]:
    k = kinds(entity)
    return {int(rec["id"]): _expected_row(k, rec) for rec in sim_records(sim, entity)}


def expected_digests(sim: Any, entity: str) -> dict[int, bytes]:
    """:func:`expected_rows` as one digest per id (read a page at a time), for tables too big to
    hold twice; compare with :func:`assert_db_matches`."""
    k = kinds(entity)
    return {
        int(rec["id"]): row_digest(_expected_row(k, rec))
        for page in sim_pages(sim, entity)
        for rec in page
    }


def iter_db_rows(url: str, table: str, entity: str) -> Iterator[dict[str, Any]]:
    """Rows of ``table`` in a SQLite/PostgreSQL (SQLAlchemy URL) or DuckDB (``duckdb:`` path),
    normalised, fetched a batch at a time (a server-side cursor on PostgreSQL)."""
    k = kinds(entity)

    def normalised(raw: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for r in raw:
            yield {name: _norm(kind, r.get(name)) for name, kind in k.items()}

    if url.startswith("duckdb:"):
        import duckdb

        con = duckdb.connect(url.split(":", 1)[1])
        try:
            cur = con.execute(f'SELECT * FROM "{table}"')
            names = [d[0] for d in cur.description]
            while batch := cur.fetchmany(2000):
                yield from normalised(dict(zip(names, r, strict=True)) for r in batch)
        finally:
            con.close()
        return
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            result = conn.execution_options(stream_results=True, max_row_buffer=2000)
            for part in result.exec_driver_sql(f'SELECT * FROM "{table}"').partitions(2000):
                yield from normalised(dict(r._mapping) for r in part)
    finally:
        engine.dispose()


def db_rows(url: str, table: str, entity: str) -> dict[int, dict[str, Any]]:
    """Rows of ``table`` in a SQLite/PostgreSQL (SQLAlchemy URL) or DuckDB (``duckdb:`` path)."""
    return {int(r["id"]): r for r in iter_db_rows(url, table, entity)}


def assert_db_matches(
    expected: dict[int, bytes], url: str, table: str, entity: str, sim: Any
) -> None:
    """The rows of ``table`` are exactly the rows of :func:`expected_digests` (streamed: neither
    side is held); a differing row is read again from ``sim`` for the message."""
    seen: set[int] = set()
    for row in iter_db_rows(url, table, entity):
        rid = int(row["id"])
        assert rid not in seen, f"{table}: row {rid} twice"
        seen.add(rid)
        if expected.get(rid) != row_digest(row):
            if rid not in expected:
                raise AssertionError(f"{table}: row {rid} is not in the simulator")
            want = next(
                _expected_row(kinds(entity), rec)
                for page in sim_pages(sim, entity)
                for rec in page
                if int(rec["id"]) == rid
            )
            diff = {key: (want[key], row.get(key)) for key in want if want[key] != row.get(key)}
            raise AssertionError(f"row {rid} differs (expected, actual): {diff}")
    missing = sorted(set(expected) - seen)
    assert not missing, f"{table}: {len(missing)} rows missing, ids {missing[:10]}"


def assert_same(expected: dict[int, dict[str, Any]], actual: dict[int, dict[str, Any]]) -> None:
    assert sorted(actual) == sorted(expected), (
        f"ids differ: missing {sorted(set(expected) - set(actual))[:10]}, "
        f"extra {sorted(set(actual) - set(expected))[:10]}"
    )
    for rid, row in expected.items():
        got = actual[rid]
        if got != row:
            diff = {k: (row[k], got.get(k)) for k in row if row[k] != got.get(k)}
            raise AssertionError(f"row {rid} differs (expected, actual): {diff}")


def allow_ui_delete(sim: Any, entity: str = "Tickets") -> None:
    """Let the simulator accept DELETE for ``entity`` (Autotask deletes tickets only in the UI;
    the simulator then logs them in DeletedTicketLogs like the real tenant)."""
    meta = sim.state.schema.entity(entity)
    meta.root_operations = (meta.root_operations or frozenset()) | {"delete"}
