"""Reading whole collections fast and within Autotask's limits: id-keyset pages over id-range
partitions, run in parallel up to the per-endpoint thread limit.

One entity is read as:

1. at once (at most ``workers`` in flight): the UDF definitions (and ``entityInformation/fields``
   when picklist labels are wanted), ``/query/count`` and the first page (``id > 0``);
2. the rest of the id range is split into ``workers + 1`` partitions (at most ``workers`` requests
   in flight; the spare partition takes a free slot while another converts and writes its page) from the count and the id
   density of the first page (``plan_partitions``). Bounded partitions hold a whole number of pages when ids are
   dense, and the last one is open-ended, so a wrong estimate costs balance, never rows;
3. each partition pages with ``id > last AND id <= hi`` (``MaxRecords`` 500) until the server reports
   no ``nextPageUrl``. No page costs an extra request: about 2 requests per 1,000 records plus the
   count and metadata calls.

Referenced rows are fetched with ``id in [...]`` queries of at most 500 ids (:meth:`EntityReader.by_ids`),
decoded like any page.
Every request goes through the client's sender, so retries and pacing of the client apply.
"""

from __future__ import annotations

import contextvars
import math
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar

from .. import _core
from .._sender import Sender
from .._spec import EntitySpec
from ._columns import Column, PageDecoder, arrow_schema, conform
from ._tolerance import OffTypeCount, merge_counts

__all__ = ["IN_BATCH", "PAGE_SIZE", "EntityReader", "PageResult", "Partition", "plan_partitions"]

T = TypeVar("T")

PAGE_SIZE: Final = 500
#: Partitions (threads) beyond the request slots: while one converts and writes its page, the spare
#: one uses the free slot. One is enough (a page takes ~15 ms to decode and stage against a ~200 ms
#: request; 2 x workers measured the same) and keeps a kill -9 to at most workers + 1 pages re-read.
SPARE_PARTITIONS: Final = 1
#: Most ids per ``in`` condition (Autotask's 500-condition limit).
IN_BATCH: Final = 500


@dataclass
class Partition:
    """``lo < id <= hi`` (``None``: unbounded); ``last`` is the last id durably written."""

    lo: int | None
    hi: int | None
    last: int | None = None
    rows: int = 0
    done: bool = False

    @property
    def after(self) -> int | None:
        return self.last if self.last is not None else self.lo

    def to_json(self) -> dict[str, Any]:
        return {
            "lo": self.lo,
            "hi": self.hi,
            "last": self.last,
            "rows": self.rows,
            "done": self.done,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Partition:
        return cls(
            data["lo"],
            data["hi"],
            data.get("last"),
            int(data.get("rows", 0)),
            bool(data.get("done")),
        )


@dataclass(frozen=True)
class PageResult:
    """One decoded keyset page: its rows as a record batch of the export's columns, and the
    off-type values it held per column (see :mod:`._tolerance`)."""

    batch: Any  # pyarrow.RecordBatch
    more: bool
    first_id: int | None
    last_id: int | None
    nbytes: int
    off_type: dict[str, OffTypeCount] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return int(self.batch.num_rows)


def plan_partitions(
    first_id: int,
    last_id: int,
    first_rows: int,
    total: int,
    workers: int,
    page_size: int = PAGE_SIZE,
) -> list[Partition]:
    """Partitions for the rows after the first page (ids ``first_id..last_id``, ``first_rows`` rows).

    ``total`` is the ``/query/count`` result. The id density of the first page sizes the ranges so
    each bounded partition holds a whole number of pages when ids are dense; the last partition has
    no upper bound, so rows beyond the estimate (or added since the count) are still read."""
    remaining = max(0, total - first_rows)
    pages = math.ceil(remaining / page_size)
    k = max(1, min(workers, pages))
    if k == 1:
        return [Partition(last_id, None)]
    density = max(1.0, (last_id - first_id) / max(1, first_rows - 1))
    base, extra = divmod(pages, k)
    bounds, done_pages = [], 0
    for j in range(k - 1):
        done_pages += base + (1 if j < extra else 0)
        bounds.append(last_id + round(done_pages * page_size * density))
    edges: list[int | None] = [last_id, *bounds, None]
    return [Partition(edges[i], edges[i + 1]) for i in range(k)]


def _id_filter(
    filter_items: Sequence[Mapping[str, Any]], after: int | None, upto: int | None
) -> list[Any]:
    items: list[Any] = [dict(f) for f in filter_items]
    items.append(
        {"op": "gt", "field": "id", "value": after}
        if after is not None
        else {"op": "gte", "field": "id", "value": 0}
    )
    if upto is not None:
        items.append({"op": "lte", "field": "id", "value": upto})
    return items


class _ReaderBase:
    def __init__(
        self,
        spec: EntitySpec,
        filter_items: Sequence[Mapping[str, Any]],
        include_fields: Sequence[str] | None = None,
    ) -> None:
        self.spec = spec
        self.filter_items = [dict(f) for f in filter_items]
        #: ``IncludeFields`` of the keyset pages: only these fields are sent (``None``: all)
        self.include_fields = list(include_fields) if include_fields else None

    def _page_request(self, after: int | None, upto: int | None) -> _core.ApiRequest:
        body: dict[str, Any] = {
            "filter": _id_filter(self.filter_items, after, upto),
            "MaxRecords": PAGE_SIZE,
        }
        if self.include_fields:
            body["IncludeFields"] = self.include_fields
        return _core.query_request(self.spec, body)

    def _ids_request(self, ids: Sequence[int], after: int | None) -> _core.ApiRequest:
        items: list[Any] = [{"op": "in", "field": "id", "value": list(ids)}]
        if after is not None:
            items.append({"op": "gt", "field": "id", "value": after})
        return _core.query_request(self.spec, {"filter": items, "MaxRecords": PAGE_SIZE})

    def _count_request(self) -> _core.ApiRequest:
        return _core.count_request(self.spec, {"filter": _id_filter(self.filter_items, None, None)})

    def _meta_request(self, what: str) -> _core.ApiRequest:
        return _core.ApiRequest(
            "GET",
            f"{self.spec.name}/entityInformation/{what}",
            entity=self.spec.name,
            operation="meta",
        )

    @staticmethod
    def _page(
        core: _core.ClientCore, response: _core.ApiResponse, decoder: PageDecoder
    ) -> PageResult:
        core.raise_for_status(response)
        page = decoder.read(response.content)
        batch, next_url = page.batch, page.next_url
        first = last = None
        if batch.num_rows:
            import pyarrow.compute as pc

            from ._arrow import POOL

            ids = batch.column("id")
            if ids.null_count or (
                batch.num_rows > 1
                and not pc.all(
                    pc.greater(ids.slice(1), ids.slice(0, len(ids) - 1), memory_pool=POOL)
                ).as_py()
            ):
                raise ValueError(
                    f"page of {batch.num_rows} rows is not in ascending id order (or lacks ids); "
                    "keyset paging needs it"
                )
            first, last = int(ids[0].as_py()), int(ids[-1].as_py())
        more = bool(next_url) and batch.num_rows > 0
        return PageResult(batch, more, first, last, len(response.content), page.off_type)

    @staticmethod
    def _fields(core: _core.ClientCore, response: _core.ApiResponse) -> list[dict[str, Any]]:
        data = core.read_json(response)
        fields = data.get("fields") if isinstance(data, dict) else None
        return [f for f in fields or () if isinstance(f, dict)]


class EntityReader(_ReaderBase):
    """Reader of one collection through a :class:`~py_autotask._sender.Sender` (thread-safe:
    call from workers). Async clients read through the loop bridge of :mod:`py_autotask._async_jobs`."""

    def __init__(
        self,
        sender: Sender,
        spec: EntitySpec,
        filter_items: Sequence[Mapping[str, Any]] = (),
        include_fields: Sequence[str] | None = None,
    ) -> None:
        super().__init__(spec, filter_items, include_fields)
        self.sender = sender

    def page(self, after: int | None, upto: int | None, decoder: PageDecoder) -> PageResult:
        return self.decode(self.fetch(after, upto), decoder)

    def fetch(self, after: int | None, upto: int | None) -> _core.ApiResponse:
        """The raw response of one keyset page (the request slot is only needed for this)."""
        return self.sender.send(self._page_request(after, upto))

    def decode(self, response: _core.ApiResponse, decoder: PageDecoder) -> PageResult:
        return self._page(self.sender.reader, response, decoder)

    def count(self) -> int:
        return self.sender.reader.read_count(self.sender.send(self._count_request()))

    def udf_definitions(self) -> list[dict[str, Any]]:
        if not self.spec.has_udfs:
            return []
        return self._fields(
            self.sender.reader, self.sender.send(self._meta_request("userDefinedFields"))
        )

    def field_metadata(self) -> list[dict[str, Any]]:
        return self._fields(self.sender.reader, self.sender.send(self._meta_request("fields")))

    def by_ids(
        self, ids: Sequence[int], decoder: PageDecoder
    ) -> tuple[Any, dict[str, OffTypeCount]]:
        """The rows whose id is in ``ids`` (at most :data:`IN_BATCH`; one request per 500 rows)
        as one batch in ascending id order (the columns of ``decoder`` as they end), with the
        off-type values they held."""
        if len(ids) > IN_BATCH:
            raise ValueError(f"at most {IN_BATCH} ids per request")
        batches: list[Any] = []
        off_type: dict[str, OffTypeCount] = {}
        after: int | None = None
        while True:
            response = self.sender.send(self._ids_request(ids, after))
            self.sender.reader.raise_for_status(response)
            page = decoder.read(response.content)
            del response
            merge_counts(off_type, page.off_type)
            batch = page.batch
            if batch.num_rows:
                batches.append(batch)
            if not (page.next_url and batch.num_rows):
                break
            after = _max_id(batch)
        return _by_id(batches, decoder.columns), off_type


# --- drivers --------------------------------------------------------------------------------------


class RootSink:
    """Where :func:`read_entity` puts an entity's pages. ``resume_state`` returns ``(columns,
    count, partitions)`` of an earlier interrupted run, or ``None``. :meth:`write` must make the
    page (and its off-type counts) durable, or simply keep them, before returning;
    :meth:`promote` hears of a column that holds text from now on before any page with it is
    written."""

    def resume_state(self) -> tuple[list[Any], int, list[Partition]] | None:
        return None

    def begin(self, columns: list[Any], count: int) -> None:
        raise NotImplementedError

    def set_parts(self, parts: list[Partition]) -> None:
        raise NotImplementedError

    def write(
        self,
        index: int,
        batch: Any,
        *,
        last: int | None,
        done: bool,
        off_type: Mapping[str, OffTypeCount] | None = None,
    ) -> None:
        raise NotImplementedError

    def promote(self, column: Column) -> None:
        return None

    def close_part(self, index: int) -> None:
        return None


class MemorySink(RootSink):
    """Keeps batches in memory per partition (for DataFrames), with the off-type counts."""

    def __init__(self) -> None:
        self.columns: list[Any] = []
        self.count = 0
        self.parts: list[list[Any]] = []
        self.off_type: dict[str, OffTypeCount] = {}
        self._lock = threading.Lock()

    def begin(self, columns: list[Any], count: int) -> None:
        self.columns, self.count = columns, count

    def set_parts(self, parts: list[Partition]) -> None:
        self.parts = [[] for _ in parts]

    def write(
        self,
        index: int,
        batch: Any,
        *,
        last: int | None,
        done: bool,
        off_type: Mapping[str, OffTypeCount] | None = None,
    ) -> None:
        if batch is not None and batch.num_rows:
            self.parts[index].append(batch)
        if off_type:
            with self._lock:
                merge_counts(self.off_type, off_type)

    def batches(self, columns: Sequence[Column] | None = None) -> list[Any]:
        """Every batch in partition order; with ``columns``, each with their types."""
        out = [b for part in self.parts for b in part]
        return out if columns is None else [conform(b, columns) for b in out]


def _columns_for(
    spec: EntitySpec,
    udfs: list[dict[str, Any]],
    fields: list[dict[str, Any]] | None,
    picklist_labels: bool,
) -> list[Any]:
    from py_autotask_generated.entities import resolve_name

    from ._columns import build_columns

    return build_columns(
        spec,
        resolve_reference=resolve_name,
        udf_definitions=udfs,
        field_metadata=fields,
        picklist_labels=picklist_labels,
    )


def read_entity(
    reader: EntityReader,
    sink: RootSink,
    *,
    workers: int = 3,
    picklist_labels: bool = False,
    select: Callable[[list[Any]], list[Any]] | None = None,
    strict: bool = False,
) -> tuple[list[Any], int]:
    """Read every row of ``reader``'s entity and filter into ``sink``; returns ``(columns, count)``
    (the columns as they ended: promoted to text where an off-type value required it).
    ``select`` picks the columns to keep from the entity's (a field selection; ``id`` must stay).

    At most ``workers`` requests are in flight; ``workers + 1`` partitions (threads; one when
    ``workers`` is 1) take turns: a partition holds a request slot only while its request is on
    the wire, and decodes and writes its page after giving the slot to another partition. After a
    crash each partition re-reads at most its one page that was in flight or being written.
    Resumes from ``sink.resume_state()`` when it has one (no count or metadata request then).
    ``strict`` raises :class:`~._tolerance.OffTypeValueError` at the first off-type value."""
    from concurrent.futures import ThreadPoolExecutor

    workers = max(1, workers)
    partitions = workers + SPARE_PARTITIONS if workers > 1 else 1
    slots = threading.BoundedSemaphore(workers)
    resumed = sink.resume_state()

    def limited(fn: Any, *args: Any) -> Any:
        with slots:
            return fn(*args)

    stop = threading.Event()
    columns: list[Any] = []
    decoder: PageDecoder | None = None
    parts: list[Partition] = []

    def run(index: int) -> None:
        part = parts[index]
        assert decoder is not None
        try:
            while not part.done and not stop.is_set():
                response = limited(reader.fetch, part.after, part.hi)
                page = reader.decode(response, decoder)
                del response  # the body is ~4x the batch: drop it before writing
                done = not page.more
                sink.write(index, page.batch, last=page.last_id, done=done, off_type=page.off_type)
                if page.last_id is not None:
                    part.last = page.last_id
                part.done = done
                del page
                _release()
        except BaseException:
            stop.set()
            raise
        finally:
            sink.close_part(index)

    with ThreadPoolExecutor(max_workers=partitions, thread_name_prefix="autotask-export") as pool:

        def submit(fn: Callable[..., T], *args: Any) -> Future[T]:
            # each task runs in its own copy of this context: the job scope (and a tracer's
            # current span) reach the worker threads
            return pool.submit(contextvars.copy_context().run, fn, *args)

        first_error: BaseException | None = None
        if resumed is None:
            f_udfs = submit(limited, reader.udf_definitions)
            f_fields = submit(limited, reader.field_metadata) if picklist_labels else None
            f_count = submit(limited, reader.count)
            f_first = submit(limited, reader.fetch, None, None)
            udfs = f_udfs.result()
            fields = f_fields.result() if f_fields else None
            count = f_count.result()
            columns = _columns_for(reader.spec, udfs, fields, picklist_labels)
            if select is not None:
                columns = select(columns)
            decoder = _decoder(reader.spec, columns, sink, strict)
            sink.begin(columns, count)
            first = reader.decode(f_first.result(), decoder)
            if first.more and first.first_id is not None and first.last_id is not None:
                rest = plan_partitions(first.first_id, first.last_id, first.rows, count, partitions)
                parts = [Partition(None, first.last_id), *rest]
            else:
                parts = [Partition(None, None)]
            sink.set_parts(parts)
            # the partitions start now; the first page is written meanwhile
            futures = [submit(run, i) for i in range(1, len(parts))]
            try:
                sink.write(0, first.batch, last=first.last_id, done=True, off_type=first.off_type)
                parts[0].done = True
            except BaseException as error:
                stop.set()
                first_error = error
            finally:
                sink.close_part(0)
            del first
        else:
            columns, count, parts = resumed
            decoder = _decoder(reader.spec, columns, sink, strict)
            futures = [submit(run, i) for i, p in enumerate(parts) if not p.done]
        errors = [f.exception() for f in futures]
        for failure in [first_error, *errors]:
            if failure is not None:
                raise failure
    return list(decoder.columns), count


def _decoder(spec: EntitySpec, columns: list[Any], sink: RootSink, strict: bool) -> PageDecoder:
    return PageDecoder(
        columns, arrow_schema(columns), entity=spec.name, strict=strict, on_promote=sink.promote
    )


def _max_id(batch: Any) -> int:
    import pyarrow.compute as pc

    return int(pc.max(batch.column("id")).as_py())


def _by_id(batches: list[Any], columns: Sequence[Column]) -> Any:
    """``batches`` (with the types of ``columns``) as one batch sorted by id."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from ._arrow import POOL, empty_batch

    schema = arrow_schema(columns)
    if not batches:
        return empty_batch(schema)
    table = pa.Table.from_batches([conform(b, columns) for b in batches], schema=schema)
    order = pc.sort_indices(table, sort_keys=[("id", "ascending")], memory_pool=POOL)
    return table.take(order).combine_chunks(memory_pool=POOL).to_batches()[0]


def _release() -> None:
    import pyarrow as pa

    pa.default_memory_pool().release_unused()
