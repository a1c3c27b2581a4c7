"""``AsyncBulkManager``: the async twin of :class:`~py_autotask.bulk.BulkManager`.

Same journal, same decisions (:mod:`._plan`, :mod:`._convert`), same results; requests run as
asyncio tasks, at most ``max_concurrent`` per endpoint (and never more than ``endpoint_limit``).
Journal writes are short synchronous SQLite commits.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from .. import _core
from .._spec import EntitySpec
from ..exceptions import AutotaskConfigError
from ..query import F, FilterArg, build_query_body
from ._convert import ConvertOptions, PreparedRow, TenantFields, column_problems, prepare_row
from ._input import BulkInputError, read_rows
from ._journal import BulkJournal, JournalRow
from ._manager import (
    _TOKEN_LENGTH,
    BulkManager,
    ProgressCallback,
    _from_queued,
    _get_ci,
    _Job,
    _outcome_from_journal,
    _queued_create,
    _queued_update_entry,
    _same,
    _start_job,
    _Stop,
    journal_path,
    require_operation,
    resolve_spec,
)
from ._plan import (
    MAX_IN,
    ConflictResolution,
    Correlation,
    UpdateDecision,
    check_batch_size,
    choose_correlation,
    classify_error,
    decide_update,
    error_text,
    is_missing_record,
)
from ._results import BulkResult, RowOutcome, RowProblem, Status

if TYPE_CHECKING:
    from .._client import AsyncAutotaskClient

__all__ = ["AsyncBulkManager"]

T = TypeVar("T")
R = TypeVar("R")


class AsyncBulkManager:
    """Bulk operations on an :class:`~py_autotask.AsyncAutotaskClient`
    (``client.create_bulk_manager()``). Arguments and results as :class:`BulkManager`; the
    methods are coroutines (``await bulk.bulk_update(...)``) and take ``max_concurrent``."""

    def __init__(
        self,
        client: AsyncAutotaskClient,
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
        self._slots: dict[str, asyncio.Semaphore] = {}
        self._tenant = TenantFields()
        self._sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    def __repr__(self) -> str:
        return (
            f"<AsyncBulkManager max_concurrent={self.max_concurrent} "
            f"endpoint_limit={self.endpoint_limit}>"
        )

    # --- sending ------------------------------------------------------------------------------------

    def _sem(self, endpoint: str) -> asyncio.Semaphore:
        key = endpoint.lower()
        sem = self._slots.get(key)
        if sem is None:
            sem = self._slots[key] = asyncio.Semaphore(self.endpoint_limit)
        return sem

    async def _send(
        self, request: _core.ApiRequest, job: _Job | None, kind: str
    ) -> _core.ApiResponse:
        async with self._sem(request.entity or request.path.split("/", 1)[0]):
            if job is not None:
                job.count(kind)
            return await self._client._send(request)

    async def _query(
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
            data = core.read_json(await self._send(request, job, kind)) or {}
            items.extend(data.get("items") or [])
            next_url = (data.get("pageDetails") or {}).get("nextPageUrl")
            request = (
                _core.next_page_request(spec.name, next_url, body, core.next_page_method)
                if next_url
                else None
            )
        return items

    async def _retrying(self, job: _Job, call: Callable[[], Awaitable[T]]) -> T:
        attempt = 0
        while True:
            try:
                return await call()
            except Exception as exc:
                if classify_error(exc, job.operation) != "retry":
                    raise
                attempt += 1
                if attempt > self.rate_limit_retries:
                    raise _Stop(f"rejected {attempt} times in a row: {error_text(exc)}") from exc
                await self._sleep(min(0.25 * 2 ** (attempt - 1), 8.0))

    async def _write(self, job: _Job, request: _core.ApiRequest, fallback: int | None) -> int:
        async def once() -> int:
            response = await self._send(request, job, request.operation or "write")
            return self._client._core.read_item_id(response, fallback=fallback)

        return await self._retrying(job, once)

    async def _write_none(self, job: _Job, request: _core.ApiRequest) -> None:
        async def once() -> None:
            self._client._core.read_none(
                await self._send(request, job, request.operation or "write")
            )

        await self._retrying(job, once)

    def _concurrency(self, parallel: bool, max_concurrent: int | None) -> int:
        if not parallel:
            return 1
        return max(1, min(max_concurrent or self.max_concurrent, self.endpoint_limit))

    @staticmethod
    async def _map(
        limit: int | asyncio.Semaphore, fn: Callable[[T], Awaitable[R]], items: Sequence[T]
    ) -> list[R]:
        sem = limit if isinstance(limit, asyncio.Semaphore) else asyncio.Semaphore(limit)

        async def run(item: T) -> R:
            async with sem:
                return await fn(item)

        return list(await asyncio.gather(*(run(i) for i in items)))

    async def _run_units(
        self,
        job: _Job,
        rows: list[JournalRow],
        batch_size: int | str,
        parallel: bool,
        max_concurrent: int | None,
        unit_fn: Callable[[list[JournalRow], asyncio.Semaphore], Awaitable[None]],
    ) -> None:
        workers = self._concurrency(parallel, max_concurrent)
        size = check_batch_size(batch_size, job.operation, max(len(rows), 1), workers)
        # Two units in flight sharing one semaphore (as the sync manager): no bubble at unit
        # boundaries, never more than ``workers`` requests at once.
        sem = asyncio.Semaphore(workers)
        window: list[asyncio.Future[None]] = []
        for start in range(0, len(rows), size):
            if job.stopped:
                break
            window.append(asyncio.ensure_future(unit_fn(rows[start : start + size], sem)))
            while len(window) > 1 and not job.stopped:
                await window.pop(0)
        for task in window:
            await task
        job.report()

    # --- preparation --------------------------------------------------------------------------------

    async def _load_tenant(self, spec: EntitySpec, job: _Job | None) -> TenantFields | None:
        if self._tenant.has(spec.name):
            return self._tenant
        provider = getattr(self._client, "metadata", None)
        try:
            if provider is not None and hasattr(provider, "fields"):
                fields = {"fields": await provider.fields(spec.name)}
                udfs = {"fields": await provider.udfs(spec.name)} if spec.has_udfs else None
            else:  # pragma: no cover
                fields = await self._client.raw_request(
                    "GET", f"{spec.name}/entityInformation/fields"
                )
                udfs = (
                    await self._client.raw_request(
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

    async def _prepare(
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
        tenant = await self._load_tenant(spec, job) if mode != "delete" else None
        problems = column_problems(spec, columns, mode, tenant, options)
        if problems:
            raise BulkInputError(f"the {mode} input for {spec.name} cannot be used", problems)
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

    async def _check_references(
        self, spec: EntitySpec, prepared: list[PreparedRow], job: _Job | None
    ) -> None:
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
                items = await self._query(
                    target, F("id").in_(ids[start : start + MAX_IN]), ["id"], job, "reference"
                )
                found.update(int(i["id"]) for i in items if i.get("id") is not None)
            for missing in (i for i in ids if i not in found):
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

    # --- create -------------------------------------------------------------------------------------

    async def bulk_create(
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
        """Async twin of :meth:`BulkManager.bulk_create`."""
        spec = resolve_spec(entity)
        require_operation(spec, "create")
        if on_invalid not in ("abort", "skip"):
            raise AutotaskConfigError("on_invalid must be 'abort' or 'skip'")
        started = time.perf_counter()
        probe = _Job(spec, "create", None, 0, progress_callback)
        prepared, tenant = await self._prepare(
            spec,
            data,
            "create",
            validate=validate,
            options=ConvertOptions(null_value=null_value),
            encoding=encoding,
            job=probe,
        )
        if check_references:
            await self._check_references(spec, prepared, probe)
        given: set[str] = set()
        for p in prepared:
            given.update(p.body)
            given.update("udf:" + str(u.get("name")) for u in p.body.get("userDefinedFields") or [])
        corr = choose_correlation(spec, tenant, given, correlation, natural_key, _TOKEN_LENGTH)
        if dry_run or (any(p.problems for p in prepared) and on_invalid == "abort"):
            result = BulkManager._invalid_result(spec, "create", prepared, dry_run)
            result.requests = probe.requests
            result.elapsed = time.perf_counter() - started
            return result
        jr = BulkJournal.create(
            self._journal_path(spec, "create", journal),
            entity=spec.name,
            operation="create",
            meta={"correlation": corr.to_meta() if corr else None, "on_invalid": on_invalid},
        )
        try:
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
            await self._run_creates(job, jr.rows(["queued"]), batch_size, parallel, max_concurrent)
            return BulkManager._finish(
                job,
                prepared_inputs={p.row: p.source for p in prepared},
                problems=[x for p in bad for x in p.problems],
                started=started,
            )
        finally:
            jr.close()

    async def _run_creates(
        self,
        job: _Job,
        rows: list[JournalRow],
        batch_size: int | str,
        parallel: bool,
        max_concurrent: int | None,
    ) -> None:
        assert job.journal is not None
        journal = job.journal

        async def unit(batch: list[JournalRow], workers: asyncio.Semaphore) -> None:
            journal.mark_pending([r.row for r in batch])
            for outcome in await self._map(workers, lambda r: self._create_one(job, r), batch):
                job.record(outcome)

        await self._run_units(job, rows, batch_size, parallel, max_concurrent, unit)

    async def _create_one(self, job: _Job, row: JournalRow) -> RowOutcome:
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
                record_id = await self._create(job, request)
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
                    found = await self._lookup_one(job, row)
                except Exception as lookup_exc:
                    return RowOutcome(
                        row.row,
                        "pending",
                        reason=(
                            f"outcome unknown ({error_text(exc)}) and the lookup failed "
                            f"({error_text(lookup_exc)}); left pending for `bulk resume`"
                        ),
                    )
                if found:
                    journal.finish(row.row, "done", record_id=found[0], reconciled=True)
                    return RowOutcome(row.row, "ok", id=found[0], reconciled=True)
                if attempts >= self.max_create_attempts:
                    reason = f"not created after {attempts} attempts: {error_text(exc)}"
                    journal.finish(row.row, "failed", reason=reason)
                    return RowOutcome(row.row, "failed", reason=reason)
                continue
            journal.finish(row.row, "done", record_id=record_id)
            return RowOutcome(row.row, "ok", id=record_id)

    async def _create(self, job: _Job, request: _core.ApiRequest) -> int:
        async def once() -> int:
            async with self._sem(job.spec.name):
                job.count("create")
                return self._client._core.read_item_id(await self._client._send(request))

        return await self._retrying(job, once)

    async def _lookup_one(self, job: _Job, row: JournalRow) -> list[int]:
        corr = job.correlation
        assert corr is not None
        flt: Any = (
            corr.lookup_filter([row.op_id]) if corr.field else corr.natural_filter(row.payload)
        )
        if flt is None:
            return []
        last: Exception | None = None
        for attempt in range(3):
            try:
                items = await self._query(job.spec, flt, ["id"], job, "lookup")
                return sorted(int(i["id"]) for i in items if i.get("id") is not None)
            except Exception as exc:
                last = exc
                await self._sleep(0.2 * (attempt + 1))
        assert last is not None
        raise last

    async def _lookup_many(self, job: _Job, rows: list[JournalRow]) -> dict[int, list[int]]:
        corr = job.correlation
        assert corr is not None
        out: dict[int, list[int]] = {}
        if not corr.field:
            for r in rows:
                out[r.row] = await self._lookup_one(job, r)
            return out
        by_token = {r.op_id: r.row for r in rows}
        tokens = list(by_token)
        include = None if corr.udf else ["id", corr.field]
        for start in range(0, len(tokens), MAX_IN):
            chunk = tokens[start : start + MAX_IN]
            for item in await self._query(
                job.spec, corr.lookup_filter(chunk), include, job, "lookup"
            ):
                token = corr.value_of(item)
                if token in by_token and item.get("id") is not None:
                    out.setdefault(by_token[token], []).append(int(item["id"]))
        return out

    # --- update -------------------------------------------------------------------------------------

    async def bulk_update(
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
        """Async twin of :meth:`BulkManager.bulk_update`."""
        spec = resolve_spec(entity)
        require_operation(spec, "update")
        if conflict_resolution not in ("merge", "overwrite", "skip"):
            raise AutotaskConfigError("conflict_resolution must be 'merge', 'overwrite' or 'skip'")
        if on_invalid not in ("abort", "skip"):
            raise AutotaskConfigError("on_invalid must be 'abort' or 'skip'")
        started = time.perf_counter()
        probe = _Job(spec, "update", None, 0, progress_callback)
        prepared, _ = await self._prepare(
            spec,
            updates,
            "update",
            validate=validate,
            options=ConvertOptions(null_value=null_value, drop_read_only=drop_read_only),
            encoding=encoding,
            job=probe,
        )
        if check_references:
            await self._check_references(spec, prepared, probe)
        if dry_run:
            result = BulkManager._invalid_result(spec, "update", prepared, True)
            good = [p for p in prepared if not p.problems and p.record_id is not None]
            fields = {k for p in good for k in p.body} | {k for p in good for k in p.expected}
            current = await self._prefetch(
                probe, [p.record_id for p in good if p.record_id is not None], fields
            )
            outcomes = {r.row: r for r in result.rows}
            for p in good:
                assert p.record_id is not None
                d = decide_update(
                    spec, p, current.get(p.record_id), conflict_resolution, snapshot_time
                )
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
            result.requests = probe.requests
            result.elapsed = time.perf_counter() - started
            return result
        if any(p.problems for p in prepared) and on_invalid == "abort":
            result = BulkManager._invalid_result(spec, "update", prepared, False)
            result.requests = probe.requests
            result.elapsed = time.perf_counter() - started
            return result
        jr = BulkJournal.create(
            self._journal_path(spec, "update", journal),
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
            await self._run_updates(
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

    async def _prefetch(
        self, job: _Job, ids: list[int], fields: Iterable[str]
    ) -> dict[int, dict[str, Any]]:
        wanted = sorted(set(fields) | {"id"})
        include = None if "userDefinedFields" in wanted else wanted
        if include is not None and job.spec.change_tracking_field:
            include = sorted(set(include) | {job.spec.change_tracking_field})
        current: dict[int, dict[str, Any]] = {}
        for start in range(0, len(ids), MAX_IN):
            for item in await self._query(
                job.spec, F("id").in_(ids[start : start + MAX_IN]), include, job, "prefetch"
            ):
                if item.get("id") is not None:
                    current[int(item["id"])] = item
        return current

    async def _run_updates(
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

        async def unit(batch: list[JournalRow], workers: asyncio.Semaphore) -> None:
            plans = {r.row: _from_queued(r) for r in batch}
            fields = {k for p in plans.values() for k in p.body} | {
                k for p in plans.values() for k in p.expected
            }
            ids = [p.record_id for p in plans.values() if p.record_id is not None]
            try:
                current = await self._prefetch(job, ids, fields)
            except _Stop as stop:
                job.stopped = str(stop)
                return
            except Exception as exc:
                if classify_error(exc, "query") in ("stop", "retry"):
                    job.stopped = error_text(exc)
                    return
                raise
            decisions: dict[int, UpdateDecision] = {
                r.row: decide_update(
                    job.spec,
                    plans[r.row],
                    current.get(_key(plans[r.row].record_id)),
                    mode,
                    snapshot_time,
                )
                for r in batch
            }
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
            results = await self._map(
                workers,
                lambda r: self._update_one(
                    job, r.row, decisions[r.row].body, decisions[r.row].changed
                ),
                send,
            )
            for outcome in results:
                job.record(outcome)

        await self._run_units(job, rows, batch_size, parallel, max_concurrent, unit)

    async def _update_one(
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
                await self._write(job, request, record_id)
            except _Stop as stop:
                job.stopped = str(stop)
                return RowOutcome(row, "pending", id=record_id, reason=str(stop))
            except Exception as exc:
                kind = classify_error(exc, "update")
                if kind == "stop":
                    job.stopped = error_text(exc)
                    return RowOutcome(row, "pending", id=record_id, reason=error_text(exc))
                if kind == "ambiguous" and attempt < self.max_create_attempts:
                    continue
                job.journal.finish(row, "failed", reason=error_text(exc))
                return RowOutcome(row, "failed", id=record_id, reason=error_text(exc))
            job.journal.finish(row, "done", record_id=record_id, changed=changed)
            return RowOutcome(row, "ok", id=record_id, changed_fields=tuple(changed))
        raise AssertionError("unreachable")  # pragma: no cover

    # --- delete -------------------------------------------------------------------------------------

    async def bulk_delete(
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
        """Async twin of :meth:`BulkManager.bulk_delete`."""
        spec = resolve_spec(entity)
        require_operation(spec, "delete")
        started = time.perf_counter()
        if isinstance(ids, Iterable) and not isinstance(ids, (str, Path, Mapping)):
            ids = list(ids)
            if all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
                ids = [{"id": i} for i in ids]
        probe = _Job(spec, "delete", None, 0, progress_callback)
        prepared, _ = await self._prepare(
            spec,
            ids,
            "delete",
            validate=True,
            options=ConvertOptions(),
            encoding=encoding,
            job=probe,
        )
        if dry_run:
            result = BulkManager._invalid_result(spec, "delete", prepared, True)
            good = [p for p in prepared if not p.problems and p.record_id is not None]
            found = await self._prefetch(
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
            return BulkManager._invalid_result(spec, "delete", prepared, False)
        jr = BulkJournal.create(
            self._journal_path(spec, "delete", journal), entity=spec.name, operation="delete"
        )
        try:
            jr.add_rows((p.row, f"row-{p.row}", {"id": p.record_id}, p.source) for p in prepared)
            job = _Job(spec, "delete", jr, len(prepared), progress_callback)
            await self._run_deletes(job, jr.rows(["queued"]), batch_size, parallel, max_concurrent)
            return BulkManager._finish(
                job,
                prepared_inputs={p.row: p.source for p in prepared},
                problems=[],
                started=started,
            )
        finally:
            jr.close()

    async def _run_deletes(
        self,
        job: _Job,
        rows: list[JournalRow],
        batch_size: int | str,
        parallel: bool,
        max_concurrent: int | None,
    ) -> None:
        assert job.journal is not None
        journal = job.journal

        async def unit(batch: list[JournalRow], workers: asyncio.Semaphore) -> None:
            journal.mark_pending(
                [r.row for r in batch], record_ids={r.row: int(r.payload["id"]) for r in batch}
            )
            results = await self._map(
                workers,
                lambda r: self._delete_one(job, r.row, int(r.payload["id"]), r.state == "pending"),
                batch,
            )
            for outcome in results:
                job.record(outcome)

        await self._run_units(job, rows, batch_size, parallel, max_concurrent, unit)

    async def _delete_one(
        self, job: _Job, row: int, record_id: int, maybe_sent: bool
    ) -> RowOutcome:
        assert job.journal is not None
        if job.stopped:
            return RowOutcome(
                row, "pending", id=record_id, reason=f"not sent: the job stopped ({job.stopped})"
            )
        request = _core.delete_request(job.spec, record_id)
        ambiguous = maybe_sent
        for attempt in range(1, self.max_create_attempts + 1):
            try:
                await self._write_none(job, request)
            except _Stop as stop:
                job.stopped = str(stop)
                return RowOutcome(row, "pending", id=record_id, reason=str(stop))
            except Exception as exc:
                if ambiguous and is_missing_record(exc):
                    break
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

    # --- resume and undo ----------------------------------------------------------------------------

    async def resume(
        self,
        journal: str | Path,
        *,
        parallel: bool = True,
        max_concurrent: int | None = None,
        batch_size: int | str = "auto",
        progress_callback: ProgressCallback | None = None,
        resend_unknown: bool = False,
    ) -> BulkResult:
        """Async twin of :meth:`BulkManager.resume`."""
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
                corr = job.correlation
                to_send: list[JournalRow] = []
                if corr is not None and (corr.field or corr.natural_key):
                    found = await self._lookup_many(job, open_rows)
                    for r in open_rows:
                        got = sorted(found.get(r.row) or [])
                        if got:
                            jr.finish(r.row, "done", record_id=got[0], reconciled=True)
                            job.record(RowOutcome(r.row, "ok", id=got[0], reconciled=True))
                        else:
                            to_send.append(r)
                else:
                    for r in open_rows:
                        if r.state == "queued" or resend_unknown:
                            to_send.append(r)
                        else:
                            reason = (
                                "outcome unknown and the job has no correlation field; not resent"
                            )
                            jr.finish(r.row, "unknown", reason=reason)
                            job.record(RowOutcome(r.row, "unknown", reason=reason))
                await self._run_creates(job, to_send, batch_size, parallel, max_concurrent)
            elif op == "update":
                pending = [r for r in open_rows if r.state != "queued"]
                workers = self._concurrency(parallel, max_concurrent)
                for outcome in await self._map(
                    workers,
                    lambda r: self._update_one(
                        job, r.row, r.payload, r.changed or tuple(k for k in r.payload if k != "id")
                    ),
                    pending,
                ):
                    job.record(outcome)
                snap = meta.get("snapshot_time")
                await self._run_updates(
                    job,
                    [r for r in open_rows if r.state == "queued"],
                    meta.get("conflict_resolution") or "merge",
                    _dt.datetime.fromisoformat(snap) if snap else None,
                    batch_size,
                    parallel,
                    max_concurrent,
                )
            elif op == "delete":
                await self._run_deletes(job, open_rows, batch_size, parallel, max_concurrent)
            else:
                raise AutotaskConfigError(f"cannot resume a {op!r} journal")
            return BulkManager._finish(
                job,
                prepared_inputs={r.row: r.source or {} for r in every},
                problems=[],
                started=started,
            )
        finally:
            jr.close()

    async def undo(
        self,
        journal: str | Path,
        *,
        parallel: bool = True,
        max_concurrent: int | None = None,
        force: bool = False,
        progress_callback: ProgressCallback | None = None,
    ) -> BulkResult:
        """Async twin of :meth:`BulkManager.undo`."""
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

                    async def remove(r: JournalRow) -> RowOutcome:
                        assert r.record_id is not None
                        try:
                            await self._write_none(job, _core.delete_request(spec, r.record_id))
                        except Exception as exc:
                            if not is_missing_record(exc):
                                return RowOutcome(
                                    r.row, "failed", id=r.record_id, reason=error_text(exc)
                                )
                        jr.finish(r.row, "undone", record_id=r.record_id, reason="deleted by undo")
                        return RowOutcome(r.row, "ok", id=r.record_id, reason="deleted")

                    for outcome in await self._map(workers, remove, done):
                        job.record(outcome)
            elif op == "update":
                fields = {k for r in done for k in (r.previous or {})}
                ids = [r.record_id for r in done if r.record_id is not None]
                current = await self._prefetch(job, ids, fields) if ids else {}
                sends: list[tuple[JournalRow, dict[str, Any]]] = []
                for r in done:
                    assert r.record_id is not None
                    server = current.get(r.record_id)
                    if server is None:
                        job.record(
                            RowOutcome(
                                r.row,
                                "failed",
                                id=r.record_id,
                                reason="the record no longer exists",
                            )
                        )
                        continue
                    drifted = [
                        k
                        for k, v in r.payload.items()
                        if k not in ("id", "userDefinedFields")
                        and not _same(spec, k, _get_ci(server, k), v)
                    ]
                    if drifted and not force:
                        job.record(
                            RowOutcome(
                                r.row,
                                "skipped",
                                id=r.record_id,
                                field=drifted[0],
                                reason="changed again since the job ("
                                + ", ".join(drifted)
                                + "); not restored",
                            )
                        )
                        continue
                    sends.append((r, {"id": r.record_id, **(r.previous or {})}))

                async def restore(item: tuple[JournalRow, dict[str, Any]]) -> RowOutcome:
                    r, body = item
                    try:
                        await self._write(job, _core.update_request(spec, body), r.record_id)
                    except Exception as exc:
                        return RowOutcome(r.row, "failed", id=r.record_id, reason=error_text(exc))
                    jr.finish(r.row, "undone", record_id=r.record_id, reason="restored by undo")
                    return RowOutcome(
                        r.row,
                        "ok",
                        id=r.record_id,
                        changed_fields=tuple(k for k in body if k != "id"),
                    )

                for outcome in await self._map(workers, restore, sends):
                    job.record(outcome)
            else:
                for r in done:
                    job.record(
                        RowOutcome(
                            r.row, "failed", id=r.record_id, reason="a delete cannot be undone"
                        )
                    )
            jr.set_meta({"undone_at": time.time()})
            return BulkResult(
                spec.name,
                "undo",
                [job.outcomes[r] for r in sorted(job.outcomes)],
                [],
                journal_path=jr.path,
                requests=job.requests,
                elapsed=time.perf_counter() - started,
                inputs={r.row: r.source or {} for r in done},
            )
        finally:
            jr.close()


def _key(record_id: int | None) -> int:
    return -1 if record_id is None else record_id
