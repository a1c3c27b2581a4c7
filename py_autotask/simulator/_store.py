"""SQLite-backed record store: one table of typed, indexed query columns per entity plus one
table of pre-serialized JSON documents, so pages are served by concatenating stored bytes.

The database is a temporary file by default (constant resident memory for 1,000,000+ rows);
pass ``path=":memory:"`` for small in-memory stores.
"""

from __future__ import annotations

import operator
import os
import shutil
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from .._values import datetime_or_none
from ._metadata import EntityMeta, FieldInfo, Schema
from ._values import column_datetime

__all__ = ["Snapshot", "Store", "column_value"]

_SQL_TYPES = {
    "int": "INTEGER",
    "float": "REAL",
    "bool": "INTEGER",
    "datetime": "TEXT",
    "str": "TEXT",
}
_INDEXED_NAMES = frozenset(
    {"createdate", "createdatetime", "lastactivitydate", "lastmodifieddatetime", "lastmodifieddate"}
)


def column_value(field: FieldInfo, value: Any) -> Any:
    """Convert a record value to the form stored in (and compared against) its SQL column."""
    if value is None:
        return None
    kind = field.kind
    try:
        if kind == "int":
            if isinstance(value, bool):
                return int(value)
            return value if isinstance(value, int) else int(float(value))
        if kind == "float":
            return float(value)
        if kind == "bool":
            if isinstance(value, str):
                return 1 if value.strip().lower() in ("true", "1") else 0
            return 1 if value else 0
        if kind == "datetime":
            parsed = datetime_or_none(value, naive=True)
            return column_datetime(parsed) if parsed is not None else None
    except (TypeError, ValueError):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class _Table:
    __slots__ = (
        "checked",
        "columns",
        "converters",
        "docs",
        "entity",
        "getter",
        "has_udf",
        "indexed",
        "insert_sql",
        "key_set",
        "name",
        "name_set",
        "names",
        "udf_converters",
    )

    def __init__(self, entity: EntityMeta) -> None:
        key = "".join(c if c.isalnum() else "_" for c in entity.name.lower())
        self.entity = entity
        self.name = f'"e_{key}"'
        self.docs = f'"d_{key}"'
        self.columns: list[FieldInfo] = [
            f for f in entity.field_order if f.queryable and f.name.lower() != "id"
        ]
        self.has_udf = entity.udf_capable
        self.converters = [(f, _converter(f)) for f in self.columns]
        self.names = [f.name for f in self.columns]
        self.name_set = frozenset(self.names)
        self.checked = [
            (i + 1, conv) for i, (f, conv) in enumerate(self.converters) if f.kind == "datetime"
        ]
        # one C-level lookup of id + every column when the record has them all (generated data)
        self.key_set = frozenset(["id", *self.names])
        self.getter: Callable[[dict[str, Any]], Any] = operator.itemgetter("id", *self.names)
        self.udf_converters: dict[str, tuple[str, Callable[[Any], Any]]] | None = None
        cols = ["id"] + [f'"c_{f.name.lower()}"' for f in self.columns]
        if self.has_udf:
            cols.append("udf")
        marks = ",".join("?" * len(cols))
        self.insert_sql = f"INSERT OR REPLACE INTO {self.name} ({','.join(cols)}) VALUES ({marks})"
        self.indexed = False

    def create_sql(self) -> list[str]:
        defs = ["id INTEGER PRIMARY KEY"]
        for f in self.columns:
            collate = " COLLATE NOCASE" if f.kind == "str" else ""
            defs.append(f'"c_{f.name.lower()}" {_SQL_TYPES[f.kind]}{collate}')
        if self.has_udf:
            defs.append("udf TEXT")
        return [
            f"CREATE TABLE IF NOT EXISTS {self.name} ({', '.join(defs)})",
            f"CREATE TABLE IF NOT EXISTS {self.docs} (id INTEGER PRIMARY KEY, doc BLOB NOT NULL)",
        ]

    def index_columns(self) -> list[str]:
        """Lower-cased names of the columns that get an index."""
        tracking = (self.entity.change_tracking_field or "").lower()
        return [
            f.name.lower()
            for f in self.columns
            if f.reference_entity or f.name.lower() in _INDEXED_NAMES or f.name.lower() == tracking
        ]

    def index_sql(self) -> list[str]:
        table = self.name.strip('"')
        return [
            f'CREATE INDEX IF NOT EXISTS "i_{table}_{low}" ON {self.name} ("c_{low}")'
            for low in self.index_columns()
        ]

    def row(self, record: dict[str, Any], *, checked: bool = False) -> tuple[Any, ...]:
        """The query-column values of ``record``. Generated records bind their values as they are
        (column affinity converts numeric text); ``checked`` (and every record that is not a plain
        dict: seeded off-type values, see :mod:`._messy`) converts each value the way SQL Server
        would hold it in a column of the declared type (:func:`column_value`)."""
        values: list[Any]
        if checked or type(record) is not dict:
            return self._checked_row(record)
        if self.key_set <= record.keys():
            values = list(self.getter(record)) if self.names else [record["id"]]
            if type(values[0]) is not int:
                values[0] = int(values[0])
        else:
            if self.name_set <= record.keys():
                get = record.get
            else:  # names in another letter case (e.g. hand-written records)
                lowered = {k.lower(): v for k, v in record.items()}
                canonical = {f.name: lowered.get(f.name.lower()) for f in self.columns}
                get = canonical.get
            values = [int(record["id"])]
            values.extend([get(n) for n in self.names])
        # ints, floats, strings and bools bind as they are (column affinity converts numeric
        # text); datetimes are normalised to the sortable column form.
        for i, convert in self.checked:
            v = values[i]
            if v is not None:
                # inline fast path of the datetime converter for the generated wire format
                if type(v) is str and 19 <= len(v) <= 26 and v[10] == "T" and v[-1].isdigit():
                    if len(v) == 19:
                        values[i] = v + ".000000"
                    elif v[19] == ".":
                        values[i] = v[:20] + v[20:].ljust(6, "0")
                    else:
                        values[i] = convert(v)
                else:
                    values[i] = convert(v)
        if self.has_udf:
            values.append(self._udf_column(record))
        return tuple(values)

    def _checked_row(self, record: dict[str, Any]) -> tuple[Any, ...]:
        lowered = {k.lower(): v for k, v in record.items()}
        values: list[Any] = [int(lowered["id"])]
        values.extend(column_value(f, lowered.get(f.name.lower())) for f in self.columns)
        if self.has_udf:
            values.append(self._udf_column(record))
        return tuple(values)

    def _udf_column(self, record: dict[str, Any]) -> str | None:
        """The UDF values of ``record`` as one JSON object (name -> column form), or None."""
        convs = self.udf_converters
        if convs is None:
            convs = self.udf_converters = {
                low: (d.name, _converter(d)) for low, d in self.entity.udfs.items()
            }
        udfs: dict[str, Any] = {}
        items = record.get("userDefinedFields")
        for item in items if isinstance(items, list) else ():
            if not isinstance(item, dict):
                continue
            found = convs.get(str(item.get("name", "")).lower())
            if found is not None:
                value = item.get("value")
                if value is not None:
                    udfs[found[0]] = found[1](value)
        return orjson.dumps(udfs).decode() if udfs else None


def _converter(field: FieldInfo) -> Callable[[Any], Any]:
    """A fast per-column converter (falls back to :func:`column_value`)."""
    kind = field.kind
    if kind == "int":
        return lambda v: v if type(v) is int else column_value(field, v)
    if kind == "str":
        return lambda v: v if type(v) is str else column_value(field, v)
    if kind == "float":
        return lambda v: float(v) if type(v) in (int, float) else column_value(field, v)
    if kind == "datetime":

        def dt(v: Any) -> Any:
            # fast path for the wire format 2024-03-30T13:10:35[.563]
            if type(v) is str and 19 <= len(v) <= 26 and v[10] == "T" and v[-1].isdigit():
                if len(v) == 19:
                    return v + ".000000"
                if v[19] == ".":
                    return v[:20] + v[20:].ljust(6, "0")
            return column_value(field, v)

        return dt
    return lambda v: column_value(field, v)


#: A copy of the database (for reset) up to this size is kept in memory; a bigger one goes to a
#: temporary file, so that it costs disk and page cache rather than this process's memory (the
#: copy of 50,000 tickets is ~210 MB; restoring from the file takes about as long).
MEMORY_SNAPSHOT_BYTES = 32 * 1024 * 1024


@dataclass
class Snapshot:
    conn: sqlite3.Connection
    tables: dict[str, bool]
    next_ids: dict[str, int]
    tmpdir: str | None = None

    def close(self) -> None:
        self.conn.close()
        if self.tmpdir:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
            self.tmpdir = None


def _unlink_when_open(path: str, tmpdir: str) -> str | None:
    """Unlink the file of an open SQLite connection (it keeps using it; the space is freed when it
    closes, even if the process is killed). Returns the folder still to remove, or None."""
    try:
        os.unlink(path)
        os.rmdir(tmpdir)
        return None
    except OSError:  # e.g. Windows: keep the file, close() removes it
        return tmpdir


class Store:
    """All records of one simulated Autotask database."""

    def __init__(self, schema: Schema, path: str | Path | None = None, cache_mb: int = 64) -> None:
        self.schema = schema
        self._tmpdir: str | None = None
        if path is None:
            self._tmpdir = tempfile.mkdtemp(prefix="autotask-sim-")
            path = Path(self._tmpdir) / "simulator.sqlite3"
        self.path = str(path)
        self.lock = threading.RLock()
        self.conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        for pragma in (
            "page_size=16384",  # ~2.6 KB documents waste a third of 4 KB pages
            "journal_mode=OFF",
            "synchronous=OFF",
            "temp_store=MEMORY",
            f"cache_size=-{int(cache_mb) * 1024}",
            "mmap_size=0",
        ):
            self.conn.execute(f"PRAGMA {pragma}")
        if self._tmpdir is not None:
            # Materialise the file, then unlink it: the open connection keeps using it and the
            # disk space is freed when the process ends, even if it is killed.
            self.conn.execute("CREATE TABLE IF NOT EXISTS _sim_meta (k TEXT PRIMARY KEY, v TEXT)")
            self._tmpdir = _unlink_when_open(self.path, self._tmpdir)
        self._tables: dict[str, _Table] = {}
        self._next_ids: dict[str, int] = {}
        self.scan_budget = 0.03  # seconds an id-order scan may take before the index is used
        self.index_fallbacks = 0  # how often that happened (diagnostics)
        self.selective_rows = 5000  # a range matching fewer rows is always served by its index

    # -- tables -----------------------------------------------------------------------------
    def table(self, entity: EntityMeta, *, indexes: bool = True) -> _Table:
        key = entity.name.lower()
        t = self._tables.get(key)
        if t is None:
            t = _Table(entity)
            with self.lock:
                for sql in t.create_sql():
                    self.conn.execute(sql)
            self._tables[key] = t
        if indexes and not t.indexed:
            with self.lock:
                for sql in t.index_sql():
                    self.conn.execute(sql)
            t.indexed = True
        return t

    def clear(self) -> None:
        with self.lock:
            names = [
                r[0] for r in self.conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
            ]
            for n in names:
                self.conn.execute(f'DROP TABLE IF EXISTS "{n}"')
            self._tables.clear()
            self._next_ids.clear()
            self.conn.execute("VACUUM")

    def close(self) -> None:
        with self.lock:
            self.conn.close()
        if self._tmpdir:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

    def snapshot(self) -> Snapshot:
        """Copy the whole database aside (put back by :meth:`restore`): into memory up to
        :data:`MEMORY_SNAPSHOT_BYTES` (or when the store itself is in memory), else into a
        temporary file."""
        with self.lock:
            pages = self.conn.execute("PRAGMA page_count").fetchone()[0]
            page_size = self.conn.execute("PRAGMA page_size").fetchone()[0]
            tmpdir = None
            if self.path == ":memory:" or pages * page_size <= MEMORY_SNAPSHOT_BYTES:
                snap = sqlite3.connect(":memory:", check_same_thread=False)
                self.conn.backup(snap)
            else:
                tmpdir = tempfile.mkdtemp(prefix="autotask-sim-snapshot-")
                path = os.path.join(tmpdir, "snapshot.sqlite3")
                snap = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
                for pragma in ("journal_mode=OFF", "synchronous=OFF"):
                    snap.execute(f"PRAGMA {pragma}")
                self.conn.backup(snap)
                tmpdir = _unlink_when_open(path, tmpdir)
            return Snapshot(
                snap, {k: t.indexed for k, t in self._tables.items()}, dict(self._next_ids), tmpdir
            )

    def restore(self, snap: Snapshot) -> None:
        with self.lock:
            snap.conn.backup(self.conn)
            self._tables = {k: t for k, t in self._tables.items() if k in snap.tables}
            for key, indexed in snap.tables.items():
                ent = self.schema.entity(key)
                if ent is not None:
                    t = self._tables.get(key) or _Table(ent)
                    t.indexed = indexed
                    self._tables[key] = t
            self._next_ids = dict(snap.next_ids)

    # -- reads ------------------------------------------------------------------------------
    def get_doc(self, entity: EntityMeta, item_id: int) -> bytes | None:
        t = self.table(entity)
        with self.lock:
            row = self.conn.execute(f"SELECT doc FROM {t.docs} WHERE id = ?", (item_id,)).fetchone()
        return bytes(row[0]) if row else None

    def get(self, entity: EntityMeta, item_id: int) -> dict[str, Any] | None:
        doc = self.get_doc(entity, item_id)
        if doc is None:
            return None
        value: dict[str, Any] = orjson.loads(doc)
        return value

    def exists(self, entity: EntityMeta, item_id: int) -> bool:
        t = self.table(entity)
        with self.lock:
            row = self.conn.execute(f"SELECT 1 FROM {t.docs} WHERE id = ?", (item_id,)).fetchone()
        return row is not None

    def select_page(
        self,
        entity: EntityMeta,
        where: str,
        params: list[Any],
        *,
        limit: int,
        after_id: int | None = None,
        before_id: int | None = None,
        index_plan: tuple[str, str, list[Any]] | None = None,
        scan_budget: float | None = None,
    ) -> list[tuple[int, bytes]]:
        """Up to ``limit`` (id, doc) rows matching ``where`` in ascending id order.

        With ``index_plan = (column, where, params)`` (a filter on that one indexed column), the
        id-order scan gets ``scan_budget`` seconds; if it has not finished by then (matches are
        sparse at low ids) the ids come from an index-only scan of that column instead.
        """
        t = self.table(entity)
        order = "DESC" if before_id is not None else "ASC"

        def bounded(w: str, p: list[Any]) -> tuple[str, list[Any]]:
            # The cursor bound goes FIRST: of several bounds on the rowid SQLite seeks with the
            # first one it sees, and a filter's own ``id gte 0`` would make page n walk n pages.
            clauses: list[str] = []
            args: list[Any] = []
            if after_id is not None:
                clauses.append("e.id > ?")
                args.append(after_id)
            if before_id is not None:
                clauses.append("e.id < ?")
                args.append(before_id)
            if w:
                clauses.append(w)
                args.extend(p)
            return (" AND ".join(clauses) if clauses else "1"), args

        cond, args = bounded(where, params)
        sql = (
            f"SELECT e.id, d.doc FROM {t.name} e JOIN {t.docs} d ON d.id = e.id "
            f"WHERE {cond} ORDER BY e.id {order} LIMIT ?"
        )
        args.append(limit)
        with self.lock:
            if index_plan is None or not t.indexed:
                rows = [(int(r[0]), bytes(r[1])) for r in self.conn.execute(sql, args)]
            else:
                budget = self.scan_budget if scan_budget is None else scan_budget
                rows = self._scan_or_index(t, sql, args, index_plan, bounded, order, limit, budget)
        if order == "DESC":
            rows.reverse()
        return rows

    def _scan_or_index(
        self,
        t: _Table,
        sql: str,
        args: list[Any],
        index_plan: tuple[str, str, list[Any]],
        bounded: Callable[[str, list[Any]], tuple[str, list[Any]]],
        order: str,
        limit: int,
        budget: float,
    ) -> list[tuple[int, bytes]]:
        deadline = time.perf_counter() + budget
        self.conn.set_progress_handler(lambda: int(time.perf_counter() > deadline), 2000)
        try:
            return [(int(r[0]), bytes(r[1])) for r in self.conn.execute(sql, args)]
        except sqlite3.OperationalError as exc:
            if "interrupt" not in str(exc):
                raise
        finally:
            self.conn.set_progress_handler(None, 0)
        self.index_fallbacks += 1
        column, iwhere, iparams = index_plan
        cond, iargs = bounded(iwhere, iparams)
        index = f'"i_{t.name.strip(chr(34))}_{column.lower()}"'
        try:
            ids = [
                int(r[0])
                for r in self.conn.execute(
                    f"SELECT e.id FROM {t.name} e INDEXED BY {index} WHERE {cond} "
                    f"ORDER BY e.id {order} LIMIT ?",
                    [*iargs, limit],
                )
            ]
        except sqlite3.OperationalError:  # the filter cannot use that index: plain scan
            return [(int(r[0]), bytes(r[1])) for r in self.conn.execute(sql, args)]
        if not ids:
            return []
        docs = dict(
            self.conn.execute(
                f"SELECT id, doc FROM {t.docs} WHERE id IN ({','.join('?' * len(ids))})", ids
            ).fetchall()
        )
        return [(i, bytes(docs[i])) for i in ids if i in docs]

    def exists_where(
        self,
        entity: EntityMeta,
        where: str,
        params: list[Any],
        *,
        after_id: int | None = None,
        before_id: int | None = None,
    ) -> bool:
        t = self.table(entity)
        clauses: list[str] = []
        args: list[Any] = []
        if after_id is not None:  # cursor bound first (see select_page)
            clauses.append("e.id > ?")
            args.append(after_id)
        if before_id is not None:
            clauses.append("e.id < ?")
            args.append(before_id)
        if where:
            clauses.append(where)
            args.extend(params)
        cond = " AND ".join(clauses) if clauses else "1"
        with self.lock:
            row = self.conn.execute(
                f"SELECT 1 FROM {t.name} e WHERE {cond} LIMIT 1", args
            ).fetchone()
        return row is not None

    def is_indexed(self, entity: EntityMeta, field_name: str) -> bool:
        t = self.table(entity)
        return t.indexed and field_name.lower() in t.index_columns()

    def count_upto(self, entity: EntityMeta, where: str, params: list[Any], limit: int) -> int:
        """``min(count, limit)`` of matching rows (cheap selectivity probe)."""
        t = self.table(entity)
        sql = f"SELECT count(*) FROM (SELECT 1 FROM {t.name} e WHERE {where or '1'} LIMIT ?)"
        with self.lock:
            row = self.conn.execute(sql, [*params, limit]).fetchone()
        return int(row[0])

    def count(self, entity: EntityMeta, where: str, params: list[Any]) -> int:
        t = self.table(entity)
        with self.lock:
            row = self.conn.execute(
                f"SELECT count(*) FROM {t.name} e WHERE {where or '1'}", params
            ).fetchone()
        return int(row[0])

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        with self.lock:
            for t in list(self._tables.values()):
                # the query-column table holds the same ids; SQLite counts it through its
                # smallest index (a few MB) instead of walking every page of the documents
                # (~2.6 GB at 1,000,000 tickets, seconds per /_sim/state call)
                n = int(self.conn.execute(f"SELECT count(*) FROM {t.name}").fetchone()[0])
                if n:
                    out[t.entity.name] = n
        return out

    # -- writes -----------------------------------------------------------------------------
    def next_id(self, entity: EntityMeta, start: int = 1) -> int:
        key = entity.name.lower()
        t = self.table(entity)
        with self.lock:
            current = self._next_ids.get(key)
            if current is None:
                row = self.conn.execute(f"SELECT max(id) FROM {t.docs}").fetchone()
                current = max(int(row[0]) + 1, start) if row and row[0] is not None else start
            self._next_ids[key] = current + 1
            return current

    def _note_id(self, entity: EntityMeta, item_id: int) -> None:
        key = entity.name.lower()
        nxt = self._next_ids.get(key)
        if nxt is not None and item_id >= nxt:
            self._next_ids[key] = item_id + 1

    def put(self, entity: EntityMeta, record: dict[str, Any]) -> bytes:
        """Insert or replace a full record (must carry ``id``); returns the stored document."""
        t = self.table(entity)
        doc = orjson.dumps(record)
        with self.lock:
            self.conn.execute("BEGIN")
            try:
                self.conn.execute(t.insert_sql, t.row(record, checked=True))
                self.conn.execute(
                    f"INSERT OR REPLACE INTO {t.docs} (id, doc) VALUES (?, ?)",
                    (int(record["id"]), doc),
                )
                self.conn.execute("COMMIT")
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self._note_id(entity, int(record["id"]))
        return doc

    def delete(self, entity: EntityMeta, item_id: int) -> bool:
        t = self.table(entity)
        with self.lock:
            cur = self.conn.execute(f"DELETE FROM {t.docs} WHERE id = ?", (item_id,))
            self.conn.execute(f"DELETE FROM {t.name} WHERE id = ?", (item_id,))
            return cur.rowcount > 0

    def _insert_chunk(
        self, t: _Table, rows: list[tuple[Any, ...]], docs: list[tuple[int, bytes]]
    ) -> None:
        self.conn.executemany(t.insert_sql, rows)
        self.conn.executemany(f"INSERT OR REPLACE INTO {t.docs} (id, doc) VALUES (?, ?)", docs)

    def load(
        self, records: Iterable[tuple[str, dict[str, Any]]], chunk: int = 1000
    ) -> dict[str, int]:
        """Bulk-insert ``(collection, record)`` pairs; indexes of new tables are built afterwards.

        (A writer thread overlapping the inserts with row building was tried: no gain in CPU on
        a busy 2-core machine and ~300 MB more peak RSS at 200k tickets, so it stays sequential.
        Chunks of 1,000 cost the same CPU as 5,000 and peak ~100 MB lower: a chunk's JSON
        documents take ~7 KB each until SQLite has them, since orjson's output keeps its
        oversized buffer.)
        """
        loaded: dict[str, int] = {}
        fresh: dict[str, _Table] = {}
        dumps = orjson.dumps
        with self.lock:
            for name, batch in _batches(records, chunk):
                entity = self.schema.entity(name)
                if entity is None:
                    continue
                key = entity.name.lower()
                if key not in self._tables:
                    fresh[key] = self.table(entity, indexes=False)
                # a table created by this load gets its indexes after all its rows are in
                t = fresh.get(key) or self.table(entity)
                row = t.row
                rows = [row(r) for r in batch]
                docs = [(int(r["id"]), dumps(r)) for r in batch]
                self.conn.execute("BEGIN")
                if key in fresh:
                    # plain INSERT is ~25% cheaper than INSERT OR REPLACE; a duplicate id in
                    # the input (not from the generator) redoes the chunk with REPLACE, which
                    # leaves exactly what REPLACE alone would have
                    try:
                        self.conn.executemany(_plain(t.insert_sql), rows)
                        self.conn.executemany(f"INSERT INTO {t.docs} (id, doc) VALUES (?, ?)", docs)
                    except sqlite3.IntegrityError:
                        self._insert_chunk(t, rows, docs)
                else:
                    self._insert_chunk(t, rows, docs)
                self.conn.execute("COMMIT")
                loaded[entity.name] = loaded.get(entity.name, 0) + len(batch)
                del batch, rows, docs  # before the next chunk is built, not after
                self._next_ids.pop(key, None)
            for t in fresh.values():
                for sql in t.index_sql():
                    self.conn.execute(sql)
                t.indexed = True
            if sum(loaded.values()) >= 10_000:
                self.conn.execute("ANALYZE")
        return loaded


def _plain(insert_or_replace: str) -> str:
    return insert_or_replace.replace("INSERT OR REPLACE", "INSERT", 1)


def _batches(
    records: Iterable[tuple[str, dict[str, Any]]], size: int
) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    current: str | None = None
    batch: list[dict[str, Any]] = []
    for name, rec in records:
        if name != current or len(batch) >= size:
            if batch and current is not None:
                yield current, batch
            current, batch = name, []
        batch.append(rec)
    if batch and current is not None:
        yield current, batch
