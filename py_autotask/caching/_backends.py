"""Cache storage backends: in-process LRU, ``diskcache`` and Redis.

Backends store opaque bytes under string keys with a lifetime, plus integer counters (the
per-entity generations used for invalidation). They never interpret what they store and never
unpickle anything: a shared Redis or cache folder cannot make this process run code.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, Protocol

from ..exceptions import AutotaskConfigError
from ._config import CacheConfig

__all__ = ["CacheBackend", "DiskBackend", "MemoryBackend", "RedisBackend", "make_backend"]


class CacheBackend(Protocol):
    """What :class:`~py_autotask.caching.ResponseCache` needs from a store."""

    def get(self, key: str) -> bytes | None: ...

    def set(self, key: str, value: bytes, ttl: float) -> None: ...

    def delete(self, key: str) -> None: ...

    def counters(self, keys: Sequence[str]) -> list[int]:
        """Current values of integer counters (0 when unset), in one round trip."""
        ...

    def incr(self, key: str, ttl: float) -> int:
        """Atomically add one to a counter (created at 0), keep it ``ttl`` more seconds, and
        return the new value."""
        ...

    def clear(self, prefix: str) -> int:
        """Delete every entry and counter whose key starts with ``prefix``; returns how many."""
        ...

    def close(self) -> None: ...


class MemoryBackend:
    """Thread-safe LRU with per-entry expiry, local to this process."""

    def __init__(self, max_entries: int = 10_000) -> None:
        self.max_entries = max_entries
        self._data: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._counters: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()
        self.evictions = 0

    def get(self, key: str) -> bytes | None:
        with self._lock:
            found = self._data.get(key)
            if found is None:
                return None
            expires, value = found
            if expires <= time.monotonic():
                del self._data[key]
                return None
            self._data.move_to_end(key)
            return value

    def set(self, key: str, value: bytes, ttl: float) -> None:
        if ttl <= 0:
            return
        with self._lock:
            self._data[key] = (time.monotonic() + ttl, value)
            self._data.move_to_end(key)
            while len(self._data) > self.max_entries:
                self._data.popitem(last=False)
                self.evictions += 1

    def delete(self, key: str) -> None:
        with self._lock:
            self._data.pop(key, None)

    def counters(self, keys: Sequence[str]) -> list[int]:
        now = time.monotonic()
        with self._lock:
            out = []
            for key in keys:
                value, expires = self._counters.get(key, (0, 0.0))
                out.append(value if expires > now else 0)
            return out

    def incr(self, key: str, ttl: float) -> int:
        now = time.monotonic()
        with self._lock:
            value, expires = self._counters.get(key, (0, 0.0))
            value = (value if expires > now else 0) + 1
            self._counters[key] = (value, now + ttl)
            if len(self._counters) > 4 * self.max_entries:  # drop expired counters
                for k in [k for k, (_, e) in self._counters.items() if e <= now]:
                    del self._counters[k]
            return value

    def clear(self, prefix: str) -> int:
        with self._lock:
            doomed = [k for k in self._data if k.startswith(prefix)]
            for k in doomed:
                del self._data[k]
            counters = [k for k in self._counters if k.startswith(prefix)]
            for k in counters:
                del self._counters[k]
            return len(doomed) + len(counters)

    def __len__(self) -> int:
        return len(self._data)

    def close(self) -> None:
        pass


class DiskBackend:
    """``diskcache.Cache`` in ``directory``; safe for several processes and threads."""

    def __init__(self, directory: str) -> None:
        try:
            import diskcache
        except ImportError as exc:  # pragma: no cover - exercised only without the package
            raise AutotaskConfigError(
                'CacheConfig(backend="disk") needs diskcache: pip install "py-autotask[cache]"'
            ) from exc
        self._cache: Any = diskcache.Cache(directory)

    def get(self, key: str) -> bytes | None:
        value = self._cache.get(key)
        return value if isinstance(value, bytes) else None

    def set(self, key: str, value: bytes, ttl: float) -> None:
        if ttl > 0:
            self._cache.set(key, value, expire=ttl)

    def delete(self, key: str) -> None:
        self._cache.delete(key)

    def counters(self, keys: Sequence[str]) -> list[int]:
        out = []
        for key in keys:
            value = self._cache.get(key, 0)
            out.append(value if isinstance(value, int) else 0)
        return out

    def incr(self, key: str, ttl: float) -> int:
        with self._cache.transact():
            value = int(self._cache.incr(key, 1, default=0))
            self._cache.touch(key, expire=ttl)
        return value

    def clear(self, prefix: str) -> int:
        removed = 0
        for key in list(self._cache.iterkeys()):
            if isinstance(key, str) and key.startswith(prefix) and self._cache.delete(key):
                removed += 1
        return removed

    def close(self) -> None:
        self._cache.close()


class RedisBackend:
    """A Redis server shared by every process pointed at it."""

    def __init__(self, url: str) -> None:
        try:
            import redis
        except ImportError as exc:  # pragma: no cover - exercised only without the package
            raise AutotaskConfigError(
                'CacheConfig(backend="redis") needs redis: pip install "py-autotask[redis]"'
            ) from exc
        self._redis: Any = redis.Redis.from_url(url)

    def get(self, key: str) -> bytes | None:
        value = self._redis.get(key)
        return value if isinstance(value, bytes) else None

    def set(self, key: str, value: bytes, ttl: float) -> None:
        if ttl > 0:
            self._redis.set(key, value, px=max(1, int(ttl * 1000)))

    def delete(self, key: str) -> None:
        self._redis.delete(key)

    def counters(self, keys: Sequence[str]) -> list[int]:
        if not keys:
            return []
        return [int(v) if v is not None else 0 for v in self._redis.mget(list(keys))]

    def incr(self, key: str, ttl: float) -> int:
        pipe = self._redis.pipeline()
        pipe.incr(key)
        pipe.pexpire(key, max(1, int(ttl * 1000)))
        value, _ = pipe.execute()
        return int(value)

    def clear(self, prefix: str) -> int:
        removed = 0
        batch: list[Any] = []
        for key in self._redis.scan_iter(match=_glob_escape(prefix) + "*", count=500):
            batch.append(key)
            if len(batch) >= 500:
                removed += int(self._redis.delete(*batch))
                batch = []
        if batch:
            removed += int(self._redis.delete(*batch))
        return removed

    def close(self) -> None:
        self._redis.close()


def _glob_escape(text: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


def make_backend(config: CacheConfig) -> CacheBackend:
    """The backend ``config`` names."""
    if config.backend == "memory":
        return MemoryBackend(config.max_entries)
    if config.backend == "disk":
        assert config.directory is not None
        return DiskBackend(config.directory)
    assert config.redis_url is not None
    return RedisBackend(config.redis_url)
