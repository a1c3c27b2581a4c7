"""Bases that generated entity classes extend.

A generated class sets ``_spec`` (its :class:`~py_autotask._spec.EntitySpec`) and ``_model`` (its
response model) and exposes exactly the operations the spec supports, each delegating to a
protected method here. Every operation is written once, as a flow (:mod:`py_autotask._sender`):
the request comes from :mod:`py_autotask._core`, the sync classes run the flow with the host's
:class:`~py_autotask._sender.Sender`, the async classes await it with an
:class:`~py_autotask._sender.AsyncSender`. Creates are exactly-once because the sender's pipeline
makes every create so (:mod:`py_autotask._reconcile`).

The *host* is what the entity objects are attached to (the client): anything with a ``sender``
and, for :meth:`SyncEntity.to_dataframe`, a ``to_dataframe`` method (:class:`EntityHost`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from . import _core
from ._legacy import CreatedId, convert_legacy_filter, entity_attribute_error
from ._model import AutotaskModel, Page
from ._sender import AsyncSender, Flow, Sender, aiter_pages, iter_pages, request
from ._spec import EntitySpec, RouteSpec
from .exceptions import AutotaskOperationNotSupportedError
from .query import FilterArg, build_query_body

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "AsyncChildCollection",
    "AsyncEntity",
    "AsyncEntityHost",
    "EntityHost",
    "SyncChildCollection",
    "SyncEntity",
]

M = TypeVar("M", bound=AutotaskModel)


class EntityHost(Protocol):
    """What sync entity objects are attached to (:class:`~py_autotask.AutotaskClient`)."""

    @property
    def sender(self) -> Sender: ...

    def to_dataframe(self, entity: Any, filters: Any = None, **options: Any) -> pd.DataFrame: ...


class AsyncEntityHost(Protocol):
    """What async entity objects are attached to (:class:`~py_autotask.AsyncAutotaskClient`)."""

    @property
    def sender(self) -> AsyncSender: ...

    async def to_dataframe(
        self, entity: Any, filters: Any = None, **options: Any
    ) -> pd.DataFrame: ...


# --- the operations, written once -----------------------------------------------------------------


class _Operations(Generic[M]):
    """Flows of one collection's operations (root and ``Parent/{parentId}/Child``)."""

    _spec: EntitySpec
    _model: type[M]
    _reader: _core.ClientCore

    def _query_body(
        self,
        filter: FilterArg | None,
        include_fields: Iterable[str] | None = None,
        max_records: int | None = None,
    ) -> dict[str, Any]:
        filter = convert_legacy_filter(self._spec, filter)
        return build_query_body(filter, include_fields=include_fields, max_records=max_records)

    def _read_page(self, response: _core.ApiResponse) -> tuple[Page[M], str | None]:
        page = self._reader.read_page(self._model, response)
        return page, page.next_page_url

    def _item_flow(self, req: _core.ApiRequest) -> Flow[M | None]:
        response = yield from request(req)
        return self._reader.read_item(self._model, response)

    def _page_flow(self, req: _core.ApiRequest) -> Flow[Page[M]]:
        response = yield from request(req)
        return self._reader.read_page(self._model, response)

    def _count_flow(self, req: _core.ApiRequest) -> Flow[int]:
        response = yield from request(req)
        return self._reader.read_count(response)

    def _write_flow(self, req: _core.ApiRequest, fallback: int | None) -> Flow[int]:
        response = yield from request(req)
        item_id = self._reader.read_item_id(response, fallback=fallback)
        return CreatedId(item_id) if req.operation == "create" else item_id

    def _delete_flow(self, req: _core.ApiRequest) -> Flow[None]:
        response = yield from request(req)
        self._reader.read_none(response)

    def _get_request(self, id: int, parent_id: int | None, parent: str | None) -> _core.ApiRequest:
        return _core.get_request(self._spec, id, parent_id=parent_id, parent=parent)

    def _query_request(
        self,
        filter: FilterArg | None,
        include_fields: Iterable[str] | None,
        max_records: int | None = None,
    ) -> _core.ApiRequest:
        body = self._query_body(filter, include_fields, max_records)
        return _core.query_request(self._spec, body)

    def _count_request(self, filter: FilterArg | None) -> _core.ApiRequest:
        return _core.count_request(self._spec, self._query_body(filter))

    def _write_request(
        self,
        op: _core.WriteOperation,
        data: _core.WriteData,
        parent_id: int | None,
        parent: str | None,
    ) -> _core.ApiRequest:
        build = {
            "create": _core.create_request,
            "update": _core.update_request,
            "replace": _core.replace_request,
        }[op]
        return build(self._spec, data, parent_id=parent_id, parent=parent)


class _EntityBase(_Operations[M]):
    def __repr__(self) -> str:
        spec = getattr(self, "_spec", None)
        return f"<{type(self).__name__} {spec.name if spec else '?'}>"

    if not TYPE_CHECKING:  # type checkers stay strict about the operations a collection has

        def __getattr__(self, name: str) -> Any:
            raise entity_attribute_error(self, name)


class SyncEntity(_EntityBase[M]):
    """Root-collection operations of one entity (sync)."""

    def __init__(self, host: EntityHost) -> None:
        self._host = host
        self._sender = host.sender
        self._reader = self._sender.reader

    def _get(self, id: int, *, parent_id: int | None = None, parent: str | None = None) -> M | None:
        return self._sender.run(self._item_flow(self._get_request(id, parent_id, parent)))

    def _query(
        self,
        filter: FilterArg | None = None,
        *,
        include_fields: Iterable[str] | None = None,
        max_records: int | None = None,
    ) -> Page[M]:
        req = self._query_request(filter, include_fields, max_records)
        return self._sender.run(self._page_flow(req))

    def _query_all_iter(
        self, filter: FilterArg | None = None, *, include_fields: Iterable[str] | None = None
    ) -> Iterator[M]:
        """Every matching record, one page in memory at a time, following ``nextPageUrl`` to the
        end. A failing page raises; results are never silently truncated. Arguments are checked
        at call time; requests start when iteration does."""
        req = self._query_request(filter, include_fields)
        return _records(iter_pages(self._sender, req, self._read_page))

    def _query_all(
        self, filter: FilterArg | None = None, *, include_fields: Iterable[str] | None = None
    ) -> list[M]:
        observers = self._reader.observers
        if not observers:
            return list(self._query_all_iter(filter, include_fields=include_fields))
        with observers.job("query_all", self._spec.name):
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
        return self._host.to_dataframe(
            self._spec,
            filters,
            date_range=date_range,
            date_field=date_field,
            picklist_labels=picklist_labels,
            categorical=categorical,
            workers=workers,
        )

    def _count(self, filter: FilterArg | None = None) -> int:
        return self._sender.run(self._count_flow(self._count_request(filter)))

    def _create(
        self, data: _core.WriteData, *, parent_id: int | None = None, parent: str | None = None
    ) -> int:
        req = self._write_request("create", data, parent_id, parent)
        return self._sender.run(self._write_flow(req, None))

    def _update(
        self, data: _core.WriteData, *, parent_id: int | None = None, parent: str | None = None
    ) -> int:
        req = self._write_request("update", data, parent_id, parent)
        return self._sender.run(self._write_flow(req, _core.record_id(data)))

    def _replace(
        self, data: _core.WriteData, *, parent_id: int | None = None, parent: str | None = None
    ) -> int:
        req = self._write_request("replace", data, parent_id, parent)
        return self._sender.run(self._write_flow(req, _core.record_id(data)))

    def _delete(self, id: int, *, parent_id: int | None = None, parent: str | None = None) -> None:
        req = _core.delete_request(self._spec, id, parent_id=parent_id, parent=parent)
        self._sender.run(self._delete_flow(req))


class AsyncEntity(_EntityBase[M]):
    """Root-collection operations of one entity (async)."""

    def __init__(self, host: AsyncEntityHost) -> None:
        self._host = host
        self._sender = host.sender
        self._reader = self._sender.reader

    async def _get(
        self, id: int, *, parent_id: int | None = None, parent: str | None = None
    ) -> M | None:
        return await self._sender.run(self._item_flow(self._get_request(id, parent_id, parent)))

    async def _query(
        self,
        filter: FilterArg | None = None,
        *,
        include_fields: Iterable[str] | None = None,
        max_records: int | None = None,
    ) -> Page[M]:
        req = self._query_request(filter, include_fields, max_records)
        return await self._sender.run(self._page_flow(req))

    def _query_all_iter(
        self, filter: FilterArg | None = None, *, include_fields: Iterable[str] | None = None
    ) -> AsyncIterator[M]:
        """Async twin of :meth:`SyncEntity._query_all_iter` (an async iterator; not awaited)."""
        req = self._query_request(filter, include_fields)
        return _arecords(aiter_pages(self._sender, req, self._read_page))

    async def _query_all(
        self, filter: FilterArg | None = None, *, include_fields: Iterable[str] | None = None
    ) -> list[M]:
        observers = self._reader.observers
        if not observers:
            return [
                item async for item in self._query_all_iter(filter, include_fields=include_fields)
            ]
        with observers.job("query_all", self._spec.name):
            return [
                item async for item in self._query_all_iter(filter, include_fields=include_fields)
            ]

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
        return await self._host.to_dataframe(
            self._spec,
            filters,
            date_range=date_range,
            date_field=date_field,
            picklist_labels=picklist_labels,
            categorical=categorical,
            workers=workers,
        )

    async def _count(self, filter: FilterArg | None = None) -> int:
        return await self._sender.run(self._count_flow(self._count_request(filter)))

    async def _create(
        self, data: _core.WriteData, *, parent_id: int | None = None, parent: str | None = None
    ) -> int:
        req = self._write_request("create", data, parent_id, parent)
        return await self._sender.run(self._write_flow(req, None))

    async def _update(
        self, data: _core.WriteData, *, parent_id: int | None = None, parent: str | None = None
    ) -> int:
        req = self._write_request("update", data, parent_id, parent)
        return await self._sender.run(self._write_flow(req, _core.record_id(data)))

    async def _replace(
        self, data: _core.WriteData, *, parent_id: int | None = None, parent: str | None = None
    ) -> int:
        req = self._write_request("replace", data, parent_id, parent)
        return await self._sender.run(self._write_flow(req, _core.record_id(data)))

    async def _delete(
        self, id: int, *, parent_id: int | None = None, parent: str | None = None
    ) -> None:
        req = _core.delete_request(self._spec, id, parent_id=parent_id, parent=parent)
        await self._sender.run(self._delete_flow(req))


def _records(pages: Iterator[Page[M]]) -> Iterator[M]:
    for page in pages:
        yield from page.items


async def _arecords(pages: AsyncIterator[Page[M]]) -> AsyncIterator[M]:
    async for page in pages:
        for item in page.items:
            yield item


# --- Parent/{parentId}/Child collections ----------------------------------------------------------


class _ChildBase(_Operations[M]):
    def __init__(self, host: Any, spec: EntitySpec, route: RouteSpec, parent_id: int) -> None:
        self._host = host
        self._spec = spec
        self._route = route
        self._parent_id = parent_id

    @property
    def parent_id(self) -> int:
        return self._parent_id

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._route.path(self._parent_id)}>"

    def _list_request(self) -> _core.ApiRequest:
        return _core.child_list_request(self._spec, self._route, self._parent_id)

    def _child_get_request(self, id: int) -> _core.ApiRequest:
        return _core.child_get_request(self._spec, self._route, self._parent_id, id)

    def _child_write_flow(self, op: _core.WriteOperation, data: _core.WriteData) -> Flow[int]:
        req = _core.child_write_request(self._spec, self._route, self._parent_id, op, data)
        return self._write_flow(req, None if op == "create" else _core.record_id(data))

    def _child_delete_request(self, id: int) -> _core.ApiRequest:
        return _core.child_delete_request(self._spec, self._route, self._parent_id, id)


class SyncChildCollection(_ChildBase[M]):
    """``{Parent}/{parentId}/{Child}`` for one parent record (sync)."""

    def __init__(
        self, host: EntityHost, spec: EntitySpec, route: RouteSpec, parent_id: int
    ) -> None:
        super().__init__(host, spec, route, parent_id)
        self._sender = host.sender
        self._reader = self._sender.reader

    def _list_iter(self) -> Iterator[M]:
        """Every child record, following ``nextPageUrl`` (GET) through every page."""
        return _records(iter_pages(self._sender, self._list_request(), self._read_page))

    def _list(self) -> list[M]:
        return list(self._list_iter())

    def _get(self, id: int) -> M | None:
        return self._sender.run(self._item_flow(self._child_get_request(id)))

    def _create(self, data: _core.WriteData) -> int:
        return self._sender.run(self._child_write_flow("create", data))

    def _update(self, data: _core.WriteData) -> int:
        return self._sender.run(self._child_write_flow("update", data))

    def _replace(self, data: _core.WriteData) -> int:
        return self._sender.run(self._child_write_flow("replace", data))

    def _delete(self, id: int) -> None:
        self._sender.run(self._delete_flow(self._child_delete_request(id)))


class AsyncChildCollection(_ChildBase[M]):
    """``{Parent}/{parentId}/{Child}`` for one parent record (async)."""

    def __init__(
        self, host: AsyncEntityHost, spec: EntitySpec, route: RouteSpec, parent_id: int
    ) -> None:
        super().__init__(host, spec, route, parent_id)
        self._sender = host.sender
        self._reader = self._sender.reader

    def _list_iter(self) -> AsyncIterator[M]:
        """Every child record, following ``nextPageUrl`` (GET) through every page."""
        return _arecords(aiter_pages(self._sender, self._list_request(), self._read_page))

    async def _list(self) -> list[M]:
        return [item async for item in self._list_iter()]

    async def _get(self, id: int) -> M | None:
        return await self._sender.run(self._item_flow(self._child_get_request(id)))

    async def _create(self, data: _core.WriteData) -> int:
        return await self._sender.run(self._child_write_flow("create", data))

    async def _update(self, data: _core.WriteData) -> int:
        return await self._sender.run(self._child_write_flow("update", data))

    async def _replace(self, data: _core.WriteData) -> int:
        return await self._sender.run(self._child_write_flow("replace", data))

    async def _delete(self, id: int) -> None:
        await self._sender.run(self._delete_flow(self._child_delete_request(id)))
