"""One syncer per database at a time.

Two syncers working on one database (overlapping cron runs, a daemon plus a manual run, two hosts)
would double the API requests against the tenant's hourly budget and race on the state rows, the
watermarks and the id reconciliation. :func:`acquire_sync_lock` takes a lock that is held for the
whole :meth:`Syncer.sync_to_database` call (every entity of every run, and across the sleeps of
daemon mode) and that the operating system or the database server drops by itself when the holder
dies, ``kill -9`` included, so it can never go stale:

- **SQLite and DuckDB files**: an OS lock (``fcntl.flock``, ``msvcrt.locking`` on Windows) on a
  sidecar file ``<database file>.sync.lock``. The file stays in place (deleting it would let two
  processes lock two different files); while locked it holds the holder's host, pid, start time,
  mode and entities as JSON. In-memory databases are private to their process and take no lock.
- **PostgreSQL**: a session-level ``pg_try_advisory_lock`` on a connection of its own, keyed by
  :func:`advisory_key` (``"py-autotask sync"`` + database name + schema). The server drops it when
  that session ends; server-side TCP keepalives (about a minute) end the session of a holder whose
  machine lost its connection. The holder's details are a row of ``autotask_sync_lock`` owned by
  the holder (matched against ``pg_locks`` so an old row is never reported).

No secret is written anywhere: holders record host, pid, OS user, start time, mode and entities,
never the command line, the environment or the connection string.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import getpass
import hashlib
import json
import logging
import os
import socket
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .._paths import WRITE_ERRNOS, not_writable
from .._values import datetime_or_none
from ..exceptions import AutotaskError
from ._db import database_target, sqlalchemy_url

__all__ = [
    "LOCK_SUFFIX",
    "LOCK_TABLE",
    "LockHolder",
    "SyncLock",
    "SyncLockedError",
    "acquire_sync_lock",
    "advisory_key",
    "sync_lock_status",
]

logger = logging.getLogger("py_autotask.sync")

#: suffix of the sidecar lock file of a SQLite or DuckDB database
LOCK_SUFFIX = ".sync.lock"
#: PostgreSQL table holding the lock holder's details (one row per lock key)
LOCK_TABLE = "autotask_sync_lock"
#: the fixed part of the PostgreSQL advisory lock key
LOCK_NAME = "py-autotask sync"

#: how long acquire_sync_lock keeps trying when told not to wait (a momentary status probe)
_MIN_PATIENCE = 0.2

# Windows: lock one byte far beyond the holder details, so other processes can still read them.
_WIN_LOCK_OFFSET = 0x7FFFFFF0


@dataclass(frozen=True)
class LockHolder:
    """Who holds a sync lock (as the holder recorded it)."""

    host: str = ""
    pid: int | None = None
    since: str = ""  # UTC, ISO 8601
    user: str = ""
    mode: str = ""  # e.g. "one run" | "daemon, every 15 min"
    entities: tuple[str, ...] = ()
    version: str = ""
    backend_pid: int | None = None  # PostgreSQL: the holder's server session

    def describe(self) -> str:
        """One line: ``pid 4242 on host build-01 (user ci), since ... (3 min ago), ...``."""
        who = f"pid {self.pid}" if self.pid is not None else "a process"
        text = f"{who} on host {self.host or '?'}"
        if self.user:
            text += f" (user {self.user})"
        if self.since:
            text += f", since {self.since}"
            age = _age(self.since)
            if age:
                text += f" ({age} ago)"
        if self.mode:
            text += f", {self.mode}"
        if self.entities:
            shown = list(self.entities[:6])
            more = len(self.entities) - len(shown)
            text += ", syncing " + ", ".join(shown) + (f" and {more} more" if more > 0 else "")
        if self.backend_pid is not None:
            text += f", PostgreSQL backend pid {self.backend_pid}"
        return text

    def to_json(self) -> str:
        data = asdict(self)
        data["entities"] = list(self.entities)
        data["tool"] = LOCK_NAME
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> LockHolder | None:
        try:
            data = json.loads(text)
        except ValueError:
            return None
        if not isinstance(data, dict):
            return None
        pid = data.get("pid")
        backend = data.get("backend_pid")
        return cls(
            host=str(data.get("host") or ""),
            pid=pid if isinstance(pid, int) else None,
            since=str(data.get("since") or ""),
            user=str(data.get("user") or ""),
            mode=str(data.get("mode") or ""),
            entities=tuple(str(e) for e in data.get("entities") or ()),
            version=str(data.get("version") or ""),
            backend_pid=backend if isinstance(backend, int) else None,
        )


class SyncLockedError(AutotaskError):
    """Another syncer holds the lock of this database (or this syncer lost it); nothing was synced
    by this call. The CLI exits with code 6.

    Attributes:
        database: the database, without password or query parameters.
        holder: a :class:`LockHolder`, or ``None`` when its details could not be read.
        waited: seconds spent waiting for the lock (``lock_timeout``).
    """

    def __init__(
        self,
        message: str,
        *,
        database: str = "",
        holder: LockHolder | None = None,
        waited: float = 0.0,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.database = database
        self.holder = holder
        self.waited = waited

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.message,), dict(self.__dict__))


def _utcnow() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc).replace(tzinfo=None)


def _age(since: str) -> str:
    start = datetime_or_none(since, naive=True)
    if start is None:
        return ""
    seconds = (_utcnow() - start).total_seconds()
    if seconds < 0:
        return ""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name in the environment or the password database
        return ""


def make_holder(mode: str = "", entities: Sequence[str] = ()) -> LockHolder:
    """This process as a lock holder."""
    from .._version import __version__

    return LockHolder(
        host=socket.gethostname(),
        pid=os.getpid(),
        since=_utcnow().isoformat(timespec="seconds") + "Z",
        user=_os_user(),
        mode=mode,
        entities=tuple(entities),
        version=__version__,
    )


class SyncLock:
    """A sync lock on one database. :func:`acquire_sync_lock` returns one that is held."""

    #: the database, without password or query parameters (for messages)
    database: str = ""

    @property
    def held(self) -> bool:
        """Whether this object holds the lock."""
        return False

    def try_acquire(self, holder: LockHolder) -> bool:
        """Take the lock without waiting; record ``holder``. ``False`` when someone else has it."""
        raise NotImplementedError

    def holder(self) -> LockHolder | None:
        """The current holder's details (when this lock is not ours), ``None`` when unknown."""
        raise NotImplementedError

    def status(self) -> tuple[bool, LockHolder | None]:
        """Whether another process holds the lock now, and its details (for ``sync --status``).
        Never blocks a syncer: at most a momentary probe (see :func:`acquire_sync_lock`)."""
        return False, None

    def verify(self) -> None:
        """Check the lock is still ours; take it again if it was lost and is free, else raise
        :class:`SyncLockedError`."""

    def release(self) -> None:
        """Release the lock (idempotent)."""

    def __enter__(self) -> SyncLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class NoLock(SyncLock):
    """In-memory databases: no other process can open them."""

    def __init__(self, database: str) -> None:
        self.database = database
        self._held = False

    def try_acquire(self, holder: LockHolder) -> bool:
        self._held = True
        return True

    @property
    def held(self) -> bool:
        return self._held

    def holder(self) -> LockHolder | None:
        return None

    def release(self) -> None:
        self._held = False


# --- files (SQLite, DuckDB) -----------------------------------------------------------------------


def _os_lock(fd: int) -> bool:
    """Non-blocking exclusive OS lock on ``fd``; ``False`` when another open file holds it."""
    if sys.platform == "win32":
        import msvcrt

        os.lseek(fd, _WIN_LOCK_OFFSET, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _os_unlock(fd: int) -> None:
    if sys.platform == "win32":
        import msvcrt

        os.lseek(fd, _WIN_LOCK_OFFSET, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        return
    import fcntl

    fcntl.flock(fd, fcntl.LOCK_UN)


class FileLock(SyncLock):
    """An OS lock on ``<database file>.sync.lock``; the OS releases it when the process ends."""

    def __init__(self, db_path: str) -> None:
        self.given = db_path  # as the user wrote it, for errors
        self.db_path = os.path.realpath(db_path)
        self.path = self.db_path + LOCK_SUFFIX
        self.database = self.db_path
        self._fd: int | None = None
        self._holder: LockHolder | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def _open_locked(self) -> int | None:
        """Open (create) the lock file and lock it; ``None`` when it is held elsewhere."""
        for _ in range(5):
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            except PermissionError as exc:
                # another OS user created it without write access for us: a read-only descriptor
                # still locks (the holder details are then not written). No file at all: the
                # database's folder is not writable, which the database could not be either.
                try:
                    fd = os.open(self.path, os.O_RDONLY)
                except FileNotFoundError:
                    raise not_writable(self.given, exc) from None
            except OSError as exc:
                if exc.errno in WRITE_ERRNOS or isinstance(exc, FileNotFoundError):
                    # a file where a folder should be, a read-only disk, no such folder
                    raise not_writable(self.given, exc) from None
                raise
            try:
                if not _os_lock(fd):
                    os.close(fd)
                    return None
                # the file we locked must still be the one at the path (not unlinked meanwhile)
                if self._same_file(fd):
                    return fd
            except BaseException:
                os.close(fd)
                raise
            os.close(fd)
        raise OSError(f"the lock file {self.path} keeps being replaced")

    def _same_file(self, fd: int) -> bool:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return False
        fst = os.fstat(fd)
        return (st.st_dev, st.st_ino) == (fst.st_dev, fst.st_ino)

    def _write(self, fd: int, holder: LockHolder) -> None:
        data = (holder.to_json() + "\n").encode()
        try:
            os.lseek(fd, 0, os.SEEK_SET)
            os.write(fd, data)
            os.ftruncate(fd, len(data))
        except OSError as exc:  # read-only descriptor, full disk: the lock still holds
            logger.debug("could not record the lock holder in %s: %s", self.path, exc)

    def try_acquire(self, holder: LockHolder) -> bool:
        if self._fd is not None:
            return True
        fd = self._open_locked()
        if fd is None:
            return False
        self._fd, self._holder = fd, holder
        self._write(fd, holder)
        return True

    def holder(self) -> LockHolder | None:
        # the holder writes its details right after locking: retry briefly on an empty file
        for attempt in range(10):
            try:
                text = Path(self.path).read_text(encoding="utf-8", errors="replace")
            except OSError:
                text = ""
            found = LockHolder.from_json(text) if text.strip() else None
            if found is not None:
                return found
            if attempt < 9:
                time.sleep(0.05)
        return None

    def status(self) -> tuple[bool, LockHolder | None]:
        if self._fd is not None:
            return False, None  # ours
        try:
            text = Path(self.path).read_text(encoding="utf-8", errors="replace")
        except OSError:
            return False, None  # never locked (no file) or unreadable
        if not text.strip():
            return False, None  # released holders truncate the file
        # details present: a live holder, or one killed with -9 (the OS dropped its lock but the
        # file keeps the text). A momentary probe tells them apart.
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except OSError:
            return False, None
        try:
            if _os_lock(fd):
                _os_unlock(fd)
                return False, None
        finally:
            os.close(fd)
        return True, self.holder()

    def verify(self) -> None:
        if self._fd is None or self._same_file(self._fd):
            return
        # Someone deleted or replaced the lock file: our lock no longer excludes a new syncer.
        assert self._holder is not None
        fd = self._open_locked()
        if fd is None:
            holder = self.holder()
            raise SyncLockedError(
                _message(self.database, holder, lost=True), database=self.database, holder=holder
            )
        logger.warning("the sync lock file %s was removed; locked it again", self.path)
        old, self._fd = self._fd, fd
        self._write(fd, self._holder)
        with contextlib.suppress(OSError):
            os.close(old)

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        with contextlib.suppress(OSError):
            if self._same_file(fd):
                os.ftruncate(fd, 0)  # no stale details (the file itself stays)
        with contextlib.suppress(OSError):
            _os_unlock(fd)
        os.close(fd)


# --- PostgreSQL -----------------------------------------------------------------------------------


def advisory_key(database: str, schema: str) -> int:
    """The PostgreSQL advisory lock key of a sync target: the first 8 bytes of
    ``sha256("py-autotask sync\\0<database>\\0<schema>")`` as a signed 64-bit integer.
    (Advisory locks are also scoped to the current database by the server itself.)"""
    digest = hashlib.sha256(f"{LOCK_NAME}\0{database}\0{schema}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _key_halves(key: int) -> tuple[int, int]:
    """``pg_locks`` shows a bigint key as ``classid`` (high half) and ``objid`` (low half)."""
    unsigned = key & 0xFFFF_FFFF_FFFF_FFFF
    return unsigned >> 32, unsigned & 0xFFFF_FFFF


# the server ends the session of a vanished client after about 30 + 3 * 10 s
_SESSION_SETTINGS = (
    "SET tcp_keepalives_idle = 30",
    "SET tcp_keepalives_interval = 10",
    "SET tcp_keepalives_count = 3",
    "SET tcp_user_timeout = 60000",
    "SET idle_session_timeout = 0",
    "SET idle_in_transaction_session_timeout = 0",
    "SET statement_timeout = 0",
)


class PostgresLock(SyncLock):
    """``pg_try_advisory_lock`` on a dedicated session; released when the session ends."""

    def __init__(self, url: str) -> None:
        import sqlalchemy as sa

        self._sa = sa
        self.url = sqlalchemy_url(url)
        parsed = sa.engine.make_url(self.url)
        host = parsed.host or "localhost"
        port = f":{parsed.port}" if parsed.port else ""
        user = f"{parsed.username}@" if parsed.username else ""
        self.database = f"postgresql://{user}{host}{port}/{parsed.database or ''}"
        self._engine: Any = None
        self._conn: Any = None
        self.key: int | None = None
        self._held = False
        self._holder: LockHolder | None = None

    @property
    def held(self) -> bool:
        return self._held

    def _connect(self) -> Any:
        if self._conn is not None:
            return self._conn
        sa = self._sa
        self._engine = sa.create_engine(
            self.url,
            poolclass=sa.pool.NullPool,
            connect_args={
                "application_name": f"{LOCK_NAME} lock",
                "connect_timeout": 10,
                "keepalives": 1,
                "keepalives_idle": 30,
                "keepalives_interval": 10,
                "keepalives_count": 3,
            },
        )
        conn = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        for statement in _SESSION_SETTINGS:
            # an older server (or a Unix socket) refuses some: it keeps its defaults
            with contextlib.suppress(sa.exc.DBAPIError):
                conn.exec_driver_sql(statement)
        name, schema = conn.exec_driver_sql("SELECT current_database(), current_schema()").one()
        self.key = advisory_key(str(name), str(schema or ""))
        self._conn = conn
        return conn

    def _close(self) -> None:
        conn, self._conn = self._conn, None
        engine, self._engine = self._engine, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()
        if engine is not None:
            with contextlib.suppress(Exception):
                engine.dispose()

    def try_acquire(self, holder: LockHolder) -> bool:
        if self._held:
            return True
        conn = self._connect()
        got = bool(conn.exec_driver_sql("SELECT pg_try_advisory_lock(%s)", (self.key,)).scalar())
        if not got:
            return False
        self._held, self._holder = True, holder
        self._record(holder)
        return True

    def _record(self, holder: LockHolder) -> None:
        """Write the holder's details into its row (with our backend pid, which ``pg_locks``
        shows as the lock's owner)."""
        conn = self._conn
        try:
            backend = int(conn.exec_driver_sql("SELECT pg_backend_pid()").scalar())
            conn.exec_driver_sql(
                f'CREATE TABLE IF NOT EXISTS "{LOCK_TABLE}" (lock_key BIGINT PRIMARY KEY, '
                "holder TEXT NOT NULL, backend_pid INTEGER NOT NULL, acquired_at TEXT NOT NULL)"
            )
            conn.exec_driver_sql(
                f'INSERT INTO "{LOCK_TABLE}" (lock_key, holder, backend_pid, acquired_at) '
                "VALUES (%s, %s, %s, %s) ON CONFLICT (lock_key) DO UPDATE SET "
                "holder = excluded.holder, backend_pid = excluded.backend_pid, "
                "acquired_at = excluded.acquired_at",
                (self.key, holder.to_json(), backend, holder.since),
            )
        except self._sa.exc.DBAPIError as exc:  # no CREATE privilege: the lock still holds
            logger.warning("could not record the sync lock holder in %s: %s", LOCK_TABLE, exc)

    def _owner_pid(self, conn: Any) -> int | None:
        hi, lo = _key_halves(int(self.key or 0))
        pid = conn.exec_driver_sql(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
            "AND classid::bigint = %s AND objid::bigint = %s AND objsubid = 1",
            (hi, lo),
        ).scalar()
        return None if pid is None else int(pid)

    def status(self) -> tuple[bool, LockHolder | None]:
        if self._held:
            return False, None
        # pg_locks: no lock is taken. An unreachable server raises (it is not "free").
        owner = self._owner_pid(self._connect())
        try:
            return (owner is not None), (self.holder() if owner is not None else None)
        finally:
            self._close()

    def holder(self) -> LockHolder | None:
        try:
            conn = self._connect()
        except self._sa.exc.DBAPIError:
            return None
        sa = self._sa
        owner: int | None = None
        for attempt in range(10):
            try:
                owner = self._owner_pid(conn)
                if owner is None:
                    return None  # released meanwhile
                if conn.exec_driver_sql("SELECT to_regclass(%s)", (LOCK_TABLE,)).scalar():
                    row = conn.exec_driver_sql(
                        f'SELECT holder, backend_pid FROM "{LOCK_TABLE}" WHERE lock_key = %s',
                        (self.key,),
                    ).first()
                    if row is not None and row[1] == owner:
                        found = LockHolder.from_json(str(row[0]))
                        if found is not None:
                            return LockHolder(**{**asdict(found), "backend_pid": owner})
            except sa.exc.DBAPIError:
                return None
            if attempt < 9:
                time.sleep(0.05)  # the holder writes its row right after locking
        # not a py-autotask syncer's row (or it could not write one): what the server knows
        try:
            row = conn.exec_driver_sql(
                "SELECT client_addr::text, application_name, backend_start FROM pg_stat_activity "
                "WHERE pid = %s",
                (owner,),
            ).first()
        except sa.exc.DBAPIError:
            row = None
        if row is None:
            return LockHolder(backend_pid=owner)
        since = row[2]
        if isinstance(since, _dt.datetime) and since.tzinfo is not None:
            since = since.astimezone(_dt.timezone.utc).replace(tzinfo=None)
        return LockHolder(
            host=str(row[0] or "local socket"),
            since=since.isoformat(timespec="seconds") + "Z"
            if isinstance(since, _dt.datetime)
            else "",
            mode=f"session {row[1]!r}" if row[1] else "",
            backend_pid=owner,
        )

    def verify(self) -> None:
        if not self._held:
            return
        try:
            conn = self._conn
            mine = conn is not None and self._owner_pid(conn) == int(
                conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
            )
        except Exception as exc:  # the lock session is gone (server restart, network)
            logger.warning("the sync lock session on %s was lost: %s", self.database, exc)
            mine = False
        if mine:
            return
        self._held = False
        self._close()
        assert self._holder is not None
        if self.try_acquire(self._holder):
            logger.warning("the sync lock on %s was lost; took it again", self.database)
            return
        holder = self.holder()
        self._close()
        raise SyncLockedError(
            _message(self.database, holder, lost=True), database=self.database, holder=holder
        )

    def release(self) -> None:
        if self._held and self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.exec_driver_sql(
                    f'DELETE FROM "{LOCK_TABLE}" WHERE lock_key = %s '
                    "AND backend_pid = pg_backend_pid()",
                    (self.key,),
                )
            with contextlib.suppress(Exception):
                self._conn.exec_driver_sql("SELECT pg_advisory_unlock(%s)", (self.key,))
        self._held = False
        self._close()  # ending the session releases the lock in any case


# --- entry points ---------------------------------------------------------------------------------


def sync_lock_for(connection_string: str | Path) -> SyncLock:
    """The (not yet acquired) sync lock of the database ``connection_string`` names."""
    kind, location = database_target(connection_string)
    if kind == "duckdb":
        if location == ":memory:":
            return NoLock("duckdb (in memory)")
        return FileLock(location)
    try:
        import sqlalchemy as sa
    except ImportError:  # pragma: no cover - open_database reports the missing extra
        return NoLock(location)
    url = sa.engine.make_url(sqlalchemy_url(location))
    backend = url.get_backend_name()
    if backend == "sqlite":
        path = url.database or ""
        if path.startswith("file:"):  # uri=true
            if "mode=memory" in path:
                return NoLock("sqlite (in memory)")
            path = path[len("file:") :].split("?", 1)[0]
        if not path or path == ":memory:":
            return NoLock("sqlite (in memory)")
        return FileLock(path)
    if backend == "postgresql":
        return PostgresLock(location)
    return NoLock(backend)  # open_database refuses it


def sync_lock_status(connection_string: str | Path) -> tuple[bool, LockHolder | None]:
    """Whether a syncer holds ``connection_string``'s database now, and who (``sync --status``).
    Takes no lock that could make a starting syncer fail."""
    lock = sync_lock_for(connection_string)
    try:
        return lock.status()
    finally:
        lock.release()


def _message(
    database: str,
    holder: LockHolder | None,
    *,
    waited: float = 0.0,
    lost: bool = False,
    stopped: bool = False,
) -> str:
    who = holder.describe() if holder is not None else "another syncer (details unavailable)"
    if lost:
        return (
            f"lost the sync lock on {database} and another syncer now holds it: {who}. Stopped "
            "before the next entity; run again once that syncer is done."
        )
    head = f"another syncer is already syncing {database}: {who}"
    if stopped:
        return f"{head}. Stopped while waiting for it to finish; nothing was synced."
    if waited > 0:
        return (
            f"{head}. Waited {waited:.1f} s for it to finish; nothing was synced. Retry later, "
            "stop that syncer, or wait longer with --lock-timeout SECONDS (lock_timeout=)."
        )
    return (
        f"{head}. Nothing was synced. Let it finish or stop it (its lock is released as soon as "
        "it exits, even if killed), or wait for it with --lock-timeout SECONDS (lock_timeout=)."
    )


def acquire_sync_lock(
    connection_string: str | Path,
    *,
    timeout: float = 0.0,
    mode: str = "",
    entities: Sequence[str] = (),
    stop: threading.Event | None = None,
) -> SyncLock:
    """Take the sync lock of ``connection_string``'s database, waiting up to ``timeout`` seconds
    (0: fail at once); raises :class:`SyncLockedError` naming the holder. ``stop`` aborts a wait."""
    lock = sync_lock_for(connection_string)
    me = make_holder(mode, entities)
    start = time.monotonic()
    delay = 0.05
    logged = False
    # even with timeout 0, keep trying for a moment: `sync --status` probes a lock file by taking
    # the lock for a few microseconds, which must not make a syncer starting then give up
    patience = max(timeout, _MIN_PATIENCE)
    try:
        while not lock.try_acquire(me):
            remaining = patience - (time.monotonic() - start)
            if remaining <= 0 or (stop is not None and stop.is_set()):
                break
            if not logged and timeout > 0:
                logger.info(
                    "waiting up to %.0f s for the sync lock on %s (held by %s)",
                    timeout,
                    lock.database,
                    (lock.holder() or LockHolder()).describe(),
                )
                logged = True
            pause = min(delay, remaining)
            delay = min(delay * 2, 1.0)
            if stop is not None:
                stop.wait(pause)
            else:
                time.sleep(pause)
        else:
            return lock
        holder = lock.holder()
    finally:
        if not lock.held:
            lock.release()  # closes the connection used to poll (PostgreSQL)
    waited = time.monotonic() - start if timeout > 0 else 0.0
    stopped = stop is not None and stop.is_set()
    raise SyncLockedError(
        _message(lock.database, holder, waited=waited, stopped=stopped),
        database=lock.database,
        holder=holder,
        waited=waited,
    )


def describe_interval(seconds: float) -> str:
    """``900`` -> ``"15 min"`` (for the holder's mode)."""
    if seconds < 120:
        return f"{seconds:g} s"
    if seconds < 7200:
        return f"{seconds / 60:g} min"
    return f"{seconds / 3600:g} h"


def holder_mode(sync_interval: _dt.timedelta | None) -> str:
    """The mode a holder records: ``one run`` or ``daemon, every 15 min``."""
    if sync_interval is None:
        return "one run"
    return f"daemon, every {describe_interval(sync_interval.total_seconds())}"
