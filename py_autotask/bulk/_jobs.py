"""Every bulk job written once, as flows over the seam.

A job (:meth:`BulkJobs._bulk_create` and its siblings) is a flow (:mod:`py_autotask._sender`): it
reads its input, loads the tenant metadata, checks references, writes the journal and sends its
requests by yielding them, so the same code runs in :class:`~py_autotask.bulk.BulkManager` and
:class:`~py_autotask.bulk.AsyncBulkManager`. Each row is a flow of its own (create one, update one
as its conflict decision says, delete one, restore one) that records its outcome; a job hands its
rows to the manager one unit at a time with :class:`Spawn` and waits for a unit with
:class:`Join`, keeping two units in flight so the manager never runs dry at a unit boundary. The
managers are thin shells: they drive flows through their sender and run the spawned rows
concurrently (threads or asyncio tasks), at most ``max_concurrent`` at once, the job's own
requests (the next unit's prefetch) included.

Everything goes through the manager's sender, so retries (429 and Itgenatr005 by Autotask's real
behaviour, ``Retry-After``, the retry budget), pacing (3 requests in flight per endpoint, the hourly
budget) and exactly-once creates are the client pipeline's. What is left here is what only a bulk
job knows: its journal, correlation tokens of its own (a tenant UDF, a natural key) looked up before
any resend, and what a failure means for a row. A rate limit that outlasted the client's retries,
an exhausted hourly budget, bad credentials or an open circuit breaker stop the job with its rows
resumable.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import functools
import inspect
import os
import re
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Generator, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final, Generic, Protocol, TypeAlias, TypeVar

from .. import _core
from .._core import ApiRequest, ApiResponse, ClientCore
from .._observe import JobInfo, Observers
from .._registry import require_operation, spec_for
from .._sender import Effect, Flow, blocking, collect_pages, request
from .._spec import EntitySpec
from .._tally import RequestTally
from .._values import CLEAN, KEPT, datetime_or_none, read_wire, value_kind
from .._warn import warn_deprecated
from ..caching._metadata import MetadataProvider
from ..exceptions import (
    AutotaskAuthError,
    AutotaskConfigError,
    AutotaskRateLimitError,
    AutotaskUnknownEntityError,
)
from ..query import F, FilterArg, build_query_body
from ._convert import ConvertOptions, PreparedRow, TenantFields, column_problems, prepare_row
from ._input import BulkInputError, read_rows
from ._journal import BulkJournal, JournalRow
from ._plan import (
    DEFAULT_ENDPOINT_LIMIT,
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
    same_value,
)
from ._results import BulkProgress, BulkResult, RowOutcome, RowProblem, Status

__all__ = [
    "BulkJobs",
    "JobEffect",
    "JobFlow",
    "Join",
    "ProgressCallback",
    "SenderHost",
    "Spawn",
    "account",
    "default_journal_dir",
    "journal_path",
    "once",
    "shell_method",
]

T = TypeVar("T")
S = TypeVar("S")
S_co = TypeVar("S_co", covariant=True)

ProgressCallback = Callable[[BulkProgress], object]
_TOKEN_LENGTH = len("pyat-0123456789-") + 7
_THRESHOLD = ApiRequest(
    "GET", "ThresholdInformation", entity="ThresholdInformation", operation="threshold"
)
#: Journal states of rows a resume picks up.
_OPEN = ("queued", "pending", "unknown")


# --- what a job asks of its manager, besides the sender's effects ----------------------------------


@dataclass(frozen=True, slots=True)
class Spawn:
    """Start these row flows (each records its own outcome), at most ``workers`` at once for the
    whole job; the manager answers with a handle for :class:`Join`."""

    rows: Sequence[Flow[None]]
    workers: int


@dataclass(frozen=True, slots=True)
class Join:
    """Wait until every row started under ``handle`` has finished; then the first error a row
    raised (a bug: rows record their failures as outcomes) is raised."""

    handle: Any


JobEffect: TypeAlias = Effect | Spawn | Join
#: A job: a flow that may also spawn and join rows.
JobFlow: TypeAlias = Generator[JobEffect, Any, T]


def once(effect: Effect) -> Flow[Any]:
    """The flow of one effect: how a manager hands a job's own request to its sender."""
    return (yield effect)


class SenderHost(Protocol[S_co]):
    """Anything with a ``sender`` (a client): a manager may be given that instead of the sender."""

    @property
    def sender(self) -> S_co: ...


def shell_method(run: Callable[..., Any], job: Callable[..., Any]) -> None:
    """Give a manager's method ``run`` (which runs the flow method ``job``) the job's public name,
    documentation and signature (``_bulk_create`` -> ``bulk_create``, ``-> JobFlow[BulkResult]``
    -> ``-> BulkResult``)."""
    run.__name__ = run.__qualname__ = job.__name__.lstrip("_")
    run.__doc__ = job.__doc__
    run.__module__ = job.__module__
    signature = inspect.signature(job)
    returns = re.sub(r"^(?:Job)?Flow\[(.*)\]$", r"\1", str(signature.return_annotation))
    run.__signature__ = signature.replace(return_annotation=returns)  # type: ignore[attr-defined]


# --- journal files ----------------------------------------------------------------------------------


def default_journal_dir() -> Path:
    """``$PY_AUTOTASK_BULK_DIR``, else ``$XDG_STATE_HOME/py-autotask/bulk`` (``~/.local/state``)."""
    env = os.environ.get("PY_AUTOTASK_BULK_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "py-autotask" / "bulk"


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


# --- one running job --------------------------------------------------------------------------------


class _Job:
    """Shared state of one running job: counters, outcomes, progress, the stop flag. Rows record
    their outcomes from threads (sync) or tasks (async)."""

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
        self.stopped_on: str | None = None
        self._last_percent = -1.0

    @property
    def jr(self) -> BulkJournal:
        assert self.journal is not None, "a job that writes has a journal"
        return self.journal

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

    def stop(self, row: int, record_id: int | None, exc: BaseException, kind: str) -> RowOutcome:
        """Nothing more can succeed now: stop the job; the row stays pending for ``resume``."""
        reason = error_text(exc)
        if kind == "retry":
            reason = f"still refused after the client's retries: {reason}"
        self.stopped = reason
        if isinstance(exc, AutotaskRateLimitError):  # the budget too: resume once it drained
            self.stopped_on = "rate_limit"
        elif isinstance(exc, AutotaskAuthError):  # fix the credentials, then resume
            self.stopped_on = "auth"
        return RowOutcome(row, "pending", id=record_id, reason=reason)

    def not_sent(self, row: int, record_id: int | None = None) -> RowOutcome:
        return RowOutcome(
            row, "pending", id=record_id, reason=f"not sent: the job stopped ({self.stopped})"
        )

    def failed(self, row: int, record_id: int | None, exc: BaseException) -> RowOutcome:
        """A write that failed for good (or stopped the job)."""
        kind = classify_error(exc, self.operation)
        if kind in ("stop", "retry"):
            return self.stop(row, record_id, exc, kind)
        self.jr.finish(row, "failed", reason=error_text(exc))
        return RowOutcome(row, "failed", id=record_id, reason=error_text(exc))

    def result(
        self,
        inputs: Mapping[int, Mapping[str, Any]],
        problems: list[RowProblem],
        started: float,
    ) -> BulkResult:
        return BulkResult(
            self.spec.name,
            self.operation,
            [self.outcomes[r] for r in sorted(self.outcomes)],
            problems,
            journal_path=self.jr.path,
            requests=self.requests,
            elapsed=time.perf_counter() - started,
            stopped_reason=self.stopped,
            inputs=inputs,
            stopped_on=self.stopped_on,
        )

    def finish(
        self, inputs: Mapping[int, Mapping[str, Any]], problems: list[RowProblem], started: float
    ) -> BulkResult:
        self.jr.set_meta(
            {"status": "stopped" if self.stopped else "finished", "finished_at": time.time()}
        )
        return self.result(inputs, problems, started)


def account(result: T, tally: RequestTally) -> T:
    """Complete a job's request counts with what its :func:`~py_autotask._tally.counting` scope
    saw the pipeline send: resends (``retries``), ``threshold`` polls and, should the job's own
    counts miss some, ``other``; so the total equals the requests the server received. Also the
    rate-limit rejections and waits. Results that are not :class:`BulkResult` pass through."""
    if not isinstance(result, BulkResult):
        return result
    counted = sum(result.requests.values())
    for kind, n in (
        ("retries", tally.retries),
        ("threshold", tally.polls),
        ("other", tally.calls - counted),
    ):
        if n > 0:
            result.requests[kind] += n
    result.rate_limits = tally.rate_limits()
    return result


#: the outcome a row that went through (``ok``) is counted as, per operation
_DONE: Final = {"create": "created", "update": "updated", "delete": "deleted"}


def job_scope(observers: Observers, name: str) -> contextlib.AbstractContextManager[Any]:
    """The job scope of a manager method (``bulk_create``, ``resume``...) on the client's
    observers; nothing to build when none is attached (``estimate`` sends no write: no job)."""
    if not observers or name == "estimate":
        return contextlib.nullcontext()
    return observers.job(name if name.startswith("bulk_") else f"bulk_{name}")


def report(observers: Observers, job: JobInfo | None, result: Any) -> None:
    """A finished job's rows per outcome (``created``/``updated``/``deleted`` for the rows that
    went through, ``dry_run`` for those a dry run checked, then ``failed``, ``skipped``,
    ``unknown``, ``pending`` as the result says) and its status."""
    if job is None or not isinstance(result, BulkResult):
        return
    job.entity = result.entity
    job.attributes["status"] = "ok" if result.succeeded else (result.stopped_on or "partial")
    for status, count in result.counts().items():
        outcome = status
        if status == "ok":
            outcome = "dry_run" if result.dry_run else _DONE.get(result.operation, "ok")
        observers.rows(result.entity, outcome, count)


def _row(job: _Job, outcome: Flow[RowOutcome]) -> Flow[None]:
    """A row as the manager runs it: its flow, then its outcome recorded."""
    job.record((yield from outcome))


# --- the jobs ---------------------------------------------------------------------------------------


class BulkJobs(Generic[S]):
    """The options and the job flows both managers share (see the module docstring).

    ``sender``: the :class:`~py_autotask._sender.Sender` (``client.sender``) or anything with a
    ``sender`` (the client itself). ``max_concurrent``: rows worked on at once (default 3,
    Autotask's concurrent-request limit per endpoint); how many requests reach an endpoint at once
    is the client's pacing (``PacingConfig(max_in_flight_per_endpoint=3)``). ``journal_dir``: where
    job journals go when a call does not name one (:func:`default_journal_dir`).
    ``max_create_attempts``: sends of one create row whose outcome stayed unknown and whose token
    lookup proved it absent. ``budget_fraction`` and ``hourly_threshold`` feed :meth:`estimate`.

    Deprecated: ``endpoint_limit`` (caps ``max_concurrent``; the per-endpoint limit is the client's
    ``PacingConfig``) and ``rate_limit_retries`` (ignored; 429s are retried by the client's
    ``RetryConfig``).
    """

    def __init__(
        self,
        sender: S | SenderHost[S],
        *,
        max_concurrent: int | None = None,
        journal_dir: str | Path | None = None,
        max_create_attempts: int = 4,
        budget_fraction: float = 0.5,
        hourly_threshold: int = 10_000,
        endpoint_limit: int | None = None,
        rate_limit_retries: int | None = None,
    ) -> None:
        found: Any = getattr(sender, "sender", sender)
        self._sender: S = found
        self._reader: ClientCore = found.reader
        if endpoint_limit is not None:
            warn_deprecated(
                "endpoint_limit is deprecated: the client's pacing limits requests per endpoint "
                "(AutotaskClient(pacing=PacingConfig(max_in_flight_per_endpoint=...))); "
                "max_concurrent sets how many rows the manager works on at once"
            )
            if isinstance(endpoint_limit, bool) or endpoint_limit < 1:
                raise AutotaskConfigError("endpoint_limit must be >= 1")
        if rate_limit_retries is not None:
            warn_deprecated(
                "rate_limit_retries is deprecated and ignored: the client's resilience layer "
                "retries rate-limited requests (AutotaskClient(retry_config=RetryConfig(...)))"
            )
        self._cap = endpoint_limit
        self.max_concurrent = self._workers(True, max_concurrent or DEFAULT_ENDPOINT_LIMIT)
        self.journal_dir = Path(journal_dir) if journal_dir is not None else None
        self.max_create_attempts = max_create_attempts
        self.budget_fraction = budget_fraction
        self.hourly_threshold = hourly_threshold
        self._tenant = TenantFields()
        self._metadata = MetadataProvider(self._reader)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} max_concurrent={self.max_concurrent}>"

    def _workers(self, parallel: bool, max_concurrent: int | None) -> int:
        """Rows worked on at once."""
        if not parallel:
            return 1
        n = max_concurrent or self.max_concurrent
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise AutotaskConfigError(f"max_concurrent must be an int >= 1, got {n!r}")
        return min(n, self._cap) if self._cap else n

    # --- reading ------------------------------------------------------------------------------------

    def _send(self, job: _Job, req: ApiRequest, kind: str) -> Flow[ApiResponse]:
        job.count(kind)
        return (yield from request(req))

    def _query(
        self,
        job: _Job,
        spec: EntitySpec,
        filter: FilterArg,
        include_fields: Sequence[str] | None,
        kind: str,
    ) -> Flow[list[dict[str, Any]]]:
        """Every record matching ``filter`` (all pages), as the API returned it."""

        def read(response: ApiResponse) -> tuple[list[dict[str, Any]], str | None]:
            job.count(kind)
            data = self._reader.read_json(response) or {}
            return data.get("items") or [], (data.get("pageDetails") or {}).get("nextPageUrl")

        body = build_query_body(filter, include_fields=include_fields)
        pages = yield from collect_pages(self._reader, _core.query_request(spec, body), read)
        return [item for page in pages for item in page]

    def _by_id(
        self,
        job: _Job,
        spec: EntitySpec,
        ids: Sequence[int],
        include: Sequence[str] | None,
        kind: str,
    ) -> Flow[dict[int, dict[str, Any]]]:
        """The records with these ids that exist, in batched ``id in [...]`` queries (500 each)."""
        found: dict[int, dict[str, Any]] = {}
        for start in range(0, len(ids), MAX_IN):
            chunk = list(ids[start : start + MAX_IN])
            for item in (yield from self._query(job, spec, F("id").in_(chunk), include, kind)):
                if item.get("id") is not None:
                    found[int(item["id"])] = item
        return found

    def _prefetch(
        self, job: _Job, ids: Sequence[int], fields: Iterable[str]
    ) -> Flow[dict[int, dict[str, Any]]]:
        """The server's current records: the fields given, the id and the change-tracking field."""
        wanted = sorted(set(fields) | {"id"})
        include = None if "userDefinedFields" in wanted else wanted
        if include is not None and job.spec.change_tracking_field:
            include = sorted(set(include) | {job.spec.change_tracking_field})
        return (yield from self._by_id(job, job.spec, ids, include, "prefetch"))

    def _lookup_one(self, job: _Job, row: JournalRow) -> Flow[list[int]]:
        """Ids of the records carrying a create row's token (or natural key)."""
        corr = job.correlation
        assert corr is not None
        flt = corr.lookup_filter([row.op_id]) if corr.field else corr.natural_filter(row.payload)
        if flt is None:
            return []
        items = yield from self._query(job, job.spec, flt, ["id"], "lookup")
        return sorted(int(i["id"]) for i in items if i.get("id") is not None)

    def _lookup_many(self, job: _Job, rows: list[JournalRow]) -> Flow[dict[int, list[int]]]:
        """Batched lookup of create tokens: row -> ids of the records carrying its token."""
        corr = job.correlation
        assert corr is not None
        out: dict[int, list[int]] = {}
        if not corr.field:
            for r in rows:
                out[r.row] = yield from self._lookup_one(job, r)
            return out
        by_token = {r.op_id: r.row for r in rows}
        tokens = list(by_token)
        include = None if corr.udf else ["id", corr.field]
        for start in range(0, len(tokens), MAX_IN):
            chunk = tokens[start : start + MAX_IN]
            flt = corr.lookup_filter(chunk)
            for item in (yield from self._query(job, job.spec, flt, include, "lookup")):
                token = corr.value_of(item)
                if token in by_token and item.get("id") is not None:
                    out.setdefault(by_token[token], []).append(int(item["id"]))
        return out

    # --- preparation --------------------------------------------------------------------------------

    def _load_tenant(self, spec: EntitySpec, job: _Job) -> Flow[TenantFields | None]:
        """The tenant's picklists and UDFs of ``spec`` (fetched once per manager); ``None`` when
        they cannot be read (the checks that need them are skipped)."""
        if self._tenant.has(spec.name):
            return self._tenant
        before = self._metadata.fetches
        try:
            fields = yield from self._metadata.load_flow(spec.name, "fields")
            udfs = (
                (yield from self._metadata.load_flow(spec.name, "userDefinedFields"))
                if spec.has_udfs
                else None
            )
        except Exception:
            return None
        finally:
            job.count("metadata", self._metadata.fetches - before)
        self._tenant.add(
            spec.name, {"fields": fields}, {"fields": udfs} if udfs is not None else None
        )
        return self._tenant

    def _prepare(
        self,
        job: _Job,
        data: Any,
        *,
        validate: bool,
        options: ConvertOptions,
        encoding: str,
    ) -> Flow[tuple[list[PreparedRow], TenantFields | None]]:
        """Every input row converted and checked (problems kept per row); problems with the input
        as a whole raise :class:`BulkInputError`."""
        spec, mode = job.spec, job.operation
        columns, rows = yield from blocking(functools.partial(read_rows, data, encoding=encoding))
        tenant = (yield from self._load_tenant(spec, job)) if mode != "delete" else None
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
                    reason = f"id {rid} is also in row {seen[rid]}; one row per record"
                    p.problems.append(RowProblem(p.row, "id", reason))
                else:
                    seen[rid] = p.row
        return prepared, tenant

    def _check_references(self, job: _Job, prepared: list[PreparedRow]) -> Flow[None]:
        """Batched ``id in [...]`` lookups of every referenced id; a missing one is a problem."""
        for fld in job.spec.fields.values():
            if not fld.reference_entity or fld.read_only:
                continue
            try:
                target = spec_for(fld.reference_entity)
            except AutotaskUnknownEntityError:
                continue
            if "query" not in target.root_operations:
                continue
            wanted: dict[int, list[PreparedRow]] = {}
            for p in prepared:
                value = p.body.get(fld.api_name)
                if isinstance(value, int) and not isinstance(value, bool):
                    wanted.setdefault(value, []).append(p)
            found = yield from self._by_id(job, target, sorted(wanted), ["id"], "reference")
            for missing in sorted(set(wanted) - set(found)):
                for p in wanted[missing]:
                    p.problems.append(
                        RowProblem(
                            p.row,
                            fld.api_name,
                            f"reference value {missing} of type {fld.reference_entity} does not "
                            "exist or is invalid",
                        )
                    )

    def _checked(
        self,
        probe: _Job,
        data: Any,
        check_references: bool,
        *,
        validate: bool = True,
        options: ConvertOptions | None = None,
        encoding: str,
    ) -> Flow[tuple[list[PreparedRow], TenantFields | None]]:
        prepared, tenant = yield from self._prepare(
            probe, data, validate=validate, options=options or ConvertOptions(), encoding=encoding
        )
        if check_references:
            yield from self._check_references(probe, prepared)
        return prepared, tenant

    # --- running units of rows ----------------------------------------------------------------------

    def _run_units(
        self,
        job: _Job,
        rows: list[JournalRow],
        batch_size: int | str,
        workers: int,
        unit: Callable[[list[JournalRow]], Flow[list[Flow[None]]]],
    ) -> JobFlow[None]:
        """``unit`` turns each batch of rows into row flows (journaling their intent first); two
        units are in flight, so the next unit is prepared while the current one runs."""
        size = check_batch_size(batch_size, job.operation, max(len(rows), 1), workers)
        window: deque[Any] = deque()
        try:
            for start in range(0, len(rows), size):
                if job.stopped:
                    break
                flows = yield from unit(rows[start : start + size])
                window.append((yield Spawn(flows, workers)))
                while len(window) > 1 and not job.stopped:
                    yield Join(window.popleft())
            while window:
                yield Join(window.popleft())
        except Exception as exc:
            # rows still in flight finish (those not started see the stop and send nothing)
            # before the error leaves the job and its journal is closed
            job.stopped = job.stopped or f"stopped by an error: {error_text(exc)}"
            while window:
                with contextlib.suppress(Exception):
                    yield Join(window.popleft())
            raise
        if job.stopped:
            for r in rows:
                if r.row not in job.outcomes:
                    job.record(job.not_sent(r.row, r.record_id))
        job.report()

    def _run_all(self, rows: Sequence[Flow[None]], workers: int) -> JobFlow[None]:
        yield Join((yield Spawn(rows, workers)))

    def _journaled(
        self,
        probe: _Job,
        prepared: list[PreparedRow],
        journal: str | Path | None,
        meta: Mapping[str, Any] | None,
        queued: Callable[[PreparedRow, str], tuple[str, dict[str, Any]]],
        run: Callable[[_Job, list[JournalRow]], JobFlow[None]],
        started: float,
        correlation: Correlation | None = None,
    ) -> JobFlow[BulkResult]:
        """A job on ``prepared``: every row journaled (invalid ones as failures, valid ones queued
        under the key and body ``queued(row, job_id)`` gives) before ``run`` sends the queued ones."""
        spec, op = probe.spec, probe.operation
        path = journal_path(self.journal_dir, spec, op, journal)
        with BulkJournal.create(path, entity=spec.name, operation=op, meta=meta) as jr:
            job_id = str(jr.meta["job_id"])
            bad = [p for p in prepared if p.problems]
            jr.add_finished(
                (p.row, f"row-{p.row}", "failed", "; ".join(str(x) for x in p.problems), p.source)
                for p in bad
            )
            jr.add_rows((p.row, *queued(p, job_id), p.source) for p in prepared if not p.problems)
            job = _Job(spec, op, jr, len(prepared), probe.progress, correlation)
            job.requests.update(probe.requests)
            for p in bad:
                reason = "; ".join(x.reason for x in p.problems)
                job.record(RowOutcome(p.row, "failed", reason=reason, field=p.problems[0].field))
            yield from run(job, jr.rows(["queued"]))
            problems = [x for p in bad for x in p.problems]
            return job.finish({p.row: p.source for p in prepared}, problems, started)

    # --- estimate -----------------------------------------------------------------------------------

    def _estimate(
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
    ) -> Flow[BulkEstimate]:
        """Requests and time a job will take, before running it. ``rows`` is a count or the input
        itself. ``check_threshold=True`` reads ``ThresholdInformation`` (one request) to report the
        requests already used in the current hour."""
        spec = spec_for(entity)
        count = rows if isinstance(rows, int) else len((yield from blocking(read_rows, rows))[1])
        usage = None
        if check_threshold:
            info = self._reader.read_json((yield from request(_THRESHOLD))) or {}
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
            concurrency=min(self.max_concurrent, DEFAULT_ENDPOINT_LIMIT),
            latency=latency,
            budget_fraction=self.budget_fraction,
            hourly_threshold=self.hourly_threshold,
            batch_size=batch_size,
            validate=validate,
            reference_fields=refs,
            current_usage=usage,
        )

    # --- create -------------------------------------------------------------------------------------

    def _bulk_create(
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
    ) -> JobFlow[BulkResult]:
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
        spec = spec_for(entity)
        require_operation(spec, "create")
        _choice("on_invalid", on_invalid, ("abort", "skip"))
        workers = self._workers(parallel, max_concurrent)
        started = time.perf_counter()
        probe = _Job(spec, "create", None, 0, progress_callback)
        options = ConvertOptions(null_value=null_value)
        prepared, tenant = yield from self._checked(
            probe, data, check_references, validate=validate, options=options, encoding=encoding
        )
        given: set[str] = set()
        for p in prepared:
            given.update(p.body)
            given.update("udf:" + str(u.get("name")) for u in p.body.get("userDefinedFields") or [])
        corr = choose_correlation(spec, tenant, given, correlation, natural_key, _TOKEN_LENGTH)
        if dry_run or (on_invalid == "abort" and any(p.problems for p in prepared)):
            return _invalid_result(probe, prepared, dry_run, started)

        def queued(p: PreparedRow, job_id: str) -> tuple[str, dict[str, Any]]:
            if corr is not None and corr.field:
                token = corr.token(job_id, p.row)
                return token, corr.apply(p.body, token)
            return f"row-{p.row}", p.body

        return (
            yield from self._journaled(
                probe,
                prepared,
                journal,
                {"correlation": corr.to_meta() if corr else None, "on_invalid": on_invalid},
                queued,
                lambda job, rows: self._run_creates(job, rows, batch_size, workers),
                started,
                corr,
            )
        )

    def _run_creates(
        self, job: _Job, rows: list[JournalRow], batch_size: int | str, workers: int
    ) -> JobFlow[None]:
        def unit(batch: list[JournalRow]) -> Flow[list[Flow[None]]]:
            yield from ()
            job.jr.mark_pending([r.row for r in batch])
            return [_row(job, self._create_one(job, r)) for r in batch]

        yield from self._run_units(job, rows, batch_size, workers, unit)

    def _create_one(self, job: _Job, row: JournalRow) -> Flow[RowOutcome]:
        """One create through the client's exactly-once path; an outcome it left unknown is
        resolved here by this job's own token (or natural key) before any resend."""
        if job.stopped:
            return job.not_sent(row.row)
        # this job keeps its creates exactly-once itself (its token, or none when asked): the
        # client must not tag them with a token of its own
        request = replace(_core.create_request(job.spec, row.payload), own_correlation=True)
        attempts = 0
        while True:
            attempts += 1
            try:
                response = yield from self._send(job, request, "create")
                record_id = self._reader.read_item_id(response)
            except Exception as exc:
                kind = classify_error(exc, "create")
                if kind in ("stop", "retry", "failed"):
                    return job.failed(row.row, None, exc)
                corr = job.correlation
                if corr is None or (not corr.field and not corr.natural_key):
                    reason = (
                        f"outcome unknown ({error_text(exc)}); no correlation field to check, "
                        "so it was not resent: look for the record before resuming"
                    )
                    job.jr.finish(row.row, "unknown", reason=reason)
                    return RowOutcome(row.row, "unknown", reason=reason)
                try:
                    found = yield from self._lookup_one(job, row)
                except Exception as lookup_exc:
                    reason = (
                        f"outcome unknown ({error_text(exc)}) and the lookup failed "
                        f"({error_text(lookup_exc)}); left pending for `bulk resume`"
                    )
                    return RowOutcome(row.row, "pending", reason=reason)
                if found:
                    job.jr.finish(row.row, "done", record_id=found[0], reconciled=True)
                    return RowOutcome(row.row, "ok", id=found[0], reconciled=True)
                if attempts >= self.max_create_attempts:
                    reason = f"not created after {attempts} attempts: {error_text(exc)}"
                    job.jr.finish(row.row, "failed", reason=reason)
                    return RowOutcome(row.row, "failed", reason=reason)
                continue  # proven absent: resend the same body (same token)
            job.jr.finish(row.row, "done", record_id=record_id)
            return RowOutcome(row.row, "ok", id=record_id)

    # --- update -------------------------------------------------------------------------------------

    def _bulk_update(
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
    ) -> JobFlow[BulkResult]:
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
        spec = spec_for(entity)
        require_operation(spec, "update")
        _choice("conflict_resolution", conflict_resolution, ("merge", "overwrite", "skip"))
        _choice("on_invalid", on_invalid, ("abort", "skip"))
        workers = self._workers(parallel, max_concurrent)
        started = time.perf_counter()
        probe = _Job(spec, "update", None, 0, progress_callback)
        options = ConvertOptions(null_value=null_value, drop_read_only=drop_read_only)
        prepared, _ = yield from self._checked(
            probe, updates, check_references, validate=validate, options=options, encoding=encoding
        )
        if dry_run:

            def judge(p: PreparedRow, current: dict[str, Any] | None) -> RowOutcome:
                d = decide_update(spec, p, current, conflict_resolution, snapshot_time)
                if d.action == "fail":
                    return RowOutcome(
                        p.row, "failed", id=p.record_id, reason=d.reason, field=d.field
                    )
                if d.action == "skip":
                    return RowOutcome(
                        p.row, "skipped", id=p.record_id, reason=f"dry run: {d.reason}"
                    )
                return RowOutcome(
                    p.row,
                    "ok",
                    id=p.record_id,
                    reason="dry run: would change " + ", ".join(d.changed),
                    changed_fields=d.changed,
                )

            return (yield from self._dry_run(probe, prepared, judge, started))
        if on_invalid == "abort" and any(p.problems for p in prepared):
            return _invalid_result(probe, prepared, False, started)
        meta = {
            "conflict_resolution": conflict_resolution,
            "snapshot_time": snapshot_time.isoformat() if snapshot_time else None,
        }
        return (
            yield from self._journaled(
                probe,
                prepared,
                journal,
                meta,
                lambda p, _: (f"row-{p.row}", _queued_update(p)),
                lambda job, rows: self._run_updates(
                    job, rows, conflict_resolution, snapshot_time, batch_size, workers
                ),
                started,
            )
        )

    def _dry_run(
        self,
        probe: _Job,
        prepared: list[PreparedRow],
        judge: Callable[[PreparedRow, dict[str, Any] | None], RowOutcome],
        started: float,
    ) -> Flow[BulkResult]:
        """Checks plus a read-only prefetch: ``judge`` says what each valid row would do."""
        result = _invalid_result(probe, prepared, True, started)
        good = [p for p in prepared if not p.problems and p.record_id is not None]
        fields = {k for p in good for k in p.body} | {k for p in good for k in p.expected}
        ids = [p.record_id for p in good if p.record_id is not None]
        current = yield from self._prefetch(probe, ids, fields)
        outcomes = {r.row: r for r in result.rows}
        for p in good:
            assert p.record_id is not None
            outcome = outcomes[p.row] = judge(p, current.get(p.record_id))
            if outcome.status == "failed":
                result.problems.append(RowProblem(p.row, outcome.field, outcome.reason or "failed"))
        result.rows = [outcomes[r] for r in sorted(outcomes)]
        result.requests = probe.requests
        result.elapsed = time.perf_counter() - started
        return result

    def _run_updates(
        self,
        job: _Job,
        rows: list[JournalRow],
        mode: ConflictResolution,
        snapshot_time: _dt.datetime | None,
        batch_size: int | str,
        workers: int,
    ) -> JobFlow[None]:
        """Queued update rows, a unit at a time: prefetch, decide, journal the intent, send."""

        def unit(batch: list[JournalRow]) -> Flow[list[Flow[None]]]:
            plans = {r.row: _from_queued(r) for r in batch}
            fields = {k for p in plans.values() for k in p.body} | {
                k for p in plans.values() for k in p.expected
            }
            ids = [p.record_id for p in plans.values() if p.record_id is not None]
            try:
                current = yield from self._prefetch(job, ids, fields)
            except Exception as exc:
                kind = classify_error(exc, "query")
                if kind not in ("stop", "retry"):
                    raise
                job.stop(batch[0].row, None, exc, kind)
                return []  # the batch's rows are recorded as not sent
            decisions: dict[int, UpdateDecision] = {}
            finished = []
            for r in batch:
                p = plans[r.row]
                record = current.get(-1 if p.record_id is None else p.record_id)
                d = decisions[r.row] = decide_update(job.spec, p, record, mode, snapshot_time)
                if d.action != "send":
                    state: Status = "failed" if d.action == "fail" else "skipped"
                    finished.append((r.row, state, p.record_id, d.reason))
                    job.record(
                        RowOutcome(r.row, state, id=p.record_id, reason=d.reason, field=d.field)
                    )
            if finished:
                job.jr.finish_many(finished)
            send = {
                r.row: d for r, d in ((r, decisions[r.row]) for r in batch) if d.action == "send"
            }
            job.jr.mark_pending(
                list(send),
                payloads={row: d.body for row, d in send.items()},
                previous={row: d.previous for row, d in send.items()},
                record_ids={row: int(d.body["id"]) for row, d in send.items()},
            )
            return [
                _row(job, self._update_one(job, row, d.body, d.changed)) for row, d in send.items()
            ]

        yield from self._run_units(job, rows, batch_size, workers, unit)

    def _update_one(
        self, job: _Job, row: int, body: Mapping[str, Any], changed: Sequence[str]
    ) -> Flow[RowOutcome]:
        """One PATCH of absolute values (idempotent: the client resends it on a transient error)."""
        record_id = int(body["id"])
        if job.stopped:
            return job.not_sent(row, record_id)
        try:
            response = yield from self._send(job, _core.update_request(job.spec, body), "update")
            self._reader.read_item_id(response, fallback=record_id)
        except Exception as exc:
            return job.failed(row, record_id, exc)
        job.jr.finish(row, "done", record_id=record_id, changed=changed)
        return RowOutcome(row, "ok", id=record_id, changed_fields=tuple(changed))

    # --- delete -------------------------------------------------------------------------------------

    def _bulk_delete(
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
    ) -> JobFlow[BulkResult]:
        """Delete records by id: ``ids`` is a list of ints or any bulk input with an ``id`` column.
        Raises :class:`AutotaskOperationNotSupportedError` up front when the entity cannot be deleted
        through the API (Tickets, Companies...). ``dry_run`` checks that every id exists (batched
        ``in`` queries) and deletes nothing. Deletes cannot be undone."""
        spec = spec_for(entity)
        require_operation(spec, "delete")
        workers = self._workers(parallel, max_concurrent)
        started = time.perf_counter()
        if isinstance(ids, Iterable) and not isinstance(ids, (str, Path, Mapping)):
            ids = list(ids)
            if all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
                ids = [{"id": i} for i in ids]
        probe = _Job(spec, "delete", None, 0, progress_callback)
        prepared, _ = yield from self._checked(probe, ids, False, encoding=encoding)
        if dry_run:

            def judge(p: PreparedRow, current: dict[str, Any] | None) -> RowOutcome:
                if current is not None:
                    return RowOutcome(p.row, "ok", id=p.record_id, reason="dry run: would delete")
                reason = f"{spec.singular} {p.record_id} does not exist"
                return RowOutcome(p.row, "failed", id=p.record_id, reason=reason, field="id")

            return (yield from self._dry_run(probe, prepared, judge, started))
        if any(p.problems for p in prepared):
            return _invalid_result(probe, prepared, False, started)
        return (
            yield from self._journaled(
                probe,
                prepared,
                journal,
                None,
                lambda p, _: (f"row-{p.row}", {"id": p.record_id}),
                lambda job, rows: self._run_deletes(job, rows, batch_size, workers),
                started,
            )
        )

    def _run_deletes(
        self, job: _Job, rows: list[JournalRow], batch_size: int | str, workers: int
    ) -> JobFlow[None]:
        def unit(batch: list[JournalRow]) -> Flow[list[Flow[None]]]:
            yield from ()
            record_ids = {r.row: int(r.payload["id"]) for r in batch}
            job.jr.mark_pending(list(record_ids), record_ids=record_ids)
            return [
                _row(job, self._delete_one(job, r.row, record_ids[r.row], r.state == "pending"))
                for r in batch
            ]

        yield from self._run_units(job, rows, batch_size, workers, unit)

    def _remove(self, job: _Job, record_id: int, gone_is_done: bool) -> Flow[Exception | None]:
        """DELETE one record; the error, or ``None`` when it is gone (``gone_is_done``: a "does
        not exist" answer counts as gone, after an attempt whose outcome was unknown)."""
        try:
            response = yield from self._send(
                job, _core.delete_request(job.spec, record_id), "delete"
            )
            self._reader.read_none(response)
        except Exception as exc:
            if not (gone_is_done and is_missing_record(exc)):
                return exc
        return None

    def _delete_one(
        self, job: _Job, row: int, record_id: int, maybe_sent: bool
    ) -> Flow[RowOutcome]:
        if job.stopped:
            return job.not_sent(row, record_id)
        error = yield from self._remove(job, record_id, maybe_sent)
        if error is not None:
            return job.failed(row, record_id, error)
        job.jr.finish(row, "done", record_id=record_id)
        return RowOutcome(row, "ok", id=record_id)

    # --- resume -------------------------------------------------------------------------------------

    def _resume(
        self,
        journal: str | Path,
        *,
        parallel: bool = True,
        max_concurrent: int | None = None,
        batch_size: int | str = "auto",
        progress_callback: ProgressCallback | None = None,
        resend_unknown: bool = False,
    ) -> JobFlow[BulkResult]:
        """Finish an interrupted job from its journal (the input is not needed: the journal holds
        every body). Creates not known to be finished are first looked up by their correlation
        token in batched ``in`` queries: a found record is adopted, and only rows proven absent
        are sent. Rows whose outcome is unknown and that have no token stay unknown unless
        ``resend_unknown=True`` (which risks a duplicate: check first). Updates and deletes left
        pending are resent (idempotent); queued updates are prefetched and resolved like the
        original job. The result covers every row of the job."""
        workers = self._workers(parallel, max_concurrent)
        started = time.perf_counter()
        with BulkJournal.open(journal) as jr:
            meta = jr.meta
            spec = spec_for(str(meta["entity"]))
            op = str(meta["operation"])
            if op not in ("create", "update", "delete"):
                raise AutotaskConfigError(f"cannot resume a {op!r} journal")
            every = jr.rows()
            corr = Correlation.from_meta(meta.get("correlation"))
            job = _Job(spec, op, jr, len(every), progress_callback, corr)
            open_rows = [r for r in every if r.state in _OPEN]
            for r in every:
                if r.state not in _OPEN:
                    job.outcomes[r.row] = _outcome_from_journal(r)
            jr.set_meta({"status": "resuming", "resumed_at": time.time()})
            if op == "create":
                to_send = yield from self._reconcile_creates(job, open_rows, resend_unknown)
                yield from self._run_creates(job, to_send, batch_size, workers)
            elif op == "update":

                def resend(batch: list[JournalRow]) -> Flow[list[Flow[None]]]:
                    yield from ()
                    return [
                        _row(job, self._update_one(job, r.row, r.payload, _changed(r)))
                        for r in batch
                    ]

                pending = [r for r in open_rows if r.state != "queued"]
                yield from self._run_units(job, pending, batch_size, workers, resend)
                snap = meta.get("snapshot_time")
                yield from self._run_updates(
                    job,
                    [r for r in open_rows if r.state == "queued"],
                    meta.get("conflict_resolution") or "merge",
                    datetime_or_none(snap),
                    batch_size,
                    workers,
                )
            else:
                yield from self._run_deletes(job, open_rows, batch_size, workers)
            problems = [
                RowProblem(r.row, r.field, r.reason or "failed")
                for r in every
                if r.state == "failed" and r.payload_hash == ""
            ]
            return job.finish({r.row: r.source or {} for r in every}, problems, started)

    def _reconcile_creates(
        self, job: _Job, rows: list[JournalRow], resend_unknown: bool
    ) -> Flow[list[JournalRow]]:
        """The unfinished creates to send: a row whose token is found is adopted; without a token,
        an unknown row is sent only with ``resend_unknown``."""
        corr = job.correlation
        to_send: list[JournalRow] = []
        if corr is not None and (corr.field or corr.natural_key):
            found = yield from self._lookup_many(job, rows)
            for r in rows:
                ids = sorted(found.get(r.row) or [])
                if not ids:
                    to_send.append(r)
                    continue
                reason = (
                    f"{len(ids)} records carry this row's token: {ids}" if len(ids) > 1 else None
                )
                job.jr.finish(r.row, "done", record_id=ids[0], reconciled=True, reason=reason)
                job.record(RowOutcome(r.row, "ok", id=ids[0], reconciled=True, reason=reason))
            return to_send
        for r in rows:
            if r.state == "queued" or resend_unknown:
                to_send.append(r)
                continue
            reason = (
                "outcome unknown and the job has no correlation field; not resent "
                "(check the records, then resume with resend_unknown=True)"
            )
            job.jr.finish(r.row, "unknown", reason=reason)
            job.record(RowOutcome(r.row, "unknown", reason=reason))
        return to_send

    # --- undo ---------------------------------------------------------------------------------------

    def _undo(
        self,
        journal: str | Path,
        *,
        parallel: bool = True,
        max_concurrent: int | None = None,
        force: bool = False,
        progress_callback: ProgressCallback | None = None,
    ) -> JobFlow[BulkResult]:
        """Reverse a finished (or interrupted) job from its journal.

        Updates: every field sent is restored to its previous value (one PATCH per record), unless
        the record changed again since the job (its current value is no longer the one the job
        wrote): such rows are skipped and listed, or restored anyway with ``force=True``. Creates:
        the created records are deleted where the entity allows deletes through the API; otherwise
        (Tickets, Companies...) every id is listed as not undoable. Deletes cannot be undone.
        Undone rows are marked in the journal, so running undo twice does nothing the second time.
        """
        workers = self._workers(parallel, max_concurrent)
        started = time.perf_counter()
        with BulkJournal.open(journal) as jr:
            meta = jr.meta
            spec = spec_for(str(meta["entity"]))
            op = str(meta["operation"])
            done = jr.rows(["done"])
            job = _Job(spec, "undo", jr, len(done), progress_callback)
            if op == "update":
                yield from self._undo_updates(job, done, workers, force)
            elif op == "create" and "delete" in spec.operations:
                yield from self._run_all(
                    [_row(job, self._undo_create(job, r)) for r in done], workers
                )
            else:
                for r in done:
                    reason = (
                        "a delete cannot be undone"
                        if op != "create"
                        else f"{spec.name} cannot be deleted through the API; record "
                        f"{r.record_id} stays"
                    )
                    job.record(RowOutcome(r.row, "failed", id=r.record_id, reason=reason))
            jr.set_meta({"undone_at": time.time()})
            return job.result({r.row: r.source or {} for r in done}, [], started)

    def _undo_create(self, job: _Job, r: JournalRow) -> Flow[RowOutcome]:
        assert r.record_id is not None
        error = yield from self._remove(job, r.record_id, True)
        if error is not None:
            return RowOutcome(r.row, "failed", id=r.record_id, reason=error_text(error))
        job.jr.finish(r.row, "undone", record_id=r.record_id, reason="deleted by undo")
        return RowOutcome(r.row, "ok", id=r.record_id, reason="deleted")

    def _undo_updates(
        self, job: _Job, done: list[JournalRow], workers: int, force: bool
    ) -> JobFlow[None]:
        fields = {k for r in done for k in (r.previous or {})}
        ids = [r.record_id for r in done if r.record_id is not None]
        current = (yield from self._prefetch(job, ids, fields)) if ids else {}
        rows: list[Flow[None]] = []
        for r in done:
            assert r.record_id is not None
            server = current.get(r.record_id)
            if server is None:
                reason = "the record no longer exists"
                job.record(RowOutcome(r.row, "failed", id=r.record_id, reason=reason))
                continue
            drifted = [
                k
                for k, v in r.payload.items()
                if k not in ("id", "userDefinedFields")
                and not same_value(job.spec.fields.get(k), _get_ci(server, k), v)
            ]
            if drifted and not force:
                reason = (
                    f"changed again since the job ({', '.join(drifted)}); not restored (use "
                    "force to restore anyway)"
                )
                job.record(
                    RowOutcome(r.row, "skipped", id=r.record_id, field=drifted[0], reason=reason)
                )
                continue
            previous, unwritable = _writable(job.spec, r.previous or {})
            if unwritable:
                name, value = unwritable[0]
                kind = job.spec.fields[name].data_type
                reason = (
                    f"the previous value of {name} was {value!r}, which Autotask sent off its "
                    f"declared type ({kind}); the API would refuse it, so nothing was restored "
                    "for this record (set it in Autotask by hand, or update the row and run undo "
                    "again)"
                )
                job.record(RowOutcome(r.row, "failed", id=r.record_id, field=name, reason=reason))
                continue
            rows.append(_row(job, self._restore(job, r, {"id": r.record_id, **previous})))
        yield from self._run_all(rows, workers)

    def _restore(self, job: _Job, r: JournalRow, body: dict[str, Any]) -> Flow[RowOutcome]:
        try:
            response = yield from self._send(job, _core.update_request(job.spec, body), "update")
            self._reader.read_item_id(response, fallback=r.record_id)
        except Exception as exc:
            return RowOutcome(r.row, "failed", id=r.record_id, reason=error_text(exc))
        job.jr.finish(r.row, "undone", record_id=r.record_id, reason="restored by undo")
        changed = tuple(k for k in body if k != "id")
        return RowOutcome(r.row, "ok", id=r.record_id, changed_fields=changed)


# --- helpers ----------------------------------------------------------------------------------------


def _writable(
    spec: EntitySpec, previous: Mapping[str, Any]
) -> tuple[dict[str, Any], list[tuple[str, Any]]]:
    """The previous values of an undo as the API takes them: off-type values Autotask sent are
    read by the one rule (``"5"`` -> 5, ``""`` -> None); those that cannot be read as their type
    (``"p"`` for an integer) are returned apart: writing them back would be refused."""
    body: dict[str, Any] = {}
    unwritable: list[tuple[str, Any]] = []
    for name, value in previous.items():
        field = spec.fields.get(name)
        if field is None or value is None or name == "userDefinedFields":
            body[name] = value
            continue
        read, status = read_wire(value_kind(field.data_type), value)
        if status == KEPT:
            unwritable.append((name, value))
        else:
            body[name] = value if status == CLEAN else read
    return body, unwritable


def _choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        options = ", ".join(repr(a) for a in allowed[:-1]) + f" or {allowed[-1]!r}"
        raise AutotaskConfigError(f"{name} must be {options}")


def _invalid_result(
    probe: _Job, prepared: list[PreparedRow], dry_run: bool, started: float
) -> BulkResult:
    """The result of a job that sends no write: a dry run, or one stopped by invalid rows."""
    op = probe.operation
    problems = [p for r in prepared for p in r.problems]
    bad = {p.row for p in problems}
    rows = []
    for r in prepared:
        if r.row in bad:
            reason = "; ".join(
                p.reason if not p.field else f"{p.field}: {p.reason}" for p in r.problems
            )
            rows.append(RowOutcome(r.row, "failed", reason=reason, field=r.problems[0].field))
        elif dry_run:
            rows.append(RowOutcome(r.row, "ok", id=r.record_id, reason=f"dry run: would {op}"))
        else:
            reason = (
                f"not sent: {len(bad)} rows have problems and on_invalid='abort'; "
                "fix them (see the failures CSV) or pass on_invalid='skip'"
            )
            rows.append(RowOutcome(r.row, "skipped", reason=reason))
    return BulkResult(
        probe.spec.name,
        op,
        rows,
        problems,
        dry_run=dry_run,
        requests=probe.requests,
        elapsed=time.perf_counter() - started,
        inputs={r.row: r.source for r in prepared},
    )


def _get_ci(record: Mapping[str, Any], name: str) -> Any:
    low = name.lower()
    for k, v in record.items():
        if k.lower() == low:
            return v
    return None


def _changed(r: JournalRow) -> tuple[str, ...]:
    return r.changed or tuple(k for k in r.payload if k != "id")


def _queued_update(p: PreparedRow) -> dict[str, Any]:
    """What a queued update row stores: the converted body plus the caller's snapshot values."""
    out = dict(p.body)
    if p.expected:
        out["__expected__"] = p.expected
    if p.snapshot is not None:
        out["__snapshot__"] = p.snapshot
    return out


def _from_queued(r: JournalRow) -> PreparedRow:
    body = dict(r.payload)
    expected = body.pop("__expected__", {}) or {}
    snapshot = body.pop("__snapshot__", None)
    return PreparedRow(r.row, body, expected, snapshot, [], r.source or {})


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
