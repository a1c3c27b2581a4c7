"""Tenant metadata (entity information, fields with picklists, UDF definitions), fetched lazily
from the ``entityInformation`` endpoints through the client and cached per tenant with a TTL.

Picklist values and UDFs differ per Autotask tenant, so they are never baked into the package:
:class:`TenantMetadataProvider` reads them from the API the first time they are needed and keeps
them for ``ttl`` seconds (default one hour), in process and, when the client has a cache backend,
in that backend too (so a Redis-backed fleet fetches them once).
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final, Literal

from .._core import ApiRequest, ApiResponse, ClientCore
from .._registry import spec_for
from .._sender import Flow, adrive, drive, request
from ._backends import CacheBackend

__all__ = [
    "AsyncTenantMetadataProvider",
    "MetadataKind",
    "MetadataProvider",
    "TenantMetadataProvider",
    "collection_name",
]

MetadataKind = Literal["entityInformation", "fields", "userDefinedFields"]

_PATHS: Final[dict[str, str]] = {
    "entityInformation": "entityInformation",
    "fields": "entityInformation/fields",
    "userDefinedFields": "entityInformation/userDefinedFields",
}

DEFAULT_METADATA_TTL: Final = 3600.0


def collection_name(entity: str) -> str:
    """The collection name of any accepted entity spelling; a clear error for unknown names."""
    return spec_for(entity).name


def metadata_request(entity: str, kind: MetadataKind) -> ApiRequest:
    return ApiRequest("GET", f"{entity}/{_PATHS[kind]}", entity=entity, operation="meta")


class _Store:
    """Per-process copy plus the optional shared backend, both with the same TTL."""

    def __init__(self, ttl: float, backend: CacheBackend | None, namespace: str) -> None:
        self.ttl = ttl
        self.backend = backend
        self.namespace = namespace
        self._local: dict[tuple[str, str], tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def _key(self, entity: str, kind: str) -> str:
        return f"{self.namespace}:{entity}:{kind}"

    def get(self, entity: str, kind: str) -> Any | None:
        now = time.monotonic()
        with self._lock:
            found = self._local.get((entity, kind))
        if found is not None and found[0] > now:
            return found[1]
        if self.backend is not None:
            try:
                raw = self.backend.get(self._key(entity, kind))
            except Exception:
                raw = None
            if raw is not None:
                data = json.loads(raw)
                with self._lock:
                    self._local[(entity, kind)] = (now + self.ttl, data)
                return data
        return None

    def put(self, entity: str, kind: str, data: Any) -> None:
        with self._lock:
            self._local[(entity, kind)] = (time.monotonic() + self.ttl, data)
        if self.backend is not None:
            with contextlib.suppress(Exception):
                self.backend.set(self._key(entity, kind), json.dumps(data).encode(), self.ttl)

    def clear(self, entity: str | None = None) -> None:
        with self._lock:
            for key in list(self._local):
                if entity is None or key[0] == entity:
                    del self._local[key]
        if self.backend is not None:
            try:
                if entity is None:
                    self.backend.clear(self.namespace + ":")
                else:
                    for kind in _PATHS:
                        self.backend.delete(self._key(entity, kind))
            except Exception:
                pass


def _unwrap(kind: str, body: Any) -> Any:
    if kind == "entityInformation":
        info = body.get("info") if isinstance(body, Mapping) else None
        return dict(info) if isinstance(info, Mapping) else {}
    fields = body.get("fields") if isinstance(body, Mapping) else None
    return [dict(f) for f in fields if isinstance(f, Mapping)] if isinstance(fields, list) else []


class MetadataProvider:
    """Accessors over loaded metadata, and :meth:`load_flow` that loads it; the sync subclass
    loads missing data on first use, the async one when awaited."""

    def __init__(
        self,
        reader: ClientCore,
        *,
        ttl: float = DEFAULT_METADATA_TTL,
        backend: CacheBackend | None = None,
        namespace: str = "meta",
    ) -> None:
        self._reader = reader
        self._store = _Store(ttl, backend, namespace)
        self.fetches = 0

    def _data(self, entity: str, kind: MetadataKind) -> Any | None:
        raise NotImplementedError

    def refresh(self, entity: str | None = None) -> None:
        """Forget cached metadata (of one entity, or all) so the next use fetches it again."""
        self._store.clear(collection_name(entity) if entity else None)

    def load_flow(self, entity: str, kind: MetadataKind) -> Flow[Any]:
        """The metadata of ``entity``, from the store or fetched (one request) and stored."""
        name = collection_name(entity)
        data = self._store.get(name, kind)
        if data is None:
            response = yield from request(metadata_request(name, kind))
            data = _unwrap(kind, self._reader.read_json(response))
            self.fetches += 1
            self._store.put(name, kind, data)
        return data

    # helpers shared by sync and async

    @staticmethod
    def _find_field(fields: Any, name: str) -> dict[str, Any] | None:
        if not isinstance(fields, list):
            return None
        lowered = name.lower()
        for item in fields:
            if str(item.get("name", "")).lower() == lowered:
                return dict(item)
        return None

    @staticmethod
    def _values(fld: Mapping[str, Any] | None, include_inactive: bool) -> list[dict[str, Any]]:
        if fld is None or not fld.get("isPickList"):
            return []
        values = fld.get("picklistValues") or []
        return [dict(v) for v in values if include_inactive or v.get("isActive", True)]

    # what client-side validation reads (entity is a collection name)

    def loaded_field(self, entity: str, name: str) -> dict[str, Any] | None:
        """A field's information if the fields are (or, sync, can be) loaded."""
        return self._find_field(self._data(entity, "fields"), name)

    def loaded_udfs(self, entity: str) -> list[dict[str, Any]] | None:
        """The UDF definitions if they are (or, sync, can be) loaded."""
        data = self._data(entity, "userDefinedFields")
        return None if data is None else [dict(u) for u in data]

    # TenantMetadata protocol (py_autotask._validation) -- synchronous, from loaded data

    def picklist_values(self, entity: str, field: str) -> Mapping[str, str] | None:
        """Active picklist values (value -> label) of a field; None when it is not a picklist."""
        fld = self._find_field(self._data(collection_name(entity), "fields"), field)
        if fld is None or not fld.get("isPickList"):
            return None
        return {str(v["value"]): str(v.get("label", "")) for v in self._values(fld, False)}

    def udf_names(self, entity: str) -> frozenset[str] | None:
        """Names of the entity's user-defined fields; None when unknown."""
        udfs = self._data(collection_name(entity), "userDefinedFields")
        if udfs is None:
            return None
        return frozenset(str(u.get("name")) for u in udfs)


class TenantMetadataProvider(MetadataProvider):
    """Lazily fetched, TTL-cached tenant metadata for a sync client (``client.metadata``)."""

    def __init__(
        self,
        reader: ClientCore,
        send: Callable[[ApiRequest], ApiResponse],
        *,
        ttl: float = DEFAULT_METADATA_TTL,
        backend: CacheBackend | None = None,
        namespace: str = "meta",
    ) -> None:
        super().__init__(reader, ttl=ttl, backend=backend, namespace=namespace)
        self._send = send
        self._fetch_lock = threading.Lock()

    def _data(self, entity: str, kind: MetadataKind) -> Any:
        data = self._store.get(entity, kind)
        if data is None:
            with self._fetch_lock:
                data = drive(self.load_flow(entity, kind), self._send)
        return data

    def entity_information(self, entity: str) -> dict[str, Any]:
        """``GET {Entity}/entityInformation``'s ``info`` (canCreate, hasUserDefinedFields, ...)."""
        return dict(self._data(collection_name(entity), "entityInformation"))

    def fields(self, entity: str) -> list[dict[str, Any]]:
        """Every field as ``entityInformation/fields`` reports it for this tenant."""
        return [dict(f) for f in self._data(collection_name(entity), "fields")]

    def field(self, entity: str, name: str) -> dict[str, Any] | None:
        """One field's information (case-insensitive name), or None."""
        return self._find_field(self._data(collection_name(entity), "fields"), name)

    def udfs(self, entity: str) -> list[dict[str, Any]]:
        """The tenant's user-defined field definitions of ``entity``."""
        return [dict(f) for f in self._data(collection_name(entity), "userDefinedFields")]

    def picklist(
        self, entity: str, field: str, *, include_inactive: bool = False
    ) -> list[dict[str, Any]]:
        """Picklist value objects (``value``, ``label``, ``isActive``, ``parentValue``, ...)."""
        return self._values(self.field(entity, field), include_inactive)


class AsyncTenantMetadataProvider(MetadataProvider):
    """Async twin of :class:`TenantMetadataProvider` (``client.metadata`` of the async client).

    Its synchronous :class:`~py_autotask._validation.TenantMetadata` methods read only what was
    loaded already; ``await load(entity, kind)`` (or any async accessor) loads it.
    """

    def __init__(
        self,
        reader: ClientCore,
        send: Callable[[ApiRequest], Awaitable[ApiResponse]],
        *,
        ttl: float = DEFAULT_METADATA_TTL,
        backend: CacheBackend | None = None,
        namespace: str = "meta",
    ) -> None:
        super().__init__(reader, ttl=ttl, backend=backend, namespace=namespace)
        self._send = send

    def _data(self, entity: str, kind: MetadataKind) -> Any | None:
        return self._store.get(entity, kind)

    async def load(self, entity: str, kind: MetadataKind) -> Any:
        return await adrive(self.load_flow(entity, kind), self._send)

    async def entity_information(self, entity: str) -> dict[str, Any]:
        return dict(await self.load(entity, "entityInformation"))

    async def fields(self, entity: str) -> list[dict[str, Any]]:
        return [dict(f) for f in await self.load(entity, "fields")]

    async def field(self, entity: str, name: str) -> dict[str, Any] | None:
        return self._find_field(await self.load(entity, "fields"), name)

    async def udfs(self, entity: str) -> list[dict[str, Any]]:
        return [dict(f) for f in await self.load(entity, "userDefinedFields")]

    async def picklist(
        self, entity: str, field: str, *, include_inactive: bool = False
    ) -> list[dict[str, Any]]:
        return self._values(await self.field(entity, field), include_inactive)
