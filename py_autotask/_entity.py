"""Bases that generated entity classes extend.

Creates go through :mod:`py_autotask._reconcile` (a correlation token per create; an ambiguous
outcome is looked up before any resend). A generated class sets ``_spec`` (its :class:`~py_autotask._spec.EntitySpec`) and ``_model`` (its
response model) and exposes exactly the operations the spec supports, each delegating to a protected
method here. All request building and parsing happens in :mod:`py_autotask._core`; these classes only
drive the page loop and call the client's ``_send``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from . import _core
from ._model import AutotaskModel, Page
from ._reconcile import acreate_exactly_once, create_exactly_once
from ._spec import EntitySpec, RouteSpec
from .compat._filters import convert_legacy_filter
from .compat._names import entity_attribute_error
from .compat._results import CreatedId
from .exceptions import AutotaskOperationNotSupportedError
from .query import FilterArg, build_query_body

if TYPE_CHECKING:
    import pandas as pd

    from ._client import AsyncAutotaskClient, AutotaskClient

__all__ = ["AsyncChildCollection", "AsyncEntity", "SyncChildCollection", "SyncEntity"]

M = TypeVar("M", bound=AutotaskModel)


def _iterate(
    client: AutotaskClient,
    model: type[M],
    request: _core.ApiRequest,
    body: Mapping[str, Any] | None,
) -> Iterator[M]:
    """Yield every record of every page, holding one page at a time."""
    core = client._core
    next_request: _core.ApiRequest | None = request
    while next_request is not None:
        response = client._send(next_request)
        page = core.read_page(model, response)
        yield from page.items
        next_request = core.next_page(page, response, body)


async def _aiterate(
    client: AsyncAutotaskClient,
    model: type[M],
    request: _core.ApiRequest,
    body: Mapping[str, Any] | None,
) -> AsyncIterator[M]:
    """Async twin of :func:`_iterate`."""
    core = client._core
    next_request: _core.ApiRequest | None = request
    while next_request is not None:
        response = await client._send(next_request)
        page = core.read_page(model, response)
        for item in page.items:
            yield item
        next_request = core.next_page(page, response, body)


class _EntityBase(Generic[M]):
    _spec: ClassVar[EntitySpec]
    _model: type[M]

    def __repr__(self) -> str:
        spec = getattr(self, "_spec", None)
        return f"<{type(self).__name__} {spec.name if spec else '?'}>"

    if not TYPE_CHECKING:  # type checkers stay strict about the operations a collection has

        def __getattr__(self, name: str) -> Any:
            raise entity_attribute_error(self, name)


class SyncEntity(_EntityBase[M]):
    """Root-collection operations of one entity (sync)."""

    def __init__(self, client: AutotaskClient) -> None:
        self._client = client

    def _get(self, id: int, *, parent_id: int | None = None, parent: str | None = None) -> M | None:
        request = _core.get_request(self._spec, id, parent_id=parent_id, parent=parent)
        response = self._client._send(request)
        return self._client._core.read_item(self._model, response)

    def _query(
        self,
        filter: FilterArg | None = None,
        *,
        include_fields: Iterable[str] | None = None,
        max_records: int | None = None,
    ) -> Page[M]:
        filter = convert_legacy_filter(self._spec, filter)
        body = build_query_body(filter, include_fields=include_fields, max_records=max_records)
        response = self._client._send(_core.query_request(self._spec, body))
        return self._client._core.read_page(self._model, response)

    def _query_all_iter(
        self, filter: FilterArg | None = None, *, include_fields: Iterable[str] | None = None
    ) -> Iterator[M]:
        """Every matching record, one page in memory at a time, following ``nextPageUrl`` to the
        end. A failing page raises; results are never silently truncated. Arguments are checked
        at call time; requests start when iteration does."""
        filter = convert_legacy_filter(self._spec, filter)
        body = build_query_body(filter, include_fields=include_fields)
        request = _core.query_request(self._spec, body)
        return _iterate(self._client, self._model, request, body)

    def _query_all(
        self, filter: FilterArg | None = None, *, include_fields: Iterable[str] | None = None
    ) -> list[M]:
        return list(self._query_all_iter(filter, include_fields=include_fields))

    def to_dataframe(
        self,
        filters: Any = None,
        *,
        date_range: Any = None,
        date_field: str | None = None,
        picklist_labels: bool = False,
        categorical: bool = False,
        workers: int = 3,
    ) -> pd.DataFrame:
        """Every matching row as a pandas DataFrame with metadata dtypes (nullable ``Int64``, UTC
        datetimes, ``boolean``, ``category`` for picklists with ``categorical=True``); see
        :mod:`py_autotask.dataframe`. Needs ``pip install 'py-autotask[pandas]'``."""
        from .dataframe import entity_to_dataframe

        return entity_to_dataframe(
            self._client,
            self._spec,
            filters,
            date_range=date_range,
            date_field=date_field,
            picklist_labels=picklist_labels,
            categorical=categorical,
            workers=workers,
        )

    def _count(self, filter: FilterArg | None = None) -> int:
        filter = convert_legacy_filter(self._spec, filter)
        body = build_query_body(filter)
        response = self._client._send(_core.count_request(self._spec, body))
        return self._client._core.read_count(response)

    def _create(
        self, data: _core.WriteData, *, parent_id: int | None = None, parent: str | None = None
    ) -> int:
        request = _core.create_request(self._spec, data, parent_id=parent_id, parent=parent)
        return CreatedId(create_exactly_once(self._client, self._spec, request))

    def _update(
        self, data: _core.WriteData, *, parent_id: int | None = None, parent: str | None = None
    ) -> int:
        request = _core.update_request(self._spec, data, parent_id=parent_id, parent=parent)
        response = self._client._send(request)
        return self._client._core.read_item_id(response, fallback=_core.record_id(data))

    def _replace(
        self, data: _core.WriteData, *, parent_id: int | None = None, parent: str | None = None
    ) -> int:
        request = _core.replace_request(self._spec, data, parent_id=parent_id, parent=parent)
        response = self._client._send(request)
        return self._client._core.read_item_id(response, fallback=_core.record_id(data))

    def _delete(self, id: int, *, parent_id: int | None = None, parent: str | None = None) -> None:
        request = _core.delete_request(self._spec, id, parent_id=parent_id, parent=parent)
        response = self._client._send(request)
        self._client._core.read_none(response)


class AsyncEntity(_EntityBase[M]):
    """Root-collection operations of one entity (async)."""

    def __init__(self, client: AsyncAutotaskClient) -> None:
        self._client = client

    async def _get(
        self, id: int, *, parent_id: int | None = None, parent: str | None = None
    ) -> M | None:
        request = _core.get_request(self._spec, id, parent_id=parent_id, parent=parent)
        response = await self._client._send(request)
        return self._client._core.read_item(self._model, response)

    async def _query(
        self,
        filter: FilterArg | None = None,
        *,
        include_fields: Iterable[str] | None = None,
        max_records: int | None = None,
    ) -> Page[M]:
        filter = convert_legacy_filter(self._spec, filter)
        body = build_query_body(filter, include_fields=include_fields, max_records=max_records)
        response = await self._client._send(_core.query_request(self._spec, body))
        return self._client._core.read_page(self._model, response)

    def _query_all_iter(
        self, filter: FilterArg | None = None, *, include_fields: Iterable[str] | None = None
    ) -> AsyncIterator[M]:
        """Async twin of :meth:`SyncEntity._query_all_iter` (an async iterator; not awaited)."""
        filter = convert_legacy_filter(self._spec, filter)
        body = build_query_body(filter, include_fields=include_fields)
        request = _core.query_request(self._spec, body)
        return _aiterate(self._client, self._model, request, body)

    async def _query_all(
        self, filter: FilterArg | None = None, *, include_fields: Iterable[str] | None = None
    ) -> list[M]:
        return [item async for item in self._query_all_iter(filter, include_fields=include_fields)]

    async def query_async(
        self,
        filter: FilterArg | None = None,
        *,
        include_fields: Iterable[str] | None = None,
        max_records: int | None = None,
    ) -> Page[M]:
        """The awaitable ``query()`` under its py-autotask 2.x name: one page of matching
        records."""
        if "query" not in self._spec.root_operations:
            raise AutotaskOperationNotSupportedError(
                f"{self._spec.name} cannot be queried through its own collection"
            )
        return await self._query(filter, include_fields=include_fields, max_records=max_records)

    async def to_dataframe(
        self,
        filters: Any = None,
        *,
        date_range: Any = None,
        date_field: str | None = None,
        picklist_labels: bool = False,
        categorical: bool = False,
        workers: int = 3,
    ) -> pd.DataFrame:
        """Async twin of :meth:`SyncEntity.to_dataframe`."""
        from .dataframe import aentity_to_dataframe

        return await aentity_to_dataframe(
            self._client,
            self._spec,
            filters,
            date_range=date_range,
            date_field=date_field,
            picklist_labels=picklist_labels,
            categorical=categorical,
            workers=workers,
        )

    async def _count(self, filter: FilterArg | None = None) -> int:
        filter = convert_legacy_filter(self._spec, filter)
        body = build_query_body(filter)
        response = await self._client._send(_core.count_request(self._spec, body))
        return self._client._core.read_count(response)

    async def _create(
        self, data: _core.WriteData, *, parent_id: int | None = None, parent: str | None = None
    ) -> int:
        request = _core.create_request(self._spec, data, parent_id=parent_id, parent=parent)
        return CreatedId(await acreate_exactly_once(self._client, self._spec, request))

    async def _update(
        self, data: _core.WriteData, *, parent_id: int | None = None, parent: str | None = None
    ) -> int:
        request = _core.update_request(self._spec, data, parent_id=parent_id, parent=parent)
        response = await self._client._send(request)
        return self._client._core.read_item_id(response, fallback=_core.record_id(data))

    async def _replace(
        self, data: _core.WriteData, *, parent_id: int | None = None, parent: str | None = None
    ) -> int:
        request = _core.replace_request(self._spec, data, parent_id=parent_id, parent=parent)
        response = await self._client._send(request)
        return self._client._core.read_item_id(response, fallback=_core.record_id(data))

    async def _delete(
        self, id: int, *, parent_id: int | None = None, parent: str | None = None
    ) -> None:
        request = _core.delete_request(self._spec, id, parent_id=parent_id, parent=parent)
        response = await self._client._send(request)
        self._client._core.read_none(response)


class _ChildBase(Generic[M]):
    _model: type[M]

    def __init__(self, client: Any, spec: EntitySpec, route: RouteSpec, parent_id: int) -> None:
        self._client = client
        self._spec = spec
        self._route = route
        self._parent_id = parent_id

    @property
    def parent_id(self) -> int:
        return self._parent_id

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._route.path(self._parent_id)}>"


class SyncChildCollection(_ChildBase[M]):
    """``{Parent}/{parentId}/{Child}`` for one parent record (sync)."""

    _client: AutotaskClient

    def __init__(
        self, client: AutotaskClient, spec: EntitySpec, route: RouteSpec, parent_id: int
    ) -> None:
        super().__init__(client, spec, route, parent_id)

    def _list_iter(self) -> Iterator[M]:
        """Every child record, following ``nextPageUrl`` (GET) through every page."""
        request = _core.child_list_request(self._spec, self._route, self._parent_id)
        return _iterate(self._client, self._model, request, None)

    def _list(self) -> list[M]:
        return list(self._list_iter())

    def _get(self, id: int) -> M | None:
        request = _core.child_get_request(self._spec, self._route, self._parent_id, id)
        response = self._client._send(request)
        return self._client._core.read_item(self._model, response)

    def _write(self, op: _core.WriteOperation, data: _core.WriteData) -> int:
        request = _core.child_write_request(self._spec, self._route, self._parent_id, op, data)
        if op == "create":
            return CreatedId(create_exactly_once(self._client, self._spec, request))
        response = self._client._send(request)
        fallback = _core.record_id(data)
        return self._client._core.read_item_id(response, fallback=fallback)

    def _create(self, data: _core.WriteData) -> int:
        return self._write("create", data)

    def _update(self, data: _core.WriteData) -> int:
        return self._write("update", data)

    def _replace(self, data: _core.WriteData) -> int:
        return self._write("replace", data)

    def _delete(self, id: int) -> None:
        request = _core.child_delete_request(self._spec, self._route, self._parent_id, id)
        response = self._client._send(request)
        self._client._core.read_none(response)


class AsyncChildCollection(_ChildBase[M]):
    """``{Parent}/{parentId}/{Child}`` for one parent record (async)."""

    _client: AsyncAutotaskClient

    def __init__(
        self, client: AsyncAutotaskClient, spec: EntitySpec, route: RouteSpec, parent_id: int
    ) -> None:
        super().__init__(client, spec, route, parent_id)

    def _list_iter(self) -> AsyncIterator[M]:
        """Every child record, following ``nextPageUrl`` (GET) through every page."""
        request = _core.child_list_request(self._spec, self._route, self._parent_id)
        return _aiterate(self._client, self._model, request, None)

    async def _list(self) -> list[M]:
        return [item async for item in self._list_iter()]

    async def _get(self, id: int) -> M | None:
        request = _core.child_get_request(self._spec, self._route, self._parent_id, id)
        response = await self._client._send(request)
        return self._client._core.read_item(self._model, response)

    async def _write(self, op: _core.WriteOperation, data: _core.WriteData) -> int:
        request = _core.child_write_request(self._spec, self._route, self._parent_id, op, data)
        if op == "create":
            return CreatedId(await acreate_exactly_once(self._client, self._spec, request))
        response = await self._client._send(request)
        fallback = _core.record_id(data)
        return self._client._core.read_item_id(response, fallback=fallback)

    async def _create(self, data: _core.WriteData) -> int:
        return await self._write("create", data)

    async def _update(self, data: _core.WriteData) -> int:
        return await self._write("update", data)

    async def _replace(self, data: _core.WriteData) -> int:
        return await self._write("replace", data)

    async def _delete(self, id: int) -> None:
        request = _core.child_delete_request(self._spec, self._route, self._parent_id, id)
        response = await self._client._send(request)
        self._client._core.read_none(response)
