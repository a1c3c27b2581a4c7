"""Response caching and tenant metadata for the Autotask clients.

>>> from py_autotask import AutotaskClient
>>> from py_autotask.caching import CacheConfig
>>> client = AutotaskClient(  # doctest: +SKIP
...     cache_config=CacheConfig(backend="redis", redis_url="redis://localhost:6379/0",
...                              cache_patterns={"companies": 1800, "tickets": 60}))
>>> client.cache.warm(["companies", "resources"], background=True)  # doctest: +SKIP
>>> client.cache.stats().hit_rate  # doctest: +SKIP

Reads (get-by-id, query pages, counts, next pages, child lists) are cached by the full request
(method, URL, body and a digest of the credentials/impersonation); every write made through the
client invalidates the written entity's entries (and the parent's, for child routes) in every
process sharing the backend. Tenant metadata (picklists, UDF definitions, entity fields) is read
lazily from the ``entityInformation`` endpoints and kept for ``metadata_ttl`` seconds.
"""

from __future__ import annotations

from ._backends import CacheBackend, DiskBackend, MemoryBackend, RedisBackend
from ._cache import CacheStats, EntityStats, ResponseCache
from ._config import CacheConfig
from ._control import AsyncCacheControl, CacheControl, WarmReport
from ._metadata import AsyncTenantMetadataProvider, TenantMetadataProvider

__all__ = [
    "AsyncCacheControl",
    "AsyncTenantMetadataProvider",
    "CacheBackend",
    "CacheConfig",
    "CacheControl",
    "CacheStats",
    "DiskBackend",
    "EntityStats",
    "MemoryBackend",
    "RedisBackend",
    "ResponseCache",
    "TenantMetadataProvider",
    "WarmReport",
]
