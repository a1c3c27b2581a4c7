"""The database side of the syncer: SQLite and PostgreSQL through SQLAlchemy, DuckDB directly.

One small interface (:class:`Database`) with one transaction per call that writes data, so a page of
rows, the ids it deletes and the checkpoint that covers them become durable together (or not at
all). Column types come from Autotask metadata (:func:`column_kind`).

Datetimes are stored the same, timezone-aware way on every target, as the export's SQL outputs
store them: ``TIMESTAMPTZ`` in PostgreSQL and DuckDB (sessions run in UTC), ISO 8601 UTC text with
``Z`` in SQLite (``2023-02-07T02:43:19.145000Z``, in ``DATETIME`` columns). A database written by
an earlier version (naive ``TIMESTAMP`` columns; SQLite text ``2023-02-07 02:43:19.145000``) is
migrated in place by :meth:`Database.setup`, once: the columns are turned into ``TIMESTAMPTZ``
(their values taken as UTC, which they were), the SQLite text rewritten (``PRAGMA user_version``
then records format 1).
"""

from __future__ import annotations

import datetime as _dt
import importlib.util
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._sqlurl import (
    check_sqlalchemy_url,
    database_problem,
    memory_error,
    missing_module,
    shown_url,
    sqlalchemy_url,
)
from .._values import datetime_or_none, storage_kind
from ..exceptions import AutotaskConfigError
from ..export._tolerance import (
    CLEAN,
    CONVERTED,
    KEPT,
    OffTypeCount,
    OffTypeReport,
    count_off_type,
    expected_name,
    merge_counts,
    read_value,
    received_text,
)

__all__ = [
    "PICKLIST_TABLE",
    "RUNS_TABLE",
    "STATE_TABLE",
    "Column",
    "Database",
    "EntityState",
    "RowReader",
    "check_database_url",
    "column_kind",
    "database_problem",
    "database_target",
    "open_database",
    "redact_url",
    "sqlalchemy_url",
    "text_columns",
    "to_db_value",
]

STATE_TABLE = "autotask_sync_state"
#: The datetime storage of this version (SQLite ``PRAGMA user_version``; 0: naive text).
DATETIME_FORMAT = 1
#: The SQLite text of a datetime written by an earlier version (naive UTC, a space, 6 digits).
_OLD_SQLITE_DATETIME = "[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9] [0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]"
PICKLIST_TABLE = "autotask_picklists"
RUNS_TABLE = "autotask_sync_runs"


def column_kind(data_type: str | None) -> str:
    """Autotask ``dataType`` (or UDF ``type``) -> ``int | float | bool | datetime | str``
    (:func:`py_autotask._values.storage_kind`)."""
    return storage_kind(data_type)


def format_api_datetime(value: _dt.datetime) -> str:
    """Naive UTC datetime -> ``YYYY-MM-DDTHH:MM:SS.fffZ`` (what filters send)."""
    return value.strftime("%Y-%m-%dT%H:%M:%S") + f".{value.microsecond // 1000:03d}Z"


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # int | float | bool | datetime | str


#: Columns of the sync runs table (one row per entity and run).
RUN_COLUMNS: tuple[Column, ...] = (
    Column("run_id", "str"),
    Column("entity", "str"),
    Column("started_at", "str"),
    Column("finished_at", "str"),
    Column("mode", "str"),
    Column("created", "int"),
    Column("updated", "int"),
    Column("deleted", "int"),
    Column("requests", "int"),
    Column("status", "str"),
    Column("message", "str"),
)


@dataclass
class EntityState:
    """One row of the state table: where an entity's sync stands."""

    entity: str
    table_name: str
    phase: str = "idle"  # idle | full | incremental | refresh
    cursor_id: int | None = None  # last id committed in the pass in progress
    filter_from: str | None = None  # lower bound of the pass in progress (API datetime)
    pending_watermark: str | None = None  # max change-tracking value seen in the pass
    pass_started: str | None = None  # when the pass in progress began (min of local/server clock)
    watermark: str | None = None  # committed change-tracking watermark
    id_watermark: int | None = None  # highest id ever committed
    last_full_load: str | None = None
    last_reconciliation: str | None = None
    rows: int = 0
    run_id: str | None = None
    status: str = "new"
    message: str | None = None
    updated_at: str | None = None

    @classmethod
    def columns(cls) -> list[Column]:
        kinds = {"cursor_id": "int", "id_watermark": "int", "rows": "int"}
        return [Column(name, kinds.get(name, "str")) for name in cls.__dataclass_fields__]

    def as_row(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


_TYPES: dict[str, dict[str, str]] = {
    "sqlite": {
        "int": "INTEGER",
        "float": "REAL",
        "bool": "BOOLEAN",
        "datetime": "DATETIME",
        "str": "TEXT",
    },
    "postgresql": {
        "int": "BIGINT",
        "float": "DOUBLE PRECISION",
        "bool": "BOOLEAN",
        "datetime": "TIMESTAMPTZ",
        "str": "TEXT",
    },
    "duckdb": {
        "int": "BIGINT",
        "float": "DOUBLE",
        "bool": "BOOLEAN",
        "datetime": "TIMESTAMPTZ",
        "str": "VARCHAR",
    },
}


def q(name: str) -> str:
    """Quote an identifier (every supported dialect uses double quotes)."""
    return '"' + name.replace('"', '""') + '"'


class Database:
    """A sync target. Subclasses implement :meth:`_run` (a transaction) and the catalog reads."""

    dialect: str = ""
    placeholder: str = "?"
    url: str = ""
    #: the database stores datetimes as ISO text (SQLite): rows are built with text values
    datetime_text: bool = False

    # -- catalog -----------------------------------------------------------------------------
    def columns(self, table: str) -> dict[str, str]:
        """Existing columns of ``table`` (name -> declared type), empty when it does not exist."""
        raise NotImplementedError

    def _run(self, steps: Sequence[tuple[str, Any]]) -> None:
        """Run ``(sql, params)`` steps in one transaction; params is a tuple, a list of tuples
        (executemany) or ``("arrow", table, columns, rows)`` for bulk loads."""
        raise NotImplementedError

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    # -- DDL -----------------------------------------------------------------------------------
    def type_of(self, kind: str) -> str:
        return _TYPES[self.dialect][kind]

    def ensure_table(
        self, table: str, columns: Sequence[Column], primary_key: Sequence[str] = ("id",)
    ) -> list[str]:
        """Create ``table`` or add the columns it lacks; returns the names of added columns."""
        existing = self.columns(table)
        if not existing:
            defs = [f"{q(c.name)} {self.type_of(c.kind)}" for c in columns]
            pk = ", ".join(q(k) for k in primary_key)
            self._run([(f"CREATE TABLE {q(table)} ({', '.join(defs)}, PRIMARY KEY ({pk}))", None)])
            return []
        lowered = {name.lower() for name in existing}
        added = [c for c in columns if c.name.lower() not in lowered]
        if added:
            self._run(
                [
                    (f"ALTER TABLE {q(table)} ADD COLUMN {q(c.name)} {self.type_of(c.kind)}", None)
                    for c in added
                ]
            )
        return [c.name for c in added]

    def text_steps(self, table: str, column: str) -> list[tuple[str, Any]]:
        """Turn ``column`` into text, its values cast to text (PostgreSQL and DuckDB; SQLite
        stores each value with its own type and needs nothing)."""
        if self.dialect == "postgresql":
            return [
                (
                    f"ALTER TABLE {q(table)} ALTER COLUMN {q(column)} TYPE TEXT USING {q(column)}::text",
                    None,
                )
            ]
        if self.dialect == "duckdb":
            return [(f"ALTER TABLE {q(table)} ALTER COLUMN {q(column)} TYPE VARCHAR", None)]
        return []

    @property
    def alters_types(self) -> bool:
        """Whether a column must be turned into text to hold a text value (not SQLite)."""
        return self.dialect != "sqlite"

    # -- helpers building steps ------------------------------------------------------------------
    def _ph(self, n: int) -> str:
        return ", ".join([self.placeholder] * n)

    def upsert_steps(
        self,
        table: str,
        columns: Sequence[Column],
        rows: Sequence[Sequence[Any]],
        key: Sequence[str] = ("id",),
        *,
        all_new: bool = False,
    ) -> list[tuple[str, Any]]:
        """Insert-or-update ``rows`` on ``key``; ``all_new`` says none of the keys exists yet
        (a hint backends may use to skip work)."""
        if not rows:
            return []
        names = ", ".join(q(c.name) for c in columns)
        keys = ", ".join(q(k) for k in key)
        updates = ", ".join(
            f"{q(c.name)} = excluded.{q(c.name)}" for c in columns if c.name not in key
        )
        action = f"DO UPDATE SET {updates}" if updates else "DO NOTHING"
        sql = (
            f"INSERT INTO {q(table)} ({names}) VALUES ({self._ph(len(columns))}) "
            f"ON CONFLICT ({keys}) {action}"
        )
        return [(sql, [tuple(r) for r in rows])]

    def delete_ids_steps(self, table: str, ids: Iterable[int]) -> list[tuple[str, Any]]:
        id_list = sorted(set(ids))
        steps: list[tuple[str, Any]] = []
        for start in range(0, len(id_list), 500):
            chunk = id_list[start : start + 500]
            steps.append(
                (
                    f"DELETE FROM {q(table)} WHERE {q('id')} IN ({self._ph(len(chunk))})",
                    tuple(chunk),
                )
            )
        return steps

    def state_steps(self, state: EntityState) -> list[tuple[str, Any]]:
        cols = EntityState.columns()
        row = state.as_row()
        return self.upsert_steps(
            STATE_TABLE, cols, [tuple(row[c.name] for c in cols)], key=("entity",)
        )

    # -- high level ------------------------------------------------------------------------------
    def setup(self) -> None:
        self.ensure_table(STATE_TABLE, EntityState.columns(), primary_key=("entity",))
        self.ensure_table(
            PICKLIST_TABLE,
            [
                Column("entity", "str"),
                Column("field", "str"),
                Column("value", "str"),
                Column("label", "str"),
                Column("isActive", "bool"),
                Column("isDefaultValue", "bool"),
                Column("sortOrder", "int"),
                Column("parentValue", "str"),
                Column("isUdf", "bool"),
            ],
            primary_key=("entity", "field", "value"),
        )
        self.ensure_table(RUNS_TABLE, list(RUN_COLUMNS), primary_key=("run_id", "entity"))
        self.write(self.datetime_migration_steps([s.table_name for s in self.all_states()]))

    def datetime_migration_steps(self, tables: Sequence[str]) -> list[tuple[str, Any]]:
        """Steps turning the datetimes of ``tables`` written by an earlier version (naive UTC)
        into the aware form (see the module); none when there is nothing to migrate."""
        steps: list[tuple[str, Any]] = []
        if self.dialect == "sqlite":
            if int(self.query("PRAGMA user_version")[0][0]) >= DATETIME_FORMAT:
                return []
            for table in tables:
                for name, typ in self.columns(table).items():
                    if typ.upper() == "DATETIME":
                        c = q(name)
                        steps.append(
                            (
                                f"UPDATE {q(table)} SET {c} = substr({c}, 1, 10) || 'T' || "
                                f"substr({c}, 12) || 'Z' WHERE typeof({c}) = 'text' AND "
                                f"length({c}) = 26 AND {c} GLOB '{_OLD_SQLITE_DATETIME}'",
                                None,
                            )
                        )
            steps.append((f"PRAGMA user_version = {DATETIME_FORMAT}", None))
            return steps
        naive = "timestamp without time zone" if self.dialect == "postgresql" else "TIMESTAMP"
        for table in tables:
            for name, typ in self._data_types(table).items():
                if typ == naive:
                    c = q(name)
                    using = f" USING {c} AT TIME ZONE 'UTC'" if self.dialect == "postgresql" else ""
                    steps.append(
                        (f"ALTER TABLE {q(table)} ALTER COLUMN {c} TYPE TIMESTAMPTZ{using}", None)
                    )
        return steps

    def _data_types(self, table: str) -> dict[str, str]:
        """``information_schema`` data types of ``table``'s columns (PostgreSQL, DuckDB)."""
        schema = "current_schema()" if self.dialect == "postgresql" else "'main'"
        rows = self.query(
            "SELECT column_name, data_type FROM information_schema.columns "
            f"WHERE table_name = {self.placeholder} AND table_schema = {schema}",
            (table,),
        )
        return {str(r[0]): str(r[1]) for r in rows}

    def read_state(self, entity: str) -> EntityState | None:
        cols = EntityState.columns()
        names = ", ".join(q(c.name) for c in cols)
        rows = self.query(
            f"SELECT {names} FROM {q(STATE_TABLE)} WHERE {q('entity')} = {self.placeholder}",
            (entity,),
        )
        if not rows:
            return None
        return EntityState(**{c.name: v for c, v in zip(cols, rows[0], strict=True)})

    def all_states(self) -> list[EntityState]:
        cols = EntityState.columns()
        names = ", ".join(q(c.name) for c in cols)
        rows = self.query(f"SELECT {names} FROM {q(STATE_TABLE)} ORDER BY {q('entity')}")
        return [EntityState(**{c.name: v for c, v in zip(cols, r, strict=True)}) for r in rows]

    def write(self, steps: Sequence[tuple[str, Any]]) -> None:
        """Run steps (built by the ``*_steps`` helpers) as one transaction."""
        if steps:
            self._run(steps)

    def existing_ids(self, table: str, ids: Sequence[int]) -> set[int]:
        found: set[int] = set()
        id_list = list(ids)
        for start in range(0, len(id_list), 500):
            chunk = id_list[start : start + 500]
            rows = self.query(
                f"SELECT {q('id')} FROM {q(table)} WHERE {q('id')} IN ({self._ph(len(chunk))})",
                tuple(chunk),
            )
            found.update(int(r[0]) for r in rows)
        return found

    def versions(self, table: str, ids: Sequence[int], column: str) -> dict[int, Any]:
        """``id -> column value`` for the rows of ``ids`` already in ``table``."""
        found: dict[int, Any] = {}
        id_list = list(ids)
        for start in range(0, len(id_list), 500):
            chunk = id_list[start : start + 500]
            rows = self.query(
                f"SELECT {q('id')}, {q(column)} FROM {q(table)} "
                f"WHERE {q('id')} IN ({self._ph(len(chunk))})",
                tuple(chunk),
            )
            found.update({int(r[0]): r[1] for r in rows})
        return found

    def records(
        self, table: str, ids: Sequence[int], columns: Sequence[str]
    ) -> dict[int, dict[str, Any]]:
        """``id -> {column: value}`` of the rows of ``ids`` already in ``table`` (values as the
        database holds them)."""
        found: dict[int, dict[str, Any]] = {}
        names = [c for c in columns if c != "id"]
        select = ", ".join(q(c) for c in ["id", *names])
        id_list = list(ids)
        for start in range(0, len(id_list), 500):
            chunk = id_list[start : start + 500]
            rows = self.query(
                f"SELECT {select} FROM {q(table)} WHERE {q('id')} IN ({self._ph(len(chunk))})",
                tuple(chunk),
            )
            for row in rows:
                found[int(row[0])] = {"id": int(row[0]), **dict(zip(names, row[1:], strict=True))}
        return found

    def all_ids(self, table: str) -> set[int]:
        return {int(r[0]) for r in self.query(f"SELECT {q('id')} FROM {q(table)}")}

    def count(self, table: str) -> int:
        return int(self.query(f"SELECT COUNT(*) FROM {q(table)}")[0][0])

    def replace_picklists(self, entity: str, rows: Sequence[Sequence[Any]]) -> None:
        cols = [
            Column("entity", "str"),
            Column("field", "str"),
            Column("value", "str"),
            Column("label", "str"),
            Column("isActive", "bool"),
            Column("isDefaultValue", "bool"),
            Column("sortOrder", "int"),
            Column("parentValue", "str"),
            Column("isUdf", "bool"),
        ]
        steps: list[tuple[str, Any]] = [
            (f"DELETE FROM {q(PICKLIST_TABLE)} WHERE {q('entity')} = {self.placeholder}", (entity,))
        ]
        steps += self.upsert_steps(PICKLIST_TABLE, cols, rows, key=("entity", "field", "value"))
        self._run(steps)


class SqlAlchemyDatabase(Database):
    """SQLite or PostgreSQL through a SQLAlchemy engine (driver-level SQL, one transaction per
    write)."""

    def __init__(self, url: str) -> None:
        try:
            import sqlalchemy as sa
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise ImportError(
                'syncing to SQLite/PostgreSQL needs SQLAlchemy: pip install "py-autotask[sql]"'
            ) from exc
        self._sa = sa
        url = sqlalchemy_url(url)
        self.url = url
        self.engine = sa.create_engine(url, future=True)
        name = self.engine.dialect.name
        if name not in ("sqlite", "postgresql"):
            raise AutotaskConfigError(
                f"unsupported database {name!r}: use sqlite:///file.db, postgresql://... or "
                "duckdb:///file.duckdb"
            )
        self.dialect = name
        self.datetime_text = name == "sqlite"
        self.placeholder = "?" if self.engine.dialect.paramstyle == "qmark" else "%s"
        if name == "postgresql":

            @sa.event.listens_for(self.engine, "connect")
            def _utc_session(dbapi_conn: Any, _record: Any) -> None:
                # timestamptz values come back (and cast to text) in UTC; committed, so the
                # setting outlives the connect transaction (URL options stay as given)
                cur = dbapi_conn.cursor()
                cur.execute("SET TIME ZONE 'UTC'")
                cur.close()
                dbapi_conn.commit()

        if name == "sqlite":

            @sa.event.listens_for(self.engine, "connect")
            def _pragmas(dbapi_conn: Any, _record: Any) -> None:
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=NORMAL")
                cur.execute("PRAGMA busy_timeout=30000")
                cur.close()

    def columns(self, table: str) -> dict[str, str]:
        insp = self._sa.inspect(self.engine)
        if not insp.has_table(table):
            return {}
        return {str(c["name"]): str(c["type"]) for c in insp.get_columns(table)}

    def _run(self, steps: Sequence[tuple[str, Any]]) -> None:
        with self.engine.begin() as conn:
            for sql, params in steps:
                if params is None:
                    conn.exec_driver_sql(sql)
                else:
                    conn.exec_driver_sql(sql, params)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self.engine.connect() as conn:
            result = (
                conn.exec_driver_sql(sql, tuple(params)) if params else conn.exec_driver_sql(sql)
            )
            return [tuple(r) for r in result]

    def close(self) -> None:
        self.engine.dispose()


class DuckDatabase(Database):
    """A DuckDB file through the ``duckdb`` module (no SQLAlchemy dialect needed). Pages are
    loaded through Arrow when pyarrow is installed."""

    dialect = "duckdb"
    placeholder = "?"

    def __init__(self, path: str) -> None:
        try:
            import duckdb
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise ImportError(
                'syncing to DuckDB needs duckdb: pip install "py-autotask[duckdb]"'
            ) from exc
        self.url = f"duckdb:///{path}"
        self.path = path
        self.con = duckdb.connect(path)
        self.con.execute("SET TimeZone = 'UTC'")  # TIMESTAMPTZ read and cast in UTC
        try:
            import pyarrow

            self._pa: Any = pyarrow
        except ImportError:  # pragma: no cover - depends on the install
            self._pa = None

    def columns(self, table: str) -> dict[str, str]:
        rows = self.con.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = ? ORDER BY ordinal_position",
            [table],
        ).fetchall()
        return {str(r[0]): str(r[1]) for r in rows}

    def upsert_steps(
        self,
        table: str,
        columns: Sequence[Column],
        rows: Sequence[Sequence[Any]],
        key: Sequence[str] = ("id",),
        *,
        all_new: bool = False,
    ) -> list[tuple[str, Any]]:
        # DELETE + INSERT of the page: DuckDB's ON CONFLICT is strict about indexed updates.
        if not rows:
            return []
        return [
            ("__upsert__", (table, list(columns), [tuple(r) for r in rows], list(key), all_new))
        ]

    def _upsert(
        self,
        table: str,
        columns: list[Column],
        rows: list[tuple[Any, ...]],
        key: list[str],
        all_new: bool,
    ) -> None:
        names = ", ".join(q(c.name) for c in columns)
        key_idx = [next(i for i, c in enumerate(columns) if c.name == k) for k in key]
        if all_new:
            pass
        elif len(key) == 1:
            ids = sorted({r[key_idx[0]] for r in rows})
            for start in range(0, len(ids), 1000):
                chunk = ids[start : start + 1000]
                self.con.execute(
                    f"DELETE FROM {q(table)} WHERE {q(key[0])} IN ({self._ph(len(chunk))})", chunk
                )
        else:
            cond = " AND ".join(f"{q(k)} = ?" for k in key)
            self.con.executemany(
                f"DELETE FROM {q(table)} WHERE {cond}", [[r[i] for i in key_idx] for r in rows]
            )
        if self._pa is not None:
            pa = self._pa
            types = {
                "int": pa.int64(),
                "float": pa.float64(),
                "bool": pa.bool_(),
                "datetime": pa.timestamp("us", tz="UTC"),
                "str": pa.string(),
            }
            arrays = [
                pa.array([r[i] for r in rows], type=types[c.kind]) for i, c in enumerate(columns)
            ]
            page = pa.Table.from_arrays(arrays, names=[c.name for c in columns])
            self.con.register("_autotask_page", page)
            try:
                self.con.execute(f"INSERT INTO {q(table)} ({names}) SELECT * FROM _autotask_page")
            finally:
                self.con.unregister("_autotask_page")
        else:  # pragma: no cover - pyarrow missing
            self.con.executemany(
                f"INSERT INTO {q(table)} ({names}) VALUES ({self._ph(len(columns))})",
                [list(r) for r in rows],
            )

    def _run(self, steps: Sequence[tuple[str, Any]]) -> None:
        self.con.execute("BEGIN TRANSACTION")
        try:
            for sql, params in steps:
                if sql == "__upsert__":
                    self._upsert(*params)
                elif params is None:
                    self.con.execute(sql)
                elif isinstance(params, list):
                    self.con.executemany(sql, [list(p) for p in params])
                else:
                    self.con.execute(sql, list(params))
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        self.con.execute("COMMIT")

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in self.con.execute(sql, list(params)).fetchall()]

    def close(self) -> None:
        self.con.close()


def database_target(connection_string: str | Path) -> tuple[str, str]:
    """Where a connection string points, parsed exactly as :func:`open_database` does:
    ``("duckdb", path)`` (``":memory:"`` for an in-memory database) or ``("sqlalchemy", url)``."""
    text = str(connection_string).strip()
    if not text:
        raise AutotaskConfigError("a connection string or database file path is required")
    lowered = text.lower()
    if lowered.startswith("duckdb://"):
        path = text.split("://", 1)[1]
        path = path[1:] if path.startswith("/") and not path.startswith("//") else path
        if path.startswith("//"):
            path = path[1:]
        return "duckdb", path or ":memory:"
    if "://" not in text:
        if lowered.endswith((".duckdb", ".ddb")):
            return "duckdb", text
        return "sqlalchemy", "sqlite:///" + text
    return "sqlalchemy", text


def open_database(connection_string: str | Path) -> Database:
    """``sqlite:///file.db`` | ``postgresql://...`` | ``duckdb:///file.duckdb`` | a plain file path
    (``.duckdb``/``.ddb`` -> DuckDB, anything else -> SQLite)."""
    check_database_url(connection_string)
    kind, location = database_target(connection_string)
    if kind == "duckdb":
        return DuckDatabase(location)
    return SqlAlchemyDatabase(location)


#: what the syncer writes to, for messages about a connection string it cannot use
SUPPORTED_DATABASES = (
    "SQLite (a file path or sqlite:///FILE.db), PostgreSQL (postgresql://USER@HOST/DATABASE; "
    'pip install "py-autotask[sql]") or DuckDB (FILE.duckdb or duckdb:///FILE.duckdb; '
    'pip install "py-autotask[duckdb]")'
)
redact_url = shown_url  # the name this module's users know


def check_database_url(connection_string: str | Path, *, allow_memory: bool = True) -> None:
    """Refuse, in one line and before anything is synced, a connection string the syncer cannot
    use: a scheme other than SQLite, PostgreSQL or DuckDB (naming them and the extra to install),
    a backend whose module is not installed, a malformed URL, and (``allow_memory=False``, the
    command line) an in-memory database, whose rows would be lost when the process ends. The
    password never appears in the message."""
    shown = shown_url(connection_string)
    kind, location = database_target(connection_string)
    lost = "the synced rows would be discarded when the command ends"
    if kind == "duckdb":
        if location == ":memory:" and not allow_memory:
            raise memory_error(shown, lost)
        if importlib.util.find_spec("duckdb") is None:
            raise missing_module("duckdb", "syncing to DuckDB")
        return
    scheme = location.split("://", 1)[0].lower()
    backend = scheme.partition("+")[0]
    backend = "postgresql" if backend == "postgres" else backend
    if backend not in ("sqlite", "postgresql"):
        raise AutotaskConfigError(
            f"unsupported database {shown!r}: sync writes to {SUPPORTED_DATABASES}"
        )
    what = f"syncing to {'SQLite' if backend == 'sqlite' else 'PostgreSQL'}"
    check_sqlalchemy_url(location, what=what, memory=None if allow_memory else lost)


_MISSING: Any = object()
_SLOW: Any = object()  # a value the fast converter does not take: read it with the tolerant rule
_TEXT_TYPES = frozenset({"TEXT", "VARCHAR", "CHARACTER VARYING", "STRING"})


def _fast_datetime(value: Any) -> _dt.datetime | None:
    return datetime_or_none(value)


def sqlite_datetime(value: _dt.datetime) -> str:
    """A datetime as SQLite holds it: ISO 8601 UTC text with 6 fraction digits and ``Z``
    (``2023-02-07T02:43:19.145000Z``, as the export's SQLite output writes it)."""
    return _utc(value).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _fast(kind: str, datetime_text: bool) -> Any:
    """The converter of values of the declared JSON type (anything else -> ``_SLOW``)."""
    if kind == "datetime":

        def dt(v: Any) -> Any:
            if type(v) is not str:
                return _SLOW
            d = _fast_datetime(v)
            if d is None:
                return _SLOW
            return sqlite_datetime(d) if datetime_text else d

        return dt
    if kind == "float":
        return lambda v: float(v) if type(v) in (int, float) else _SLOW
    exact = {"int": int, "bool": bool, "str": str}[kind]
    return lambda v: v if type(v) is exact else _SLOW


def _text_form(kind: str, value: Any) -> str:
    """A typed value as text in a column that holds text, as PostgreSQL and DuckDB (in a UTC
    session) cast the values a column already held when it became text (``42``, ``12.5``,
    ``true``, ``2024-01-31 10:00:00.871+00``)."""
    if kind == "bool":
        return "true" if value else "false"
    if kind == "float":
        return repr(value)
    if kind == "datetime":
        naive = _utc(value).replace(tzinfo=None)
        text: str = naive.isoformat(sep=" ", timespec="microseconds")
        return text.rstrip("0").rstrip(".") + "+00"
    return str(value)


def _utc(value: _dt.datetime) -> _dt.datetime:
    """An aware UTC datetime (naive ones are UTC, as Autotask sends them)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=_dt.timezone.utc)
    return value.astimezone(_dt.timezone.utc)


def to_db_value(kind: str, value: Any) -> Any:
    """One API value -> the Python value stored in a column of ``kind`` with the tolerant rule
    (see :class:`RowReader`): converted when nothing is lost, else the text received."""
    if value is None:
        return None
    if isinstance(value, (list, dict)) and kind == "str":
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    typed, status = read_value(kind, value)
    if status == KEPT:
        return received_text(value)
    if kind == "datetime" and typed is not None:
        return _utc(typed)
    return typed


class RowReader:
    """API records -> value tuples for a table's columns (field names matched exactly, then
    case-insensitively), reading values off their declared type with the rule of
    :mod:`py_autotask.export._tolerance`: a value of the declared JSON type is stored as it is;
    one that converts without loss is converted (``"42"`` -> 42, ``""`` -> NULL for numbers,
    datetimes and booleans, ``0``/``1`` -> booleans, ``90210`` -> ``'90210'``); anything else
    (``"m"`` for an integer) is stored as the text received. PostgreSQL and DuckDB need the
    column turned into text for that (:meth:`rows` names it, the syncer alters it in the page's
    transaction; the column then holds the text of every value); SQLite stores each value with
    its own type, so the column stays as it is. ``json_columns`` hold JSON text (the UDF list:
    ``{}`` is read as ``[]``). Off-type values are counted per column in :attr:`counts`;
    ``strict`` raises :class:`~py_autotask.export.OffTypeValueError` at the first one instead.
    ``datetime_text`` renders datetimes as ISO text (SQLite)."""

    def __init__(
        self,
        entity: str,
        columns: Sequence[Column],
        *,
        datetime_text: bool = False,
        text_columns: Iterable[str] = (),
        alter_types: bool = True,
        json_columns: Iterable[str] = (),
        strict: bool = False,
    ) -> None:
        self.entity = entity
        self.columns = list(columns)
        self.datetime_text = datetime_text
        self.text = set(text_columns)
        self.alter_types = alter_types
        self.json = set(json_columns)
        self.strict = strict
        self.counts: dict[str, OffTypeCount] = {}
        #: columns holding a value kept as received text (promoted, or SQLite's dynamic columns)
        self.kept_text: set[str] = set()

    def effective_columns(self) -> list[Column]:
        """The columns with the kinds the table holds (``str`` for a column turned into text)."""
        return [Column(c.name, "str") if c.name in self.text else c for c in self.columns]

    def rows(self, records: Sequence[Mapping[str, Any]]) -> tuple[list[tuple[Any, ...]], list[str]]:
        """``(rows, columns)``: the value tuples, and the columns that must become text before
        they are written (PostgreSQL/DuckDB; the rows already hold their values as text)."""
        counts: dict[str, OffTypeCount] = {}
        new: list[str] = []
        rows = self._rows(records, counts, new)
        if new:
            self.text.update(new)
            counts = {}
            rows = self._rows(records, counts, [])
        merge_counts(self.counts, counts)
        return rows, new

    def _rows(
        self,
        records: Sequence[Mapping[str, Any]],
        counts: dict[str, OffTypeCount],
        new: list[str],
    ) -> list[tuple[Any, ...]]:
        convs = [
            (
                c.name,
                c.name.lower(),
                c.kind,
                (lambda v: _SLOW)
                if c.name in self.text or c.name in self.json
                else _fast(c.kind, self.datetime_text),
            )
            for c in self.columns
        ]
        out = []
        for rec in records:
            lowered: dict[str, Any] | None = None
            row: list[Any] = []
            for name, low, kind, conv in convs:
                v = rec.get(name, _MISSING)
                if v is _MISSING:
                    if lowered is None:
                        lowered = {k.lower(): x for k, x in rec.items()}
                    v = lowered.get(low)
                if v is None:
                    row.append(None)
                    continue
                value = conv(v)
                if value is _SLOW:
                    value = self._slow(rec, name, kind, v, counts, new)
                row.append(value)
            out.append(tuple(row))
        return out

    def _off(
        self,
        rec: Mapping[str, Any],
        name: str,
        kind: str,
        v: Any,
        status: int,
        counts: dict[str, OffTypeCount],
    ) -> None:
        count_off_type(
            counts,
            name,
            status,
            v,
            strict=self.strict,
            entity=self.entity,
            record_id=rec.get("id"),
            expected=kind,
        )

    def _slow(
        self,
        rec: Mapping[str, Any],
        name: str,
        kind: str,
        v: Any,
        counts: dict[str, OffTypeCount],
        new: list[str],
    ) -> Any:
        if name in self.json:
            if isinstance(v, list):
                return json.dumps(v, sort_keys=True, separators=(",", ":"))
            if isinstance(v, dict):  # {} on a get by id; an object is read as name -> value
                self._off(rec, name, "list of {name, value} objects", v, CONVERTED, counts)
                items = [{"name": str(k), "value": x} for k, x in v.items()]
                return json.dumps(items, sort_keys=True, separators=(",", ":"))
            self._off(rec, name, "list of {name, value} objects", v, KEPT, counts)
            self.kept_text.add(name)
            return received_text(v)
        typed, status = read_value(kind, v)
        if status != CLEAN:
            self._off(rec, name, kind, v, status, counts)
        if status == KEPT:
            self.kept_text.add(name)
            if self.alter_types and name not in self.text and name not in new:
                new.append(name)
            return received_text(v)
        if typed is None:
            return None
        if name in self.text:
            return _text_form(kind, typed)
        if kind == "datetime":
            d = _utc(typed)
            return sqlite_datetime(d) if self.datetime_text else d
        return typed

    def reports(self, promoted: Iterable[str] = ()) -> list[OffTypeReport]:
        """One report per column with off-type values (``promoted``: turned into text)."""
        turned = set(promoted)
        out = []
        for c in self.columns:
            count = self.counts.get(c.name)
            if count is None:
                continue
            expected = "list of {name, value}" if c.name in self.json else expected_name(c.kind)
            out.append(
                OffTypeReport(
                    self.entity,
                    c.name,
                    c.name,
                    expected,
                    count.converted,
                    count.kept,
                    count.dropped,
                    count.example,
                    c.name in turned,
                )
            )
        return out


def text_columns(declared: Sequence[Column], existing: Mapping[str, str]) -> list[str]:
    """Columns whose metadata type is not text but that a table holds as text (turned into text
    by an earlier run because of a value their type could not hold)."""
    types = {name.lower(): typ.upper() for name, typ in existing.items()}
    return [
        c.name
        for c in declared
        if c.kind != "str" and types.get(c.name.lower(), "").split("(")[0].strip() in _TEXT_TYPES
    ]
