"""The write-ahead journal of a bulk job: one SQLite file per job.

Every row of the job is written to the journal (state ``queued``, with the exact body to send)
before anything is sent. Before a unit of rows is sent its rows move to ``pending`` in one
transaction (the intent, durable before the first request of the unit leaves); after each request
the row's outcome is committed (``done`` with the record id and, for updates, the previous values of
the fields sent; ``failed`` with Autotask's reason; ``skipped``; ``unknown``). A crash therefore
leaves three kinds of rows:

- ``queued``: never sent, safe to send;
- ``pending``: possibly sent. Updates and deletes are idempotent in effect and are resent; creates
  are first looked up by their correlation value (written into the record) and only resent when
  the lookup proves no record carries it;
- everything else: finished.

On resume, creates in ``queued`` are looked up by correlation value too (one batched ``in`` query
per 500 rows), so even an intent lost to a power cut cannot lead to a second record. That is why
the file uses WAL mode with ``synchronous=NORMAL``: every commit survives a kill -9 of the process,
a power loss may drop the last few, and the lookup covers them. Readers (``bulk undo``, a
monitoring process) never block the writer.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from .._files import private_dir, private_file
from ..exceptions import AutotaskConfigError

__all__ = ["JOURNAL_FORMAT", "BulkJournal", "JournalRow", "RowState", "payload_hash"]

JOURNAL_FORMAT = 1

RowState = Literal["queued", "pending", "done", "failed", "skipped", "unknown", "undone"]
FINISHED: frozenset[str] = frozenset({"done", "failed", "skipped", "undone"})

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS rows (
    row          INTEGER PRIMARY KEY,
    op_id        TEXT NOT NULL,
    record_id    INTEGER,
    payload      TEXT NOT NULL,
    payload_hash TEXT NOT NULL,
    source       TEXT,
    previous     TEXT,
    state        TEXT NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    reason       TEXT,
    field        TEXT,
    reconciled   INTEGER NOT NULL DEFAULT 0,
    changed      TEXT,
    updated_at   REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS rows_state ON rows (state);
CREATE INDEX IF NOT EXISTS rows_op_id ON rows (op_id);
"""


def payload_hash(payload: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical JSON of a request body (sorted keys)."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class JournalRow:
    row: int
    op_id: str
    record_id: int | None
    payload: dict[str, Any]
    payload_hash: str
    source: dict[str, Any] | None
    previous: dict[str, Any] | None
    state: str
    attempts: int
    reason: str | None
    field: str | None
    reconciled: bool
    changed: tuple[str, ...]


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


class BulkJournal:
    """One job's journal file. Thread-safe (one connection behind a lock).

    Create one with :meth:`create` (a new job) or :meth:`open` (resume/undo/inspect an existing
    one). ``meta`` holds the job: ``job_id``, ``entity``, ``operation`` (create/update/delete),
    ``correlation_field`` (create), ``conflict_resolution`` (update) and ``options``.
    """

    def __init__(self, path: Path, conn: sqlite3.Connection) -> None:
        self.path = path
        self._conn = conn
        self._lock = threading.Lock()

    # --- lifecycle ----------------------------------------------------------------------------------

    @staticmethod
    def _connect(path: Path) -> sqlite3.Connection:
        conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    @classmethod
    def create(
        cls,
        path: str | Path,
        *,
        entity: str,
        operation: str,
        meta: Mapping[str, Any] | None = None,
    ) -> BulkJournal:
        path = Path(path)
        if path.exists() and path.stat().st_size > 0:
            raise AutotaskConfigError(
                f"journal {path} already exists; resume it with `bulk resume {path}` or pick "
                "another path"
            )
        # the journal holds every row's full body: owner-only (SQLite's -wal/-shm files follow)
        private_dir(path.parent)
        private_file(path)
        conn = cls._connect(path)
        conn.executescript(_SCHEMA)
        journal = cls(path, conn)
        values = {
            "format": JOURNAL_FORMAT,
            "job_id": uuid.uuid4().hex[:10],
            "entity": entity,
            "operation": operation,
            "created_at": time.time(),
            "status": "running",
            **(meta or {}),
        }
        journal.set_meta(values)
        return journal

    @classmethod
    def open(cls, path: str | Path) -> BulkJournal:
        path = Path(path)
        if not path.is_file():
            raise AutotaskConfigError(f"no bulk journal at {path}")
        try:
            conn = cls._connect(path)
            fmt = conn.execute("SELECT value FROM meta WHERE key='format'").fetchone()
        except sqlite3.DatabaseError as exc:
            raise AutotaskConfigError(f"{path} is not a bulk journal: {exc}") from exc
        if fmt is None or json.loads(fmt[0]) != JOURNAL_FORMAT:
            raise AutotaskConfigError(f"{path} is not a bulk journal (format {JOURNAL_FORMAT})")
        return cls(path, conn)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> BulkJournal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- meta ---------------------------------------------------------------------------------------

    def set_meta(self, values: Mapping[str, Any]) -> None:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            self._conn.executemany(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                [(k, _dumps(v)) for k, v in values.items()],
            )
            self._conn.execute("COMMIT")

    @property
    def meta(self) -> dict[str, Any]:
        with self._lock:
            rows = self._conn.execute("SELECT key, value FROM meta").fetchall()
        return {k: json.loads(v) for k, v in rows}

    # --- rows ---------------------------------------------------------------------------------------

    def add_rows(
        self, rows: Iterable[tuple[int, str, Mapping[str, Any], Mapping[str, Any] | None]]
    ) -> None:
        """Queue rows: ``(row, op_id, payload, source values)``, all in one transaction."""
        now = time.time()
        data = [
            (row, op_id, _dumps(payload), payload_hash(payload), _dumps(source), now)
            for row, op_id, payload, source in rows
        ]
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            self._conn.executemany(
                "INSERT INTO rows (row, op_id, payload, payload_hash, source, state, updated_at) "
                "VALUES (?, ?, ?, ?, ?, 'queued', ?)",
                data,
            )
            self._conn.execute("COMMIT")

    def add_finished(
        self, rows: Iterable[tuple[int, str, str, str | None, Mapping[str, Any] | None]]
    ) -> None:
        """Record rows that will never be sent: ``(row, op_id, state, reason, source)``."""
        now = time.time()
        data = [
            (row, op_id, state, reason, _dumps(source), now)
            for row, op_id, state, reason, source in rows
        ]
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            self._conn.executemany(
                "INSERT INTO rows (row, op_id, payload, payload_hash, source, state, reason, "
                "updated_at) VALUES (?, ?, '{}', '', ?, ?, ?, ?)",
                [(r, o, src, st, rs, t) for r, o, st, rs, src, t in data],
            )
            self._conn.execute("COMMIT")

    def mark_pending(
        self,
        rows: Sequence[int],
        *,
        payloads: Mapping[int, Mapping[str, Any]] | None = None,
        previous: Mapping[int, Mapping[str, Any]] | None = None,
        record_ids: Mapping[int, int] | None = None,
    ) -> None:
        """The intent: these rows are about to be sent (one durable transaction). Updates pass the
        final bodies and the previous values of the fields being sent (for undo)."""
        now = time.time()
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            for row in rows:
                sets = ["state='pending'", "updated_at=?"]
                args: list[Any] = [now]
                if payloads is not None and row in payloads:
                    sets += ["payload=?", "payload_hash=?"]
                    args += [_dumps(payloads[row]), payload_hash(payloads[row])]
                if previous is not None and row in previous:
                    sets.append("previous=?")
                    args.append(_dumps(previous[row]))
                if record_ids is not None and row in record_ids:
                    sets.append("record_id=?")
                    args.append(record_ids[row])
                args.append(row)
                self._conn.execute(f"UPDATE rows SET {', '.join(sets)} WHERE row=?", args)
            self._conn.execute("COMMIT")

    def finish(
        self,
        row: int,
        state: str,
        *,
        record_id: int | None = None,
        reason: str | None = None,
        field: str | None = None,
        reconciled: bool = False,
        changed: Sequence[str] | None = None,
    ) -> None:
        """Commit one row's outcome."""
        with self._lock:
            self._conn.execute(
                "UPDATE rows SET state=?, record_id=COALESCE(?, record_id), reason=?, field=?, "
                "reconciled=?, changed=COALESCE(?, changed), updated_at=? WHERE row=?",
                (
                    state,
                    record_id,
                    reason,
                    field,
                    int(reconciled),
                    _dumps(list(changed)) if changed is not None else None,
                    time.time(),
                    row,
                ),
            )

    def finish_many(self, outcomes: Iterable[tuple[int, str, int | None, str | None]]) -> None:
        """Commit several ``(row, state, record_id, reason)`` outcomes in one transaction."""
        now = time.time()
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            self._conn.executemany(
                "UPDATE rows SET state=?, record_id=COALESCE(?, record_id), reason=?, "
                "updated_at=? WHERE row=?",
                [(state, rid, reason, now, row) for row, state, rid, reason in outcomes],
            )
            self._conn.execute("COMMIT")

    def rows(self, states: Iterable[str] | None = None) -> list[JournalRow]:
        query = (
            "SELECT row, op_id, record_id, payload, payload_hash, source, previous, state, "
            "attempts, reason, field, reconciled, changed FROM rows"
        )
        args: list[Any] = []
        if states is not None:
            wanted = list(states)
            query += f" WHERE state IN ({', '.join('?' for _ in wanted)})"
            args = wanted
        query += " ORDER BY row"
        with self._lock:
            fetched = self._conn.execute(query, args).fetchall()
        return [
            JournalRow(
                row=r[0],
                op_id=r[1],
                record_id=r[2],
                payload=json.loads(r[3]),
                payload_hash=r[4],
                source=_loads(r[5]),
                previous=_loads(r[6]),
                state=r[7],
                attempts=r[8],
                reason=r[9],
                field=r[10],
                reconciled=bool(r[11]),
                changed=tuple(_loads(r[12]) or ()),
            )
            for r in fetched
        ]

    def __iter__(self) -> Iterator[JournalRow]:
        return iter(self.rows())

    def counts(self) -> dict[str, int]:
        with self._lock:
            fetched = self._conn.execute(
                "SELECT state, COUNT(*) FROM rows GROUP BY state"
            ).fetchall()
        return {state: n for state, n in fetched}

    def duplicate_record_ids(self) -> list[int]:
        """Record ids claimed by more than one row (always empty for a healthy journal)."""
        with self._lock:
            fetched = self._conn.execute(
                "SELECT record_id FROM rows WHERE record_id IS NOT NULL AND state='done' "
                "GROUP BY record_id HAVING COUNT(*) > 1"
            ).fetchall()
        return [r[0] for r in fetched]
