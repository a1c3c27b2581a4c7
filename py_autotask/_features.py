"""The ``_send`` layer of the clients: write validation/conversion, SOAP-era aliases, the response
cache with invalidation, and tenant metadata. Sync and async share everything but the awaiting.

Order inside ``_send``: (1) bodies of writes and query filters are rewritten (SOAP-era names,
conversions, labels; invalid data raises :class:`~py_autotask.exceptions.AutotaskInputError` and
nothing is sent); (2) cacheable reads are served from the cache or sent and stored; writes are sent
and then invalidate the written entity (and, for child routes, the parent collection).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Final

from . import _core
from ._model import AutotaskModel
from ._spec import EntitySpec
from .caching._cache import Invalidation, ResponseCache, identity_digest
from .caching._config import CacheConfig
from .caching._metadata import (
    DEFAULT_METADATA_TTL,
    AsyncTenantMetadataProvider,
    TenantMetadataProvider,
)
from .exceptions import AutotaskConfigError
from .query import build_query_body
from .validation._config import ValidationConfig
from .validation._convert import (
    filter_metadata_needs,
    metadata_needs,
    prepare_write,
    rewrite_query,
)

if TYPE_CHECKING:
    from ._client import AsyncAutotaskClient, AutotaskClient

__all__ = ["AsyncFeatures", "SyncFeatures"]

_WRITE_OPS: Final = frozenset({"create", "update", "replace"})
_QUERY_OPS: Final = frozenset({"query", "count", "next"})
_READ_OPS: Final = frozenset({"get", "query", "count", "next", "list", "metadata"})
_CHILD_PATH_RE: Final = re.compile(r"^/?([A-Za-z0-9]+)/(\d+)/([A-Za-z0-9]+)")
_BASE_RE: Final = re.compile(r"^https?://[^/]+/ATServicesRest/V[0-9.]+/", re.IGNORECASE)
_ID_TAIL_RE: Final = re.compile(r"/(\d+)/?$")
_QUERY_PATH_RE: Final = re.compile(r"/query(/count)?/?$", re.IGNORECASE)


def _spec(entity: str | None) -> EntitySpec | None:
    if not entity:
        return None
    try:
        from py_autotask_generated.entities import resolve_name, spec
    except ImportError:  # pragma: no cover - generated package always ships
        return None
    resolved = resolve_name(entity)
    return spec(resolved) if resolved is not None else None


def _child_route(spec: EntitySpec, path: str) -> tuple[str, str | None] | None:
    """``(parent collection, parent-id field)`` when ``path`` is a ``Parent/{id}/Child`` URL."""
    m = _CHILD_PATH_RE.match(path)
    if m is None:
        return None
    parent, child = m.group(1), m.group(3)
    for route in spec.parent_routes:
        if route.parent.lower() == parent.lower() and route.child.lower() == child.lower():
            return route.parent, route.parent_id_field
    return None


# --- shared state ---------------------------------------------------------------------------------


class _FeaturesBase:
    def __init__(
        self,
        core: _core.ClientCore,
        cache_config: CacheConfig | None,
        validation_config: ValidationConfig | None,
    ) -> None:
        if cache_config is not None and not isinstance(cache_config, CacheConfig):
            raise AutotaskConfigError("cache_config must be a py_autotask.caching.CacheConfig")
        if validation_config is not None and not isinstance(validation_config, ValidationConfig):
            raise AutotaskConfigError(
                "validation_config must be a py_autotask.validation.ValidationConfig"
            )
        self.core = core
        self.validation_config = validation_config
        self.cache = ResponseCache(cache_config) if cache_config is not None else None
        self.identity = identity_digest(core.credentials.auth_headers())
        self.metadata_ttl = cache_config.metadata_ttl if cache_config else DEFAULT_METADATA_TTL
        prefix = cache_config.key_prefix if cache_config else "pyautotask"
        self.metadata_namespace = f"{prefix}:meta:{self.identity}"

    @property
    def metadata_backend(self) -> Any:
        return self.cache.backend if self.cache is not None else None

    def write_plan(self, request: _core.ApiRequest) -> tuple[EntitySpec, str | None] | None:
        if (
            request.operation not in _WRITE_OPS
            or not isinstance(request.json, Mapping)
            or request.entity is None
        ):
            return None
        spec = _spec(request.entity)
        if spec is None:
            return None
        route = _child_route(spec, request.path)
        return spec, route[1] if route else None

    def query_spec(self, request: _core.ApiRequest) -> EntitySpec | None:
        if request.operation not in _QUERY_OPS or not isinstance(request.json, Mapping):
            return None
        return _spec(request.entity)

    @staticmethod
    def needs_invalidation(request: _core.ApiRequest) -> bool:
        """Whether a request may change data (every write; raw calls other than reads)."""
        method = request.method.upper()
        if request.operation in _READ_OPS or method in ("GET", "HEAD", "OPTIONS"):
            return False
        if request.operation == "raw" or request.entity is None:
            path = _BASE_RE.sub("", request.path).split("?")[0]
            return not (method == "POST" and _QUERY_PATH_RE.search(path))
        return True

    @staticmethod
    def invalidation(request: _core.ApiRequest, response: _core.ApiResponse | None) -> Invalidation:
        """What a write made stale. A successful create/update/replace/delete invalidates its
        entity's queries and counts, the written record by id and, through a parent route, the
        parent's queries and the parent record; anything less certain (a failed or unknown
        write, a raw call) invalidates the whole entity, or everything when it is unknown."""
        path = _BASE_RE.sub("", request.path).split("?")[0].strip("/")
        spec = _spec(request.entity) if request.entity else None
        if spec is None:
            spec = _spec(path.split("/")[0])
            if spec is None:
                return Invalidation(everything=True)
        name = spec.name
        route = _child_route(spec, path)
        parent = _CHILD_PATH_RE.match(path)
        parents: tuple[str, ...] = (route[0],) if route else ()
        op = request.operation
        if (
            response is None
            or not response.is_success
            or op not in ("create", "update", "replace", "delete")
        ):
            return Invalidation(entities=(name, *parents))
        record_id: Any = None
        if op in ("update", "replace") and isinstance(request.json, Mapping):
            record_id = request.json.get("id")
        elif op == "delete":
            tail = _ID_TAIL_RE.search(path)
            record_id = int(tail.group(1)) if tail else None
        else:
            try:
                record_id = json.loads(response.content).get("itemId")
            except (ValueError, AttributeError):
                record_id = None
        if isinstance(record_id, bool) or not isinstance(record_id, int):
            return Invalidation(entities=(name, *parents))
        records = [(name, record_id)]
        if route is not None and parent is not None:
            records.append((route[0], int(parent.group(2))))
        return Invalidation(collections=(name, *parents), records=tuple(records))


def get_record_id(request: _core.ApiRequest) -> int | None:
    """The record id of a get-by-id request (root or child route), else None."""
    if request.operation != "get":
        return None
    tail = _ID_TAIL_RE.search(request.path.split("?")[0])
    return int(tail.group(1)) if tail else None


class SyncFeatures(_FeaturesBase):
    """The ``_send`` layer of :class:`~py_autotask.AutotaskClient`."""

    def __init__(
        self,
        client: AutotaskClient,
        cache_config: CacheConfig | None,
        validation_config: ValidationConfig | None,
    ) -> None:
        super().__init__(client._core, cache_config, validation_config)
        self.client = client
        self.metadata = TenantMetadataProvider(
            self._fetch_metadata,
            ttl=self.metadata_ttl,
            backend=self.metadata_backend,
            namespace=self.metadata_namespace,
        )

    def _fetch_metadata(self, request: _core.ApiRequest) -> Any:
        return self.core.read_json(self.client._send_resilient(request))

    def rewrite(self, request: _core.ApiRequest) -> _core.ApiRequest:
        plan = self.write_plan(request)
        if plan is not None:
            spec, parent_field = plan
            assert isinstance(request.json, Mapping)
            body = prepare_write(
                spec,
                request.json,
                request.operation,  # type: ignore[arg-type]
                self.validation_config,
                self.metadata,
                parent_field=parent_field,
            )
            return replace(request, json=body)
        query_spec = self.query_spec(request)
        if query_spec is not None:
            assert isinstance(request.json, Mapping)
            body = rewrite_query(query_spec, request.json, self.validation_config, self.metadata)
            return replace(request, json=body)
        return request

    def send(
        self,
        request: _core.ApiRequest,
        send: Callable[[_core.ApiRequest], _core.ApiResponse],
    ) -> _core.ApiResponse:
        request = self.rewrite(request)
        cache = self.cache
        if cache is None:
            return send(request)
        if cache.is_cacheable(request):
            self.client._ensure_api_url()
            prepared = self.core.prepare(request)
            key = cache.key(request, prepared, self.identity, get_record_id(request))
            if key is not None:
                hit = cache.lookup(key, request.entity, prepared)
                if hit is not None:
                    return hit
            start = time.perf_counter()
            response = send(request)
            if key is not None:
                cache.store(key, request.entity, response, time.perf_counter() - start)
            return response
        if not self.needs_invalidation(request):
            return send(request)
        written: _core.ApiResponse | None = None
        try:
            written = send(request)
            return written
        finally:
            if self.core.base_url is not None:
                cache.invalidate(self.core.base_url, self.invalidation(request, written))

    # warming

    def warm_one(self, name: str) -> int:
        cache = self.cache
        assert cache is not None
        spec = _spec(name)
        if spec is None:
            raise AutotaskConfigError(f"cannot warm {name!r}: not an Autotask entity")
        if "query" not in spec.root_operations:
            raise AutotaskConfigError(
                f"cannot warm {spec.name}: it cannot be queried at its root collection"
            )
        body = build_query_body(None)
        request: _core.ApiRequest | None = _core.query_request(spec, body)
        count = 0
        while request is not None:
            response = self.send(request, self.client._send_resilient)
            page = self.core.read_page(AutotaskModel, response)
            count += len(page.items)
            if "get" in spec.root_operations:
                self._store_items(cache, spec, response.content)
            request = self.core.next_page(page, response, body)
        return count

    def _store_items(self, cache: ResponseCache, spec: EntitySpec, content: bytes) -> None:
        items = json.loads(content).get("items") or []
        for item in items:
            record_id = item.get("id") if isinstance(item, Mapping) else None
            if not isinstance(record_id, int):
                continue
            get = _core.get_request(spec, record_id)
            key = cache.key(get, self.core.prepare(get), self.identity, record_id)
            if key is not None:
                cache.store_body(key, spec.name, json.dumps({"item": item}).encode())


class AsyncFeatures(_FeaturesBase):
    """The ``_send`` layer of :class:`~py_autotask.AsyncAutotaskClient`."""

    def __init__(
        self,
        client: AsyncAutotaskClient,
        cache_config: CacheConfig | None,
        validation_config: ValidationConfig | None,
    ) -> None:
        super().__init__(client._core, cache_config, validation_config)
        self.client = client
        self.metadata = AsyncTenantMetadataProvider(
            self._fetch_metadata,
            ttl=self.metadata_ttl,
            backend=self.metadata_backend,
            namespace=self.metadata_namespace,
        )

    async def _fetch_metadata(self, request: _core.ApiRequest) -> Any:
        return self.core.read_json(await self.client._send_resilient(request))

    async def _backend(self, func: Callable[..., Any], *args: Any) -> Any:
        if self.cache is not None and self.cache.config.backend == "memory":
            return func(*args)
        return await asyncio.to_thread(func, *args)

    async def rewrite(self, request: _core.ApiRequest) -> _core.ApiRequest:
        plan = self.write_plan(request)
        if plan is not None:
            spec, parent_field = plan
            assert isinstance(request.json, Mapping)
            for kind in sorted(metadata_needs(spec, request.json, self.validation_config)):
                await self.metadata.load(spec.name, kind)  # type: ignore[arg-type]
            body = prepare_write(
                spec,
                request.json,
                request.operation,  # type: ignore[arg-type]
                self.validation_config,
                self.metadata,
                parent_field=parent_field,
            )
            return replace(request, json=body)
        query_spec = self.query_spec(request)
        if query_spec is not None:
            assert isinstance(request.json, Mapping)
            if filter_metadata_needs(query_spec, request.json, self.validation_config):
                await self.metadata.load(query_spec.name, "fields")
            body = rewrite_query(query_spec, request.json, self.validation_config, self.metadata)
            return replace(request, json=body)
        return request

    async def send(
        self,
        request: _core.ApiRequest,
        send: Callable[[_core.ApiRequest], Awaitable[_core.ApiResponse]],
    ) -> _core.ApiResponse:
        request = await self.rewrite(request)
        cache = self.cache
        if cache is None:
            return await send(request)
        if cache.is_cacheable(request):
            await self.client._ensure_api_url()
            prepared = self.core.prepare(request)
            record_id = get_record_id(request)
            key = await self._backend(cache.key, request, prepared, self.identity, record_id)
            if key is not None:
                hit = await self._backend(cache.lookup, key, request.entity, prepared)
                if hit is not None:
                    return hit  # type: ignore[no-any-return]
            start = time.perf_counter()
            response = await send(request)
            if key is not None:
                elapsed = time.perf_counter() - start
                await self._backend(cache.store, key, request.entity, response, elapsed)
            return response
        if not self.needs_invalidation(request):
            return await send(request)
        written: _core.ApiResponse | None = None
        try:
            written = await send(request)
            return written
        finally:
            if self.core.base_url is not None:
                what = self.invalidation(request, written)
                await self._backend(cache.invalidate, self.core.base_url, what)

    async def warm_one(self, name: str) -> int:
        cache = self.cache
        assert cache is not None
        spec = _spec(name)
        if spec is None:
            raise AutotaskConfigError(f"cannot warm {name!r}: not an Autotask entity")
        if "query" not in spec.root_operations:
            raise AutotaskConfigError(
                f"cannot warm {spec.name}: it cannot be queried at its root collection"
            )
        body = build_query_body(None)
        request: _core.ApiRequest | None = _core.query_request(spec, body)
        count = 0
        while request is not None:
            response = await self.send(request, self.client._send_resilient)
            page = self.core.read_page(AutotaskModel, response)
            count += len(page.items)
            if "get" in spec.root_operations:
                await self._backend(self._store_items, cache, spec, response.content)
            request = self.core.next_page(page, response, body)
        return count

    def _store_items(self, cache: ResponseCache, spec: EntitySpec, content: bytes) -> None:
        items = json.loads(content).get("items") or []
        for item in items:
            record_id = item.get("id") if isinstance(item, Mapping) else None
            if not isinstance(record_id, int):
                continue
            get = _core.get_request(spec, record_id)
            key = cache.key(get, self.core.prepare(get), self.identity, record_id)
            if key is not None:
                cache.store_body(key, spec.name, json.dumps({"item": item}).encode())
