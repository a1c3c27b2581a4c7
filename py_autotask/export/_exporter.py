"""The :class:`Exporter`: what to export, the fetch into a durable stage, and the final writers."""

from __future__ import annotations

import contextlib
import contextvars
import datetime as _dt
import logging
import os
import shutil
import threading
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, TypeVar

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from .._core import ApiRequest, ApiResponse, redact_url
from .._memory import trim_heap
from .._paths import WRITE_ERRNOS, check_writable, not_writable
from .._registry import spec_for
from .._sender import Flow, Sender, drive
from .._spec import EntitySpec
from .._tally import counting
from .._version import __version__
from ..exceptions import AutotaskConfigError, AutotaskError
from ..query import FilterArg, build_query_body
from . import _sql, _writers
from ._arrow import POOL
from ._columns import (
    ARROW_TYPES,
    Column,
    PageDecoder,
    arrow_schema,
    off_type_reports,
    promote,
    stable_hash,
    table_name,
)
from ._fetch import IN_BATCH, EntityReader, Partition, RootSink, read_entity
from ._stage import Stage, staged_rows, write_json_atomic
from ._tolerance import OffTypeCount, OffTypeReport, merge_counts

T = TypeVar("T")

__all__ = [
    "FORMATS",
    "EntityExport",
    "ExportIncompleteError",
    "ExportResult",
    "Exporter",
    "ProgressCallback",
    "Relationship",
    "StagedExport",
]

logger = logging.getLogger("py_autotask.export")

#: Every format :meth:`Exporter.export` writes.
FORMATS: Final = ("csv", "json", "jsonl", "parquet", "excel", "sqlite", "duckdb", "postgresql")
_ALIASES: Final = {
    "xlsx": "excel",
    "ndjson": "jsonl",
    "json_lines": "jsonl",
    "jsonlines": "jsonl",
    "db": "sqlite",
    "sqlite3": "sqlite",
    "postgres": "postgresql",
    "pq": "parquet",
}
_SUFFIX_FORMATS: Final = {
    ".csv": "csv",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".xlsx": "excel",
    ".db": "sqlite",
    ".sqlite": "sqlite",
    ".sqlite3": "sqlite",
    ".duckdb": "duckdb",
}
_RELATED: Final = "@related"

#: ``progress(entity, phase, rows_done, rows_total_or_None)``; phases ``"fetch"`` (the entity's
#: rows read and staged), ``"related"`` (rows other entities reference) and ``"write"`` (rows
#: written to the output). Called from worker threads, after every page.
ProgressCallback = Callable[[str, str, int, "int | None"], None]


class _Progress:
    """Thread-safe row counters per (entity, phase) that call the user's callback."""

    def __init__(self, callback: ProgressCallback | None) -> None:
        self.callback = callback
        self._lock = threading.Lock()
        self._done: dict[tuple[str, str], int] = {}
        self._total: dict[tuple[str, str], int | None] = {}

    def start(self, entity: str, phase: str, total: int | None, done: int = 0) -> None:
        if self.callback is None:
            return
        with self._lock:
            self._done[entity, phase] = done
            self._total[entity, phase] = total
        self.callback(entity, phase, done, total)

    def add(self, entity: str, phase: str, rows: int) -> None:
        if self.callback is None:
            return
        with self._lock:
            done = self._done[entity, phase] = self._done.get((entity, phase), 0) + rows
            total = self._total.get((entity, phase))
        self.callback(entity, phase, done, total)

    def counted(
        self, entity: str, batches: Iterable[pa.RecordBatch], total: int
    ) -> Iterator[pa.RecordBatch]:
        """``batches``, reporting the ``write`` phase as they are consumed."""
        if self.callback is None:
            yield from batches
            return
        self.start(entity, "write", total)
        for batch in batches:
            yield batch
            self.add(entity, "write", batch.num_rows)


class ExportIncompleteError(AutotaskError):
    """The rows read do not match what Autotask counted; nothing was published. The work
    directory is kept, so ``resume=True`` can continue."""


@dataclass(frozen=True)
class Relationship:
    """Rows of ``target`` referenced by ``source`` rows through ``fields`` (``tickets.company``)."""

    source: str
    fields: tuple[str, ...]
    target: str
    text: str


@dataclass
class EntityExport:
    """What was written for one entity."""

    entity: str
    rows: int
    expected: int
    verified: bool
    location: str  # file name, sheet name(s) or table name
    columns: list[Column] = field(repr=False, default_factory=list)
    related_rows: int = 0  # rows fetched because other rows reference them
    missing_references: int = 0  # referenced ids that no longer exist (or are not visible)
    #: values that did not match their field's declared type, one report per field
    off_type: list[OffTypeReport] = field(default_factory=list)

    @property
    def promoted_columns(self) -> list[str]:
        """Columns written as text because a value could not be held by their declared type."""
        return [c.name for c in self.columns if c.promoted_from is not None]


@dataclass
class ExportResult:
    """The outcome of :meth:`Exporter.export` / :meth:`Exporter.to_sql`."""

    path: str  # output file/folder/zip, or the database URL/description
    format: str
    entities: dict[str, EntityExport]
    foreign_keys: list[tuple[str, str, str]]
    requests: int  # API requests this run sent: retries, rejected attempts, threshold polls too
    resumed: bool
    warnings: list[str]
    manifest: dict[str, Any] = field(repr=False)

    @property
    def rows(self) -> int:
        return sum(e.rows for e in self.entities.values())

    @property
    def off_type(self) -> list[OffTypeReport]:
        """Every (entity, field) that held values off its declared type (also in ``warnings``
        and the manifest): converted without loss, or kept as received text."""
        return [r for e in self.entities.values() for r in e.off_type]

    @property
    def off_type_values(self) -> int:
        """How many values did not match their field's declared type (0 for clean data)."""
        return sum(r.values for r in self.off_type)


class _Counter:
    def __init__(self) -> None:
        self.n = 0
        self._lock = threading.Lock()

    def add(self, n: int = 1) -> None:
        with self._lock:
            self.n += n


class _CountingSender:
    """A :class:`~py_autotask._sender.Sender` that counts the requests it sends: every attempt
    the client's pipeline made for one (resends after a 429 or a 503, threshold polls), so the
    count equals what the server received; 1 per request for a sender without that pipeline."""

    def __init__(self, sender: Sender, counter: _Counter) -> None:
        self._sender = sender
        self._counter = counter
        self.reader = sender.reader

    def send(self, request: ApiRequest) -> ApiResponse:
        with counting() as tally:
            try:
                return self._sender.send(request)
            finally:
                self._counter.add(tally.sent if tally.calls else 1)

    def run(self, flow: Flow[T]) -> T:
        return drive(flow, self.send)


class _StageSink(RootSink):
    def __init__(self, stage: Stage, name: str, progress: _Progress) -> None:
        self.stage = stage
        self.name = name
        self.progress = progress
        self.writers: dict[int, Any] = {}
        self._lock = threading.Lock()

    def resume_state(self) -> tuple[list[Any], int, list[Partition]] | None:
        ent = self.stage.entity(self.name)
        if ent is None or not ent.get("parts"):
            return None
        count = int(ent["count"])
        self.progress.start(self.name, "fetch", count, self.stage.rows(self.name))
        return self.stage.columns(self.name), count, self.stage.partitions(self.name)

    def begin(self, columns: list[Any], count: int) -> None:
        self.stage.begin_entity(self.name, columns, count=count)
        self.progress.start(self.name, "fetch", count)

    def set_parts(self, parts: list[Partition]) -> None:
        self.stage.set_parts(self.name, parts)

    def _writer(self, index: int) -> Any:
        with self._lock:
            w = self.writers.get(index)
            if w is None:
                w = self.writers[index] = self.stage.writer(self.name, index)
            return w

    def write(
        self,
        index: int,
        batch: Any,
        *,
        last: int | None,
        done: bool,
        off_type: Mapping[str, OffTypeCount] | None = None,
    ) -> None:
        self._writer(index).write(batch, last=last, done=done, off_type=off_type)
        if batch is not None and batch.num_rows:
            self.progress.add(self.name, "fetch", batch.num_rows)

    def promote(self, column: Column) -> None:
        self.stage.promote(self.name, column)

    def close_part(self, index: int) -> None:
        with self._lock:
            w = self.writers.pop(index, None)
        if w is not None:
            w.close()


@dataclass
class _Job:
    name: str
    spec: EntitySpec
    filter_items: list[dict[str, Any]]
    fields: tuple[str, ...] | None = None  # a field selection (``add_entities(fields=...)``)

    def include_fields(self) -> list[str] | None:
        """``IncludeFields`` for the selection's pages: its API fields, ``id``, and
        ``userDefinedFields`` when it names a UDF."""
        if not self.fields:
            return None
        names = ["id"]
        for name in self.fields:
            if _udf_name(name) is not None:
                if "userDefinedFields" not in names:
                    names.append("userDefinedFields")
            elif (found := _plain_field(self.spec, name)) is not None and found not in names:
                names.append(found)
        return names

    def select(self, columns: list[Column]) -> list[Column]:
        """``id``, then the selected columns in the order given (each picklist column followed by
        its ``_label`` column when labels are exported)."""
        assert self.fields is not None
        plain = {c.source.lower(): c for c in columns if not c.udf and not c.label_of}
        udfs = {c.source.lower(): c for c in columns if c.udf and not c.label_of}
        labels = {c.label_of: c for c in columns if c.label_of}
        out = [plain["id"]]
        for name in self.fields:
            udf = _udf_name(name)
            col = plain.get(name.strip().lower()) if udf is None else udfs.get(udf.lower())
            if col is None:
                known = sorted(c.source for c in udfs.values())
                hint = ("; its UDFs: " + ", ".join(known)) if known else ""
                raise AutotaskConfigError(
                    f"fields=: {self.name} has no field {name!r} in this tenant{hint}"
                )
            if col not in out:
                out.append(col)
                if col.name in labels:
                    out.append(labels[col.name])
        return out


def _udf_name(name: str) -> str | None:
    """``"udf.Name"`` / ``'udf."Name"'`` -> ``"Name"``; ``None`` for a field that is no UDF."""
    text = name.strip()
    if text.lower().startswith("udf."):
        return text[4:].strip().strip('"')
    return None


def _plain_field(spec: EntitySpec, name: str) -> str | None:
    """The API name of ``spec``'s field ``name`` (any case), else ``None``."""
    low = name.strip().lower()
    return next((f for f in spec.fields if f.lower() == low), None)


class StagedExport:
    """The fetched data of an export run, in its work directory (public for the sync/CLI layers).

    ``entities`` are collection names in export order; :meth:`batches` streams an entity's rows
    as Arrow record batches (root rows in ascending id order, then referenced rows);
    :meth:`columns` gives the output columns; :meth:`info` the per-entity counts."""

    def __init__(
        self, stage: Stage, entities: list[str], relationships: list[Relationship], requests: int
    ) -> None:
        self.stage = stage
        self.resumed = stage.resumed  # True when this run continued an interrupted one
        self.entities = entities
        self.relationships = relationships
        self.requests = requests

    @property
    def work_dir(self) -> Path:
        return self.stage.dir

    def columns(self, entity: str) -> list[Column]:
        """The output columns of ``entity``: a column is text when its own rows or the rows
        fetched because others reference them held a value its declared type cannot hold."""
        keys = [k for k in (entity, entity + _RELATED) if self.stage.entity(k) is not None]
        if not keys:
            return self.stage.columns(entity)
        columns = self.stage.columns(keys[0])
        text = {c.name for k in keys for c in self.stage.columns(k) if c.promoted_from}
        return [promote(c) if c.name in text else c for c in columns]

    def batches(
        self, entity: str, columns: Sequence[str] | None = None
    ) -> Iterator[pa.RecordBatch]:
        types = self.columns(entity)
        yield from self.stage.batches(entity, columns, types)
        yield from self.stage.batches(entity + _RELATED, columns, types)

    def off_type(self, entity: str) -> list[OffTypeReport]:
        """One report per field of ``entity`` that held off-type values (its rows and the rows
        fetched because others reference them), in column order."""
        counts = self.stage.off_type(entity)
        merge_counts(counts, self.stage.off_type(entity + _RELATED))
        return off_type_reports(entity, self.columns(entity), counts)

    def info(self, entity: str) -> EntityExport:
        root = self.stage.entity(entity)
        rel = self.stage.entity(entity + _RELATED)
        rows = self.stage.rows(entity)
        related = self.stage.rows(entity + _RELATED)
        expected = int(root["count"]) if root else 0
        verified = bool(root.get("verified")) if root else True
        missing = 0
        if rel is not None:
            expected += int(rel.get("requested", 0))
            missing = int(rel.get("requested", 0)) - related
        return EntityExport(
            entity,
            rows + related,
            expected,
            verified,
            "",
            self.columns(entity),
            related,
            missing,
            self.off_type(entity),
        )

    def ids(self, entity: str) -> pa.Array:
        # each id column copied out: a slice would keep its whole staged batch in memory
        chunks = [
            pa.concat_arrays([b.column(0)], memory_pool=POOL) for b in self.batches(entity, ["id"])
        ]
        return pa.concat_arrays(chunks, memory_pool=POOL) if chunks else pa.nulls(0, pa.int64())

    def foreign_keys(self) -> tuple[list[tuple[str, str, str]], list[str]]:
        """``(entity, column, referenced entity)`` for every reference column whose target was
        exported too and whose every non-null value exists there; notes for the skipped ones."""
        keys: list[tuple[str, str, str]] = []
        notes: list[str] = []
        id_sets: dict[str, pa.Array] = {}
        for ent in self.entities:
            for col in self.columns(ent):
                if (
                    not col.reference
                    or col.udf
                    or col.label_of
                    or col.reference not in self.entities
                ):
                    continue
                if col.promoted_from is not None:
                    notes.append(
                        f"no foreign key {ent}.{col.name} -> {col.reference}: the column holds "
                        "text (values that are not ids)"
                    )
                    continue
                ids = id_sets.get(col.reference)
                if ids is None:
                    ids = id_sets[col.reference] = self.ids(col.reference)
                dangling = 0
                for b in self.batches(ent, [col.name]):
                    values = b.column(0)
                    found = pc.is_in(values, value_set=ids, memory_pool=POOL)
                    valid = pc.is_valid(values, memory_pool=POOL)
                    missing = pc.and_(valid, pc.invert(found, memory_pool=POOL), memory_pool=POOL)
                    dangling += int(pc.sum(missing).as_py() or 0)
                if dangling:
                    notes.append(
                        f"no foreign key {ent}.{col.name} -> {col.reference}: {dangling} row(s) reference missing ids"
                    )
                else:
                    keys.append((ent, col.name, col.reference))
        return keys, notes

    def discard(self) -> None:
        shutil.rmtree(self.stage.dir, ignore_errors=True)


class Exporter:
    """Export whole Autotask collections, with the rows they reference, to files or a database.

    Build one with ``client.create_exporter()``; see the :mod:`py_autotask.export` docstring."""

    def __init__(
        self,
        sender: Sender,
        *,
        workers: int = 3,
        picklist_labels: bool = False,
        neutralize_formulas: bool = True,
        fsync: bool = True,
        progress: ProgressCallback | None = None,
        strict: bool = False,
    ) -> None:
        if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
            raise AutotaskConfigError(
                "workers must be a positive integer (Autotask allows 3 per endpoint)"
            )
        self.sender = sender
        self.workers = workers
        self.picklist_labels = picklist_labels
        self.neutralize_formulas = neutralize_formulas
        self.fsync = fsync
        self.progress = progress
        #: raise :class:`OffTypeValueError` at the first value off its declared type instead of
        #: converting it (when nothing is lost) or keeping it as text, and reporting it
        self.strict = strict
        self._jobs: dict[str, _Job] = {}
        self._relationships: list[Relationship] = []

    # -- configuration -----------------------------------------------------------------------------
    @staticmethod
    def _spec(name: str) -> EntitySpec:
        return spec_for(name)

    def add_entities(
        self,
        *entities: str,
        filter: FilterArg | None = None,
        fields: Sequence[str] | None = None,
    ) -> Exporter:
        """Export every row of these collections (``"tickets"``, ``"Tickets"``, ``"ticket"`` all
        work); ``filter`` (same forms as ``query()``) applies to each entity of this call.

        ``fields`` exports only these fields (API names in any case, ``"udf.Name"`` for a UDF) in
        the order given, after ``id`` (always exported: rows are read, resumed and keyed by it);
        only they are requested (``IncludeFields``). Columns keep the export's names and types."""
        if not entities:
            raise AutotaskConfigError("add_entities() needs at least one entity name")
        chosen: tuple[str, ...] | None = None
        if fields is not None:
            if isinstance(fields, str) or not all(isinstance(f, str) and f.strip() for f in fields):
                raise AutotaskConfigError(
                    "fields= takes a list of field names, e.g. ['id', 'title', 'udf.Tier']"
                )
            chosen = tuple(f.strip() for f in fields) or None
        for name in entities:
            spec = self._spec(name)
            if "query" not in spec.root_operations or "count" not in spec.root_operations:
                raise AutotaskConfigError(
                    f"{spec.name} cannot be exported: it has no root query/count endpoint"
                )
            body = build_query_body(filter)
            items = (
                [i for i in body["filter"] if i != {"op": "gte", "field": "id", "value": 0}]
                if filter is None
                else body["filter"]
            )
            if chosen is not None:
                for field_name in chosen:
                    if _udf_name(field_name) is None and _plain_field(spec, field_name) is None:
                        raise AutotaskConfigError(
                            f"fields=: {spec.name} has no field {field_name!r} "
                            f"(its fields: {', '.join(sorted(spec.fields))})"
                        )
            self._jobs[spec.name] = _Job(spec.name, spec, items, chosen)
        return self

    def include_relationships(self, relationships: str | Iterable[str]) -> Exporter:
        """Also export the rows that exported rows reference: ``"tickets.company"`` (by target:
        every reference field of Tickets pointing at Companies) or ``"tickets.companyID"`` (by
        field). The source must be an added entity (or an earlier relationship's target)."""
        from py_autotask_generated.entities import resolve_name

        items = [relationships] if isinstance(relationships, str) else list(relationships)
        for text in items:
            if not isinstance(text, str) or text.count(".") != 1:
                raise AutotaskConfigError(
                    f"a relationship is 'entity.reference', e.g. 'tickets.company'; got {text!r}"
                )
            src_text, ref_text = (p.strip() for p in text.split("."))
            source = self._spec(src_text)
            known = set(self._jobs) | {r.target for r in self._relationships}
            if source.name not in known:
                raise AutotaskConfigError(
                    f"relationship {text!r}: add {source.name} with add_entities() first"
                )
            refs = {n: f for n, f in source.fields.items() if f.reference_entity}
            by_field = [n for n in refs if n.lower() == ref_text.lower()]
            if by_field:
                fields = by_field
                target = resolve_name(str(refs[by_field[0]].reference_entity))
            else:
                target = resolve_name(ref_text)
                fields = [
                    n
                    for n, f in refs.items()
                    if target and resolve_name(str(f.reference_entity)) == target
                ]
            if not target or not fields:
                choices = ", ".join(sorted(f"{n} -> {f.reference_entity}" for n, f in refs.items()))
                raise AutotaskConfigError(
                    f"{source.name} has no reference matching {ref_text!r}; its references: {choices}"
                )
            target_spec = self._spec(target)
            if "query" not in target_spec.root_operations:
                raise AutotaskConfigError(
                    f"{target} cannot be queried, so {text!r} cannot be exported"
                )
            self._relationships.append(
                Relationship(source.name, tuple(sorted(fields)), target_spec.name, text)
            )
        return self

    @property
    def entities(self) -> list[str]:
        """Collection names in export order: added entities, then relationship targets."""
        out = list(self._jobs)
        for r in self._relationships:
            if r.target not in out:
                out.append(r.target)
        return out

    def fingerprint(self) -> str:
        """Hash of what is exported (entities, filters, relationships, column options)."""
        return stable_hash(
            {
                "entities": [
                    [j.name, j.filter_items, *([list(j.fields)] if j.fields else [])]
                    for j in self._jobs.values()
                ],
                "relationships": [
                    [r.source, list(r.fields), r.target] for r in self._relationships
                ],
                "labels": self.picklist_labels,
                "version": 1,
            }
        )

    # -- fetch -----------------------------------------------------------------------------------
    def fetch(self, work_dir: str | os.PathLike[str], *, resume: bool = False) -> StagedExport:
        """Read everything into ``work_dir`` (checkpointed per page). With ``resume`` and a matching
        checkpoint, continue where an interrupted run stopped."""
        if not self._jobs:
            raise AutotaskConfigError("nothing to export: call add_entities() first")
        for r in self._relationships:
            job = self._jobs.get(r.source)
            if job is None or not job.fields:
                continue
            chosen = {(_plain_field(job.spec, f) or "").lower() for f in job.fields}
            left_out = [f for f in r.fields if f.lower() not in chosen]
            if left_out:
                raise AutotaskConfigError(
                    f"relationship {r.text!r} reads {r.source}.{left_out[0]}, which fields= "
                    "leaves out: add it to the fields"
                )
        stage = Stage(work_dir, self.fingerprint(), resume=resume, fsync=self.fsync)
        counter = _Counter()
        client = _CountingSender(self.sender, counter)
        progress = _Progress(self.progress)
        for job in self._jobs.values():
            with self._scope("export_entity", job.name):
                self._fetch_root(stage, client, job, progress)
        targets: list[str] = []
        for r in self._relationships:
            if r.target not in targets:
                targets.append(r.target)
        for target in targets:
            with self._scope("export_entity", target, related=True):
                self._fetch_related(
                    stage,
                    client,
                    target,
                    [r for r in self._relationships if r.target == target],
                    progress,
                )
        staged = StagedExport(stage, self.entities, list(self._relationships), counter.n)
        observers = self.sender.reader.observers
        for name in staged.entities:
            for report in staged.off_type(name):
                logger.warning("%s", report)
                if observers:
                    observers.off_type(name, report.field, report.values)
        return staged

    def _scope(self, kind: str, entity: str | None = None, **attributes: Any) -> Any:
        """A job scope on the client's observers (nothing to build when none is attached)."""
        observers = self.sender.reader.observers
        if not observers:
            return contextlib.nullcontext()
        return observers.job(kind, entity, **attributes)

    def _report_rows(self, infos: Mapping[str, EntityExport]) -> None:
        """Rows published per entity (after they were written and checked)."""
        observers = self.sender.reader.observers
        if observers:
            for name, info in infos.items():
                observers.rows(name, "exported", info.rows)

    def _fetch_root(self, stage: Stage, client: Sender, job: _Job, progress: _Progress) -> None:
        ent = stage.entity(job.name)
        if ent is not None and ent.get("done"):
            rows = stage.rows(job.name)
            progress.start(job.name, "fetch", rows, rows)
            return
        reader = EntityReader(client, job.spec, job.filter_items, job.include_fields())
        sink = _StageSink(stage, job.name, progress)
        _columns, count = read_entity(
            reader,
            sink,
            workers=self.workers,
            picklist_labels=self.picklist_labels,
            select=job.select if job.fields else None,
            strict=self.strict,
        )
        rows = stage.rows(job.name)
        verified = rows == count
        if not verified:
            # The tenant may have changed while we read: count again up to the highest id read.
            max_id = max((p.last or 0 for p in stage.partitions(job.name)), default=0)
            recount_reader = EntityReader(
                client, job.spec, [*job.filter_items, {"op": "lte", "field": "id", "value": max_id}]
            )
            recount = recount_reader.count()
            if recount != rows:
                raise ExportIncompleteError(
                    f"{job.name}: read {rows} rows but Autotask counts {count} (now {recount} up to id {max_id}); "
                    "nothing was published; run again with resume=True, or with overwrite=True to start over"
                )
            logger.info(
                "%s changed during the export: %d rows at start, %d read", job.name, count, rows
            )
            stage.update(job.name, count=recount)
        stage.update(job.name, done=True, verified=True)

    def _fetch_related(
        self,
        stage: Stage,
        client: Sender,
        target: str,
        rels: list[Relationship],
        progress: _Progress,
    ) -> None:
        key = target + _RELATED
        ent = stage.entity(key)
        if ent is not None and ent.get("done"):
            rows = stage.rows(key)
            progress.start(target, "related", rows, rows)
            return
        spec = self._spec(target)
        reader = EntityReader(client, spec)
        if ent is None or not ent.get("parts"):
            wanted: set[int] = set()
            for r in rels:
                for source in (r.source, r.source + _RELATED):
                    for batch in stage.batches(source, list(r.fields)):
                        for column in batch.columns:
                            wanted.update(_ids_of(column.to_pylist()))
            if stage.entity(target) is not None:
                for arr in stage.iter_column(target, "id"):
                    wanted.difference_update(arr.to_pylist())
            ids = sorted(wanted)
            if stage.entity(target) is not None:
                columns = stage.columns(target)
            else:
                with ThreadPoolExecutor(max_workers=2) as pool:
                    # each task in its own copy of this context: the job scope reaches it
                    f_udfs = pool.submit(contextvars.copy_context().run, reader.udf_definitions)
                    f_fields = (
                        pool.submit(contextvars.copy_context().run, reader.field_metadata)
                        if self.picklist_labels
                        else None
                    )
                    from ._fetch import _columns_for

                    columns = _columns_for(
                        spec,
                        f_udfs.result(),
                        f_fields.result() if f_fields else None,
                        self.picklist_labels,
                    )
            stage.begin_entity(key, columns, count=0, requested=len(ids))
            write_json_atomic(stage.dir / key / "ids.json", ids, fsync=self.fsync, private=True)
            stage.set_parts(
                key,
                [Partition(i, min(i + IN_BATCH, len(ids))) for i in range(0, len(ids), IN_BATCH)],
            )
        columns = stage.columns(key)
        decoder = PageDecoder(
            columns,
            arrow_schema(columns),
            entity=target,
            strict=self.strict,
            on_promote=lambda column: stage.promote(key, column),
        )
        ids = orjson.loads((stage.dir / key / "ids.json").read_bytes())
        parts = stage.partitions(key)
        progress.start(target, "related", len(ids), stage.rows(key))

        def run(index: int) -> None:
            part = parts[index]
            assert part.lo is not None and part.hi is not None
            batch, off_type = reader.by_ids(ids[part.lo : part.hi], decoder)
            writer = stage.writer(key, index)
            try:
                writer.write(batch, last=None, done=True, off_type=off_type)
            finally:
                writer.close()
            progress.add(target, "related", batch.num_rows)

        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            futures = [
                pool.submit(contextvars.copy_context().run, run, i)
                for i, p in enumerate(parts)
                if not p.done
            ]
            for f in futures:
                f.result()
        stage.update(key, done=True)

    # -- outputs ---------------------------------------------------------------------------------
    def _manifest(
        self,
        staged: StagedExport,
        fmt: str,
        infos: Mapping[str, EntityExport],
        fks: Sequence[tuple[str, str, str]],
        warnings: list[str],
    ) -> dict[str, Any]:
        return {
            "format": fmt,
            "complete": True,
            "py_autotask": __version__,
            "exported_at": _dt.datetime.now(_dt.timezone.utc).isoformat(),
            "fingerprint": self.fingerprint(),
            "entities": {
                name: {
                    "location": info.location,
                    "rows": info.rows,
                    "expected": info.expected,
                    "count_verified": info.verified,
                    "related_rows": info.related_rows,
                    "missing_references": info.missing_references,
                    "filter": self._jobs[name].filter_items if name in self._jobs else None,
                    "columns": [
                        {
                            "name": c.name,
                            "type": str(c.arrow_type),
                            "source": c.source,
                            "udf": c.udf,
                            "picklist": c.picklist,
                            "label_of": c.label_of,
                            "reference": c.reference,
                            "promoted_from": (
                                str(ARROW_TYPES[c.promoted_from]) if c.promoted_from else None
                            ),
                        }
                        for c in info.columns
                    ],
                    "off_type": [r.to_dict() for r in info.off_type],
                }
                for name, info in infos.items()
            },
            "relationships": [
                {"source": r.source, "fields": list(r.fields), "target": r.target}
                for r in staged.relationships
            ],
            "foreign_keys": [{"entity": a, "column": b, "references": c} for a, b, c in fks],
            "requests": staged.requests,
            "warnings": warnings,
        }

    def export(
        self,
        path: str | os.PathLike[str],
        format: str | None = None,
        *,
        compress: bool = False,
        resume: bool = False,
        overwrite: bool = False,
        work_dir: str | os.PathLike[str] | None = None,
        keep_work_dir: bool = False,
        single_file: bool = False,
    ) -> ExportResult:
        """Export to ``path`` in ``format`` (see the module docstring for layouts).

        ``single_file``: a csv/json/jsonl/parquet export of one entity is written to the file
        ``path`` itself (with ``<path>.manifest.json`` beside it, as for Excel and databases)
        instead of a folder holding ``<table>.<format>``."""
        fmt = _format(path, format)
        if single_file and (fmt not in _writers.FILE_FORMATS or len(self.entities) != 1):
            raise AutotaskConfigError(
                "single_file=True writes one entity (no relationships) as csv, json, jsonl or "
                f"parquet; this export has {len(self.entities)} entities as {fmt}"
            )
        if fmt == "postgresql":
            return self.to_sql(
                os.fspath(path), resume=resume, overwrite=overwrite, work_dir=work_dir
            )
        target = Path(path)
        if compress and target.suffix.lower() != ".zip":
            target = target.with_name(target.name + ".zip")
        if target.exists() and not overwrite:
            raise FileExistsError(f"{target} exists; pass overwrite=True to replace it")
        work = (
            Path(work_dir)
            if work_dir is not None
            else target.with_name(target.name + ".export-state")
        )
        # before anything is read: an output that cannot be written is named as such, not as
        # the OSError of an internal file (.export-state, .partial)
        check_writable(target)
        if work_dir is not None:
            check_writable(work)
        _refuse_to_discard(work, str(target), resume=resume, overwrite=overwrite)
        fresh = not work.exists()
        try:
            with self._scope("export", None, format=fmt):
                return self._export_to(
                    target, fmt, work, compress, resume, keep_work_dir, single_file
                )
        except OSError as exc:
            if exc.errno not in WRITE_ERRNOS:
                raise
            # nothing half-written stays behind (a state folder of an earlier run does)
            for leftover in (
                target.with_name(target.name + ".partial"),
                target.with_name(target.name + ".partial.d"),
                *((work,) if fresh else ()),
            ):
                with contextlib.suppress(OSError):
                    _remove(leftover)
            raise not_writable(path, exc) from None

    def _export_to(
        self,
        target: Path,
        fmt: str,
        work: Path,
        compress: bool,
        resume: bool,
        keep_work_dir: bool,
        single_file: bool,
    ) -> ExportResult:
        staged = self.fetch(work, resume=resume)
        release_memory()
        progress = _Progress(self.progress)
        partial = target.with_name(target.name + ".partial")
        build_dir = target.with_name(target.name + ".partial.d")
        _remove(partial)
        _remove(build_dir)
        build_dir.mkdir(parents=True)
        infos = {name: staged.info(name) for name in staged.entities}
        warnings: list[str] = [str(r) for info in infos.values() for r in info.off_type]
        fks: list[tuple[str, str, str]] = []
        single = fmt in ("excel", "sqlite", "duckdb") or single_file
        if single:
            inner = build_dir / (target.name[: -len(".zip")] if compress else target.name)
            if single_file:
                (name,) = staged.entities
                infos[name].location = inner.name
                rows = self._write_file(fmt, inner, staged, infos[name], progress)
                _check_rows(name, rows, infos[name])
            elif fmt == "excel":
                sheets, warns = _writers.write_excel(
                    inner,
                    (
                        (
                            n,
                            staged.columns(n),
                            progress.counted(n, staged.batches(n), infos[n].rows),
                        )
                        for n in staged.entities
                    ),
                    neutralize=self.neutralize_formulas,
                )
                warnings += warns
                for n, (rows, titles) in sheets.items():
                    infos[n].location = ", ".join(titles)
                    _check_rows(n, rows, infos[n])
            else:
                fks, notes = staged.foreign_keys()
                warnings += notes
                tables = self._sql_tables(staged, infos, progress)
                manifest = self._manifest(staged, fmt, infos, fks, warnings)
                _sql.load(f"{fmt}:///{inner.resolve()}", tables, _foreign_keys(fks), manifest)
                for t in tables:
                    _check_rows(t.entity, t.rows, infos[t.entity])
        else:
            suffix = _writers.FILE_FORMATS[fmt]
            for n in staged.entities:
                fname = table_name(n) + suffix
                rows = self._write_file(fmt, build_dir / fname, staged, infos[n], progress)
                infos[n].location = fname
                _check_rows(n, rows, infos[n])
        manifest = self._manifest(staged, fmt, infos, fks, warnings)
        if compress or not single:
            write_json_atomic(build_dir / "manifest.json", manifest, fsync=self.fsync)
        if compress:
            _zip_dir(build_dir, partial, stored=fmt in ("parquet", "excel"))
            shutil.rmtree(build_dir)
        elif single:
            os.replace(inner, partial)
            shutil.rmtree(build_dir)
        else:
            os.replace(build_dir, partial)
        if self.fsync:
            _fsync_path(partial)
        _remove(target)
        os.replace(partial, target)
        if single and not compress:
            sidecar = target.with_name(target.name + ".manifest.json")
            write_json_atomic(sidecar, manifest, fsync=self.fsync)
        if not keep_work_dir:
            staged.discard()
        self._report_rows(infos)
        return ExportResult(
            str(target),
            fmt,
            infos,
            fks,
            staged.requests,
            staged.resumed,
            warnings,
            manifest,
        )

    def _write_file(
        self, fmt: str, path: Path, staged: StagedExport, info: EntityExport, progress: _Progress
    ) -> int:
        """One entity's staged rows as one csv/json/jsonl/parquet file; returns the rows written."""
        entity = info.entity
        cols = staged.columns(entity)
        batches = progress.counted(entity, staged.batches(entity), info.rows)
        if fmt == "csv":
            return _writers.write_csv(path, cols, batches, neutralize=self.neutralize_formulas)
        if fmt == "json":
            return _writers.write_json(path, cols, batches)
        if fmt == "jsonl":
            return _writers.write_jsonl(path, cols, batches)
        return _writers.write_parquet(path, cols, batches)

    def _sql_tables(
        self, staged: StagedExport, infos: Mapping[str, EntityExport], progress: _Progress
    ) -> list[_sql.SqlTable]:
        tables = []
        for n in staged.entities:
            infos[n].location = table_name(n)

            def factory(n: str = n) -> Iterator[pa.RecordBatch]:
                return progress.counted(n, staged.batches(n), infos[n].rows)

            tables.append(_sql.SqlTable(n, table_name(n), staged.columns(n), factory))
        return tables

    def to_sql(
        self,
        connection: Any,
        *,
        create_tables: bool = True,
        preserve_relationships: bool = True,
        batch_size: int = 1000,
        resume: bool = False,
        overwrite: bool = False,
        work_dir: str | os.PathLike[str] | None = None,
        keep_work_dir: bool = False,
    ) -> ExportResult:
        """Export into a database (one transaction): see :mod:`py_autotask.export._sql`. Like
        :meth:`export`, a run while an interrupted run's rows are staged is refused unless
        ``resume`` (continue) or ``overwrite`` (start over) says what to do with them."""
        if not isinstance(batch_size, int) or batch_size < 1:
            raise AutotaskConfigError("batch_size must be a positive integer")
        dialect = _sql.dialect_of(connection)
        if work_dir is None:
            import tempfile

            where = stable_hash([_describe(connection), self.fingerprint()])
            work_dir = Path(tempfile.gettempdir()) / f"py-autotask-export-{where}"
        _refuse_to_discard(work_dir, _describe(connection), resume=resume, overwrite=overwrite)
        with self._scope("export", None, format=dialect):
            return self._to_sql(
                connection,
                dialect,
                work_dir,
                create_tables=create_tables,
                preserve_relationships=preserve_relationships,
                batch_size=batch_size,
                resume=resume,
                keep_work_dir=keep_work_dir,
            )

    def _to_sql(
        self,
        connection: Any,
        dialect: str,
        work_dir: str | os.PathLike[str],
        *,
        create_tables: bool,
        preserve_relationships: bool,
        batch_size: int,
        resume: bool,
        keep_work_dir: bool,
    ) -> ExportResult:
        staged = self.fetch(work_dir, resume=resume)
        infos = {name: staged.info(name) for name in staged.entities}
        warnings: list[str] = [str(r) for info in infos.values() for r in info.off_type]
        fks: list[tuple[str, str, str]] = []
        if preserve_relationships:
            fks, notes = staged.foreign_keys()
            warnings += notes
        tables = self._sql_tables(staged, infos, _Progress(self.progress))
        manifest = self._manifest(staged, dialect, infos, fks, warnings)
        _, kept = _sql.load(
            connection,
            tables,
            _foreign_keys(fks),
            manifest,
            create_tables=create_tables,
            batch_size=batch_size,
        )
        kept_set = {(k.table, k.column) for k in kept}
        declared = [(a, b, c) for a, b, c in fks if (table_name(a), b) in kept_set]
        for t in tables:
            _check_rows(t.entity, t.rows, infos[t.entity])
        if not keep_work_dir:
            staged.discard()
        self._report_rows(infos)
        manifest["foreign_keys"] = [
            {"entity": a, "column": b, "references": c} for a, b, c in declared
        ]
        return ExportResult(
            _describe(connection),
            dialect,
            infos,
            declared,
            staged.requests,
            staged.resumed,
            warnings,
            manifest,
        )


def _ids_of(values: Iterable[Any]) -> Iterator[int]:
    """The ids among a reference column's values (a column promoted to text holds them as
    text, beside values that are no id at all)."""
    for v in values:
        if type(v) is int:
            yield v
        elif isinstance(v, str) and v.strip().lstrip("-").isdigit():
            yield int(v)


def release_memory() -> None:
    """Hand memory freed by the fetch (decoded pages) back to the OS before the output is written,
    so the two phases' peaks do not add up (Arrow's pool, then glibc's ``malloc_trim``)."""
    import gc

    gc.collect()
    with contextlib.suppress(Exception):
        pa.default_memory_pool().release_unused()
    trim_heap()


def _foreign_keys(fks: Sequence[tuple[str, str, str]]) -> list[_sql.ForeignKey]:
    return [_sql.ForeignKey(table_name(a), b, table_name(c)) for a, b, c in fks]


def _refuse_to_discard(
    work_dir: str | os.PathLike[str], into: str, *, resume: bool, overwrite: bool
) -> None:
    """Starting over would silently throw away the requests already spent on the rows an
    interrupted run staged in ``work_dir``: the caller must say resume or overwrite."""
    left = staged_rows(work_dir) if not (resume or overwrite) else 0
    if left:
        raise FileExistsError(
            f"{work_dir} holds an interrupted export into {into} ({left:,} rows staged); pass "
            "resume=True to continue it or overwrite=True to start over"
        )


def _describe(connection: Any) -> str:
    try:
        text = _sql._url_text(connection)
    except AutotaskConfigError:
        return f"<{type(connection).__name__}>"
    return redact_url(text)  # masks a database URL's password too


def _check_rows(entity: str, written: int, info: EntityExport) -> None:
    if written != info.rows:
        raise ExportIncompleteError(
            f"{entity}: staged {info.rows} rows but wrote {written}; nothing was published"
        )


def _format(path: str | os.PathLike[str], format: str | None) -> str:
    if format is not None:
        fmt = _ALIASES.get(format.strip().lower(), format.strip().lower())
        if fmt not in FORMATS:
            raise AutotaskConfigError(
                f"unknown export format {format!r}; use one of {', '.join(FORMATS)}"
            )
        return fmt
    text = os.fspath(path)
    if text.lower().startswith(("postgresql:", "postgres:", "postgresql+")):
        return "postgresql"
    suffix = Path(text).suffix.lower()
    if suffix == ".zip":
        suffix = Path(text[:-4]).suffix.lower()
    if suffix in _SUFFIX_FORMATS:
        return _SUFFIX_FORMATS[suffix]
    raise AutotaskConfigError(
        f"cannot tell the format of {text!r}; pass format= (one of {', '.join(FORMATS)})"
    )


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _zip_dir(folder: Path, dest: Path, *, stored: bool) -> None:
    method = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(dest, "w", compression=method) as zf:
        for p in sorted(folder.rglob("*")):
            if p.is_file():
                zf.write(p, p.relative_to(folder).as_posix())


def _fsync_path(path: Path) -> None:
    paths = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    for p in paths:
        with open(p, "rb") as f:
            os.fsync(f.fileno())
