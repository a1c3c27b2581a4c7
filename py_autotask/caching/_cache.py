"""The response cache: keys, lookups, stores, invalidation and statistics (no HTTP of its own).

A cached response is keyed by the *full* request: method, absolute URL (which carries the zone and
any ``?search=``), body bytes and a SHA-256 digest of the credentials and impersonation header, so
two API users never see each other's entries and no credential is stored in clear. Invalidation is
by generation: every key embeds the current generation tokens of its entity (or, for a get-by-id,
of its record) and a global one for the zone; a write gives the generation a fresh token and every
older entry becomes unreachable at once,
in every process that shares the backend.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import urlsplit

from .._core import ApiRequest, ApiResponse, PreparedRequest
from ._backends import CacheBackend, make_backend
from ._config import CacheConfig

__all__ = [
    "CACHEABLE_OPERATIONS",
    "CacheStats",
    "EntityStats",
    "Invalidation",
    "ResponseCache",
    "identity_digest",
]

logger = logging.getLogger("py_autotask.cache")

#: Reads whose successful responses are cached: get-by-id, one query page, counts, the pages after
#: it and child-collection lists.
CACHEABLE_OPERATIONS: Final = frozenset({"get", "query", "count", "next", "list"})

#: Header added to responses served from the cache.
CACHE_HEADER: Final = "X-Py-Autotask-Cache"


def identity_digest(auth_headers: Mapping[str, str]) -> str:
    """A one-way digest of the credential and impersonation headers (never the values)."""
    canonical = "\n".join(f"{k.lower()}={v}" for k, v in sorted(auth_headers.items()))
    return hashlib.sha256(b"py-autotask-cache-identity\n" + canonical.encode()).hexdigest()[:32]


def _zone(url: str) -> str:
    netloc = urlsplit(url).netloc.lower()
    return hashlib.sha256(netloc.encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Invalidation:
    """What a write makes stale: the query/count/list results of ``collections``, the
    get-by-id entries of ``records``, everything of ``entities``, or everything at all."""

    collections: tuple[str, ...] = ()
    records: tuple[tuple[str, int], ...] = ()
    entities: tuple[str, ...] = ()
    everything: bool = False


@dataclass(frozen=True, slots=True)
class EntityStats:
    """Hits and misses of one entity."""

    hits: int = 0
    misses: int = 0

    @property
    def hit_rate(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0


@dataclass(frozen=True, slots=True)
class CacheStats:
    """A snapshot of this client's cache counters (``client.cache.stats()``).

    ``saved_seconds`` adds up, for every hit, how long the original request took: the time the
    cache saved. ``errors`` counts backend failures (the request then went to Autotask).
    """

    backend: str
    hits: int
    misses: int
    stores: int
    invalidations: int
    errors: int
    saved_seconds: float
    entities: Mapping[str, EntityStats] = field(default_factory=dict)

    @property
    def requests(self) -> int:
        return self.hits + self.misses

    @property
    def hit_rate(self) -> float:
        """Hits divided by cacheable reads (0.0 before the first read)."""
        return self.hits / self.requests if self.requests else 0.0

    def __str__(self) -> str:
        return (
            f"{self.backend} cache: {self.hits} hits / {self.misses} misses "
            f"({self.hit_rate:.0%}), {self.stores} stored, {self.invalidations} invalidations, "
            f"{self.saved_seconds:.3f}s saved"
            + (f", {self.errors} backend errors" if self.errors else "")
        )


def _encode(response: ApiResponse, elapsed: float) -> bytes:
    content_type = ""
    for key, value in response.headers.items():
        if key.lower() == "content-type":
            content_type = value
            break
    head = json.dumps({"s": response.status_code, "ct": content_type, "e": round(elapsed, 6)})
    return head.encode() + b"\n" + response.content


def _decode(raw: bytes) -> tuple[int, str, float, bytes] | None:
    head, sep, content = raw.partition(b"\n")
    if not sep:
        return None
    try:
        meta = json.loads(head)
        return int(meta["s"]), str(meta.get("ct") or ""), float(meta.get("e") or 0.0), content
    except (ValueError, KeyError, TypeError):
        return None


class ResponseCache:
    """Stores and serves successful read responses; one per client."""

    def __init__(self, config: CacheConfig, backend: CacheBackend | None = None) -> None:
        self.config = config
        self.backend: CacheBackend = backend if backend is not None else make_backend(config)
        self._prefix = f"{config.key_prefix}:"
        # A generation outlives every entry stored under it: when it expires and reads "0"
        # again, every entry stored under "0" before its last bump has expired too. Other
        # tokens are never reused.
        self._generation_ttl = max([config.default_ttl, *config.cache_patterns.values()]) + 60.0
        self._lock = threading.Lock()
        self._hits = 0
        self._misses = 0
        self._stores = 0
        self._invalidations = 0
        self._errors = 0
        self._saved = 0.0
        self._per_entity: dict[str, list[int]] = {}

    # keys

    @staticmethod
    def is_cacheable(request: ApiRequest) -> bool:
        return (
            request.operation in CACHEABLE_OPERATIONS
            and request.entity is not None
            and request.method in ("GET", "POST")
        )

    def _gen(self, zone: str, suffix: str) -> str:
        return f"{self._prefix}gen:{zone}:{suffix}"

    def key(
        self,
        request: ApiRequest,
        prepared: PreparedRequest,
        identity: str,
        record_id: int | None = None,
    ) -> str | None:
        """The storage key of a cacheable request at the current generations; None on a backend
        failure (the request is then simply not cached). ``record_id`` marks a get-by-id, which
        only its own record's writes (or a whole-entity invalidation) make stale; every other
        read goes stale with any write to its entity."""
        entity = request.entity or "-"
        zone = _zone(prepared.url)
        scope = f"{entity}:id:{record_id}" if record_id is not None else f"{entity}:q"
        names = [self._gen(zone, "*"), self._gen(zone, f"{entity}:all"), self._gen(zone, scope)]
        try:
            generations = self.backend.generations(names)
        except Exception as exc:  # a broken cache must never break the client
            self._backend_error("read generations", exc)
            return None
        digest = hashlib.sha256()
        digest.update(prepared.method.encode() + b"\n" + prepared.url.encode() + b"\n")
        digest.update(prepared.content or b"")
        gens = ".".join(generations)
        return f"{self._prefix}r:{identity}:{entity}:{gens}:{digest.hexdigest()[:40]}"

    # lookups and stores

    def lookup(self, key: str, entity: str | None, prepared: PreparedRequest) -> ApiResponse | None:
        try:
            raw = self.backend.get(key)
        except Exception as exc:
            self._backend_error("get", exc)
            raw = None
        decoded = _decode(raw) if raw is not None else None
        with self._lock:
            counts = self._per_entity.setdefault(entity or "-", [0, 0])
            if decoded is None:
                self._misses += 1
                counts[1] += 1
                return None
            self._hits += 1
            counts[0] += 1
            status, content_type, elapsed, content = decoded
            self._saved += elapsed
        headers = {CACHE_HEADER: "hit"}
        if content_type:
            headers["Content-Type"] = content_type
        return ApiResponse(status, headers, content, prepared)

    def store(self, key: str, entity: str | None, response: ApiResponse, elapsed: float) -> None:
        if response.status_code != 200:
            return
        ttl = self.config.ttl_for(entity)
        if ttl <= 0:
            return
        try:
            self.backend.set(key, _encode(response, elapsed), ttl)
        except Exception as exc:
            self._backend_error("set", exc)
            return
        with self._lock:
            self._stores += 1

    def store_body(self, key: str, entity: str | None, content: bytes) -> None:
        """Store a synthesized 200 JSON response (cache warming)."""
        ttl = self.config.ttl_for(entity)
        if ttl <= 0:
            return
        head = json.dumps({"s": 200, "ct": "application/json", "e": 0.0}).encode()
        try:
            self.backend.set(key, head + b"\n" + content, ttl)
        except Exception as exc:
            self._backend_error("set", exc)
            return
        with self._lock:
            self._stores += 1

    # invalidation

    def invalidate(self, url: str, what: Invalidation) -> None:
        """Make the cached responses ``what`` names (on the zone of ``url``) unreachable, for
        every process sharing the backend."""
        zone = _zone(url)
        names: list[str] = []
        if what.everything:
            names.append("*")
        names.extend(f"{e}:all" for e in what.entities)
        names.extend(f"{e}:q" for e in what.collections)
        names.extend(f"{e}:id:{i}" for e, i in what.records)
        failed = False
        for name in dict.fromkeys(names):
            try:
                self.backend.bump(self._gen(zone, name), self._generation_ttl)
            except Exception as exc:
                self._backend_error("invalidate", exc)
                failed = True
                break
        if names and not failed:
            with self._lock:
                self._invalidations += 1

    def clear(self) -> int:
        """Remove every cached response under the key prefix (all users and zones); returns how
        many. Generations stay, so an entry stored concurrently under an old generation can never
        become reachable again."""
        try:
            return self.backend.clear(f"{self._prefix}r:")
        except Exception as exc:
            self._backend_error("clear", exc)
            return 0

    # statistics

    def stats(self) -> CacheStats:
        with self._lock:
            return CacheStats(
                backend=self.config.backend,
                hits=self._hits,
                misses=self._misses,
                stores=self._stores,
                invalidations=self._invalidations,
                errors=self._errors,
                saved_seconds=self._saved,
                entities={k: EntityStats(v[0], v[1]) for k, v in sorted(self._per_entity.items())},
            )

    def reset_stats(self) -> None:
        with self._lock:
            self._hits = self._misses = self._stores = self._invalidations = self._errors = 0
            self._saved = 0.0
            self._per_entity.clear()

    def _backend_error(self, what: str, exc: Exception) -> None:
        with self._lock:
            self._errors += 1
        logger.warning(
            "cache %s failed (%s: %s); continuing without it", what, type(exc).__name__, exc
        )

    def close(self) -> None:
        with contextlib.suppress(Exception):  # closing is best effort
            self.backend.close()


def monotonic() -> float:
    return time.perf_counter()
