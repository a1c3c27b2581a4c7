"""``BulkManager``: bulk create, update and delete with validation, conflict resolution, a
write-ahead journal, resume and undo (sync client).

Autotask REST has no batch endpoint: every record is one request, within 10,000 requests per hour
per tenant and 3 concurrent requests per endpoint. The manager never runs more than
``endpoint_limit`` requests at once on an endpoint (prefetch queries, lookups and writes share the
slots), so it never trips the thread limit; hourly pacing is the client's (``_send``) job.
"""

from __future__ import annotations

import datetime as _dt
import os
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import _core
from .._spec import EntitySpec
from ..exceptions import AutotaskConfigError, AutotaskOperationNotSupportedError
from ..query import F, FilterArg, build_query_body
from ._convert import ConvertOptions, PreparedRow, TenantFields, column_problems, prepare_row
from ._input import BulkInputError, read_rows
from ._journal import BulkJournal, JournalRow
from ._plan import (
    MAX_IN,
    BulkEstimate,
    ConflictResolution,
    Correlation,
    UpdateDecision,
    check_batch_size,
    choose_correlation,
    classify_error,
    decide_update,
    error_text,
    estimate_requests,
    is_missing_record,
)
from ._results import BulkProgress, BulkResult, RowOutcome, RowProblem, Status

if TYPE_CHECKING:
    from .._client import AutotaskClient

__all__ = ["BulkManager", "default_journal_dir", "resolve_spec"]

ProgressCallback = Callable[[BulkProgress], object]
_TOKEN_LENGTH = len("pyat-0123456789-") + 7


def default_journal_dir() -> Path:
    """``$PY_AUTOTASK_BULK_DIR``, else ``$XDG_STATE_HOME/py-autotask/bulk`` (``~/.local/state``)."""
    env = os.environ.get("PY_AUTOTASK_BULK_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "py-autotask" / "bulk"


def resolve_spec(entity: str) -> EntitySpec:
    from py_autotask_generated.entities import resolve_name, spec

    name = resolve_name(entity)
    if name is None:
        raise AutotaskConfigError(f"unknown Autotask entity {entity!r}")
    return spec(name)


def require_operation(spec: EntitySpec, op: str) -> None:
    if op not in spec.operations:
        ops = ", ".join(sorted(spec.operations)) or "nothing"
        raise AutotaskOperationNotSupportedError(
            f"{spec.name} does not support '{op}' through the API (it supports: {ops})"
        )


class _Stop(Exception):
    """The job cannot go on (bad credentials, hourly threshold reached)."""


class _Job:
    """Shared state of one running job: counters, progress, the stop flag."""

    def __init__(
        self,
        spec: EntitySpec,
        operation: str,
        journal: BulkJournal | None,
        total: int,
        progress: ProgressCallback | None,
        correlation: Correlation | None = None,
    ) -> None:
        self.spec = spec
        self.operation = operation
        self.journal = journal
        self.total = total
        self.progress = progress
        self.correlation = correlation
        self.outcomes: dict[int, RowOutcome] = {}
        self.requests: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.stopped: str | None = None
        self._last_percent = -1.0

    def record(self, outcome: RowOutcome) -> None:
        with self.lock:
            self.outcomes[outcome.row] = outcome
            self._report()

    def count(self, kind: str, n: int = 1) -> None:
        with self.lock:
            self.requests[kind] += n

    def _report(self, force: bool = False) -> None:
        if self.progress is None:
            return
        done = len(self.outcomes)
        tally = Counter(o.status for o in self.outcomes.values())
        p = BulkProgress(
            done, self.total, tally["ok"], tally["failed"] + tally["unknown"], tally["skipped"]
        )
        if force or float(p) >= self._last_percent + 1.0 or done == self.total:
            self._last_percent = float(p)
            self.progress(p)

    def report(self) -> None:
        with self.lock:
            self._report(force=True)


class BulkManager:
    """Bulk operations on one :class:`~py_autotask.AutotaskClient` (``client.create_bulk_manager()``).

    ``endpoint_limit`` is Autotask's concurrent-request limit per endpoint (3 for integrations made
    since 2023.1); ``max_concurrent`` caps the requests this manager runs at once per endpoint
    (default: ``endpoint_limit``). ``journal_dir`` is where job journals go when a call does not
    name one (:func:`default_journal_dir`). ``rate_limit_retries`` bounds resends of a write
    rejected with 429 before the job stops (resumable). ``budget_fraction`` and ``hourly_threshold``
    feed :meth:`estimate`.
    """

    def __init__(
        self,
        client: AutotaskClient,
        *,
        max_concurrent: int | None = None,
        endpoint_limit: int = 3,
        journal_dir: str | Path | None = None,
        rate_limit_retries: int = 8,
        max_create_attempts: int = 4,
        budget_fraction: float = 0.5,
        hourly_threshold: int = 10_000,
    ) -> None:
        if endpoint_limit < 1:
            raise AutotaskConfigError("endpoint_limit must be >= 1")
        self._client = client
        self.endpoint_limit = endpoint_limit
        self.max_concurrent = min(max_concurrent or endpoint_limit, endpoint_limit)
        self.journal_dir = Path(journal_dir) if journal_dir is not None else None
        self.rate_limit_retries = rate_limit_retries
        self.max_create_attempts = max_create_attempts
        self.budget_fraction = budget_fraction
        self.hourly_threshold = hourly_threshold
        self._slots: dict[str, threading.BoundedSemaphore] = {}
        self._slots_lock = threading.Lock()
        self._tenant = TenantFields()
        self._sleep: Callable[[float], None] = time.sleep

    def __repr__(self) -> str:
        return f"<BulkManager max_concurrent={self.max_concurrent} endpoint_limit={self.endpoint_limit}>"

    # --- sending ------------------------------------------------------------------------------------

    @contextmanager
    def _slot(self, endpoint: str) -> Iterator[None]:
        key = endpoint.lower()
        with self._slots_lock:
            sem = self._slots.get(key)
            if sem is None:
                sem = self._slots[key] = threading.BoundedSemaphore(self.endpoint_limit)
        with sem:
            yield

    def _send(self, request: _core.ApiRequest, job: _Job | None, kind: str) -> _core.ApiResponse:
        with self._slot(request.entity or request.path.split("/", 1)[0]):
            if job is not None:
                job.count(kind)
            return self._client._send(request)

    def _query(
        self,
        spec: EntitySpec,
        filter: FilterArg,
        include_fields: Sequence[str] | None,
        job: _Job | None,
        kind: str = "query",
    ) -> list[dict[str, Any]]:
        body = build_query_body(filter, include_fields=include_fields)
        request: _core.ApiRequest | None = _core.query_request(spec, body)
        items: list[dict[str, Any]] = []
        core = self._client._core
        while request is not None:
            data = core.read_json(self._send(request, job, kind)) or {}
            items.extend(data.get("items") or [])
            next_url = (data.get("pageDetails") or {}).get("nextPageUrl")
            request = (
                _core.next_page_request(spec.name, next_url, body, core.next_page_method)
                if next_url
                else None
            )
        return items

    def _write(self, job: _Job, request: _core.ApiRequest, fallback: int | None) -> int:
        """Send a write, resending only what was rejected before processing (429)."""
        attempt = 0
        while True:
            try:
                response = self._send(request, job, request.operation or "write")
                return self._client._core.read_item_id(response, fallback=fallback)
            except Exception as exc:
                if classify_error(exc, job.operation) != "retry":
                    raise
                attempt += 1
                if attempt > self.rate_limit_retries:
                    raise _Stop(f"rejected {attempt} times in a row: {error_text(exc)}") from exc
                self._sleep(min(0.25 * 2 ** (attempt - 1), 8.0))

    # --- metadata and preparation -------------------------------------------------------------------

    def _load_tenant(self, spec: EntitySpec, job: _Job | None) -> TenantFields | None:
        if self._tenant.has(spec.name):
            return self._tenant
        provider = getattr(self._client, "metadata", None)
        try:
            if provider is not None and hasattr(provider, "fields"):
                fields = {"fields": provider.fields(spec.name)}
                udfs = {"fields": provider.udfs(spec.name)} if spec.has_udfs else None
            else:  # pragma: no cover - clients without the metadata provider
                fields = self._client.raw_request("GET", f"{spec.name}/entityInformation/fields")
                udfs = (
                    self._client.raw_request(
                        "GET", f"{spec.name}/entityInformation/userDefinedFields"
                    )
                    if spec.has_udfs
                    else None
                )
        except Exception:
            return None
        if job is not None:
            job.count("metadata", 2 if spec.has_udfs else 1)
        self._tenant.add(spec.name, fields, udfs)
        return self._tenant

    def _prepare(
        self,
        spec: EntitySpec,
        data: Any,
        mode: str,
        *,
        validate: bool,
        options: ConvertOptions,
        encoding: str,
        job: _Job | None,
    ) -> tuple[list[PreparedRow], TenantFields | None]:
        columns, rows = read_rows(data, encoding=encoding)
        tenant = self._load_tenant(spec, job) if mode != "delete" else None
        problems = column_problems(spec, columns, mode, tenant, options)
        if problems:
            raise BulkInputError(f"the {mode} input for {spec.name} cannot be used", problems)
        if not rows:
            return [], tenant
        prepared = [
            prepare_row(spec, row, values, mode, tenant, options, validate=validate)
            for row, values in rows
        ]
        if mode in ("update", "delete"):
            seen: dict[int, int] = {}
            for p in prepared:
                rid = p.record_id
                if rid is None:
                    continue
                if rid in seen:
                    p.problems.append(
                        RowProblem(
                            p.row, "id", f"id {rid} is also in row {seen[rid]}; one row per record"
                        )
                    )
                else:
                    seen[rid] = p.row
        return prepared, tenant

    def _check_references(
        self, spec: EntitySpec, prepared: list[PreparedRow], job: _Job | None
    ) -> None:
        """Batched ``id in [...]`` lookups of every referenced id; a missing one is a problem."""
        from py_autotask_generated.entities import resolve_name

        for fld in spec.fields.values():
            if not fld.reference_entity or fld.read_only:
                continue
            target_name = resolve_name(fld.reference_entity)
            if target_name is None:
                continue
            target = resolve_spec(target_name)
            if "query" not in target.root_operations:
                continue
            wanted: dict[int, list[PreparedRow]] = {}
            for p in prepared:
                value = p.body.get(fld.api_name)
                if isinstance(value, int) and not isinstance(value, bool):
                    wanted.setdefault(value, []).append(p)
            ids = sorted(wanted)
            found: set[int] = set()
            for start in range(0, len(ids), MAX_IN):
                chunk = ids[start : start + MAX_IN]
                items = self._query(target, F("id").in_(chunk), ["id"], job, "reference")
                found.update(int(i["id"]) for i in items if i.get("id") is not None)
            for missing in ids:
                if missing in found:
                    continue
                for p in wanted[missing]:
                    p.problems.append(
                        RowProblem(
                            p.row,
                            fld.api_name,
                            f"reference value {missing} of type {fld.reference_entity} does not "
                            "exist or is invalid",
                        )
                    )

    def _journal_path(self, spec: EntitySpec, op: str, journal: str | Path | None) -> Path:
        return journal_path(self.journal_dir, spec, op, journal)

    @staticmethod
    def _invalid_result(
        spec: EntitySpec, op: str, prepared: list[PreparedRow], dry_run: bool
    ) -> BulkResult:
        problems = [p for r in prepared for p in r.problems]
        bad = {p.row for p in problems}
        rows = []
        for r in prepared:
            if r.row in bad:
                first = r.problems[0]
                rows.append(
                    RowOutcome(
                        r.row,
                        "failed",
                        reason="; ".join(
                            p.reason if not p.field else f"{p.field}: {p.reason}"
                            for p in r.problems
                        ),
                        field=first.field,
                    )
                )
            elif dry_run:
                rows.append(RowOutcome(r.row, "ok", id=r.record_id, reason=f"dry run: would {op}"))
            else:
                rows.append(
                    RowOutcome(
                        r.row,
                        "skipped",
                        reason=(
                            f"not sent: {len(bad)} rows have problems and on_invalid='abort'; "
                            "fix them (see the failures CSV) or pass on_invalid='skip'"
                        ),
                    )
                )
        return BulkResult(
            spec.name,
            op,
            rows,
            problems,
            dry_run=dry_run,
            inputs={r.row: r.source for r in prepared},
        )

    # --- public: estimate ---------------------------------------------------------------------------

    def estimate(
        self,
        entity: str,
        operation: str,
        rows: int | Any,
        *,
        latency: float = 0.3,
        batch_size: int | str = "auto",
        validate: bool = True,
        check_references: bool = False,
        check_threshold: bool = False,
    ) -> BulkEstimate:
        """Requests and time a job will take, before running it. ``rows`` is a count or the input
        itself. ``check_threshold=True`` reads ``ThresholdInformation`` (one request) to report the
        requests already used in the current hour."""
        spec = resolve_spec(entity)
        count = rows if isinstance(rows, int) else len(read_rows(rows)[1])
        usage = None
        if check_threshold:
            info = self._client.raw_request("GET", "ThresholdInformation") or {}
            usage = info.get("currentTimeframeRequestCount")
        refs = (
            sum(1 for f in spec.fields.values() if f.reference_entity and not f.read_only)
            if check_references
            else 0
        )
        return estimate_requests(
            spec,
            operation,
            count,
            concurrency=self.max_concurrent,
            latency=latency,
            budget_fraction=self.budget_fraction,
            hourly_threshold=self.hourly_threshold,
            batch_size=batch_size,
            validate=validate,
            reference_fields=refs,
            current_usage=usage,
        )

    # --- public: create -----------------------------------------------------------------------------

    def bulk_create(
        self,
        entity: str,
        data: Any,
        *,
        validate: bool = True,
        batch_size: int | str = "auto",
        parallel: bool = True,
        max_concurrent: int | None = None,
        progress_callback: ProgressCallback | None = None,
        dry_run: bool = False,
        journal: str | Path | None = None,
        correlation: str | None = "auto",
        natural_key: Sequence[str] | None = None,
        check_references: bool = False,
        on_invalid: str = "abort",
        null_value: str | None = "<null>",
        encoding: str = "utf-8-sig",
    ) -> BulkResult:
        """Create one record per input row; never twice.

        ``data``: a list of dicts, a CSV path, a DataFrame, a :class:`SqlSource` or an object with
        ``.records()``. With ``validate`` every row is checked against the metadata (required,
        read-only, types after conversion, lengths, picklist values and labels, UDFs) and, with
        ``check_references``, every referenced id is looked up in batched ``in`` queries. Rows with
        problems are reported with row, field and reason; with ``on_invalid="abort"`` (default)
        nothing is sent when any row has a problem, with ``"skip"`` the valid rows are sent.
        ``dry_run`` does all the checks and sends no write.

        Exactly-once: each row gets a correlation token (``pyat-<job>-<row>``) written into a
        queryable field (``correlation``: ``"auto"``, a field name, ``"udf:<name>"`` or ``None``;
        see :func:`choose_correlation`), and every row's intent and outcome go to the write-ahead
        journal (``journal``: a path, default under :func:`default_journal_dir`) before and after
        its POST. An ambiguous outcome (dropped connection, timeout, gateway error) is resolved by
        looking the token up: the found record is adopted, and the row is resent only when no
        record carries it. Without a token field (and no ``natural_key``) an ambiguous row is left
        ``unknown`` and never resent. :meth:`resume` finishes an interrupted job.
        """
        spec = resolve_spec(entity)
        require_operation(spec, "create")
        started = time.perf_counter()
        job = _Job(spec, "create", None, 0, progress_callback)
        options = ConvertOptions(null_value=null_value)
        prepared, tenant = self._prepare(
            spec, data, "create", validate=validate, options=options, encoding=encoding, job=job
        )
        if check_references:
            self._check_references(spec, prepared, job)
        if on_invalid not in ("abort", "skip"):
            raise AutotaskConfigError("on_invalid must be 'abort' or 'skip'")
        given: set[str] = set()
        for p in prepared:
            given.update(p.body)
            given.update("udf:" + str(u.get("name")) for u in p.body.get("userDefinedFields") or [])
        corr = choose_correlation(spec, tenant, given, correlation, natural_key, _TOKEN_LENGTH)
        has_problems = any(p.problems for p in prepared)
        if dry_run or (has_problems and on_invalid == "abort"):
            result = self._invalid_result(spec, "create", prepared, dry_run)
            result.requests = job.requests
            result.elapsed = time.perf_counter() - started
            return result
        path = self._journal_path(spec, "create", journal)
        jr = BulkJournal.create(
            path,
            entity=spec.name,
            operation="create",
            meta={"correlation": corr.to_meta() if corr else None, "on_invalid": on_invalid},
        )
        try:
            probe = job
            job, bad = _start_job(
                spec,
                "create",
                jr,
                prepared,
                progress_callback,
                probe.requests,
                _queued_create(corr, str(jr.meta["job_id"])),
                corr,
            )
            self._run_creates(job, jr.rows(["queued"]), batch_size, parallel, max_concurrent)
            return BulkManager._finish(
                job,
                prepared_inputs={p.row: p.source for p in prepared},
                problems=[x for p in bad for x in p.problems],
                started=started,
            )
        finally:
            jr.close()

    def _concurrency(self, parallel: bool, max_concurrent: int | None) -> int:
        if not parallel:
            return 1
        return max(1, min(max_concurrent or self.max_concurrent, self.endpoint_limit))

    def _run_units(
        self,
        job: _Job,
        rows: list[JournalRow],
        batch_size: int | str,
        parallel: bool,
        max_concurrent: int | None,
        unit_fn: Callable[[list[JournalRow], ThreadPoolExecutor], list[Future[None]]],
    ) -> None:
        workers = self._concurrency(parallel, max_concurrent)
        size = check_batch_size(batch_size, job.operation, max(len(rows), 1), workers)
        # Two units in flight: the next unit's intent (and, for updates, its prefetch) is
        # prepared while the pool still works on the current one, so the pool never runs dry at a
        # unit boundary; a unit's intents are still durable before its first request.
        window: deque[list[Future[None]]] = deque()
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="bulk") as pool:
            for start in range(0, len(rows), size):
                if job.stopped:
                    break
                window.append(unit_fn(rows[start : start + size], pool))
                while len(window) > 1 and not job.stopped:
                    for future in window.popleft():
                        future.result()
            while window:
                for future in window.popleft():
                    future.result()
        job.report()

    def _run_creates(
        self,
        job: _Job,
        rows: list[JournalRow],
        batch_size: int | str,
        parallel: bool,
        max_concurrent: int | None,
    ) -> None:
        assert job.journal is not None
        journal = job.journal

        def unit(batch: list[JournalRow], pool: ThreadPoolExecutor) -> list[Future[None]]:
            journal.mark_pending([r.row for r in batch])
            return _submit(pool, job, lambda r: self._create_one(job, r), batch)

        self._run_units(job, rows, batch_size, parallel, max_concurrent, unit)

    def _create_one(self, job: _Job, row: JournalRow) -> RowOutcome:
        assert job.journal is not None
        journal = job.journal
        if job.stopped:
            return RowOutcome(
                row.row, "pending", reason=f"not sent: the job stopped ({job.stopped})"
            )
        request = _core.create_request(job.spec, row.payload)
        attempts = 0
        while True:
            attempts += 1
            try:
                record_id = self._create(job, request)
            except _Stop as stop:
                job.stopped = str(stop)
                return RowOutcome(row.row, "pending", reason=f"outcome pending: {stop}")
            except Exception as exc:
                kind = classify_error(exc, "create")
                if kind == "stop":
                    job.stopped = error_text(exc)
                    return RowOutcome(row.row, "pending", reason=error_text(exc))
                if kind == "failed":
                    journal.finish(row.row, "failed", reason=error_text(exc))
                    return RowOutcome(row.row, "failed", reason=error_text(exc))
                corr = job.correlation
                if corr is None or (not corr.field and not corr.natural_key):
                    reason = (
                        f"outcome unknown ({error_text(exc)}); no correlation field to check, "
                        "so it was not resent: look for the record before resuming"
                    )
                    journal.finish(row.row, "unknown", reason=reason)
                    return RowOutcome(row.row, "unknown", reason=reason)
                try:
                    found = self._lookup_one(job, row)
                except Exception as lookup_exc:
                    reason = (
                        f"outcome unknown ({error_text(exc)}) and the lookup failed "
                        f"({error_text(lookup_exc)}); left pending for `bulk resume`"
                    )
                    return RowOutcome(row.row, "pending", reason=reason)
                if found:
                    journal.finish(row.row, "done", record_id=found[0], reconciled=True)
                    return RowOutcome(row.row, "ok", id=found[0], reconciled=True)
                if attempts >= self.max_create_attempts:
                    reason = f"not created after {attempts} attempts: {error_text(exc)}"
                    journal.finish(row.row, "failed", reason=reason)
                    return RowOutcome(row.row, "failed", reason=reason)
                continue  # proven absent: resend the same body (same token)
            journal.finish(row.row, "done", record_id=record_id)
            return RowOutcome(row.row, "ok", id=record_id)

    def _create(self, job: _Job, request: _core.ApiRequest) -> int:
        """One create through the runtime's exactly-once path (its own lookup-before-resend on an
        ambiguous answer), inside this manager's endpoint slot; 429s are resent here."""
        attempt = 0
        while True:
            try:
                with self._slot(job.spec.name):
                    job.count("create")
                    return self._client._core.read_item_id(self._client._send(request))
            except Exception as exc:
                if classify_error(exc, "create") != "retry":
                    raise
                attempt += 1
                if attempt > self.rate_limit_retries:
                    raise _Stop(f"rejected {attempt} times in a row: {error_text(exc)}") from exc
                self._sleep(min(0.25 * 2 ** (attempt - 1), 8.0))

    def _lookup_one(self, job: _Job, row: JournalRow) -> list[int]:
        corr = job.correlation
        assert corr is not None
        if corr.field:
            flt: Any = corr.lookup_filter([row.op_id])
        else:
            flt = corr.natural_filter(row.payload)
            if flt is None:
                return []
        last: Exception | None = None
        for attempt in range(3):
            try:
                items = self._query(job.spec, flt, ["id"], job, "lookup")
                return sorted(int(i["id"]) for i in items if i.get("id") is not None)
            except Exception as exc:
                last = exc
                self._sleep(0.2 * (attempt + 1))
        assert last is not None
        raise last

    def _lookup_many(self, job: _Job, rows: list[JournalRow]) -> dict[int, list[int]]:
        """Batched lookup of create tokens: row -> ids of records carrying its token."""
        corr = job.correlation
        assert corr is not None
        out: dict[int, list[int]] = {}
        if not corr.field:
            for r in rows:
                out[r.row] = self._lookup_one(job, r)
            return out
        by_token = {r.op_id: r.row for r in rows}
        tokens = list(by_token)
        include = None if corr.udf else ["id", corr.field]
        for start in range(0, len(tokens), MAX_IN):
            chunk = tokens[start : start + MAX_IN]
            for item in self._query(job.spec, corr.lookup_filter(chunk), include, job, "lookup"):
                token = corr.value_of(item)
                if token in by_token and item.get("id") is not None:
                    out.setdefault(by_token[token], []).append(int(item["id"]))
        return out

    @staticmethod
    def _finish(
        job: _Job,
        *,
        prepared_inputs: Mapping[int, Mapping[str, Any]],
        problems: list[RowProblem],
        started: float,
    ) -> BulkResult:
        assert job.journal is not None
        rows = [job.outcomes[r] for r in sorted(job.outcomes)]
        status = "stopped" if job.stopped else "finished"
        job.journal.set_meta({"status": status, "finished_at": time.time()})
        return BulkResult(
            job.spec.name,
            job.operation,
            rows,
            problems,
            journal_path=job.journal.path,
            requests=job.requests,
            elapsed=time.perf_counter() - started,
            stopped_reason=job.stopped,
            inputs=prepared_inputs,
        )

    # --- public: update -----------------------------------------------------------------------------

    def bulk_update(
        self,
        entity: str,
        updates: Any,
        *,
        conflict_resolution: ConflictResolution = "merge",
        dry_run: bool = False,
        validate: bool = True,
        batch_size: int | str = "auto",
        parallel: bool = True,
        max_concurrent: int | None = None,
        progress_callback: ProgressCallback | None = None,
        journal: str | Path | None = None,
        snapshot_time: _dt.datetime | None = None,
        check_references: bool = False,
        on_invalid: str = "abort",
        drop_read_only: bool = False,
        null_value: str | None = "<null>",
        encoding: str = "utf-8-sig",
    ) -> BulkResult:
        """Update records by id (every row needs ``id``), resolving conflicts against the server.

        Current records are fetched in batched ``id in [...]`` queries (one request per 500 rows).
        ``conflict_resolution``: ``"merge"`` sends only the fields that differ from the server
        (rows with no difference are skipped at no cost); ``"overwrite"`` sends every given field;
        ``"skip"`` leaves a record alone when it changed on the server since the caller's snapshot
        (the row's own ``lastActivityDate``/``lastModifiedDateTime`` value, ``snapshot_time``, or
        ``expected.<field>`` columns) and otherwise merges.

        Every mode sends a PATCH (only the given fields; the others are untouched). A PUT would
        replace the whole record: every writable field left out of the body becomes null or its
        default, so a CSV with three columns would wipe the rest of each record. That is why
        "overwrite" means "overwrite the fields you gave", never PUT.

        The journal keeps the previous value of every field sent, so :meth:`undo` can restore them.
        ``drop_read_only`` silently drops read-only columns (an export's ``createDate``...) instead
        of reporting them.
        """
        spec = resolve_spec(entity)
        require_operation(spec, "update")
        if conflict_resolution not in ("merge", "overwrite", "skip"):
            raise AutotaskConfigError("conflict_resolution must be 'merge', 'overwrite' or 'skip'")
        if on_invalid not in ("abort", "skip"):
            raise AutotaskConfigError("on_invalid must be 'abort' or 'skip'")
        started = time.perf_counter()
        probe = _Job(spec, "update", None, 0, progress_callback)
        options = ConvertOptions(null_value=null_value, drop_read_only=drop_read_only)
        prepared, _tenant = self._prepare(
            spec,
            updates,
            "update",
            validate=validate,
            options=options,
            encoding=encoding,
            job=probe,
        )
        if check_references:
            self._check_references(spec, prepared, probe)
        has_problems = any(p.problems for p in prepared)
        if dry_run:
            return self._dry_run_update(
                spec, prepared, conflict_resolution, snapshot_time, probe, started
            )
        if has_problems and on_invalid == "abort":
            result = self._invalid_result(spec, "update", prepared, False)
            result.requests = probe.requests
            result.elapsed = time.perf_counter() - started
            return result
        path = self._journal_path(spec, "update", journal)
        jr = BulkJournal.create(
            path,
            entity=spec.name,
            operation="update",
            meta={
                "conflict_resolution": conflict_resolution,
                "snapshot_time": snapshot_time.isoformat() if snapshot_time else None,
            },
        )
        try:
            job, bad = _start_job(
                spec,
                "update",
                jr,
                prepared,
                progress_callback,
                probe.requests,
                _queued_update_entry,
            )
            self._run_updates(
                job,
                jr.rows(["queued"]),
                conflict_resolution,
                snapshot_time,
                batch_size,
                parallel,
                max_concurrent,
            )
            return BulkManager._finish(
                job,
                prepared_inputs={p.row: p.source for p in prepared},
                problems=[x for p in bad for x in p.problems],
                started=started,
            )
        finally:
            jr.close()

    def _prefetch(
        self, job: _Job, ids: list[int], fields: Iterable[str]
    ) -> dict[int, dict[str, Any]]:
        wanted = sorted(set(fields) | {"id"})
        include = None if "userDefinedFields" in wanted else wanted
        if include is not None and job.spec.change_tracking_field:
            include = sorted(set(include) | {job.spec.change_tracking_field})
        current: dict[int, dict[str, Any]] = {}
        for start in range(0, len(ids), MAX_IN):
            chunk = ids[start : start + MAX_IN]
            for item in self._query(job.spec, F("id").in_(chunk), include, job, "prefetch"):
                if item.get("id") is not None:
                    current[int(item["id"])] = item
        return current

    def _dry_run_update(
        self,
        spec: EntitySpec,
        prepared: list[PreparedRow],
        mode: ConflictResolution,
        snapshot_time: _dt.datetime | None,
        job: _Job,
        started: float,
    ) -> BulkResult:
        """Checks plus a read-only prefetch: reports what each row would change; no write."""
        result = self._invalid_result(spec, "update", prepared, True)
        good = [p for p in prepared if not p.problems and p.record_id is not None]
        fields = {k for p in good for k in p.body} | {k for p in good for k in p.expected}
        current = self._prefetch(
            job, [p.record_id for p in good if p.record_id is not None], fields
        )
        outcomes = {r.row: r for r in result.rows}
        for p in good:
            assert p.record_id is not None
            d = decide_update(spec, _as_prepared(p), current.get(p.record_id), mode, snapshot_time)
            if d.action == "fail":
                result.problems.append(RowProblem(p.row, d.field, d.reason or "failed"))
                outcomes[p.row] = RowOutcome(
                    p.row, "failed", id=p.record_id, reason=d.reason, field=d.field
                )
            elif d.action == "skip":
                outcomes[p.row] = RowOutcome(
                    p.row, "skipped", id=p.record_id, reason=f"dry run: {d.reason}"
                )
            else:
                outcomes[p.row] = RowOutcome(
                    p.row,
                    "ok",
                    id=p.record_id,
                    reason="dry run: would change " + ", ".join(d.changed),
                    changed_fields=d.changed,
                )
        result.rows = [outcomes[r] for r in sorted(outcomes)]
        result.requests = job.requests
        result.elapsed = time.perf_counter() - started
        return result

    def _run_updates(
        self,
        job: _Job,
        rows: list[JournalRow],
        mode: ConflictResolution,
        snapshot_time: _dt.datetime | None,
        batch_size: int | str,
        parallel: bool,
        max_concurrent: int | None,
    ) -> None:
        assert job.journal is not None
        journal = job.journal

        def unit(batch: list[JournalRow], pool: ThreadPoolExecutor) -> list[Future[None]]:
            plans = {r.row: _from_queued(r) for r in batch}
            fields = {k for p in plans.values() for k in p.body} | {
                k for p in plans.values() for k in p.expected
            }
            ids = [p.record_id for p in plans.values() if p.record_id is not None]
            try:
                current = self._prefetch(job, ids, fields)
            except _Stop as stop:
                job.stopped = str(stop)
                return []
            except Exception as exc:
                kind = classify_error(exc, "query")
                if kind in ("stop", "retry"):
                    job.stopped = error_text(exc)
                    return []
                raise
            decisions: dict[int, UpdateDecision] = {}
            for r in batch:
                p = plans[r.row]
                decisions[r.row] = decide_update(
                    job.spec,
                    p,
                    current.get(-1 if p.record_id is None else p.record_id),
                    mode,
                    snapshot_time,
                )
            finished = []
            for r in batch:
                d = decisions[r.row]
                if d.action != "send":
                    state: Status = "failed" if d.action == "fail" else "skipped"
                    finished.append((r.row, state, plans[r.row].record_id, d.reason))
                    job.record(
                        RowOutcome(
                            r.row, state, id=plans[r.row].record_id, reason=d.reason, field=d.field
                        )
                    )
            if finished:
                journal.finish_many(finished)
            send = [r for r in batch if decisions[r.row].action == "send"]
            journal.mark_pending(
                [r.row for r in send],
                payloads={r.row: decisions[r.row].body for r in send},
                previous={r.row: decisions[r.row].previous for r in send},
                record_ids={r.row: int(decisions[r.row].body["id"]) for r in send},
            )
            sendable = [(r, decisions[r.row]) for r in send]
            return _submit(
                pool,
                job,
                lambda rd: self._update_one(job, rd[0].row, rd[1].body, rd[1].changed),
                sendable,
            )

        self._run_units(job, rows, batch_size, parallel, max_concurrent, unit)

    def _update_one(
        self, job: _Job, row: int, body: Mapping[str, Any], changed: Sequence[str]
    ) -> RowOutcome:
        assert job.journal is not None
        record_id = int(body["id"])
        if job.stopped:
            return RowOutcome(
                row, "pending", id=record_id, reason=f"not sent: the job stopped ({job.stopped})"
            )
        request = _core.update_request(job.spec, body)
        for attempt in range(1, self.max_create_attempts + 1):
            try:
                self._write(job, request, record_id)
            except _Stop as stop:
                job.stopped = str(stop)
                return RowOutcome(row, "pending", id=record_id, reason=str(stop))
            except Exception as exc:
                kind = classify_error(exc, "update")
                if kind == "stop":
                    job.stopped = error_text(exc)
                    return RowOutcome(row, "pending", id=record_id, reason=error_text(exc))
                if kind == "ambiguous" and attempt < self.max_create_attempts:
                    continue  # a PATCH of absolute values is idempotent: resend
                job.journal.finish(row, "failed", reason=error_text(exc))
                return RowOutcome(row, "failed", id=record_id, reason=error_text(exc))
            job.journal.finish(row, "done", record_id=record_id, changed=changed)
            return RowOutcome(row, "ok", id=record_id, changed_fields=tuple(changed))
        raise AssertionError("unreachable")  # pragma: no cover

    # --- public: delete -----------------------------------------------------------------------------

    def bulk_delete(
        self,
        entity: str,
        ids: Any,
        *,
        dry_run: bool = False,
        batch_size: int | str = "auto",
        parallel: bool = True,
        max_concurrent: int | None = None,
        progress_callback: ProgressCallback | None = None,
        journal: str | Path | None = None,
        encoding: str = "utf-8-sig",
    ) -> BulkResult:
        """Delete records by id: ``ids`` is a list of ints or any bulk input with an ``id`` column.
        Raises :class:`AutotaskOperationNotSupportedError` up front when the entity cannot be deleted
        through the API (Tickets, Companies...). ``dry_run`` checks that every id exists (batched
        ``in`` queries) and deletes nothing. Deletes cannot be undone."""
        spec = resolve_spec(entity)
        require_operation(spec, "delete")
        started = time.perf_counter()
        if isinstance(ids, Iterable) and not isinstance(ids, (str, Path, Mapping)):
            ids = list(ids)
            if all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
                ids = [{"id": i} for i in ids]
        probe = _Job(spec, "delete", None, 0, progress_callback)
        prepared, _ = self._prepare(
            spec,
            ids,
            "delete",
            validate=True,
            options=ConvertOptions(),
            encoding=encoding,
            job=probe,
        )
        if dry_run:
            result = self._invalid_result(spec, "delete", prepared, True)
            good = [p for p in prepared if not p.problems and p.record_id is not None]
            found = self._prefetch(
                probe, [p.record_id for p in good if p.record_id is not None], ["id"]
            )
            outcomes = {r.row: r for r in result.rows}
            for p in good:
                if p.record_id not in found:
                    reason = f"{spec.singular} {p.record_id} does not exist"
                    result.problems.append(RowProblem(p.row, "id", reason))
                    outcomes[p.row] = RowOutcome(
                        p.row, "failed", id=p.record_id, reason=reason, field="id"
                    )
            result.rows = [outcomes[r] for r in sorted(outcomes)]
            result.requests = probe.requests
            result.elapsed = time.perf_counter() - started
            return result
        if any(p.problems for p in prepared):
            return self._invalid_result(spec, "delete", prepared, False)
        jr = BulkJournal.create(
            self._journal_path(spec, "delete", journal), entity=spec.name, operation="delete"
        )
        try:
            jr.add_rows((p.row, f"row-{p.row}", {"id": p.record_id}, p.source) for p in prepared)
            job = _Job(spec, "delete", jr, len(prepared), progress_callback)
            self._run_deletes(job, jr.rows(["queued"]), batch_size, parallel, max_concurrent)
            return BulkManager._finish(
                job,
                prepared_inputs={p.row: p.source for p in prepared},
                problems=[],
                started=started,
            )
        finally:
            jr.close()

    def _run_deletes(
        self,
        job: _Job,
        rows: list[JournalRow],
        batch_size: int | str,
        parallel: bool,
        max_concurrent: int | None,
    ) -> None:
        assert job.journal is not None
        journal = job.journal

        def unit(batch: list[JournalRow], pool: ThreadPoolExecutor) -> list[Future[None]]:
            journal.mark_pending(
                [r.row for r in batch], record_ids={r.row: int(r.payload["id"]) for r in batch}
            )
            return _submit(
                pool,
                job,
                lambda r: self._delete_one(job, r.row, int(r.payload["id"]), r.state == "pending"),
                batch,
            )

        self._run_units(job, rows, batch_size, parallel, max_concurrent, unit)

    def _delete_one(self, job: _Job, row: int, record_id: int, maybe_sent: bool) -> RowOutcome:
        assert job.journal is not None
        if job.stopped:
            return RowOutcome(
                row, "pending", id=record_id, reason=f"not sent: the job stopped ({job.stopped})"
            )
        request = _core.delete_request(job.spec, record_id)
        ambiguous = maybe_sent
        for attempt in range(1, self.max_create_attempts + 1):
            try:
                self._write_none(job, request)
            except _Stop as stop:
                job.stopped = str(stop)
                return RowOutcome(row, "pending", id=record_id, reason=str(stop))
            except Exception as exc:
                if ambiguous and is_missing_record(exc):
                    break  # an earlier attempt deleted it
                kind = classify_error(exc, "delete")
                if kind == "stop":
                    job.stopped = error_text(exc)
                    return RowOutcome(row, "pending", id=record_id, reason=error_text(exc))
                if kind == "ambiguous" and attempt < self.max_create_attempts:
                    ambiguous = True
                    continue
                job.journal.finish(row, "failed", reason=error_text(exc))
                return RowOutcome(row, "failed", id=record_id, reason=error_text(exc))
            break
        job.journal.finish(row, "done", record_id=record_id)
        return RowOutcome(row, "ok", id=record_id)

    def _write_none(self, job: _Job, request: _core.ApiRequest) -> None:
        attempt = 0
        while True:
            try:
                self._client._core.read_none(self._send(request, job, request.operation or "write"))
                return
            except Exception as exc:
                if classify_error(exc, job.operation) != "retry":
                    raise
                attempt += 1
                if attempt > self.rate_limit_retries:
                    raise _Stop(f"rejected {attempt} times in a row: {error_text(exc)}") from exc
                self._sleep(min(0.25 * 2 ** (attempt - 1), 8.0))

    # --- public: resume and undo --------------------------------------------------------------------

    def resume(
        self,
        journal: str | Path,
        *,
        parallel: bool = True,
        max_concurrent: int | None = None,
        batch_size: int | str = "auto",
        progress_callback: ProgressCallback | None = None,
        resend_unknown: bool = False,
    ) -> BulkResult:
        """Finish an interrupted job from its journal (the input is not needed: the journal holds
        every body). Creates not known to be finished are first looked up by their correlation
        token in batched ``in`` queries: a found record is adopted, and only rows proven absent
        are sent. Rows whose outcome is unknown and that have no token stay unknown unless
        ``resend_unknown=True`` (which risks a duplicate: check first). Updates and deletes left
        pending are resent (idempotent); queued updates are prefetched and resolved like the
        original job. The result covers every row of the job."""
        started = time.perf_counter()
        jr = BulkJournal.open(journal)
        try:
            meta = jr.meta
            spec = resolve_spec(str(meta["entity"]))
            op = str(meta["operation"])
            every = jr.rows()
            job = _Job(
                spec,
                op,
                jr,
                len(every),
                progress_callback,
                Correlation.from_meta(meta.get("correlation")),
            )
            open_rows = [r for r in every if r.state in ("queued", "pending", "unknown")]
            for r in every:
                if r.state not in ("queued", "pending", "unknown"):
                    job.outcomes[r.row] = _outcome_from_journal(r)
            jr.set_meta({"status": "resuming", "resumed_at": time.time()})
            if op == "create":
                self._resume_creates(
                    job, open_rows, batch_size, parallel, max_concurrent, resend_unknown
                )
            elif op == "update":
                pending = [r for r in open_rows if r.state != "queued"]
                queued = [r for r in open_rows if r.state == "queued"]
                if pending:

                    def unit(
                        batch: list[JournalRow], pool: ThreadPoolExecutor
                    ) -> list[Future[None]]:
                        return _submit(
                            pool,
                            job,
                            lambda r: self._update_one(
                                job,
                                r.row,
                                r.payload,
                                r.changed or tuple(k for k in r.payload if k != "id"),
                            ),
                            batch,
                        )

                    self._run_units(job, pending, batch_size, parallel, max_concurrent, unit)
                snap = meta.get("snapshot_time")
                self._run_updates(
                    job,
                    queued,
                    meta.get("conflict_resolution") or "merge",
                    _dt.datetime.fromisoformat(snap) if snap else None,
                    batch_size,
                    parallel,
                    max_concurrent,
                )
            elif op == "delete":
                self._run_deletes(job, open_rows, batch_size, parallel, max_concurrent)
            else:
                raise AutotaskConfigError(f"cannot resume a {op!r} journal")
            inputs = {r.row: r.source or {} for r in every}
            problems = [
                RowProblem(r.row, r.field, r.reason or "failed")
                for r in every
                if r.state == "failed" and r.payload_hash == ""
            ]
            return BulkManager._finish(
                job, prepared_inputs=inputs, problems=problems, started=started
            )
        finally:
            jr.close()

    def _resume_creates(
        self,
        job: _Job,
        rows: list[JournalRow],
        batch_size: int | str,
        parallel: bool,
        max_concurrent: int | None,
        resend_unknown: bool,
    ) -> None:
        assert job.journal is not None
        corr = job.correlation
        to_send: list[JournalRow] = []
        if corr is not None and (corr.field or corr.natural_key):
            found = self._lookup_many(job, rows)
            for r in rows:
                ids = sorted(found.get(r.row) or [])
                if ids:
                    reason = None
                    if len(ids) > 1:
                        reason = f"{len(ids)} records carry this row's token: {ids}"
                    job.journal.finish(
                        r.row, "done", record_id=ids[0], reconciled=True, reason=reason
                    )
                    job.record(RowOutcome(r.row, "ok", id=ids[0], reconciled=True, reason=reason))
                else:
                    to_send.append(r)
        else:
            for r in rows:
                if r.state == "queued" or resend_unknown:
                    to_send.append(r)
                else:
                    reason = (
                        "outcome unknown and the job has no correlation field; not resent "
                        "(check the records, then resume with resend_unknown=True)"
                    )
                    job.journal.finish(r.row, "unknown", reason=reason)
                    job.record(RowOutcome(r.row, "unknown", reason=reason))
        self._run_creates(job, to_send, batch_size, parallel, max_concurrent)

    def undo(
        self,
        journal: str | Path,
        *,
        parallel: bool = True,
        max_concurrent: int | None = None,
        force: bool = False,
        progress_callback: ProgressCallback | None = None,
    ) -> BulkResult:
        """Reverse a finished (or interrupted) job from its journal.

        Updates: every field sent is restored to its previous value (one PATCH per record), unless
        the record changed again since the job (its current value is no longer the one the job
        wrote): such rows are skipped and listed, or restored anyway with ``force=True``. Creates:
        the created records are deleted where the entity allows deletes through the API; otherwise
        (Tickets, Companies...) every id is listed as not undoable. Deletes cannot be undone.
        Undone rows are marked in the journal, so running undo twice does nothing the second time.
        """
        started = time.perf_counter()
        jr = BulkJournal.open(journal)
        try:
            meta = jr.meta
            spec = resolve_spec(str(meta["entity"]))
            op = str(meta["operation"])
            done = jr.rows(["done"])
            job = _Job(spec, "undo", jr, len(done), progress_callback)
            workers = self._concurrency(parallel, max_concurrent)
            if op == "create":
                if "delete" not in spec.operations:
                    for r in done:
                        job.record(
                            RowOutcome(
                                r.row,
                                "failed",
                                id=r.record_id,
                                reason=f"{spec.name} cannot be deleted through the API; record {r.record_id} stays",
                            )
                        )
                else:
                    with ThreadPoolExecutor(max_workers=workers) as pool:
                        for outcome in pool.map(lambda r: self._undo_create(job, r), done):
                            job.record(outcome)
            elif op == "update":
                self._undo_updates(job, done, workers, force)
            else:
                for r in done:
                    job.record(
                        RowOutcome(
                            r.row, "failed", id=r.record_id, reason="a delete cannot be undone"
                        )
                    )
            rows = [job.outcomes[r] for r in sorted(job.outcomes)]
            jr.set_meta({"undone_at": time.time()})
            return BulkResult(
                spec.name,
                "undo",
                rows,
                [],
                journal_path=jr.path,
                requests=job.requests,
                elapsed=time.perf_counter() - started,
                stopped_reason=job.stopped,
                inputs={r.row: r.source or {} for r in done},
            )
        finally:
            jr.close()

    def _undo_create(self, job: _Job, r: JournalRow) -> RowOutcome:
        assert job.journal is not None and r.record_id is not None
        request = _core.delete_request(job.spec, r.record_id)
        try:
            self._write_none(job, request)
        except Exception as exc:
            if not is_missing_record(exc):
                return RowOutcome(r.row, "failed", id=r.record_id, reason=error_text(exc))
        job.journal.finish(r.row, "undone", record_id=r.record_id, reason="deleted by undo")
        return RowOutcome(r.row, "ok", id=r.record_id, reason="deleted")

    def _undo_updates(self, job: _Job, done: list[JournalRow], workers: int, force: bool) -> None:
        assert job.journal is not None
        journal = job.journal
        fields = {k for r in done for k in (r.previous or {})}
        ids = [r.record_id for r in done if r.record_id is not None]
        current = self._prefetch(job, ids, fields) if ids else {}
        sends: list[tuple[JournalRow, dict[str, Any]]] = []
        for r in done:
            assert r.record_id is not None
            prev = dict(r.previous or {})
            server = current.get(r.record_id)
            if server is None:
                job.record(
                    RowOutcome(
                        r.row, "failed", id=r.record_id, reason="the record no longer exists"
                    )
                )
                continue
            if not force:
                drifted = [
                    k
                    for k, v in r.payload.items()
                    if k not in ("id", "userDefinedFields")
                    and not _same(job.spec, k, _get_ci(server, k), v)
                ]
                if drifted:
                    job.record(
                        RowOutcome(
                            r.row,
                            "skipped",
                            id=r.record_id,
                            field=drifted[0],
                            reason=(
                                "changed again since the job ("
                                + ", ".join(drifted)
                                + "); not restored (use force to restore anyway)"
                            ),
                        )
                    )
                    continue
            sends.append((r, {"id": r.record_id, **prev}))

        def restore(item: tuple[JournalRow, dict[str, Any]]) -> RowOutcome:
            r, body = item
            try:
                self._write(job, _core.update_request(job.spec, body), r.record_id)
            except Exception as exc:
                return RowOutcome(r.row, "failed", id=r.record_id, reason=error_text(exc))
            journal.finish(r.row, "undone", record_id=r.record_id, reason="restored by undo")
            return RowOutcome(
                r.row, "ok", id=r.record_id, changed_fields=tuple(k for k in body if k != "id")
            )

        with ThreadPoolExecutor(max_workers=workers) as pool:
            for outcome in pool.map(restore, sends):
                job.record(outcome)


# --- helpers ----------------------------------------------------------------------------------------


def _get_ci(record: Mapping[str, Any], name: str) -> Any:
    low = name.lower()
    for k, v in record.items():
        if k.lower() == low:
            return v
    return None


def _same(spec: EntitySpec, name: str, server: Any, value: Any) -> bool:
    from ._plan import same_value

    return same_value(spec.fields.get(name), server, value)


def _queued_update(p: PreparedRow) -> dict[str, Any]:
    """What a queued update row stores: the converted body plus the caller's snapshot values."""
    out = dict(p.body)
    if p.expected:
        out["__expected__"] = p.expected
    if p.snapshot is not None:
        out["__snapshot__"] = p.snapshot
    return out


def _start_job(
    spec: EntitySpec,
    operation: str,
    jr: BulkJournal,
    prepared: Sequence[PreparedRow],
    progress: ProgressCallback | None,
    probe_requests: Counter[str],
    queued: Callable[[PreparedRow], tuple[str, dict[str, Any]]],
    correlation: Correlation | None = None,
) -> tuple[_Job, list[PreparedRow]]:
    """Journal every prepared row (invalid ones as finished failures, valid ones queued under the
    key and body ``queued`` gives) and open the job that runs them. Shared by the sync and async
    managers; returns the job and the invalid rows."""
    bad = [p for p in prepared if p.problems]
    jr.add_finished(
        (p.row, f"row-{p.row}", "failed", "; ".join(str(x) for x in p.problems), p.source)
        for p in bad
    )
    jr.add_rows((p.row, *queued(p), p.source) for p in prepared if not p.problems)
    job = _Job(spec, operation, jr, len(prepared), progress, correlation)
    job.requests.update(probe_requests)
    for p in bad:
        job.record(
            RowOutcome(
                p.row,
                "failed",
                reason="; ".join(x.reason for x in p.problems),
                field=p.problems[0].field,
            )
        )
    return job, bad


def _queued_create(
    corr: Correlation | None, job_id: str
) -> Callable[[PreparedRow], tuple[str, dict[str, Any]]]:
    """Journal key and body of a create: the correlation token written into the body when the
    entity has a correlation field, else ``row-N`` and the body as given."""

    def entry(p: PreparedRow) -> tuple[str, dict[str, Any]]:
        if corr is not None and corr.field:
            token = corr.token(job_id, p.row)
            return token, corr.apply(p.body, token)
        return f"row-{p.row}", p.body

    return entry


def _queued_update_entry(p: PreparedRow) -> tuple[str, dict[str, Any]]:
    return f"row-{p.row}", _queued_update(p)


def _from_queued(r: JournalRow) -> PreparedRow:
    body = dict(r.payload)
    expected = body.pop("__expected__", {}) or {}
    snapshot = body.pop("__snapshot__", None)
    return PreparedRow(r.row, body, expected, snapshot, [], r.source or {})


def _as_prepared(p: PreparedRow) -> PreparedRow:
    return p


def _outcome_from_journal(r: JournalRow) -> RowOutcome:
    status: Status = {  # type: ignore[assignment]
        "done": "ok",
        "failed": "failed",
        "skipped": "skipped",
        "unknown": "unknown",
        "undone": "ok",
    }.get(r.state, "pending")
    return RowOutcome(
        r.row,
        status,
        id=r.record_id,
        reason=r.reason,
        field=r.field,
        reconciled=r.reconciled,
        changed_fields=r.changed,
    )


def journal_path(
    journal_dir: Path | None, spec: EntitySpec, op: str, journal: str | Path | None
) -> Path:
    """The journal file of a job: ``journal`` if given, else a new name under ``journal_dir``
    (default :func:`default_journal_dir`)."""
    if journal is not None:
        return Path(journal)
    base = journal_dir or default_journal_dir()
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return base / f"{stamp}-{op}-{spec.name}-{uuid.uuid4().hex[:8]}.sqlite"


def _submit(
    pool: ThreadPoolExecutor, job: _Job, fn: Callable[[Any], RowOutcome], items: Sequence[Any]
) -> list[Future[None]]:
    """Run ``fn`` on every item in the pool, recording each outcome as it completes."""

    def run(item: Any) -> None:
        job.record(fn(item))

    return [pool.submit(run, item) for item in items]
