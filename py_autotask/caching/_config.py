"""``CacheConfig``: which backend, how long entries live, per-entity lifetimes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from ..exceptions import AutotaskConfigError

__all__ = ["BackendName", "CacheConfig"]

BackendName = Literal["memory", "disk", "redis"]


def _collection_name(name: str) -> str:
    """The collection name for a collection, attribute, singular or SOAP name (any case)."""
    from .._registry import spec_for

    try:
        return spec_for(name).name
    except AutotaskConfigError as exc:
        raise AutotaskConfigError(f"cache_patterns: {exc}") from None


@dataclass(frozen=True)
class CacheConfig:
    """How the client caches responses.

    Args:
        backend: ``"memory"`` (per process, LRU with TTL), ``"disk"`` (``diskcache``, shared by
            the processes using the same ``directory``) or ``"redis"`` (shared by every process
            that uses the same server; needs ``redis_url``).
        default_ttl: seconds a cached response lives unless ``cache_patterns`` says otherwise.
        cache_patterns: per-entity lifetimes in seconds, keyed by collection name
            (``"Companies"``), client attribute (``"companies"``) or any case of them. ``0``
            turns caching off for that entity.
        redis_url: ``redis://host:port/db`` for the redis backend.
        directory: folder of the disk backend (required for ``"disk"``).
        max_entries: the memory backend's LRU size (ignored by disk and redis, which are bounded
            by TTLs and their own eviction).
        metadata_ttl: seconds tenant metadata (picklists, UDF definitions, entity fields) is
            kept before it is fetched again.
        key_prefix: prefix of every key (lets several applications share one Redis).
    """

    backend: BackendName = "memory"
    default_ttl: float = 300.0
    cache_patterns: Mapping[str, float] = field(default_factory=dict)
    redis_url: str | None = None
    directory: str | None = None
    max_entries: int = 10_000
    metadata_ttl: float = 3600.0
    key_prefix: str = "pyautotask"
    _ttls: dict[str, float] = field(init=False, repr=False, compare=False, default_factory=dict)

    def __post_init__(self) -> None:
        if self.backend not in ("memory", "disk", "redis"):
            raise AutotaskConfigError(
                f"CacheConfig.backend must be 'memory', 'disk' or 'redis', not {self.backend!r}"
            )
        if self.backend == "redis" and not self.redis_url:
            raise AutotaskConfigError(
                "CacheConfig(backend='redis') needs redis_url='redis://host:6379/0'"
            )
        if self.backend == "disk" and not self.directory:
            raise AutotaskConfigError(
                "CacheConfig(backend='disk') needs directory='/path/to/cache-folder'"
            )
        for what, value in (("default_ttl", self.default_ttl), ("metadata_ttl", self.metadata_ttl)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise AutotaskConfigError(f"CacheConfig.{what} must be seconds >= 0, got {value!r}")
        if isinstance(self.max_entries, bool) or not isinstance(self.max_entries, int):
            raise AutotaskConfigError("CacheConfig.max_entries must be an integer")
        if self.max_entries < 1:
            raise AutotaskConfigError("CacheConfig.max_entries must be at least 1")
        for name, ttl in self.cache_patterns.items():
            if isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or ttl < 0:
                raise AutotaskConfigError(
                    f"cache_patterns[{name!r}] must be seconds >= 0, got {ttl!r}"
                )
            self._ttls[_collection_name(name)] = float(ttl)

    def ttl_for(self, entity: str | None) -> float:
        """Lifetime in seconds of a cached response of ``entity`` (a collection name)."""
        if entity is not None:
            ttl = self._ttls.get(entity)
            if ttl is not None:
                return ttl
        return float(self.default_ttl)
