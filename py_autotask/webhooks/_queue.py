"""The receiver's durable queue: SQLite in WAL mode (``0600``, in folders it creates ``0700``), so an event acknowledged with 200 is on disk
and a crash (even SIGKILL) after the acknowledgement loses nothing; the next start resumes it.

One row per event, keyed by its dedupe key (``UNIQUE``): a replayed delivery is recognised and not
queued again. States: ``pending`` (waiting, possibly until ``next_at`` after a failure),
``running`` (a worker has it; reset to ``pending`` when a queue is opened, since the process that
ran it is gone), ``done``, ``parked`` (failed ``max_attempts`` times; :meth:`EventQueue.retry`
puts it back).
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .._files import private_dir, private_file

__all__ = ["EventQueue", "ParkedEvent", "QueuedEvent", "default_queue_path"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    topic TEXT NOT NULL,
    entity TEXT NOT NULL,
    record_id INTEGER,
    order_key TEXT NOT NULL,
    body BLOB NOT NULL,
    received_at REAL NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at REAL NOT NULL DEFAULT 0,
    last_error TEXT,
    handled TEXT
);
CREATE INDEX IF NOT EXISTS events_state ON events (state, seq);
CREATE INDEX IF NOT EXISTS events_order ON events (order_key, seq);
"""


def default_queue_path() -> Path:
    """``$XDG_STATE_HOME/py-autotask/webhooks.db`` (``~/.local/state`` when unset)."""
    base = os.environ.get("XDG_STATE_HOME", "").strip()
    root = Path(base) if base else Path.home() / ".local" / "state"
    return root / "py-autotask" / "webhooks.db"


@dataclass(frozen=True)
class QueuedEvent:
    """A claimed event: what a worker needs to run it."""

    seq: int
    key: str
    topic: str
    order_key: str
    body: bytes
    attempts: int
    #: the handlers that already succeeded on an earlier attempt (not run again)
    handled: frozenset[str] = frozenset()


@dataclass(frozen=True)
class ParkedEvent:
    """An event whose handlers failed ``max_attempts`` times."""

    id: int
    topic: str
    entity: str
    record_id: int | None
    attempts: int
    last_error: str | None
    received_at: float


class EventQueue:
    """The durable event queue (``EventQueue(path)``; ``None`` -> :func:`default_queue_path`;
    ``create=False`` raises :class:`FileNotFoundError` instead of creating a missing one). Other
    processes may open the same file while a receiver runs (``parked()``, ``retry()``: the
    receiver picks retried events up within a second)."""

    def __init__(self, path: str | os.PathLike[str] | None = None, *, create: bool = True) -> None:
        self.path = Path(path) if path is not None else default_queue_path()
        if not create and not self.path.is_file():  # reading one (a CLI listing): leave no file
            raise FileNotFoundError(f"no webhook event queue at {self.path}")
        # private by default: the queue keeps every event's body (records' field values)
        private_dir(self.path.parent)
        private_file(self.path)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL: a committed event survives the process being killed (only an OS crash
        # can lose the last commits), at a fraction of FULL's fsyncs
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=10000")
        self._db.executescript(_SCHEMA)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(events)")}
        if "handled" not in columns:  # a queue written before handlers' progress was kept
            self._db.execute("ALTER TABLE events ADD COLUMN handled TEXT")

    def __repr__(self) -> str:
        return f"EventQueue({str(self.path)!r})"

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- the receiver's side -----------------------------------------------------------------------
    def recover(self) -> int:
        """Put events a previous process left ``running`` back to ``pending``; how many."""
        with self._lock:
            cur = self._db.execute("UPDATE events SET state='pending' WHERE state='running'")
            return cur.rowcount

    def append(
        self,
        key: str,
        topic: str,
        entity: str,
        record_id: int | None,
        body: bytes,
    ) -> bool:
        """Queue one event (committed before returning); ``False`` for a duplicate key."""
        order_key = f"{entity}|{record_id}"
        with self._lock:
            cur = self._db.execute(
                "INSERT OR IGNORE INTO events (key, topic, entity, record_id, order_key, body,"
                " received_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (key, topic, entity, record_id, order_key, body, time.time()),
            )
            return cur.rowcount == 1

    def claim(self, limit: int, busy: Iterable[str] = ()) -> list[QueuedEvent]:
        """Up to ``limit`` due pending events, oldest first, at most one per record, none for a
        record in ``busy`` or with an earlier event still pending; marked ``running``."""
        if limit <= 0:
            return []
        taken = set(busy)
        now = time.time()
        out: list[QueuedEvent] = []
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, key, topic, order_key, body, attempts, handled FROM events e"
                " WHERE state='pending' AND next_at <= ? AND NOT EXISTS (SELECT 1 FROM events p"
                " WHERE p.order_key = e.order_key AND p.seq < e.seq"
                " AND p.state IN ('pending', 'running')) ORDER BY seq LIMIT ?",
                (now, limit + min(limit * 3, 256)),  # spare rows: some records are busy
            ).fetchall()
            for seq, key, topic, order_key, body, attempts, handled in rows:
                if order_key in taken:
                    continue
                taken.add(order_key)
                done = frozenset(json.loads(handled)) if handled else frozenset()
                out.append(QueuedEvent(seq, key, topic, order_key, bytes(body), attempts, done))
                if len(out) >= limit:
                    break
            if out:
                self._db.executemany(
                    "UPDATE events SET state='running' WHERE seq=?", [(e.seq,) for e in out]
                )
        return out

    def next_due(self) -> float | None:
        """When the earliest waiting pending event becomes due (epoch seconds), if any."""
        with self._lock:
            row = self._db.execute(
                "SELECT MIN(next_at) FROM events WHERE state='pending'"
            ).fetchone()
        return float(row[0]) if row and row[0] is not None else None

    def done(self, seq: int) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE events SET state='done', attempts=attempts+1, last_error=NULL WHERE seq=?",
                (seq,),
            )

    def failed(
        self,
        seq: int,
        error: str,
        *,
        retry_at: float | None,
        handled: Iterable[str] = (),
    ) -> None:
        """Record a failed attempt: pending again from ``retry_at``, or parked when ``None``;
        ``handled``: the handlers that succeeded so far (skipped when it runs again)."""
        done = json.dumps(sorted(set(handled))) if handled else None
        with self._lock:
            if retry_at is None:
                self._db.execute(
                    "UPDATE events SET state='parked', attempts=attempts+1, last_error=?,"
                    " handled=? WHERE seq=?",
                    (error, done, seq),
                )
            else:
                self._db.execute(
                    "UPDATE events SET state='pending', attempts=attempts+1, last_error=?,"
                    " next_at=?, handled=? WHERE seq=?",
                    (error, retry_at, done, seq),
                )

    def prune(self, older_than: float) -> int:
        """Forget ``done`` events received more than ``older_than`` seconds ago (their keys stop
        deduplicating: keep them longer than any redelivery, Autotask's retries end after ~2
        minutes); how many."""
        with self._lock:
            cur = self._db.execute(
                "DELETE FROM events WHERE state='done' AND received_at < ?",
                (time.time() - older_than,),
            )
            return cur.rowcount

    # -- the operator's side -----------------------------------------------------------------------
    def parked(self) -> list[ParkedEvent]:
        """Events whose handlers failed ``max_attempts`` times, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, topic, entity, record_id, attempts, last_error, received_at"
                " FROM events WHERE state='parked' ORDER BY seq"
            ).fetchall()
        return [ParkedEvent(*row) for row in rows]

    def retry(self, ids: Sequence[int] | None = None) -> int:
        """Put parked events (all, or those ``ids``) back in the queue; how many."""
        with self._lock:
            if ids is None:
                cur = self._db.execute(
                    "UPDATE events SET state='pending', attempts=0, next_at=0 WHERE state='parked'"
                )
            else:
                cur = self._db.executemany(
                    "UPDATE events SET state='pending', attempts=0, next_at=0"
                    " WHERE state='parked' AND seq=?",
                    [(int(i),) for i in ids],
                )
            return cur.rowcount

    def counts(self) -> dict[str, int]:
        """Events per state: ``pending``, ``running``, ``done``, ``parked``."""
        out = {"pending": 0, "running": 0, "done": 0, "parked": 0}
        with self._lock:
            for state, n in self._db.execute("SELECT state, COUNT(*) FROM events GROUP BY state"):
                out[str(state)] = int(n)
        return out
