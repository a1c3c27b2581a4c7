"""Cache storage backends: in-process LRU, ``diskcache`` and Redis.

Backends store opaque bytes under string keys with a lifetime, plus generation tokens (used for
invalidation: a write gives a generation a fresh, never-repeated token). They never interpret what they store and never
unpickle anything: a shared Redis or cache folder cannot make this process run code.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, Protocol

from ..exceptions import AutotaskConfigError
from ._config import CacheConfig

__all__ = [
    "CacheBackend",
    "DiskBackend",
    "MemoryBackend",
    "RedisBackend",
    "make_backend",
    "new_token",
]


class CacheBackend(Protocol):
    """What :class:`~py_autotask.caching.ResponseCache` needs from a store."""

    def get(self, key: str) -> bytes | None: ...

    def set(self, key: str, value: bytes, ttl: float) -> None: ...

    def delete(self, key: str) -> None: ...

    def generations(self, keys: Sequence[str]) -> list[str]:
        """Current generation tokens (``"0"`` when unset or expired), in one round trip."""
        ...

    def bump(self, key: str, ttl: float) -> str:
        """Give a generation a new token that was never used before, kept ``ttl`` seconds."""
        ...

    def clear(self, prefix: str) -> int:
        """Delete every entry and generation whose key starts with ``prefix``; returns how many."""
        ...

    def close(self) -> None: ...


def new_token() -> str:
    """A generation token that never repeats (time plus randomness)."""
    return f"{time.time_ns():x}{secrets.token_hex(3)}"


class MemoryBackend:
    """Thread-safe LRU with per-entry expiry, local to this process."""

    def __init__(self, max_entries: int = 10_000) -> None:
        self.max_entries = max_entries
        self._data: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._generations: dict[str, tuple[str, float]] = {}
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

    def generations(self, keys: Sequence[str]) -> list[str]:
        now = time.monotonic()
        with self._lock:
            out = []
            for key in keys:
                token, expires = self._generations.get(key, ("0", 0.0))
                out.append(token if expires > now else "0")
            return out

    def bump(self, key: str, ttl: float) -> str:
        now = time.monotonic()
        token = new_token()
        with self._lock:
            self._generations[key] = (token, now + ttl)
            if len(self._generations) > 4 * self.max_entries:  # drop expired generations
                for k in [k for k, (_, e) in self._generations.items() if e <= now]:
                    del self._generations[k]
        return token

    def clear(self, prefix: str) -> int:
        with self._lock:
            doomed = [k for k in self._data if k.startswith(prefix)]
            for k in doomed:
                del self._data[k]
            generations = [k for k in self._generations if k.startswith(prefix)]
            for k in generations:
                del self._generations[k]
            return len(doomed) + len(generations)

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

    def generations(self, keys: Sequence[str]) -> list[str]:
        out = []
        for key in keys:
            value = self._cache.get(key)
            out.append(value if isinstance(value, str) else "0")
        return out

    def bump(self, key: str, ttl: float) -> str:
        token = new_token()
        self._cache.set(key, token, expire=ttl)
        return token

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

    def generations(self, keys: Sequence[str]) -> list[str]:
        if not keys:
            return []
        values = self._redis.mget(list(keys))
        return [v.decode() if isinstance(v, bytes) else "0" for v in values]

    def bump(self, key: str, ttl: float) -> str:
        token = new_token()
        self._redis.set(key, token.encode(), px=max(1, int(ttl * 1000)))
        return token

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
