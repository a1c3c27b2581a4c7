"""The API as a :class:`~py_autotask.graph._source.GraphSource`: queries go through the client's
Sender (its pipeline: pacing, thread limits, budget, retries, observers), with ``IncludeFields``
set to the fields the GraphQL selection needs, and are read with the library's one value rule
(:func:`~py_autotask._values.read_wire`).

With a synchronous client the flows run in a worker thread (``asyncio.to_thread``), so the event
loop that executes the GraphQL query is never blocked and several batches run at once.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from .. import _core
from .._registry import spec_for
from .._sender import Flow, request
from .._spec import EntitySpec
from .._values import read_wire, value_kind
from ..query import MAX_PAGE_SIZE, build_query_body

__all__ = ["ApiSource"]

T = TypeVar("T")


def _reader(spec: EntitySpec) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """Wire record -> record keyed by API field names, values read by ``read_wire``."""
    by_wire = {name.lower(): fs for name, fs in spec.fields.items()}

    def read(item: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in item.items():
            fs = by_wire.get(key.lower())
            if fs is not None:
                out[fs.api_name] = read_wire(value_kind(fs.data_type), value)[0]
            elif key.lower() == "userdefinedfields":
                out["userDefinedFields"] = read_wire("udfs", value)[0]
            else:
                out[key] = value
        return out

    return read


class ApiSource:
    """Records from the Autotask API through ``client`` (sync or async)."""

    name = "api"

    def __init__(self, client: Any) -> None:
        self.client = client
        #: query pages sent so far (every page of every find; count requests not included)
        self.pages = 0
        self.is_async = inspect.iscoroutinefunction(type(client.sender).run)

    async def _run(self, flow: Flow[T]) -> T:
        if self.is_async:
            result: T = await self.client.sender.run(flow)
            return result
        return await asyncio.to_thread(self.client.sender.run, flow)

    def _query_flow(
        self, spec: EntitySpec, body: dict[str, Any], first: int | None
    ) -> Flow[list[dict[str, Any]]]:
        reader = self.client.sender.reader
        read = _reader(spec)
        records: list[dict[str, Any]] = []
        next_request: _core.ApiRequest | None = _core.query_request(spec, body)
        while next_request is not None:
            response = yield from request(next_request)
            self.pages += 1
            data = reader.read_json(response) or {}
            records.extend(read(item) for item in data.get("items") or [])
            if first is not None and len(records) >= first:
                return records[:first]
            next_request = reader.follow(
                response, (data.get("pageDetails") or {}).get("nextPageUrl")
            )
        return records

    async def find(
        self,
        entity: str,
        filter: list[dict[str, Any]],
        fields: Sequence[str] | None,
        first: int | None,
    ) -> list[dict[str, Any]]:
        spec = spec_for(entity)
        include = sorted({*fields, "id"}) if fields is not None else None
        max_records = min(first, MAX_PAGE_SIZE) if first is not None else None
        body = build_query_body(filter, include_fields=include, max_records=max_records)
        return await self._run(self._query_flow(spec, body, first))

    async def count(self, entity: str, filter: list[dict[str, Any]]) -> int:
        """``{Entity}/query/count`` (for estimates)."""
        spec = spec_for(entity)
        reader = self.client.sender.reader

        def flow() -> Flow[int]:
            response = yield from request(_core.count_request(spec, build_query_body(filter)))
            data = reader.read_json(response) or {}
            return int(data.get("queryCount") or 0)

        return await self._run(flow())

    async def picklist(self, entity: str, field: str) -> list[dict[str, Any]] | None:
        spec = spec_for(entity)
        metadata = self.client.metadata
        if self.is_async:
            values: list[dict[str, Any]] = await metadata.picklist(
                spec.name, field, include_inactive=True
            )
        else:
            values = await asyncio.to_thread(
                metadata.picklist, spec.name, field, include_inactive=True
            )
        return list(values)
