"""Where pacing state lives: in this process, in a SQLite file, or in Redis.

Each backend offers the same small set of primitives (in-flight slots with a lease, a token bucket,
small shared values, a best-effort lock); the pacing rules themselves are in :mod:`._policy`.
Slots carry a lease so a crashed process cannot hold them forever; on one machine (the SQLite
backend, POSIX) a slot is an ``flock`` on a lock file instead, which the kernel frees the moment
its holder exits, ``kill -9`` included.

The default (``"auto"``, see :func:`resolve_backend_url`) is ``$AUTOTASK_LIMITER_URL`` when set,
else one SQLite file in the user's cache folder, so that processes on one machine (cron jobs side
by side, a CLI export next to a script) share the tenant's limits without being told to.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import logging
import os
import random
import sqlite3
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Final, Protocol

from .._config import user_cache_dir
from .._files import private_dir, private_file

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: slots live in the SQLite file
    fcntl = None  # type: ignore[assignment]
from ..exceptions import AutotaskConfigError
from ._config import check_backend_url
from ._policy import TokenBucket

__all__ = [
    "LIMITER_ENV",
    "AsyncPacingBackend",
    "LocalBackend",
    "PacingBackend",
    "RedisAsyncBackend",
    "RedisBackend",
    "SqliteBackend",
    "make_async_backend",
    "make_sync_backend",
    "resolve_backend_url",
]

logger = logging.getLogger("py_autotask.resilience")

#: environment variable naming the limiter backend when ``PacingConfig.backend`` is ``"auto"``
LIMITER_ENV: Final = "AUTOTASK_LIMITER_URL"
_POLL = 0.004  # seconds between slot attempts on shared backends (first wait)
_POLL_MAX = 0.025  # ... growing to this while a slot stays taken
_TOKEN_BATCH = 8  # most tokens a process takes from a shared bucket at once (see SqliteBackend)


class PacingBackend(Protocol):
    def acquire(self, key: str, limit: int, lease: float) -> str: ...
    def release(self, key: str, token: str) -> None: ...
    def take_token(self, key: str, rate: float, capacity: float) -> float: ...
    def in_flight(self, key: str) -> int: ...
    def get(self, key: str) -> str | None: ...
    def set(self, key: str, value: str, ttl: float) -> None: ...
    def try_lock(self, key: str, ttl: float) -> bool: ...
    def close(self) -> None: ...


class AsyncPacingBackend(Protocol):
    async def acquire(self, key: str, limit: int, lease: float) -> str: ...
    async def release(self, key: str, token: str) -> None: ...
    async def take_token(self, key: str, rate: float, capacity: float) -> float: ...
    async def in_flight(self, key: str) -> int: ...
    async def get(self, key: str) -> str | None: ...
    async def set(self, key: str, value: str, ttl: float) -> None: ...
    async def try_lock(self, key: str, ttl: float) -> bool: ...
    async def close(self) -> None: ...


# --- local ----------------------------------------------------------------------------------------


class LocalBackend:
    """In-process state (threads and coroutines of one process). Waiting threads block on a
    condition; waiting coroutines on a future woken by the release, so a freed slot is reused at
    once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._slots: dict[str, int] = {}
        self._buckets: dict[str, TokenBucket] = {}
        self._values: dict[str, tuple[str, float]] = {}
        self._waiters: dict[str, list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]]] = {}

    # sync ---------------------------------------------------------------------------------------

    def _try(self, key: str, limit: int) -> bool:
        n = self._slots.get(key, 0)
        if n >= limit:
            return False
        self._slots[key] = n + 1
        return True

    def acquire(self, key: str, limit: int, lease: float) -> str:
        with self._cond:
            while not self._try(key, limit):
                self._cond.wait(1.0)
        return key

    def release(self, key: str, token: str) -> None:
        with self._cond:
            n = self._slots.get(key, 0) - 1
            if n <= 0:
                self._slots.pop(key, None)
            else:
                self._slots[key] = n
            self._cond.notify()
            waiter = self._next_waiter(key)
        if waiter is not None:
            loop, fut = waiter
            try:
                current: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
            except RuntimeError:
                current = None
            if loop is current:
                _wake(fut)  # same loop: no self-pipe round trip
            else:
                with contextlib.suppress(RuntimeError):  # loop closed
                    loop.call_soon_threadsafe(_wake, fut)

    def _next_waiter(
        self, key: str
    ) -> tuple[asyncio.AbstractEventLoop, asyncio.Future[None]] | None:
        """The oldest coroutine still waiting for a slot of ``key`` (FIFO, one per release)."""
        queue = self._waiters.get(key)
        while queue:
            loop, fut = queue.pop(0)
            if not fut.done():
                return loop, fut
        self._waiters.pop(key, None)
        return None

    def take_token(self, key: str, rate: float, capacity: float) -> float:
        now = time.monotonic()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = TokenBucket(rate, capacity, now)
            return bucket.take(now, rate, capacity)

    def in_flight(self, key: str) -> int:
        with self._lock:
            return self._slots.get(key, 0)

    def get(self, key: str) -> str | None:
        with self._lock:
            found = self._values.get(key)
            if found is None or found[1] < time.monotonic():
                return None
            return found[0]

    def set(self, key: str, value: str, ttl: float) -> None:
        with self._lock:
            self._values[key] = (value, time.monotonic() + ttl)

    def try_lock(self, key: str, ttl: float) -> bool:
        with self._lock:
            found = self._values.get(key)
            if found is not None and found[1] >= time.monotonic():
                return False
            self._values[key] = ("1", time.monotonic() + ttl)
            return True

    def close(self) -> None:
        return None

    # async --------------------------------------------------------------------------------------

    async def aacquire(self, key: str, limit: int, lease: float) -> str:
        loop = asyncio.get_running_loop()
        while True:
            with self._lock:
                if self._try(key, limit):
                    return key
                fut: asyncio.Future[None] = loop.create_future()
                self._waiters.setdefault(key, []).append((loop, fut))
            try:
                await asyncio.wait_for(fut, 1.0)
            except asyncio.TimeoutError:
                pass
            except asyncio.CancelledError:
                if fut.done() and not fut.cancelled():  # woken, then cancelled: pass it on
                    with self._lock:
                        waiter = self._next_waiter(key)
                    if waiter is not None:
                        _wake(waiter[1])
                raise


def _wake(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


class LocalAsyncBackend:
    """The async face of a :class:`LocalBackend` (same state)."""

    def __init__(self, local: LocalBackend) -> None:
        self.local = local

    async def acquire(self, key: str, limit: int, lease: float) -> str:
        return await self.local.aacquire(key, limit, lease)

    async def release(self, key: str, token: str) -> None:
        self.local.release(key, token)

    async def take_token(self, key: str, rate: float, capacity: float) -> float:
        return self.local.take_token(key, rate, capacity)

    async def in_flight(self, key: str) -> int:
        return self.local.in_flight(key)

    async def get(self, key: str) -> str | None:
        return self.local.get(key)

    async def set(self, key: str, value: str, ttl: float) -> None:
        self.local.set(key, value, ttl)

    async def try_lock(self, key: str, ttl: float) -> bool:
        return self.local.try_lock(key, ttl)

    async def close(self) -> None:
        return None


# --- sqlite ---------------------------------------------------------------------------------------

# ``slots`` is used where there is no ``fcntl`` (Windows); elsewhere slots are lock files.
_SCHEMA = """
CREATE TABLE IF NOT EXISTS slots (key TEXT NOT NULL, token TEXT NOT NULL, expires REAL NOT NULL,
                                  PRIMARY KEY (key, token));
CREATE TABLE IF NOT EXISTS buckets (key TEXT PRIMARY KEY, tokens REAL NOT NULL, updated REAL NOT NULL);
CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL, expires REAL NOT NULL);
"""


class _FileSlots:
    """In-flight slots as lock files: slot ``i`` of a key is held while a process keeps an
    exclusive ``flock`` on ``<folder>/<hash(key)>-<i>``. The kernel drops the lock when the holder
    closes it or dies (``kill -9`` included), so no lease is waited out and no process is looked
    up; taking and giving back a slot costs a few system calls, not a database transaction."""

    def __init__(self, folder: Path) -> None:
        self.folder = private_dir(folder)
        self._held: dict[str, int] = {}
        self._paths: dict[tuple[str, int], str] = {}
        self._lock = threading.Lock()
        self._ids = itertools.count()

    def _file(self, key: str, i: int) -> str:
        found = self._paths.get((key, i))
        if found is None:
            digest = hashlib.sha256(key.encode()).hexdigest()[:20]
            found = self._paths[(key, i)] = str(self.folder / f"{digest}-{i}")
        return found

    def _try(self, key: str, i: int) -> int | None:
        fd = os.open(self._file(key, i), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        except BaseException:
            os.close(fd)
            raise
        return fd

    def try_acquire(self, key: str, limit: int) -> str | None:
        start = random.randrange(limit)
        for n in range(limit):
            i = (start + n) % limit
            fd = self._try(key, i)
            if fd is not None:
                token = f"{i}.{fd}.{next(self._ids)}"
                with self._lock:
                    self._held[token] = fd
                return token
        return None

    def release(self, token: str) -> None:
        with self._lock:
            fd = self._held.pop(token, None)
        if fd is not None:
            os.close(fd)  # closing drops the lock

    def in_flight(self, key: str, limit: int) -> int:
        busy = 0
        for i in range(limit):
            fd = self._try(key, i)
            if fd is None:
                busy += 1
            else:
                os.close(fd)
        return busy


class SqliteBackend:
    """State in one SQLite file shared by the processes of one machine (WAL mode, short
    ``BEGIN IMMEDIATE`` transactions). Uses wall-clock time, which the processes share.

    The file holds only short-lived state (leases, a token bucket, the last threshold reading), so
    it is written without syncing to disk (``synchronous=OFF``: a process crash loses nothing, an
    OS crash may lose the last moments, and a file that no longer opens is started afresh). To keep
    a request's cost down, a process takes up to half a second's worth of tokens at once (at most
    :data:`_TOKEN_BATCH`, used within that half second or given up): at Autotask's real rates (a
    few requests a second) that is one token at a time."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._local = threading.local()
        self._reserve: dict[str, tuple[int, float]] = {}  # bucket key -> (tokens, taken at)
        self._reserve_lock = threading.Lock()
        self._limits: dict[str, int] = {}  # slot key -> the limit it was last acquired with
        _private_file(Path(path))
        self._files = _FileSlots(Path(path + ".slots")) if fcntl is not None else None
        try:
            with self._conn() as conn:
                conn.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:  # not a database any more (e.g. after an OS crash)
            logger.warning(
                "request limiter file %s is unreadable (%s); starting it afresh", path, exc
            )
            self.close()
            for suffix in ("", "-wal", "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path + suffix)
            _private_file(Path(path))
            with self._conn() as conn:
                conn.executescript(_SCHEMA)

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=OFF")
            self._local.conn = conn
        return conn

    def _tx(self, fn: Any) -> Any:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = fn(conn)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return result

    def try_acquire(self, key: str, limit: int, lease: float) -> str | None:
        if self._files is not None:
            self._limits[key] = limit
            return self._files.try_acquire(key, limit)
        token = uuid.uuid4().hex

        def run(conn: sqlite3.Connection) -> str | None:
            now = time.time()
            conn.execute("DELETE FROM slots WHERE key = ? AND expires < ?", (key, now))
            (n,) = conn.execute("SELECT COUNT(*) FROM slots WHERE key = ?", (key,)).fetchone()
            if n >= limit:
                return None
            conn.execute("INSERT INTO slots VALUES (?, ?, ?)", (key, token, now + lease))
            return token

        result: str | None = self._tx(run)
        return result

    def acquire(self, key: str, limit: int, lease: float) -> str:
        poll = _POLL
        while True:
            token = self.try_acquire(key, limit, lease)
            if token is not None:
                return token
            time.sleep(poll)
            poll = min(poll * 1.5, _POLL_MAX)

    def release(self, key: str, token: str) -> None:
        if self._files is not None:
            self._files.release(token)
            return
        self._conn().execute("DELETE FROM slots WHERE key = ? AND token = ?", (key, token))

    def take_token(self, key: str, rate: float, capacity: float) -> float:
        now = time.time()
        with self._reserve_lock:
            held, taken_at = self._reserve.get(key, (0, 0.0))
            if held > 0 and now - taken_at < 0.5:
                self._reserve[key] = (held - 1, taken_at)
                return 0.0
        batch = max(1, min(_TOKEN_BATCH, int(rate * 0.5)))

        def run(conn: sqlite3.Connection) -> tuple[float, int]:
            now = time.time()
            row = conn.execute(
                "SELECT tokens, updated FROM buckets WHERE key = ?", (key,)
            ).fetchone()
            bucket = TokenBucket(rate, capacity, now)
            if row is not None:
                bucket.tokens, bucket.updated = float(row[0]), float(row[1])
            wait = bucket.take(now, rate, capacity)
            extra = 0
            if wait <= 0 and batch > 1:
                extra = max(0, min(batch - 1, int(bucket.tokens) - 1))  # leave one for others
                bucket.tokens -= extra
            conn.execute(
                "INSERT OR REPLACE INTO buckets VALUES (?, ?, ?)", (key, bucket.tokens, now)
            )
            return wait, extra

        result: tuple[float, int] = self._tx(run)
        wait, extra = result
        if extra:
            with self._reserve_lock:
                self._reserve[key] = (extra, now)
        return wait

    def in_flight(self, key: str) -> int:
        if self._files is not None:
            return self._files.in_flight(key, self._limits.get(key, 3))
        (n,) = (
            self._conn()
            .execute(
                "SELECT COUNT(*) FROM slots WHERE key = ? AND expires >= ?", (key, time.time())
            )
            .fetchone()
        )
        return int(n)

    def get(self, key: str) -> str | None:
        row = (
            self._conn()
            .execute("SELECT value FROM kv WHERE key = ? AND expires >= ?", (key, time.time()))
            .fetchone()
        )
        return None if row is None else str(row[0])

    def set(self, key: str, value: str, ttl: float) -> None:
        self._conn().execute(
            "INSERT OR REPLACE INTO kv VALUES (?, ?, ?)", (key, value, time.time() + ttl)
        )

    def try_lock(self, key: str, ttl: float) -> bool:
        def run(conn: sqlite3.Connection) -> bool:
            now = time.time()
            row = conn.execute(
                "SELECT expires FROM kv WHERE key = ? AND expires >= ?", (key, now)
            ).fetchone()
            if row is not None:
                return False
            conn.execute("INSERT OR REPLACE INTO kv VALUES (?, '1', ?)", (key, now + ttl))
            return True

        result: bool = self._tx(run)
        return result

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


class SqliteAsyncBackend:
    """The async face of a :class:`SqliteBackend`. Its calls are short local transactions (tens of
    microseconds), cheaper than a hop to a worker thread, so they run on the event loop; only the
    wait for a slot held elsewhere sleeps asynchronously."""

    def __init__(self, sync: SqliteBackend) -> None:
        self.sync = sync

    async def acquire(self, key: str, limit: int, lease: float) -> str:
        poll = _POLL
        while True:
            token = self.sync.try_acquire(key, limit, lease)
            if token is not None:
                return token
            await asyncio.sleep(poll)
            poll = min(poll * 1.5, _POLL_MAX)

    async def release(self, key: str, token: str) -> None:
        self.sync.release(key, token)

    async def take_token(self, key: str, rate: float, capacity: float) -> float:
        return self.sync.take_token(key, rate, capacity)

    async def in_flight(self, key: str) -> int:
        return self.sync.in_flight(key)

    async def get(self, key: str) -> str | None:
        return self.sync.get(key)

    async def set(self, key: str, value: str, ttl: float) -> None:
        self.sync.set(key, value, ttl)

    async def try_lock(self, key: str, ttl: float) -> bool:
        return self.sync.try_lock(key, ttl)

    async def close(self) -> None:
        self.sync.close()


# --- redis ----------------------------------------------------------------------------------------

# Slots: a sorted set of tokens scored by lease expiry (server time).
_ACQUIRE_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
redis.call('PEXPIRE', KEYS[1], math.ceil(tonumber(ARGV[2]) * 1000))
return 1
"""

_INFLIGHT_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
return redis.call('ZCOUNT', KEYS[1], now, '+inf')
"""

# Token bucket: a hash {tokens, updated}; returns the wait in milliseconds (0: a token was taken).
_BUCKET_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'updated')
local tokens = tonumber(state[1])
local updated = tonumber(state[2])
if tokens == nil then tokens = capacity; updated = now end
tokens = math.min(capacity, tokens + math.max(0, now - updated) * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = math.ceil((1 - tokens) / rate * 1000) end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'updated', tostring(now))
redis.call('EXPIRE', KEYS[1], 86400)
return wait
"""


def _redis_module() -> Any:
    try:
        import redis
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise AutotaskConfigError(
            "the Redis pacing backend needs the redis package: pip install 'py-autotask[redis]'"
        ) from exc
    return redis


class RedisBackend:
    """State in Redis, shared by any number of processes; times come from the Redis server."""

    def __init__(self, url: str) -> None:
        redis = _redis_module()
        self.client = redis.Redis.from_url(url)
        self._acquire = self.client.register_script(_ACQUIRE_LUA)
        self._inflight = self.client.register_script(_INFLIGHT_LUA)
        self._bucket = self.client.register_script(_BUCKET_LUA)

    def acquire(self, key: str, limit: int, lease: float) -> str:
        token = uuid.uuid4().hex
        while not self._acquire(keys=[key], args=[limit, lease, token]):
            time.sleep(_POLL)
        return token

    def release(self, key: str, token: str) -> None:
        self.client.zrem(key, token)

    def take_token(self, key: str, rate: float, capacity: float) -> float:
        return float(self._bucket(keys=[key], args=[repr(rate), repr(capacity)])) / 1000.0

    def in_flight(self, key: str) -> int:
        return int(self._inflight(keys=[key]))

    def get(self, key: str) -> str | None:
        value = self.client.get(key)
        return None if value is None else _text(value)

    def set(self, key: str, value: str, ttl: float) -> None:
        self.client.set(key, value, px=max(1, int(ttl * 1000)))

    def try_lock(self, key: str, ttl: float) -> bool:
        return bool(self.client.set(key, "1", nx=True, px=max(1, int(ttl * 1000))))

    def close(self) -> None:
        self.client.close()


class RedisAsyncBackend:
    """Async twin of :class:`RedisBackend` (``redis.asyncio``)."""

    def __init__(self, url: str) -> None:
        redis = _redis_module()
        import redis.asyncio as aredis

        del redis
        self.client = aredis.Redis.from_url(url)
        self._acquire = self.client.register_script(_ACQUIRE_LUA)
        self._inflight = self.client.register_script(_INFLIGHT_LUA)
        self._bucket = self.client.register_script(_BUCKET_LUA)

    async def acquire(self, key: str, limit: int, lease: float) -> str:
        token = uuid.uuid4().hex
        while not await self._acquire(keys=[key], args=[limit, lease, token]):
            await asyncio.sleep(_POLL)
        return token

    async def release(self, key: str, token: str) -> None:
        await self.client.zrem(key, token)

    async def take_token(self, key: str, rate: float, capacity: float) -> float:
        return float(await self._bucket(keys=[key], args=[repr(rate), repr(capacity)])) / 1000.0

    async def in_flight(self, key: str) -> int:
        return int(await self._inflight(keys=[key]))

    async def get(self, key: str) -> str | None:
        value = await self.client.get(key)
        return None if value is None else _text(value)

    async def set(self, key: str, value: str, ttl: float) -> None:
        await self.client.set(key, value, px=max(1, int(ttl * 1000)))

    async def try_lock(self, key: str, ttl: float) -> bool:
        return bool(await self.client.set(key, "1", nx=True, px=max(1, int(ttl * 1000))))

    async def close(self) -> None:
        await self.client.aclose()


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


# --- factories ------------------------------------------------------------------------------------


def _private_file(path: Path) -> None:
    """``path`` 0600 in its folder, made 0700 (the one rule of ``_files``)."""
    private_dir(path.parent)
    private_file(path)


def default_limiter_path() -> Path:
    """The machine-wide limiter file: ``$XDG_CACHE_HOME/py-autotask/limiter.sqlite3``."""
    return user_cache_dir() / "limiter.sqlite3"


def resolve_backend_url(url: str) -> str:
    """The backend a ``PacingConfig.backend`` value means: ``"auto"`` is ``$AUTOTASK_LIMITER_URL``
    when set, else the machine-wide SQLite file (:func:`default_limiter_path`); when that file
    cannot be created (a read-only home) the limits are kept in this process, with a warning."""
    if url != "auto":
        return url
    env = os.environ.get(LIMITER_ENV, "").strip()
    if env:
        return check_backend_url(env, source=LIMITER_ENV)
    path = default_limiter_path()
    try:
        _private_file(path)
    except OSError as exc:
        logger.warning(
            "cannot create the shared request limiter %s (%s); limits are kept per process. "
            "Set %s=sqlite:///a/writable/file or redis://... to share them",
            path,
            exc.strerror or type(exc).__name__,
            LIMITER_ENV,
        )
        return "local"
    return f"sqlite:///{path}"


def _sqlite_path(url: str) -> str:
    return url[len("sqlite:///") :]


def make_sync_backend(url: str) -> PacingBackend:
    url = resolve_backend_url(url)
    if url == "local":
        return LocalBackend()
    if url.startswith("sqlite:///"):
        return SqliteBackend(_sqlite_path(url))
    return RedisBackend(url)


def make_async_backend(url: str) -> AsyncPacingBackend:
    url = resolve_backend_url(url)
    if url == "local":
        return LocalAsyncBackend(LocalBackend())
    if url.startswith("sqlite:///"):
        return SqliteAsyncBackend(SqliteBackend(_sqlite_path(url)))
    return RedisAsyncBackend(url)
