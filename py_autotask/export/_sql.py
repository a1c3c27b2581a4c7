"""SQL targets: SQLite (stdlib ``sqlite3``), DuckDB and PostgreSQL (psycopg 3, ``COPY``).

A load runs in ONE transaction per database: tables are (re)created with a primary key on ``id``,
rows inserted from the staged Arrow batches, an index created on every reference column, foreign keys
declared where both sides were exported and no row points at a missing parent, and the manifest
stored in ``_autotask_export``. An interrupted load rolls back, so a target never looks complete when
it is not. Column names are the API names (quote them in PostgreSQL: ``"companyID"``); table names
are snake case (``tickets``, ``configuration_items``).

``connection`` may be a URL (``postgresql://...``, ``postgresql+psycopg://...``, ``sqlite:///file.db``,
``duckdb:///file.duckdb``), a path ending in ``.db``/``.sqlite``/``.sqlite3``/``.duckdb``, a SQLAlchemy
``Engine``/``URL``, or an open ``sqlite3``/``duckdb``/``psycopg`` connection (left open).
"""

from __future__ import annotations

import datetime as _dt
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from ..exceptions import AutotaskConfigError
from ._arrow import POOL
from ._columns import Column, arrow_schema

__all__ = ["ForeignKey", "SqlTable", "connect", "dialect_of", "load"]

MANIFEST_TABLE: Final = "_autotask_export"
#: DuckDB's memory limit for a database the exporter opens itself (see :func:`connect`).
DUCKDB_MEMORY_LIMIT: Final = "256MB"

SQL_TYPES: Final = {
    "sqlite": {
        "int": "INTEGER",
        "float": "REAL",
        "bool": "INTEGER",
        "datetime": "TEXT",
        "date": "TEXT",
        "string": "TEXT",
    },
    "duckdb": {
        "int": "BIGINT",
        "float": "DOUBLE",
        "bool": "BOOLEAN",
        "datetime": "TIMESTAMPTZ",
        "date": "DATE",
        "string": "VARCHAR",
    },
    "postgresql": {
        "int": "BIGINT",
        "float": "DOUBLE PRECISION",
        "bool": "BOOLEAN",
        "datetime": "TIMESTAMPTZ",
        "date": "DATE",
        "string": "TEXT",
    },
}


@dataclass(frozen=True)
class ForeignKey:
    table: str
    column: str
    ref_table: str


@dataclass
class SqlTable:
    entity: str
    name: str
    columns: Sequence[Column]
    batches: Callable[[], Iterator[pa.RecordBatch]]
    rows: int = 0
    warnings: list[str] = field(default_factory=list)


def q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def dialect_of(connection: Any) -> str:
    if isinstance(connection, sqlite3.Connection):
        return "sqlite"
    module = type(connection).__module__
    if module.startswith("duckdb"):
        return "duckdb"
    if module.startswith("psycopg"):
        return "postgresql"
    text = _url_text(connection)
    low = text.lower()
    if low.startswith(("postgresql", "postgres:")):
        return "postgresql"
    if low.startswith("sqlite:"):
        return "sqlite"
    if low.startswith("duckdb:"):
        return "duckdb"
    if low.endswith((".db", ".sqlite", ".sqlite3")):
        return "sqlite"
    if low.endswith(".duckdb"):
        return "duckdb"
    raise AutotaskConfigError(
        f"cannot tell the database of {text!r}: use a postgresql://, sqlite:/// or duckdb:/// URL, "
        "a .db/.sqlite/.duckdb path, a SQLAlchemy engine or an open sqlite3/duckdb/psycopg connection"
    )


def _url_text(connection: Any) -> str:
    if isinstance(connection, (str, os.PathLike)):
        return os.fspath(connection)
    url = getattr(connection, "url", connection)  # SQLAlchemy Engine -> URL
    render = getattr(url, "render_as_string", None)
    if callable(render):
        return str(render(hide_password=False))
    raise AutotaskConfigError(f"unsupported connection object {type(connection).__name__}")


def _path_of(text: str, scheme: str) -> str:
    if text.lower().startswith(scheme + ":"):
        rest = text[len(scheme) + 1 :]
        if rest.startswith("///"):
            return rest[3:]  # SQLAlchemy style: sqlite:///relative, sqlite:////absolute
        if rest.startswith("//"):
            return rest[2:] or ":memory:"
        return rest
    return text


def connect(connection: Any) -> tuple[str, Any, bool]:
    """``(dialect, dbapi_connection, owned)``; ``owned`` connections are closed after the load."""
    dialect = dialect_of(connection)
    if dialect == "sqlite" and isinstance(connection, sqlite3.Connection):
        return dialect, connection, False
    if dialect in ("duckdb", "postgresql") and type(connection).__module__.startswith(
        ("duckdb", "psycopg")
    ):
        return dialect, connection, False
    text = _url_text(connection)
    if dialect == "sqlite":
        return dialect, sqlite3.connect(_path_of(text, "sqlite"), isolation_level=None), True
    if dialect == "duckdb":
        try:
            import duckdb
        except ImportError as exc:  # pragma: no cover - extra missing
            raise AutotaskConfigError(
                "DuckDB export needs duckdb: pip install 'py-autotask[duckdb]'"
            ) from exc
        # One thread and a memory limit: DuckDB holds a load's rows in memory until the
        # transaction commits (100,000 tickets: +500 MB, growing with the rows; a million failed)
        # unless it is told to write them out. With a limit it does: the peak stays near the limit
        # whatever the size (500,000 tickets: +170 MB); a commit needs the last row group pinned
        # (~75 MB for 122,880 tickets), so the limit leaves room for rows three times as wide.
        config: dict[str, str | bool | int | float | list[str]] = {
            "threads": 1,
            "memory_limit": DUCKDB_MEMORY_LIMIT,
        }
        return dialect, duckdb.connect(_path_of(text, "duckdb"), config=config), True
    try:
        import psycopg
    except ImportError as exc:  # pragma: no cover - extra missing
        raise AutotaskConfigError(
            "PostgreSQL export needs psycopg: pip install 'py-autotask[sql]'"
        ) from exc
    if "+" in text.split("://", 1)[0]:
        text = text.split("+", 1)[0] + "://" + text.split("://", 1)[1]
    return dialect, psycopg.connect(text), True


def _order(
    tables: Sequence[SqlTable], fks: Sequence[ForeignKey]
) -> tuple[list[SqlTable], list[ForeignKey]]:
    """Tables parents-first and the foreign keys that keep that order acyclic (self references and
    cycle-closing edges are left out; DuckDB checks keys on insert and cannot add them later)."""
    names = [t.name for t in tables]
    kept: list[ForeignKey] = []
    deps: dict[str, set[str]] = {n: set() for n in names}

    def reaches(a: str, b: str) -> bool:
        seen, todo = set(), [a]
        while todo:
            n = todo.pop()
            if n == b:
                return True
            if n not in seen:
                seen.add(n)
                todo.extend(deps[n])
        return False

    for fk in fks:
        if fk.table == fk.ref_table or reaches(fk.ref_table, fk.table):
            continue
        deps[fk.table].add(fk.ref_table)
        kept.append(fk)
    ordered: list[str] = []
    while len(ordered) < len(names):
        for n in names:
            if n not in ordered and deps[n] <= set(ordered):
                ordered.append(n)
                break
    by_name = {t.name: t for t in tables}
    return [by_name[n] for n in ordered], kept


def _prepare_text(batch: pa.RecordBatch, dialect: str) -> pa.RecordBatch:
    """Per-dialect value forms: SQLite stores datetimes/dates as ISO text; PostgreSQL text cannot
    hold NUL characters (replaced by U+FFFD)."""
    arrays, fields = [], []
    for f, col in zip(batch.schema, batch.columns, strict=True):
        if dialect == "sqlite" and pa.types.is_timestamp(f.type):
            col = pc.strftime(col, format="%Y-%m-%dT%H:%M:%SZ", memory_pool=POOL)
            f = pa.field(f.name, pa.string())
        elif dialect == "sqlite" and pa.types.is_date(f.type):
            col, f = col.cast(pa.string(), memory_pool=POOL), pa.field(f.name, pa.string())
        elif dialect == "postgresql" and pa.types.is_string(f.type):
            col = pc.replace_substring(col, "\x00", "\ufffd", memory_pool=POOL)
        arrays.append(col)
        fields.append(f)
    return pa.RecordBatch.from_arrays(arrays, schema=pa.schema(fields))


def _create(dialect: str, t: SqlTable, fks: Sequence[ForeignKey]) -> str:
    types = SQL_TYPES[dialect]
    cols = [
        f"{q(c.name)} {types[c.kind]}" + (" NOT NULL" if c.name == "id" else "") for c in t.columns
    ]
    cols.append(f"PRIMARY KEY ({q('id')})")
    if dialect in ("sqlite", "duckdb"):
        for fk in fks:
            if fk.table == t.name:
                cols.append(
                    f"FOREIGN KEY ({q(fk.column)}) REFERENCES {q(fk.ref_table)} ({q('id')})"
                )
    return f"CREATE TABLE {q(t.name)} (\n  " + ",\n  ".join(cols) + "\n)"


def _insert_rows(dialect: str, conn: Any, t: SqlTable, batch_size: int) -> int:
    names = [c.name for c in t.columns]
    rows = 0
    if dialect == "duckdb":
        schema = arrow_schema(t.columns)
        reader = pa.RecordBatchReader.from_batches(schema, t.batches())
        conn.register("_autotask_src", reader)
        try:
            conn.execute(f"INSERT INTO {q(t.name)} SELECT * FROM _autotask_src").fetchall()
        finally:
            conn.unregister("_autotask_src")
        result = conn.execute(f"SELECT count(*) FROM {q(t.name)}").fetchall()
        return int(result[0][0])
    if dialect == "sqlite":
        sql = f"INSERT INTO {q(t.name)} ({', '.join(q(n) for n in names)}) VALUES ({', '.join('?' for _ in names)})"
        for batch in t.batches():
            for start in range(0, batch.num_rows, batch_size):
                part = _prepare_text(batch.slice(start, batch_size), dialect)
                # rows as they are bound (no list of every row of the batch first)
                conn.executemany(sql, _tuples(part))
                rows += part.num_rows
        return rows
    copy_sql = f"COPY {q(t.name)} ({', '.join(q(n) for n in names)}) FROM STDIN"
    with conn.cursor() as cur, cur.copy(copy_sql) as copy:
        for batch in t.batches():
            for row in _tuples(_prepare_text(batch, dialect)):
                copy.write_row(row)
                rows += 1
    return rows


def _tuples(batch: pa.RecordBatch) -> Iterator[tuple[Any, ...]]:
    """The rows of ``batch`` as tuples (its columns made Python lists once, not a dict per row)."""
    return zip(*(column.to_pylist() for column in batch.columns), strict=True)


def load(
    connection: Any,
    tables: Sequence[SqlTable],
    fks: Sequence[ForeignKey],
    manifest: dict[str, Any],
    *,
    create_tables: bool = True,
    batch_size: int = 1000,
) -> tuple[str, list[ForeignKey]]:
    """Load ``tables`` in one transaction; returns the dialect and the foreign keys declared."""
    dialect, conn, owned = connect(connection)
    ordered, kept = (
        _order(tables, fks) if dialect == "duckdb" else (list(tables), [fk for fk in fks])
    )
    if dialect == "sqlite":
        kept = list(fks)
    try:
        cur = conn.cursor() if dialect != "duckdb" else conn
        _begin(dialect, conn)
        try:
            if create_tables:
                for t in reversed(ordered):
                    _run(
                        dialect,
                        cur,
                        f"DROP TABLE IF EXISTS {q(t.name)}"
                        + (" CASCADE" if dialect == "postgresql" else ""),
                    )
                for t in ordered:
                    _run(dialect, cur, _create(dialect, t, kept))
            for t in ordered:
                t.rows = _insert_rows(dialect, conn, t, batch_size)
            for t in ordered:
                for c in t.columns:
                    if c.reference and c.label_of is None and not c.udf:
                        _run(
                            dialect,
                            cur,
                            f"CREATE INDEX IF NOT EXISTS {q(f'ix_{t.name}_{c.name}'.lower())} ON {q(t.name)} ({q(c.name)})",
                        )
            if dialect == "postgresql":
                for fk in kept:
                    _run(
                        dialect,
                        cur,
                        f"ALTER TABLE {q(fk.table)} ADD CONSTRAINT {q(f'fk_{fk.table}_{fk.column}'.lower())} "
                        f"FOREIGN KEY ({q(fk.column)}) REFERENCES {q(fk.ref_table)} ({q('id')})",
                    )
            _store_manifest(dialect, cur, tables, manifest)
            _commit(dialect, conn)
        except BaseException:
            _rollback(dialect, conn)
            raise
    finally:
        if owned:
            conn.close()
    return dialect, kept


def _run(dialect: str, cur: Any, sql: str, params: Sequence[Any] | None = None) -> None:
    result = cur.execute(sql, params) if params is not None else cur.execute(sql)
    if dialect == "duckdb":
        result.fetchall()  # DuckDB keeps a pending result open until it is consumed


def _begin(dialect: str, conn: Any) -> None:
    if dialect == "sqlite":
        if conn.in_transaction:
            conn.commit()
        conn.execute("BEGIN")
    elif dialect == "duckdb":
        conn.execute("BEGIN TRANSACTION").fetchall()


def _commit(dialect: str, conn: Any) -> None:
    if dialect in ("sqlite", "duckdb"):
        conn.execute("COMMIT")
    else:
        conn.commit()


def _rollback(dialect: str, conn: Any) -> None:
    try:
        if dialect in ("sqlite", "duckdb"):
            conn.execute("ROLLBACK")
        else:
            conn.rollback()
    except Exception:
        pass


def _store_manifest(
    dialect: str, cur: Any, tables: Iterable[SqlTable], manifest: dict[str, Any]
) -> None:
    text = "TEXT" if dialect != "duckdb" else "VARCHAR"
    _run(
        dialect,
        cur,
        f"CREATE TABLE IF NOT EXISTS {q(MANIFEST_TABLE)} (entity {text} PRIMARY KEY, table_name {text}, "
        f"rows BIGINT, exported_at {text}, manifest {text})",
    )
    now = _dt.datetime.now(_dt.timezone.utc).isoformat()
    doc = orjson.dumps(manifest, default=str).decode()
    ph = "?" if dialect != "postgresql" else "%s"
    for t in tables:
        _run(dialect, cur, f"DELETE FROM {q(MANIFEST_TABLE)} WHERE entity = {ph}", (t.entity,))
        _run(
            dialect,
            cur,
            f"INSERT INTO {q(MANIFEST_TABLE)} (entity, table_name, rows, exported_at, manifest) VALUES ({ph}, {ph}, {ph}, {ph}, {ph})",
            (t.entity, t.name, t.rows, now, doc),
        )
