"""The request-shaping layer of the clients' pipeline: write validation/conversion, SOAP-era
aliases, the response cache with invalidation, and tenant metadata. Written once as flows
(:mod:`py_autotask._sender`); the sync client drives them with :func:`~py_autotask._sender.drive`,
the async client with :func:`~py_autotask._sender.adrive`, and the requests they yield go to the
resilient layer below (pacing, retries, breaker, zones).

Order inside :meth:`Features.send`: (1) bodies of writes and query filters are rewritten
(SOAP-era names, conversions, labels; invalid data raises
:class:`~py_autotask.exceptions.AutotaskInputError` and nothing is sent), loading the tenant
metadata this needs first; (2) cacheable reads are served from the cache or sent and stored;
writes are sent and then invalidate the written entity (and, for child routes, the parent
collection). The zone must be resolved before a request enters this layer (the cache keys on
the URL); the clients do that first.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Final

from . import _core, _events
from ._model import AutotaskModel
from ._registry import spec_for
from ._sender import Flow, blocking, request
from ._spec import EntitySpec
from .caching._cache import Invalidation, ResponseCache, identity_digest
from .caching._config import CacheConfig
from .caching._metadata import DEFAULT_METADATA_TTL, MetadataProvider
from .exceptions import AutotaskConfigError, AutotaskError
from .query import build_query_body
from .validation._config import ValidationConfig
from .validation._convert import (
    filter_metadata_needs,
    metadata_needs,
    prepare_write,
    rewrite_query,
)

__all__ = ["Features"]

_WRITE_OPS: Final = frozenset({"create", "update", "replace"})
_QUERY_OPS: Final = frozenset({"query", "count", "next"})
#: a write's operation -> the event bus topic it is published under once it succeeded
_CHANGE_TOPICS: Final = {
    "create": "record.created",
    "update": "record.updated",
    "replace": "record.updated",
    "delete": "record.deleted",
}
_CHILD_PATH_RE: Final = re.compile(r"^/?([A-Za-z0-9]+)/(\d+)/([A-Za-z0-9]+)")
_BASE_RE: Final = re.compile(r"^https?://[^/]+/ATServicesRest/V[0-9.]+/", re.IGNORECASE)
_ID_TAIL_RE: Final = re.compile(r"/(\d+)/?$")
_QUERY_PATH_RE: Final = re.compile(r"/query(/count)?/?$", re.IGNORECASE)


def _spec_of(request: _core.ApiRequest) -> EntitySpec | None:
    """The request's spec; a raw request names its entity only by its path or ``entity``."""
    if request.spec is not None:
        return request.spec
    name = request.entity or _BASE_RE.sub("", request.path).split("?")[0].strip("/").split("/")[0]
    try:
        return spec_for(name) if name else None
    except AutotaskConfigError:
        return None


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


def needs_invalidation(request: _core.ApiRequest) -> bool:
    """Whether a request may change data (every write; raw calls other than reads)."""
    method = request.method.upper()
    if request.operation in _core.READ_OPERATIONS or method in ("GET", "HEAD", "OPTIONS"):
        return False
    if request.operation == "raw" or request.entity is None:
        path = _BASE_RE.sub("", request.path).split("?")[0]
        return not (method == "POST" and _QUERY_PATH_RE.search(path))
    return True


def invalidation(request: _core.ApiRequest, response: _core.ApiResponse | None) -> Invalidation:
    """What a write made stale. A successful create/update/replace/delete invalidates its
    entity's queries and counts, the written record by id and, through a parent route, the
    parent's queries and the parent record; anything less certain (a failed or unknown write, a
    raw call) invalidates the whole entity, or everything when it is unknown."""
    path = _BASE_RE.sub("", request.path).split("?")[0].strip("/")
    spec = _spec_of(request)
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
    record_id = written_id(request, response)
    if record_id is None:
        return Invalidation(entities=(name, *parents))
    records = [(name, record_id)]
    if route is not None and parent is not None:
        records.append((route[0], int(parent.group(2))))
    return Invalidation(collections=(name, *parents), records=tuple(records))


def written_id(request: _core.ApiRequest, response: _core.ApiResponse | None) -> int | None:
    """The record a create/update/replace/delete wrote: the body's ``id`` of an update, the
    path's tail of a delete, the response's ``itemId`` of a create; ``None`` when unknown."""
    op = request.operation
    record_id: Any = None
    if op in ("update", "replace") and isinstance(request.json, Mapping):
        record_id = request.json.get("id")
    elif op == "delete":
        path = _BASE_RE.sub("", request.path).split("?")[0].strip("/")
        tail = _ID_TAIL_RE.search(path)
        record_id = int(tail.group(1)) if tail else None
    elif op == "create" and response is not None:
        try:
            record_id = json.loads(response.content).get("itemId")
        except (ValueError, AttributeError):
            record_id = None
    if isinstance(record_id, bool) or not isinstance(record_id, int):
        return None
    return record_id


def get_record_id(request: _core.ApiRequest) -> int | None:
    """The record id of a get-by-id request (root or child route), else None."""
    if request.operation != "get":
        return None
    tail = _ID_TAIL_RE.search(request.path.split("?")[0])
    return int(tail.group(1)) if tail else None


def _item_of(response: _core.ApiResponse) -> dict[str, Any] | None:
    """The record of a get-by-id response (``{"item": {...}}``), ``None`` if it has none."""
    try:
        item = json.loads(response.content).get("item")
    except (ValueError, AttributeError):
        return None
    return item if isinstance(item, dict) else None


class _Unreadable:
    """The metadata view of one rewrite whose metadata could not be loaded: reading the missing
    kinds raises the load's error (the validation layer reports it and skips what needs it)
    instead of fetching again."""

    def __init__(self, metadata: MetadataProvider, failed: Mapping[str, AutotaskError]) -> None:
        self._metadata = metadata
        self._failed = failed

    def loaded_field(self, entity: str, name: str) -> dict[str, Any] | None:
        if "fields" in self._failed:
            raise self._failed["fields"]
        return self._metadata.loaded_field(entity, name)

    def loaded_udfs(self, entity: str) -> list[dict[str, Any]] | None:
        if "userDefinedFields" in self._failed:
            raise self._failed["userDefinedFields"]
        return self._metadata.loaded_udfs(entity)


class Features:
    """Validation, aliases, the response cache and tenant metadata of one client."""

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
        # in-memory cache operations are not worth a thread in async code
        self._cheap = cache_config is not None and cache_config.backend == "memory"
        ttl = cache_config.metadata_ttl if cache_config else DEFAULT_METADATA_TTL
        prefix = cache_config.key_prefix if cache_config else "pyautotask"
        #: how the client builds its tenant metadata provider (:attr:`metadata`)
        self.metadata_options: dict[str, Any] = {
            "ttl": ttl,
            "backend": self.cache.backend if self.cache is not None else None,
            "namespace": f"{prefix}:meta:{self.identity}",
        }
        self.metadata: MetadataProvider

    # (1) rewriting

    def rewrite(self, req: _core.ApiRequest) -> Flow[_core.ApiRequest]:
        """The request to send: write bodies validated/converted, query filters rewritten."""
        body = req.json
        if not isinstance(body, Mapping):
            return req
        if req.operation in _WRITE_OPS:
            spec = _spec_of(req)
            if spec is None:
                return req
            failed: dict[str, AutotaskError] = {}
            for kind in sorted(metadata_needs(spec, body, self.validation_config)):
                try:
                    yield from self.metadata.load_flow(spec.name, kind)  # type: ignore[arg-type]
                except AutotaskError as exc:  # reported by the view; checks needing it are skipped
                    failed[kind] = exc
            route = _child_route(spec, req.path)
            new_body = prepare_write(
                spec,
                body,
                req.operation,  # type: ignore[arg-type]
                self.validation_config,
                _Unreadable(self.metadata, failed) if failed else self.metadata,
                parent_field=route[1] if route else None,
            )
            return replace(req, json=new_body)
        if req.operation in _QUERY_OPS:
            spec = _spec_of(req)
            if spec is None:
                return req
            view: Any = self.metadata
            if filter_metadata_needs(spec, body, self.validation_config):
                try:
                    yield from self.metadata.load_flow(spec.name, "fields")
                except AutotaskError as exc:
                    view = _Unreadable(self.metadata, {"fields": exc})
            new_body = rewrite_query(spec, body, self.validation_config, view)
            return replace(req, json=new_body)
        return req

    # (2) the cache

    def send(self, req: _core.ApiRequest) -> Flow[_core.ApiResponse]:
        """Rewrite ``req``, then send it (its requests go to the resilient layer) through the
        cache: a hit is answered locally, a cacheable miss is stored, a write invalidates. A
        successful write is published on the event bus (:meth:`_published`)."""
        req = yield from self.rewrite(req)
        if req.operation in _CHANGE_TOPICS and _events.bus.subscribers(
            _CHANGE_TOPICS[req.operation]
        ):
            return (yield from self._published(req))
        return (yield from self._cached(req))

    def _published(self, req: _core.ApiRequest) -> Flow[_core.ApiResponse]:
        """Send a write and publish it: ``record.created|updated|deleted`` with ``entity`` (the
        collection), ``id``, ``new`` (the fields written), ``old`` (``None``: see
        ``record.updating``) and ``source`` ``"client"``. While some plugin manager wants old
        values (:attr:`~py_autotask._core.ClientCore.update_watchers`), an update first reads
        the record (one GET) and publishes ``record.updating`` with ``old``, the record before
        the write: a webhook arriving before this write's response then finds them."""
        topic = _CHANGE_TOPICS[req.operation or ""]
        spec = _spec_of(req)
        body = req.json if isinstance(req.json, Mapping) else {}
        before = written_id(req, None)
        if (
            spec is not None
            and before is not None
            and req.operation in ("update", "replace")
            and self.core.update_watchers > 0
            and "get" in spec.root_operations
        ):
            read = yield from request(_core.get_request(spec, before))
            old = _item_of(read) if read.is_success else None
            if old is not None:
                _events.publish(
                    "record.updating",
                    {"entity": spec.name, "id": before, "old": old, "source": "client"},
                )
        response = yield from self._cached(req)
        record_id = written_id(req, response)
        if spec is not None and record_id is not None and response.is_success:
            new = None if topic == "record.deleted" else {**body, "id": record_id}
            _events.publish(
                topic,
                {"entity": spec.name, "id": record_id, "new": new, "old": None, "source": "client"},
            )
        return response

    def _cached(self, req: _core.ApiRequest) -> Flow[_core.ApiResponse]:
        cache = self.cache
        if cache is None:
            return (yield from request(req))
        cheap = self._cheap
        if cache.is_cacheable(req):
            prepared = self.core.prepare(req, hooks=False)
            key = yield from blocking(
                cache.key, req, prepared, self.identity, get_record_id(req), cheap=cheap
            )
            if key is not None:
                hit = yield from blocking(cache.lookup, key, req.entity, prepared, cheap=cheap)
                if self.core.observers:
                    self.core.observers.cache_lookup(req.entity, hit is not None)
                if hit is not None:
                    response: _core.ApiResponse = hit
                    return response
            start = time.perf_counter()
            response = yield from request(req)
            if key is not None:
                elapsed = time.perf_counter() - start
                yield from blocking(cache.store, key, req.entity, response, elapsed, cheap=cheap)
            return response
        if not needs_invalidation(req):
            return (yield from request(req))
        written: _core.ApiResponse | None = None
        try:
            written = yield from request(req)
            return written
        finally:
            base = self.core.base_url
            if base is not None:
                what = invalidation(req, written)
                yield from blocking(cache.invalidate, base, what, cheap=cheap)

    # warming

    def warm(self, entity: str) -> Flow[int]:
        """Load every record of ``entity`` into the cache (query pages, and each record by id
        where the entity has get-by-id); the number of records."""
        cache = self.cache
        assert cache is not None
        spec = spec_for(entity)
        if "query" not in spec.root_operations:
            raise AutotaskConfigError(
                f"cannot warm {spec.name}: it cannot be queried at its root collection"
            )
        next_request: _core.ApiRequest | None = _core.query_request(spec, build_query_body(None))
        count = 0
        while next_request is not None:
            response = yield from self.send(next_request)
            page = self.core.read_page(AutotaskModel, response)
            count += len(page.items)
            if "get" in spec.root_operations:
                yield from blocking(self._store_items, cache, spec, response.content)
            next_request = self.core.follow(response, page.next_page_url)
        return count

    def _store_items(self, cache: ResponseCache, spec: EntitySpec, content: bytes) -> None:
        items = json.loads(content).get("items") or []
        for item in items:
            record_id = item.get("id") if isinstance(item, Mapping) else None
            if not isinstance(record_id, int):
                continue
            get = _core.get_request(spec, record_id)
            key = cache.key(get, self.core.prepare(get, hooks=False), self.identity, record_id)
            if key is not None:
                cache.store_body(key, spec.name, json.dumps({"item": item}).encode())
