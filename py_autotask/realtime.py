"""Real-time sync: keep a sync mirror (:mod:`py_autotask.sync`) current from webhook events.

>>> rt = RealtimeSync(client, "sqlite:///autotask.db", ["Tickets", "Companies"])  # doctest: +SKIP
>>> rt.start()            # the incremental sync once, then the writer thread   # doctest: +SKIP
>>> rt.submit("Tickets", 42, "updated")   # or rt.handle(webhook_event)         # doctest: +SKIP
>>> rt.stop()                                                                    # doctest: +SKIP

An event carries only the fields that changed, so a created or updated record is re-read: ids are
collected for a short ``window`` and fetched in batches (``id in [...]``, at most 500 ids a request,
through the client's limits and retries), deletes are applied as they come, and an id the API no
longer returns is deleted too (a delete delivered late or not at all). Reading the record instead
of applying the event's fields makes the result independent of duplicated, reordered or stale
deliveries: the row is what the API holds when it is read.

One thread writes the database, and it holds the database's sync lock (the lock
``py-autotask sync`` takes) from :meth:`RealtimeSync.start` to :meth:`RealtimeSync.stop`. The
incremental sync runs at start and every ``catch_up_every`` to close any gap: deliveries Autotask
dropped after its last retry, events sent while this process was down or killed. The client's
cache entries of a changed record are invalidated before it is re-read.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as _dt
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import _core
from ._registry import spec_for
from .exceptions import AutotaskConfigError, AutotaskError
from .sync import Database, EntitySyncResult, Syncer, SyncResult, open_database, table_name
from .sync._db import RowReader, check_database_url, text_columns
from .sync._lock import FileLock, SyncLock, acquire_sync_lock, sync_lock_for
from .sync._syncer import UDF_COLUMN, on_stop_signals

if TYPE_CHECKING:
    from ._client import AutotaskClient
    from .webhooks import WebhookServer

__all__ = ["BATCH_LIMIT", "RealtimeStats", "RealtimeSync", "default_queue"]

logger = logging.getLogger("py_autotask.realtime")

#: The most ids one ``id in [...]`` request asks for (Autotask's page size).
BATCH_LIMIT = 500

#: actions that make the record be read again (Deactivated: its active flag changed)
_REFRESH = frozenset({"created", "updated", "deactivated"})
_ACTIONS = frozenset({*_REFRESH, "deleted"})


@dataclass
class RealtimeStats:
    """What a :class:`RealtimeSync` has done so far."""

    events: int = 0  # changes submitted
    ignored: int = 0  # for entities this mirror does not hold
    batches: int = 0  # writer passes that applied something
    requests: int = 0  # API requests of those passes (fetches)
    upserted: int = 0  # rows written from fetched records
    deleted: int = 0  # rows deleted (delete events, and ids the API no longer returns)
    catch_ups: int = 0  # incremental runs (the one at start included)
    errors: int = 0  # failed passes (their changes are retried)
    last_catch_up: SyncResult | None = None

    def line(self) -> str:
        return (
            f"{self.events} events, {self.upserted} rows written, {self.deleted} deleted in "
            f"{self.batches} batches ({self.requests} requests), {self.catch_ups} catch-up runs"
            + (f", {self.errors} errors" if self.errors else "")
        )


class _Mirror(Syncer):
    """The syncer with a second way in: re-read and write given ids (the incremental runs stay
    the inherited ones, so both paths share the database layer and its rules)."""

    def __init__(self, base: Syncer) -> None:
        super().__init__(base.sender, page_size=base.page_size, strict=base.strict)
        self._readers: dict[str, RowReader] = {}

    def prepare(self, db: Database, name: str) -> RowReader:
        """The table and row reader of ``name`` (metadata read once, again after a catch-up)."""
        reader = self._readers.get(name)
        if reader is None:
            table = table_name(name)
            res = EntitySyncResult(entity=name, table=table)
            meta = self._metadata(spec_for(name), res)
            db.ensure_table(table, meta.columns)
            reader = RowReader(
                name,
                meta.columns,
                datetime_text=db.datetime_text,
                text_columns=text_columns(meta.columns, db.columns(table)),
                alter_types=db.alters_types,
                json_columns=[UDF_COLUMN],
                strict=self.strict,
            )
            self._readers[name] = reader
        return reader

    def forget(self) -> None:
        self._readers.clear()

    def apply(
        self, db: Database, name: str, refresh: Sequence[int], deleted: Sequence[int]
    ) -> tuple[int, int, int]:
        """Delete ``deleted``; read ``refresh`` (``id in``, <= 500 a request) and upsert what the
        API returns, deleting the ids it no longer returns. ``(written, deleted, requests)``."""
        table = table_name(name)
        spec = spec_for(name)
        res = EntitySyncResult(entity=name, table=table)
        reader = self.prepare(db, name)
        gone = set(deleted)
        written = 0
        ordered = sorted(set(refresh) - gone)
        for start in range(0, len(ordered), BATCH_LIMIT):
            chunk = ordered[start : start + BATCH_LIMIT]
            body = {
                "filter": [{"op": "in", "field": "id", "value": chunk}],
                "MaxRecords": BATCH_LIMIT,
            }
            data = self._send_json(_core.query_request(spec, body), res)
            items = [i for i in (data or {}).get("items") or [] if isinstance(i, dict)]
            found = {int(i["id"]) for i in items}
            gone.update(set(chunk) - found)
            if items:
                db.write(self._upsert_steps(db, table, reader, items, res))
                written += len(items)
        removed = 0
        if gone:
            present = db.existing_ids(table, sorted(gone))
            if present:
                db.write(db.delete_ids_steps(table, present))
                removed = len(present)
        return written, removed, res.requests


class RealtimeSync:
    """Keeps the mirror of ``entities`` in ``database`` current from change events.

    ``window``: seconds changes are collected before a batch is fetched (the first change of a
    batch waits at most this long). ``catch_up_every``: interval of the gap-closing incremental
    run (None: only at start). ``on_status(line)`` receives progress lines (the CLI prints them on
    stderr). ``overlap``, ``reconcile``: as for :meth:`Syncer.sync_to_database`.
    """

    def __init__(
        self,
        client: AutotaskClient,
        database: str,
        entities: Sequence[str],
        *,
        window: float = 0.05,
        catch_up_every: _dt.timedelta | None = _dt.timedelta(minutes=5),
        overlap: _dt.timedelta = _dt.timedelta(minutes=10),
        reconcile: bool | None = None,
        lock_timeout: float = 0.0,
        on_status: Callable[[str], None] | None = None,
        on_catch_up: Callable[[SyncResult], None] | None = None,
        on_commit: Callable[[Sequence[tuple[str, int]], float], None] | None = None,
    ) -> None:
        if not window >= 0:
            raise AutotaskConfigError("window must be a number of seconds >= 0")
        if catch_up_every is not None and catch_up_every.total_seconds() <= 0:
            raise AutotaskConfigError("catch_up_every must be a positive interval (or None)")
        check_database_url(database)
        self.client = client
        self.database = database
        self.window = window
        self.catch_up_every = catch_up_every
        self.overlap = overlap
        self.reconcile = reconcile
        self.lock_timeout = lock_timeout
        self.on_status = on_status
        self.on_catch_up = on_catch_up
        #: ``on_commit(keys, read_after)``: the (entity, id) of a batch once it is committed, and
        #: the ``time.time()`` before which every change it shows was made (its records were read
        #: after that moment), for latency figures
        self.on_commit = on_commit
        self._mirror = _Mirror(client.create_syncer())
        self.entities = self._mirror._resolve(entities)
        self._held = set(self.entities)
        self.stats = RealtimeStats()
        self._cond = threading.Condition()
        self._pending: dict[tuple[str, int], str] = {}
        #: futures of changes whose caller waits for the commit (the webhook handler does)
        self._waiting: dict[tuple[str, int], list[Future[None]]] = {}
        self._catch_up_now = False
        self._stopping = threading.Event()
        self._started = threading.Event()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    # -- the way in ----------------------------------------------------------------------------
    def submit(self, entity: str, record_id: int, action: str) -> bool:
        """Queue a change (thread-safe, never blocks on I/O); False when this mirror does not
        hold ``entity``. A later change of the same record replaces an earlier pending one."""
        return self._submit(entity, record_id, action, None)

    def submit_and_wait(self, entity: str, record_id: int, action: str) -> Future[None]:
        """:meth:`submit`, and a future that completes once the change is committed (at once when
        this mirror does not hold ``entity``; with the error when the writer stops first)."""
        future: Future[None] = Future()
        if not self._submit(entity, record_id, action, future):
            future.set_result(None)
        return future

    def _submit(
        self, entity: str, record_id: int, action: str, future: Future[None] | None
    ) -> bool:
        act = action.lower()
        if act not in _ACTIONS:
            raise AutotaskConfigError(
                f"unknown change action {action!r}: use one of {', '.join(sorted(_ACTIONS))}"
            )
        try:
            name = spec_for(entity).name
        except AutotaskError:
            name = entity
        with self._cond:
            self.stats.events += 1
            if name not in self._held:
                self.stats.ignored += 1
                return False
            key = (name, int(record_id))
            # a delete wins over a refresh pending in the same window (ids are never reused)
            if self._pending.get(key) != "deleted":
                self._pending[key] = act
            if future is not None:
                if self._error is not None or self._stopping.is_set():
                    future.set_exception(self._stopped_error())
                else:
                    self._waiting.setdefault(key, []).append(future)
            self._cond.notify()
        return True

    def handle(self, event: Any) -> None:
        """A handler for :class:`~py_autotask.webhooks.WebhookServer` (``"*"``) that queues the
        event's record and returns at once."""
        self._note(event)
        self.submit(str(event.entity), int(event.id), str(event.action))

    def _note(self, event: Any) -> None:
        if str(event.action).lower() == "deactivated":
            self._status(
                f"warning: a Deactivated callout (webhook {getattr(event, 'webhook_guid', None)}, "
                f"{event.entity} {event.id}): if Autotask switched the webhook off, events stop; "
                "the scheduled incremental runs keep the mirror converging until it is re-enabled"
            )

    async def handle_committed(self, event: Any) -> None:
        """An async handler that returns once the event's record is committed, so the receiver's
        durable queue keeps the event until then (a crash loses nothing; a failed write is
        retried by the receiver). Run the server with ``workers`` >= :data:`BATCH_LIMIT` so many
        events wait on one batch."""
        self._note(event)
        future = self.submit_and_wait(str(event.entity), int(event.id), str(event.action))
        await asyncio.wrap_future(future)

    def attach(self, server: WebhookServer, *, wait_for_commit: bool = True) -> None:
        """Register this mirror's handler on ``server`` for every event (``"*"``)."""
        server.add_handler("*", self.handle_committed if wait_for_commit else self.handle)

    def serve(
        self,
        host: str = "127.0.0.1",
        port: int = 8080,
        *,
        secret_key: str | None = None,
        webhooks: Any = None,
        queue: Any = None,
        status_every: float = 10.0,
        on_listening: Callable[[str], None] | None = None,
    ) -> None:
        """Start (when not started), receive callouts on ``host:port`` with a
        :class:`~py_autotask.webhooks.WebhookServer` (``secret_key`` or ``webhooks`` as it takes
        them) until SIGINT/SIGTERM or :meth:`stop`, then stop cleanly: the receiver first (its
        running handlers finish their batch), then the writer. ``queue``: the receiver's durable
        queue (default: ``<database file>.webhooks.db`` beside a SQLite/DuckDB file, so a restart
        resumes what a killed run left). A status line goes to ``on_status`` every
        ``status_every`` seconds while changes are applied."""
        from .webhooks import WebhookServer

        server = WebhookServer(
            port,
            secret_key,
            host,
            webhooks=webhooks,
            queue=queue if queue is not None else default_queue(self.database),
            workers=BATCH_LIMIT,
        )
        self.attach(server)
        interrupted = threading.Event()
        restore = self._install_signals(interrupted)
        try:
            if self._thread is None:
                self.start()
            if not interrupted.is_set() and not self._stopping.is_set():
                asyncio.run(self._serve(server, interrupted, status_every, on_listening))
        finally:
            self.stop()
            if restore is not None:
                restore()
        if self._error is not None:
            raise self._error

    async def _serve(
        self,
        server: WebhookServer,
        interrupted: threading.Event,
        status_every: float,
        on_listening: Callable[[str], None] | None,
    ) -> None:
        await server.start()
        try:
            self._status(f"listening on {server.url} for {', '.join(self.entities)}")
            if on_listening is not None and server.url:
                on_listening(server.url)
            shown = self.stats.line()
            last = time.monotonic()
            while not interrupted.is_set() and not self._stopping.is_set():
                await asyncio.sleep(0.1)
                if time.monotonic() - last >= status_every:
                    last = time.monotonic()
                    line = self.stats.line()
                    if line != shown:
                        self._status(line)
                        shown = line
        finally:
            await server.stop()
            self._status(f"stopped: {self.stats.line()}")

    def _install_signals(self, interrupted: threading.Event) -> Callable[[], None] | None:
        def stop(signum: int) -> None:
            logger.warning("signal %s: stopping after the batch in progress", signum)
            interrupted.set()
            if not self._started.is_set():
                self.stop(timeout=0)  # the first run stops after its committed page

        return on_stop_signals(stop)

    def _stopped_error(self) -> BaseException:
        return AutotaskError(
            f"the real-time sync has stopped ({self._error})"
            if self._error is not None
            else "the real-time sync has stopped"
        )

    def catch_up(self) -> None:
        """Ask for an incremental run now (e.g. after the receiver was down)."""
        with self._cond:
            self._catch_up_now = True
            self._cond.notify()

    @property
    def pending(self) -> int:
        with self._cond:
            return len(self._pending)

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> RealtimeSync:
        """Take the sync lock, run the incremental sync once and start the writer thread; returns
        when the first run is done (its errors are raised here)."""
        if self._thread is not None:
            raise AutotaskConfigError("this RealtimeSync has been started already")
        self._thread = threading.Thread(target=self._run, name="py-autotask-realtime", daemon=True)
        self._thread.start()
        while not self._started.wait(0.1):
            if not self._thread.is_alive():
                break
        if self._error is not None:
            self._thread.join()
            raise self._error
        return self

    def stop(self, timeout: float | None = 30.0) -> None:
        """Stop after the batch in progress is committed, release the lock and close the database.
        Changes still pending are left to the next start's incremental run."""
        self._stopping.set()
        self._mirror.stop()
        with self._cond:
            self._cond.notify()
        if self._thread is not None:
            self._thread.join(timeout)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the writer has stopped (or ``timeout``); True when it has."""
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def error(self) -> BaseException | None:
        """What stopped the writer, if it failed."""
        return self._error

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every change submitted so far is committed; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._pending or self._busy:
                left = deadline - time.monotonic()
                if left <= 0 or self._stopping.is_set():
                    return False
                self._cond.wait(min(left, 0.05))
        return True

    def __enter__(self) -> RealtimeSync:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the writer ----------------------------------------------------------------------------
    _busy = False

    def _status(self, line: str) -> None:
        logger.info("%s", line)
        if self.on_status is not None:
            with contextlib.suppress(Exception):
                self.on_status(line)

    def _run(self) -> None:
        try:
            with acquire_sync_lock(
                self.database,
                timeout=self.lock_timeout,
                mode="realtime" + self._every_text(),
                entities=self.entities,
                stop=self._stopping,
            ) as lock:
                self._mirror._lock = lock
                db = open_database(self.database)
                try:
                    db.setup()
                    self._loop(db, lock)
                finally:
                    db.close()
                    self._mirror._lock = None
        except BaseException as exc:
            self._error = exc
            logger.error("real-time sync stopped: %s", exc)
        finally:
            self._stopping.set()
            self._started.set()
            with self._cond:
                waiting, self._waiting = self._waiting, {}
                self._cond.notify_all()
            for futures in waiting.values():
                for future in futures:
                    if not future.done():
                        future.set_exception(self._stopped_error())

    def _every_text(self) -> str:
        if self.catch_up_every is None:
            return ""
        return f", catch-up every {self.catch_up_every.total_seconds() / 60:g} min"

    def _run_catch_up(self, db: Database) -> None:
        result = self._mirror.run_once(
            db, self.entities, overlap=self.overlap, reconcile=self.reconcile
        )
        self._mirror.forget()  # columns may have been added
        self.stats.catch_ups += 1
        self.stats.last_catch_up = result
        parts = [
            f"{e.entity} +{e.created} ~{e.updated} -{e.deleted} ({e.status})"
            for e in result.entities
        ]
        self._status(f"incremental sync: {', '.join(parts)}; {result.requests} requests")
        if self.on_catch_up is not None:
            self.on_catch_up(result)

    def _loop(self, db: Database, lock: SyncLock) -> None:
        self._run_catch_up(db)
        self._started.set()
        if self._stopping.is_set():
            return
        next_catch_up = self._next_catch_up()
        backoff = 0.0
        while not self._stopping.is_set():
            with self._cond:
                while not (self._pending or self._catch_up_now or self._stopping.is_set()):
                    left = None if next_catch_up is None else next_catch_up - time.monotonic()
                    if left is not None and left <= 0:
                        break
                    self._cond.wait(left)
            if self._stopping.is_set():
                return
            if self._pending and self.window and not backoff:
                # let the changes of the next moment join this batch
                self._stopping.wait(self.window)
            with self._cond:
                batch, self._pending = self._pending, {}
                taken = time.time()
                waiters = {k: self._waiting.pop(k) for k in batch if k in self._waiting}
                due = self._catch_up_now or (
                    next_catch_up is not None and time.monotonic() >= next_catch_up
                )
                self._catch_up_now = False
                self._busy = bool(batch)
            try:
                if batch:
                    lock.verify()
                    self._apply(db, batch, taken)
                    backoff = 0.0
                    for futures in waiters.values():
                        for future in futures:
                            if not future.done():
                                future.set_result(None)
                    waiters = {}
                if due:
                    self._run_catch_up(db)
                    next_catch_up = self._next_catch_up()
            except AutotaskError as exc:
                self.stats.errors += 1
                backoff = min(max(backoff * 2, 0.5), 30.0)
                self._status(f"error: {exc}; retrying in {backoff:g} s")
                with self._cond:
                    for key, act in batch.items():
                        self._pending.setdefault(key, act)
                    for key, futures in waiters.items():
                        self._waiting.setdefault(key, [])[:0] = futures
                self._stopping.wait(backoff)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _next_catch_up(self) -> float | None:
        if self.catch_up_every is None:
            return None
        return time.monotonic() + self.catch_up_every.total_seconds()

    def _apply(self, db: Database, batch: Mapping[tuple[str, int], str], taken: float) -> None:
        by_entity: dict[str, tuple[list[int], list[int]]] = {}
        for (name, rid), act in batch.items():
            refresh, deleted = by_entity.setdefault(name, ([], []))
            (deleted if act == "deleted" else refresh).append(rid)
        cache = self.client.cache
        for name, (refresh, deleted) in by_entity.items():
            if cache.enabled:
                # before the read, or the read itself could be answered from the cache
                cache.invalidate_records(name, [*refresh, *deleted])
            written, removed, requests = self._mirror.apply(db, name, refresh, deleted)
            self.stats.upserted += written
            self.stats.deleted += removed
            self.stats.requests += requests
        self.stats.batches += 1
        if self.on_commit is not None:
            self.on_commit(list(batch), taken)
        logger.debug("applied %d changes", len(batch))


def default_queue(database: str) -> Path | None:
    """The receiver's queue for a mirror: ``<file>.webhooks.db`` beside a SQLite or DuckDB file
    (one queue per mirror, found again after a restart); None (the receiver's default under the
    user's state directory) for a server database or an in-memory one."""
    lock = sync_lock_for(database)
    if isinstance(lock, FileLock):
        return Path(lock.db_path + ".webhooks.db")
    return None
