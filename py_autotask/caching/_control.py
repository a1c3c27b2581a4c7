"""``client.cache``: statistics, clearing, invalidation and warming of the response cache."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..exceptions import AutotaskConfigError
from ._cache import CacheStats, Invalidation, ResponseCache
from ._config import CacheConfig
from ._metadata import collection_name

if TYPE_CHECKING:
    from .._features import Features
    from .._sender import Flow

__all__ = ["AsyncCacheControl", "CacheControl", "WarmReport"]


@dataclass(frozen=True, slots=True)
class WarmReport:
    """What :meth:`CacheControl.warm` loaded: records per collection, and how long it took."""

    records: Mapping[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return sum(self.records.values())


def _names(entities: str | Iterable[str]) -> list[str]:
    items = [entities] if isinstance(entities, str) else list(entities)
    return [collection_name(e) for e in items]


class _ControlBase:
    _features: Features

    @property
    def _cache(self) -> ResponseCache:
        cache: ResponseCache | None = self._features.cache
        if cache is None:
            raise AutotaskConfigError(
                "caching is off for this client; pass cache_config=CacheConfig(...) to enable it"
            )
        return cache

    @property
    def enabled(self) -> bool:
        return self._features.cache is not None

    @property
    def config(self) -> CacheConfig:
        return self._cache.config

    def stats(self) -> CacheStats:
        """Hit/miss counters of this client (see :class:`CacheStats`)."""
        return self._cache.stats()

    def reset_stats(self) -> None:
        self._cache.reset_stats()

    def ping(self) -> float:
        """One round trip to the cache backend (write a probe key, read it back, delete it), for
        health checks; returns the seconds it took. Raises the backend's error (Redis down, a
        read-only disk folder) or :class:`OSError` when the value read back differs."""
        cache = self._cache
        token = uuid.uuid4().hex
        key = f"{cache.config.key_prefix}:health:{token}"
        started = time.perf_counter()
        cache.backend.set(key, token.encode(), 30.0)
        try:
            got = cache.backend.get(key)
        finally:
            cache.backend.delete(key)
        if got != token.encode():
            raise OSError(f"the {cache.config.backend} cache did not return the value written")
        return time.perf_counter() - started

    def clear(self) -> int:
        """Remove every cached response and tenant metadata under the key prefix (every client
        sharing the backend is affected); returns how many entries were removed."""
        removed = self._cache.clear()
        self._features.metadata.refresh()
        return removed

    def invalidate(self, entities: str | Iterable[str] | None = None) -> None:
        """Drop cached responses of ``entities`` (any spelling), or of everything when None."""
        base = self._features.core.base_url
        if base is None:
            return
        if entities is None:
            self._cache.invalidate(base, Invalidation(everything=True))
        else:
            self._cache.invalidate(base, Invalidation(entities=tuple(_names(entities))))

    def invalidate_records(self, entity: str, ids: Iterable[int]) -> None:
        """Drop the cached responses a change to records ``ids`` of ``entity`` makes stale (what
        a write through this client drops): their get-by-id entries and the entity's queries and
        counts. For changes made elsewhere, e.g. announced by a webhook event."""
        base = self._features.core.base_url
        if base is None:
            return
        (name,) = _names(entity)
        records = tuple((name, int(i)) for i in ids)
        self._cache.invalidate(base, Invalidation(collections=(name,), records=records))


class CacheControl(_ControlBase):
    """``client.cache`` of :class:`~py_autotask.AutotaskClient`."""

    def __init__(self, features: Features, run: Callable[[Flow[int]], int]) -> None:
        self._features = features
        self._run = run

    def warm(
        self, entities: str | Iterable[str], *, background: bool = False
    ) -> WarmReport | Future[WarmReport]:
        """Load every record of ``entities`` (``["companies", "resources"]``) into the cache:
        their query pages and, where the entity supports get-by-id, each record by id.

        With ``background=True`` the work runs on a daemon thread and a
        :class:`concurrent.futures.Future` of the :class:`WarmReport` is returned at once.
        """
        names = _names(entities)
        self._cache  # noqa: B018 - raises when caching is off

        def run() -> WarmReport:
            start = time.perf_counter()
            records = {name: self._run(self._features.warm(name)) for name in names}
            return WarmReport(records, time.perf_counter() - start)

        if not background:
            return run()
        future: Future[WarmReport] = Future()

        def target() -> None:
            if not future.set_running_or_notify_cancel():
                return
            try:
                future.set_result(run())
            except BaseException as exc:  # delivered through the future
                future.set_exception(exc)

        threading.Thread(target=target, name="py-autotask-cache-warm", daemon=True).start()
        return future

    def __repr__(self) -> str:
        return f"<CacheControl {self.config.backend if self.enabled else 'off'}>"


class AsyncCacheControl(_ControlBase):
    """``client.cache`` of :class:`~py_autotask.AsyncAutotaskClient`."""

    def __init__(self, features: Features, run: Callable[[Flow[int]], Awaitable[int]]) -> None:
        self._features = features
        self._run = run

    async def warm(
        self, entities: str | Iterable[str], *, background: bool = False
    ) -> WarmReport | asyncio.Task[WarmReport]:
        """Async twin of :meth:`CacheControl.warm`; ``background=True`` returns an
        :class:`asyncio.Task` at once."""
        names = _names(entities)
        self._cache  # noqa: B018 - raises when caching is off

        async def run() -> WarmReport:
            start = time.perf_counter()
            records = {}
            for name in names:
                records[name] = await self._run(self._features.warm(name))
            return WarmReport(records, time.perf_counter() - start)

        if background:
            return asyncio.create_task(run())
        return await run()

    def __repr__(self) -> str:
        return f"<AsyncCacheControl {self.config.backend if self.enabled else 'off'}>"
