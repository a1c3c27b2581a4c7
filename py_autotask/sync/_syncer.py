"""Resumable full + incremental sync of Autotask collections into a SQL database.

Per entity, one run does:

1. **Metadata**: ``entityInformation/fields`` and ``/userDefinedFields`` of the tenant (2 requests):
   typed columns (new fields become ``ALTER TABLE ADD COLUMN``) and the picklist lookup table.
2. **A pass** over one filter, keyset-paged on ``id gt cursor`` (500 rows per request, Autotask sorts
   by id). Each page is upserted on ``id`` together with the checkpoint that covers it in ONE
   transaction, so a killed run re-reads at most the one uncommitted page.

   - first run: a full load (``id gte 0``);
   - later runs: ``changeTrackingField gte watermark - overlap`` (the field comes from metadata,
     e.g. ``lastActivityDate``); entities without one read new rows by ``id gt id_watermark``.
3. **Deletes** from the deleted-record log of the entity's spec (``EntitySpec.deletion_log``, e.g.
   ``DeletedTicketLogs.ticketID``), read incrementally by its ``deleted*`` datetime.
4. **Reconciliation** when due (``reconcile_every``, default 24 h, or ``reconcile=True``): an
   id-only scan (``IncludeFields: ["id"]``, 500 ids per request); ids gone remotely are deleted,
   ids missing locally are fetched. Entities without a change-tracking field are re-read in full
   instead (the only way to see their updates). A run never deletes more than
   ``max_delete_fraction`` (default 50 %) of a table by reconciliation unless ``force=True``.

The watermark is committed only when a pass completes; while a pass runs, the checkpoint holds the
pass's filter and cursor so a resumed run continues the same pass.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import email.utils
import logging
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from py_autotask_generated.entities import DELETION_LOGS
from py_autotask_generated.entities import spec as entity_spec

from .. import _core, _events
from .._observe import JobInfo
from .._registry import spec_for, table_name
from .._sender import Sender
from .._spec import EntitySpec
from .._values import datetime_or_none
from ..exceptions import (
    AutotaskConfigError,
    AutotaskError,
    AutotaskOperationNotSupportedError,
    AutotaskPermissionError,
)
from ..export._tolerance import OffTypeReport
from ..query import MAX_PAGE_SIZE
from ._db import (
    Column,
    Database,
    EntityState,
    RowReader,
    check_database_url,
    format_api_datetime,
    open_database,
    text_columns,
)
from ._lock import NoLock, SyncLock, acquire_sync_lock, holder_mode

__all__ = [
    "DeletionLog",
    "EntitySyncResult",
    "MassDeletionError",
    "SyncResult",
    "Syncer",
    "deletion_logs",
    "table_name",
]

logger = logging.getLogger("py_autotask.sync")

UDF_COLUMN = "userDefinedFields"

#: progress(entity, phase, rows_done, rows_total_or_None)
ProgressCallback = Callable[[str, str, int, "int | None"], None]


def on_stop_signals(callback: Callable[[int], None]) -> Callable[[], None] | None:
    """Call ``callback(signum)`` on SIGINT/SIGTERM instead of the current handlers; returns the
    function that puts the previous handlers back (``None`` off the main thread, where Python
    cannot install handlers)."""
    if threading.current_thread() is not threading.main_thread():
        return None
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def handler(signum: int, _frame: Any) -> None:
        callback(signum)

    for sig in previous:
        signal.signal(sig, handler)

    def restore() -> None:
        for sig, old in previous.items():
            signal.signal(sig, old)

    return restore


class MassDeletionError(AutotaskError):
    """Reconciliation would delete more than the allowed fraction of a table; nothing was deleted.
    Re-run with ``force=True`` (CLI: ``--force``) if the deletions are real."""


@dataclass
class EntitySyncResult:
    """What one run did to one entity's table."""

    entity: str
    table: str
    mode: str = ""  # full | incremental | resumed-full | resumed-incremental
    created: int = 0
    updated: int = 0
    deleted: int = 0
    requests: int = 0
    rows: int = 0
    added_columns: list[str] = field(default_factory=list)
    reconciled: bool = False
    status: str = "ok"  # ok | stopped | guarded | error
    message: str | None = None
    #: values off their field's declared type this run, one report per field
    off_type: list[OffTypeReport] = field(default_factory=list)
    #: columns turned into text this run to hold such a value (PostgreSQL, DuckDB)
    promoted_columns: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "entity": self.entity,
            "table": self.table,
            "mode": self.mode,
            "created": self.created,
            "updated": self.updated,
            "deleted": self.deleted,
            "requests": self.requests,
            "rows": self.rows,
            "added_columns": list(self.added_columns),
            "reconciled": self.reconciled,
            "status": self.status,
            "message": self.message,
            "off_type": [r.to_dict() for r in self.off_type],
            "promoted_columns": list(self.promoted_columns),
        }


@dataclass
class SyncResult:
    """One run over every requested entity."""

    run_id: str
    started_at: str
    finished_at: str = ""
    seconds: float = 0.0
    entities: list[EntitySyncResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(e.status == "ok" for e in self.entities)

    @property
    def stopped(self) -> bool:
        return any(e.status == "stopped" for e in self.entities)

    @property
    def requests(self) -> int:
        return sum(e.requests for e in self.entities)

    @property
    def off_type(self) -> list[OffTypeReport]:
        """Every (entity, field) that held values off its declared type in this run."""
        return [r for e in self.entities for r in e.off_type]

    @property
    def off_type_values(self) -> int:
        return sum(r.values for r in self.off_type)

    @property
    def warnings(self) -> list[str]:
        """One line per (entity, field) with off-type values (for summaries)."""
        return [str(r) for r in self.off_type]

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "seconds": round(self.seconds, 3),
            "ok": self.ok,
            "entities": [e.to_dict() for e in self.entities],
            "warnings": self.warnings,
        }


@dataclass(frozen=True)
class DeletionLog:
    """A ``Deleted*Logs`` collection and the entity whose deletions it records."""

    log: str  # e.g. DeletedTicketLogs
    entity: str  # e.g. Tickets
    id_field: str  # e.g. ticketID
    time_field: str  # e.g. deletedDateTime


def deletion_logs() -> dict[str, DeletionLog]:
    """Deleted-record logs keyed by the entity they cover: the generated
    :attr:`EntitySpec.deletion_log <py_autotask._spec.EntitySpec.deletion_log>` facts (codegen's
    rule: ``Deleted<Singular>Logs`` whose one field referencing ``<Singular>`` holds the deleted id).
    Entities without one (activity logs name no deleted-record id) rely on reconciliation.
    """
    found: dict[str, DeletionLog] = {}
    for name in DELETION_LOGS:
        log = entity_spec(name).deletion_log
        if log is not None:
            found[name] = DeletionLog(log.log, name, log.id_field, log.time_field)
    return found


def _utcnow() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc).replace(tzinfo=None)


def _iso(value: _dt.datetime) -> str:
    return value.isoformat(timespec="seconds") + "Z"


@dataclass
class _Meta:
    columns: list[Column]
    picklists: list[tuple[Any, ...]]


class Syncer:
    """Syncs Autotask collections into a database. Create with ``client.create_syncer()``.

    ``progress`` is called as ``progress(entity, phase, rows_done, rows_total)`` after each page.
    """

    def __init__(
        self,
        sender: Sender,
        *,
        page_size: int = MAX_PAGE_SIZE,
        progress: ProgressCallback | None = None,
        strict: bool = False,
    ) -> None:
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise AutotaskConfigError(f"page_size must be from 1 to {MAX_PAGE_SIZE}")
        self.sender = sender
        self.page_size = page_size
        self.progress = progress
        #: raise OffTypeValueError at the first value off its declared type instead of
        #: converting it (when nothing is lost) or storing the text received, and reporting it
        self.strict = strict
        self._stop = threading.Event()
        self._logs = deletion_logs()
        self._server_now: _dt.datetime | None = None  # from the last response's Date header
        self._lock: SyncLock | None = None  # held during sync_to_database

    # -- control -------------------------------------------------------------------------------
    def stop(self) -> None:
        """Ask a running sync to stop after the page in progress is committed."""
        self._stop.set()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    # -- public entry points ----------------------------------------------------------------------
    def sync_to_database(
        self,
        connection_string: str,
        entities: Sequence[str],
        sync_interval: _dt.timedelta | None = None,
        *,
        overlap: _dt.timedelta = _dt.timedelta(minutes=10),
        reconcile: bool | None = None,
        reconcile_every: _dt.timedelta = _dt.timedelta(hours=24),
        max_delete_fraction: float = 0.5,
        force: bool = False,
        full: bool = False,
        max_runs: int | None = None,
        on_run: Callable[[SyncResult], None] | None = None,
        handle_signals: bool = True,
        lock_timeout: float = 0.0,
    ) -> SyncResult:
        """Sync ``entities`` into ``connection_string`` (``sqlite:///file.db``, a file path,
        ``postgresql://...`` or ``duckdb:///file.duckdb``) and return the last run's result.

        Without ``sync_interval`` one run is made. With it, the syncer runs every
        ``sync_interval`` until SIGINT/SIGTERM (or :meth:`stop`, or ``max_runs`` runs): a signal
        lets the page in progress commit, then returns. ``reconcile=None`` reconciles when the last
        reconciliation is older than ``reconcile_every``; ``True``/``False`` force it on/off.
        ``full=True`` restarts with a full load.

        The database's sync lock is held for the whole call, daemon sleeps included, so a second
        syncer on the same database is refused with :class:`SyncLockedError` (naming the holder)
        instead of doubling the API requests and racing on the state. ``lock_timeout`` is how many
        seconds to wait for a busy lock first (default 0: fail at once).
        """
        names = self._resolve(entities)
        if not 0 < max_delete_fraction <= 1:
            raise AutotaskConfigError("max_delete_fraction must be in (0, 1]")
        if not lock_timeout >= 0:
            raise AutotaskConfigError("lock_timeout must be a number of seconds >= 0")
        check_database_url(connection_string)  # a scheme, driver or URL it cannot use: one line
        restore = self._install_signals() if handle_signals else None
        try:
            with acquire_sync_lock(
                connection_string,
                timeout=lock_timeout,
                mode=holder_mode(sync_interval),
                entities=names,
                stop=self._stop,
            ) as lock:
                self._lock = lock
                try:
                    return self._sync_loop(
                        connection_string,
                        names,
                        sync_interval,
                        overlap=overlap,
                        reconcile=reconcile,
                        reconcile_every=reconcile_every,
                        max_delete_fraction=max_delete_fraction,
                        force=force,
                        full=full,
                        max_runs=max_runs,
                        on_run=on_run,
                    )
                finally:
                    self._lock = None
        finally:
            if restore is not None:
                restore()

    def _sync_loop(
        self,
        connection_string: str,
        names: list[str],
        sync_interval: _dt.timedelta | None,
        *,
        overlap: _dt.timedelta,
        reconcile: bool | None,
        reconcile_every: _dt.timedelta,
        max_delete_fraction: float,
        force: bool,
        full: bool,
        max_runs: int | None,
        on_run: Callable[[SyncResult], None] | None,
    ) -> SyncResult:
        runs = 0
        # The database is open only while a run works on it: between daemon runs other processes
        # can read the mirror (DuckDB admits one process per file at a time) and `sync --status`
        # can show the state; the sync lock stays held throughout. An in-memory database (no
        # lock file) lives only as long as its connection, so it stays open.
        keep_open = isinstance(self._lock, NoLock)
        kept: Database | None = None
        try:
            while True:
                db = kept or open_database(connection_string)
                try:
                    if kept is None:
                        db.setup()
                    result = self.run_once(
                        db,
                        names,
                        overlap=overlap,
                        reconcile=reconcile,
                        reconcile_every=reconcile_every,
                        max_delete_fraction=max_delete_fraction,
                        force=force,
                        full=full and runs == 0,
                    )
                finally:
                    if keep_open:
                        kept = db
                    else:
                        db.close()
                runs += 1
                if on_run is not None:
                    on_run(result)
                if (
                    sync_interval is None
                    or self._stop.is_set()
                    or (max_runs is not None and runs >= max_runs)
                    or self._stop.wait(sync_interval.total_seconds())
                ):
                    return result
        finally:
            if kept is not None:
                kept.close()

    def run_once(
        self,
        db: Database,
        entities: Sequence[str],
        *,
        overlap: _dt.timedelta = _dt.timedelta(minutes=10),
        reconcile: bool | None = None,
        reconcile_every: _dt.timedelta = _dt.timedelta(hours=24),
        max_delete_fraction: float = 0.5,
        force: bool = False,
        full: bool = False,
    ) -> SyncResult:
        """One run over ``entities`` against an open :class:`Database` (already ``setup()``).

        Takes no lock by itself: :meth:`sync_to_database` holds the database's sync lock around
        its runs and checks it is still held before each entity."""
        options: dict[str, Any] = {
            "overlap": overlap,
            "reconcile": reconcile,
            "reconcile_every": reconcile_every,
            "max_delete_fraction": max_delete_fraction,
            "force": force,
            "full": full,
        }
        observers = self.sender.reader.observers
        if not observers:
            return self._run_once(db, entities, **options)
        with observers.job("sync") as job:
            result = self._run_once(db, entities, **options)
            job.attributes["status"] = "ok" if result.ok else "incomplete"
            return result

    def _run_once(
        self,
        db: Database,
        entities: Sequence[str],
        *,
        overlap: _dt.timedelta,
        reconcile: bool | None,
        reconcile_every: _dt.timedelta,
        max_delete_fraction: float,
        force: bool,
        full: bool,
    ) -> SyncResult:
        start = time.perf_counter()
        run = SyncResult(run_id=uuid.uuid4().hex[:12], started_at=_iso(_utcnow()))
        for name in self._resolve(entities):
            if self._stop.is_set():
                break
            if self._lock is not None:
                # still ours? (a PostgreSQL lock session can be lost; a lock file deleted)
                self._lock.verify()
            res = EntitySyncResult(entity=name, table=table_name(name))
            run.entities.append(res)
            started = _iso(_utcnow())
            try:
                with self._scope("sync_entity", name) as job:
                    try:
                        self._sync_entity(
                            db,
                            name,
                            res,
                            run.run_id,
                            overlap=overlap,
                            reconcile=reconcile,
                            reconcile_every=reconcile_every,
                            max_delete_fraction=max_delete_fraction,
                            force=force,
                            full=full,
                        )
                    finally:
                        self._report(name, res, job)
            except MassDeletionError as exc:
                res.status, res.message = "guarded", str(exc)
                self._mark_state(db, name, "guarded", str(exc))
            except AutotaskError as exc:
                res.status, res.message = "error", str(exc)
                logger.error("sync of %s failed: %s", name, exc)
                self._mark_state(db, name, "error", str(exc))
            logger.info(
                "%s: %s, %d created, %d updated, %d deleted, %d requests (%s)",
                name,
                res.mode,
                res.created,
                res.updated,
                res.deleted,
                res.requests,
                res.status,
            )
            self._record_run(db, run.run_id, res, started)
        run.finished_at = _iso(_utcnow())
        run.seconds = time.perf_counter() - start
        return run

    # -- internals ------------------------------------------------------------------------------
    def _scope(self, kind: str, entity: str | None = None) -> Any:
        """A job scope on the client's observers (nothing to build when none is attached)."""
        observers = self.sender.reader.observers
        if not observers:
            return contextlib.nullcontext()
        return observers.job(kind, entity)

    def _report(self, name: str, res: EntitySyncResult, job: JobInfo | None) -> None:
        """An entity's rows and off-type values, once per run, to the client's observers."""
        observers = self.sender.reader.observers
        if not observers:
            return
        if job is not None:
            job.attributes["status"] = res.status
            job.attributes["mode"] = res.mode
        for outcome, count in (
            ("created", res.created),
            ("updated", res.updated),
            ("deleted", res.deleted),
        ):
            observers.rows(name, outcome, count)
        for report in res.off_type:
            observers.off_type(name, report.field, report.values)

    @staticmethod
    def _mark_state(db: Database, name: str, status: str, message: str) -> None:
        """Record a failure in the state row; the checkpoint (phase, cursor) stays as committed,
        so the next run resumes the same pass."""
        try:
            state = db.read_state(name)
            if state is None:
                return
            state.status, state.message = status, message[:2000]
            state.updated_at = _iso(_utcnow())
            db.write(db.state_steps(state))
        except Exception as exc:  # pragma: no cover - bookkeeping must not hide the real error
            logger.warning("could not record the %s state: %s", name, exc)

    def _resolve(self, entities: Sequence[str]) -> list[str]:
        if isinstance(entities, str):
            entities = [entities]
        names: list[str] = []
        for raw in entities:
            name = spec_for(str(raw)).name
            if "query" not in entity_spec(name).root_operations:
                raise AutotaskConfigError(f"{name} cannot be queried at its root; it cannot sync")
            if name not in names:
                names.append(name)
        if not names:
            raise AutotaskConfigError("name at least one entity to sync")
        return names

    def _install_signals(self) -> Callable[[], None] | None:
        def stop(signum: int) -> None:
            logger.warning("signal %s: finishing the current page, then stopping", signum)
            self._stop.set()

        return on_stop_signals(stop)

    def _send_json(self, request: _core.ApiRequest, res: EntitySyncResult | None) -> Any:
        response = self.sender.send(request)
        if res is not None:
            res.requests += 1
        date = _header(response.headers, "date")
        if date:
            with contextlib.suppress(TypeError, ValueError, IndexError):
                server = email.utils.parsedate_to_datetime(date)
                if server.tzinfo is not None:
                    server = server.astimezone(_dt.timezone.utc).replace(tzinfo=None)
                self._server_now = server
        return self.sender.reader.read_json(response)

    def _metadata(self, spec: EntitySpec, res: EntitySyncResult) -> _Meta:
        fields = self._send_json(
            _core.ApiRequest(
                "GET", f"{spec.name}/entityInformation/fields", entity=spec.name, operation="meta"
            ),
            res,
        )
        columns = [Column("id", "int")]
        picklists: list[tuple[Any, ...]] = []
        seen = {"id"}
        for f in (fields or {}).get("fields") or []:
            fname = str(f.get("name") or "")
            if not fname or fname.lower() in seen:
                continue
            seen.add(fname.lower())
            columns.append(Column(fname, _kind(f.get("dataType"))))
            picklists += _picklist_rows(spec.name, fname, f, udf=False)
        udf_fields: list[Mapping[str, Any]] = []
        if spec.has_udfs:
            udfs = self._send_json(
                _core.ApiRequest(
                    "GET",
                    f"{spec.name}/entityInformation/userDefinedFields",
                    entity=spec.name,
                    operation="meta",
                ),
                res,
            )
            udf_fields = list((udfs or {}).get("fields") or [])
        if spec.has_udfs or udf_fields:
            columns.append(Column(UDF_COLUMN, "str"))
        for u in udf_fields:
            picklists += _picklist_rows(spec.name, str(u.get("name")), u, udf=True)
        return _Meta(columns, picklists)

    def _pages(
        self,
        spec: EntitySpec,
        conditions: list[dict[str, Any]],
        after_id: int,
        res: EntitySyncResult,
        include_fields: list[str] | None = None,
    ) -> Iterator[list[dict[str, Any]]]:
        """Keyset pages: ``conditions AND id gt after_id``, repeated with the last id seen."""
        cursor = after_id
        while True:
            body: dict[str, Any] = {
                "filter": [*conditions, {"op": "gt", "field": "id", "value": cursor}],
                "MaxRecords": self.page_size,
            }
            if include_fields:
                body["IncludeFields"] = include_fields
            data = self._send_json(_core.query_request(spec, body), res)
            items = [i for i in (data or {}).get("items") or [] if isinstance(i, dict)]
            if not items:
                return
            yield items
            cursor = max(int(i["id"]) for i in items)
            details = (data or {}).get("pageDetails") or {}
            if len(items) < self.page_size or not details.get("nextPageUrl"):
                return

    def _sync_entity(
        self,
        db: Database,
        name: str,
        res: EntitySyncResult,
        run_id: str,
        *,
        overlap: _dt.timedelta,
        reconcile: bool | None,
        reconcile_every: _dt.timedelta,
        max_delete_fraction: float,
        force: bool,
        full: bool,
    ) -> None:
        spec = entity_spec(name)
        table = res.table
        meta = self._metadata(spec, res)
        res.added_columns = db.ensure_table(table, meta.columns)
        db.replace_picklists(name, meta.picklists)
        columns = meta.columns
        reader = RowReader(
            name,
            columns,
            datetime_text=db.datetime_text,
            text_columns=text_columns(columns, db.columns(table)),
            alter_types=db.alters_types,
            json_columns=[UDF_COLUMN],
            strict=self.strict,
        )
        try:
            self._sync_rows(
                db,
                name,
                spec,
                reader,
                res,
                run_id,
                overlap=overlap,
                reconcile=reconcile,
                reconcile_every=reconcile_every,
                max_delete_fraction=max_delete_fraction,
                force=force,
                full=full,
            )
        finally:
            res.off_type = reader.reports(res.promoted_columns)
            for report in res.off_type:
                logger.warning("%s", report)

    def _sync_rows(
        self,
        db: Database,
        name: str,
        spec: EntitySpec,
        reader: RowReader,
        res: EntitySyncResult,
        run_id: str,
        *,
        overlap: _dt.timedelta,
        reconcile: bool | None,
        reconcile_every: _dt.timedelta,
        max_delete_fraction: float,
        force: bool,
        full: bool,
    ) -> None:
        table = res.table
        columns = reader.columns
        tracking = spec.change_tracking_field
        if tracking and tracking.lower() not in {c.name.lower() for c in columns}:
            tracking = None
        tracking_col = next(
            (c.name for c in columns if tracking and c.name.lower() == tracking.lower()), None
        )

        state = db.read_state(name) or EntityState(entity=name, table_name=table)
        state.run_id = run_id
        # A pass's watermark is never later than the moment it started: rows changed while it
        # runs (behind its cursor) are then read by the next run. Take the earlier of our clock
        # and the server's (Date header of the metadata response) so clock skew only widens the
        # window. The overlap covers in-flight transactions.
        run_start = _utcnow()
        if self._server_now is not None:
            run_start = min(run_start, self._server_now)
        log = self._logs.get(name)

        if full or (state.last_full_load is None and state.phase == "idle"):
            # fresh full load (also after a failed/unfinished first attempt with no cursor)
            state.phase, state.cursor_id, state.filter_from = "full", -1, None
            state.pending_watermark = None
            res.mode = "full"
            if log is not None:
                self._init_log_state(db, log, run_start, run_id)
        elif state.phase != "idle" and state.cursor_id is not None:
            res.mode = "resumed-" + state.phase
            if state.pass_started:
                run_start = datetime_or_none(state.pass_started, naive=True) or run_start
        else:
            res.mode = "incremental"
            if tracking_col and state.watermark:
                base = datetime_or_none(state.watermark, naive=True) or run_start
                state.phase = "incremental"
                state.filter_from = format_api_datetime(base - overlap)
            else:
                state.phase = "new-ids"
                state.filter_from = None
            state.cursor_id = (
                -1
                if state.phase == "incremental"
                else (state.id_watermark if state.id_watermark is not None else -1)
            )
            state.pending_watermark = None
        if not res.mode.startswith("resumed-") or not state.pass_started:
            state.pass_started = format_api_datetime(run_start)
        state.status = "running"
        db.write(db.state_steps(state))

        # -- the pass --------------------------------------------------------------------------
        conditions: list[dict[str, Any]] = []
        if state.phase == "incremental" and state.filter_from and tracking_col:
            conditions.append({"op": "gte", "field": tracking_col, "value": state.filter_from})
        done = 0
        for items in self._pages(
            spec, conditions, -1 if state.cursor_id is None else int(state.cursor_id), res
        ):
            ids = [int(i["id"]) for i in items]
            if tracking_col:
                # rows whose change-tracking value is unchanged (the overlap window) are skipped
                stored = db.versions(table, ids, tracking_col)
                all_new = not stored
                fresh = []
                for item in items:
                    iid = int(item["id"])
                    if iid not in stored:
                        res.created += 1
                    elif _same_time(stored[iid], item.get(tracking_col)):
                        continue
                    else:
                        res.updated += 1
                    fresh.append(item)
            else:
                existing = db.existing_ids(table, ids)
                all_new = not existing
                res.created += len(set(ids) - existing)
                res.updated += len(existing & set(ids))
                fresh = items
            # change events for the plugins, only while someone listens and not in a full load
            # (copying what exists is no change): the rows as they were before this page
            old_rows = (
                db.records(
                    table,
                    [int(i["id"]) for i in fresh],
                    [c.name for c in reader.effective_columns()],
                )
                if fresh and state.phase != "full" and _watching()
                else None
            )
            rows, steps = self._rows(db, table, reader, fresh, res)
            if tracking_col:
                values = [i.get(tracking_col) for i in items]
                seen = [
                    v
                    for v in (datetime_or_none(str(x), naive=True) for x in values if x)
                    if v is not None
                ]
                if seen:
                    top = max(seen)
                    pending = datetime_or_none(state.pending_watermark or "", naive=True)
                    if pending is None or top > pending:
                        state.pending_watermark = format_api_datetime(top)
            state.cursor_id = max(ids)
            state.id_watermark = max(state.id_watermark or 0, max(ids))
            state.updated_at = _iso(_utcnow())
            steps += db.upsert_steps(table, reader.effective_columns(), rows, all_new=all_new)
            db.write(steps + db.state_steps(state))
            if old_rows is not None:
                _publish_rows(name, fresh, old_rows)
            done += len(items)
            if self.progress is not None:
                self.progress(name, state.phase, done, None)
            if self._stop.is_set():
                state.status = "stopped"
                db.write(db.state_steps(state))
                res.status = "stopped"
                res.message = "stopped by request after a committed page"
                res.rows = db.count(table)
                return

        # pass complete: commit the watermark
        pending = datetime_or_none(state.pending_watermark or "", naive=True)
        if pending is not None:
            pending = min(pending, run_start)  # the pass's start (also: future-dated values)
            current = datetime_or_none(state.watermark or "", naive=True)
            if current is None or pending > current:
                state.watermark = format_api_datetime(pending)
        elif tracking_col and state.watermark is None:
            state.watermark = format_api_datetime(run_start)
        observers = self.sender.reader.observers
        newest = datetime_or_none(state.watermark or "", naive=True) if observers else None
        if newest is not None:
            # the lag: how old the newest change the mirror holds is, once this pass is done
            observers.lag(name, max(0.0, (_utcnow() - newest).total_seconds()))
        if state.phase == "full":
            state.last_full_load = _iso(run_start)
            if state.last_reconciliation is None:
                state.last_reconciliation = _iso(run_start)
        state.phase, state.cursor_id, state.filter_from, state.pending_watermark = (
            "idle",
            None,
            None,
            None,
        )
        state.pass_started = None
        state.status = "ok"
        state.message = None
        state.updated_at = _iso(_utcnow())
        db.write(db.state_steps(state))

        # -- deletes from the deleted-record log --------------------------------------------------
        if log is not None and res.mode != "full":
            try:
                res.deleted += self._apply_log(db, log, table, overlap, run_id, res)
            except (AutotaskPermissionError, AutotaskOperationNotSupportedError) as exc:
                # e.g. the API user's security level hides the log: reconciliation still
                # finds deletions, just later
                res.message = f"{log.log} unavailable ({exc}); deletions wait for reconciliation"
                logger.warning("%s", res.message)

        # -- reconciliation ---------------------------------------------------------------------
        last_rec = datetime_or_none(state.last_reconciliation or "", naive=True)
        due = (
            reconcile
            if reconcile is not None
            else (
                res.mode != "full" and (last_rec is None or _utcnow() - last_rec >= reconcile_every)
            )
        )
        if due and not self._stop.is_set():
            self._reconcile(
                db,
                spec,
                reader,
                table,
                res,
                tracked=tracking_col is not None,
                max_delete_fraction=max_delete_fraction,
                force=force,
            )
            state.last_reconciliation = _iso(run_start)
            res.reconciled = True
        state.rows = db.count(table)
        res.rows = state.rows
        db.write(db.state_steps(state))
        if self.progress is not None:
            self.progress(name, "done", done, done)

    # -- deleted-record logs ------------------------------------------------------------------------
    def _init_log_state(
        self, db: Database, log: DeletionLog, run_start: _dt.datetime, run_id: str
    ) -> None:
        """Start reading a deletion log at the full load's start time (deletions before it are
        already absent from the full load)."""
        key = f"{log.log}->{log.entity}"
        state = EntityState(entity=key, table_name="", phase="idle", run_id=run_id, status="ok")
        state.watermark = format_api_datetime(run_start)
        state.updated_at = _iso(_utcnow())
        db.write(db.state_steps(state))

    def _apply_log(
        self,
        db: Database,
        log: DeletionLog,
        table: str,
        overlap: _dt.timedelta,
        run_id: str,
        res: EntitySyncResult,
    ) -> int:
        key = f"{log.log}->{log.entity}"
        state = db.read_state(key)
        run_start = _utcnow()
        if self._server_now is not None:
            run_start = min(run_start, self._server_now)
        if state is None or not state.watermark:
            self._init_log_state(db, log, run_start - overlap, run_id)
            state = db.read_state(key)
            assert state is not None
        base = datetime_or_none(state.watermark or "", naive=True) or run_start
        since = format_api_datetime(base - overlap)
        spec = entity_spec(log.log)
        deleted = 0
        newest = base
        for items in self._pages(
            spec, [{"op": "gte", "field": log.time_field, "value": since}], 0, res
        ):
            ids = {int(i[log.id_field]) for i in items if i.get(log.id_field) is not None}
            present = db.existing_ids(table, sorted(ids))
            for i in items:
                t = datetime_or_none(str(i.get(log.time_field) or ""), naive=True)
                if t is not None and t > newest:
                    newest = t
            state.watermark = format_api_datetime(min(newest, max(run_start, base)))
            state.run_id = run_id
            state.updated_at = _iso(_utcnow())
            db.write(db.delete_ids_steps(table, present) + db.state_steps(state))
            _publish_deleted(log.entity, present)
            deleted += len(present)
        return deleted

    # -- reconciliation -----------------------------------------------------------------------------
    def _rows(
        self,
        db: Database,
        table: str,
        reader: RowReader,
        items: Sequence[Mapping[str, Any]],
        res: EntitySyncResult,
    ) -> tuple[list[tuple[Any, ...]], list[tuple[str, Any]]]:
        """The rows of ``items`` and the steps turning columns into text that they need first
        (to run in the same transaction as the rows)."""
        rows, promoted = reader.rows(items)
        steps: list[tuple[str, Any]] = []
        for column in promoted:
            steps += db.text_steps(table, column)
            res.promoted_columns.append(column)
            logger.warning(
                "%s.%s: a value its declared type cannot hold; the column now holds text",
                res.entity,
                column,
            )
        return rows, steps

    def _upsert_steps(
        self,
        db: Database,
        table: str,
        reader: RowReader,
        items: Sequence[Mapping[str, Any]],
        res: EntitySyncResult,
    ) -> list[tuple[str, Any]]:
        rows, steps = self._rows(db, table, reader, items, res)
        return steps + db.upsert_steps(table, reader.effective_columns(), rows)

    def _reconcile(
        self,
        db: Database,
        spec: EntitySpec,
        reader: RowReader,
        table: str,
        res: EntitySyncResult,
        *,
        tracked: bool,
        max_delete_fraction: float,
        force: bool,
    ) -> None:
        remote: set[int] = set()
        local = db.all_ids(table)
        if tracked:
            for items in self._pages(spec, [], -1, res, include_fields=["id"]):
                remote.update(int(i["id"]) for i in items)
        else:
            # no change-tracking field: re-read every row to see updates as well
            for items in self._pages(spec, [], -1, res):
                ids = [int(i["id"]) for i in items]
                remote.update(ids)
                fresh = set(ids) - local
                res.created += len(fresh)
                db.write(self._upsert_steps(db, table, reader, items, res))
        gone = local - remote
        missing = remote - local if tracked else set()
        if gone:
            limit = max_delete_fraction * len(local)
            if len(gone) > limit and not force:
                raise MassDeletionError(
                    f"{spec.name}: reconciliation would delete {len(gone)} of {len(local)} rows "
                    f"({len(gone) / max(1, len(local)):.0%}), more than the "
                    f"{max_delete_fraction:.0%} allowed in one run; nothing was deleted. "
                    "Check the API user's permissions, then re-run with force=True (--force) "
                    "if the deletions are real."
                )
            db.write(db.delete_ids_steps(table, gone))
            _publish_deleted(spec.name, gone)
            res.deleted += len(gone)
        if missing:
            ordered = sorted(missing)
            for start in range(0, len(ordered), self.page_size):
                chunk = ordered[start : start + self.page_size]
                body = {"filter": [{"op": "in", "field": "id", "value": chunk}]}
                data = self._send_json(_core.query_request(spec, body), res)
                items = [i for i in (data or {}).get("items") or [] if isinstance(i, dict)]
                db.write(self._upsert_steps(db, table, reader, items, res))
                res.created += len(items)

    def _record_run(self, db: Database, run_id: str, res: EntitySyncResult, started: str) -> None:
        from ._db import RUN_COLUMNS, RUNS_TABLE

        cols = list(RUN_COLUMNS)
        row = (
            run_id,
            res.entity,
            started,
            _iso(_utcnow()),
            res.mode,
            res.created,
            res.updated,
            res.deleted,
            res.requests,
            res.status,
            res.message,
        )
        try:
            db.write(db.upsert_steps(RUNS_TABLE, cols, [row], key=("run_id", "entity")))
        except Exception as exc:  # pragma: no cover - bookkeeping must not hide the real outcome
            logger.warning("could not record the run: %s", exc)


def _watching() -> bool:
    """Whether anyone listens to the change events a sync publishes."""
    return bool(
        _events.bus.subscribers("record.updated") or _events.bus.subscribers("record.created")
    )


def _publish_rows(
    entity: str, items: Sequence[Mapping[str, Any]], old_rows: Mapping[int, Mapping[str, Any]]
) -> None:
    """Publish the rows of a committed page: ``record.updated`` (``old`` the row as the
    database held it) for rows it had, ``record.created`` for the others; ``source`` ``sync``."""
    for item in items:
        record_id = int(item["id"])
        old = old_rows.get(record_id)
        _events.publish(
            "record.created" if old is None else "record.updated",
            {
                "entity": entity,
                "id": record_id,
                "new": dict(item),
                "old": None if old is None else dict(old),
                "source": "sync",
            },
        )


def _publish_deleted(entity: str, ids: Iterable[int]) -> None:
    if not _events.bus.subscribers("record.deleted"):
        return
    for record_id in sorted(ids):
        _events.publish(
            "record.deleted",
            {"entity": entity, "id": record_id, "new": None, "old": None, "source": "sync"},
        )


def _header(headers: Mapping[str, str], name: str) -> str | None:
    try:
        value = headers.get(name)
    except AttributeError:  # pragma: no cover - not a mapping
        return None
    if value is None:
        for key, v in headers.items():
            if key.lower() == name:
                return v
    return value


def _same_time(stored: Any, api_value: Any) -> bool:
    """Whether a stored change-tracking value equals the API's (stored as datetime or text)."""
    if stored is None or api_value is None:
        return stored is None and api_value is None
    a = datetime_or_none(stored if isinstance(stored, _dt.datetime) else str(stored), naive=True)
    b = datetime_or_none(str(api_value), naive=True)
    return a is not None and a == b


def _kind(data_type: Any) -> str:
    from ._db import column_kind

    return column_kind(str(data_type) if data_type is not None else None)


def _picklist_rows(
    entity: str, field_name: str, f: Mapping[str, Any], *, udf: bool
) -> list[tuple[Any, ...]]:
    if not f.get("isPickList"):
        return []
    rows = []
    for p in f.get("picklistValues") or []:
        if not isinstance(p, Mapping) or p.get("value") is None:
            continue
        sort = p.get("sortOrder")
        rows.append(
            (
                entity,
                field_name,
                str(p.get("value")),
                None if p.get("label") is None else str(p.get("label")),
                bool(p.get("isActive", True)),
                bool(p.get("isDefaultValue", False)),
                int(sort) if isinstance(sort, (int, float)) else None,
                None if p.get("parentValue") in (None, "") else str(p.get("parentValue")),
                udf,
            )
        )
    return rows
