"""The exporter and the syncer for :class:`~py_autotask.AsyncAutotaskClient` users.

Both are long jobs whose work is mostly CPU and disk (Arrow conversion, fsync'ed staging, output
writers, database transactions), so they run on a worker thread; every API request they make is
sent by the *async* client on the caller's event loop (:class:`LoopBridge`), so that client's
pacing, retries, breaker, cache and zone handling apply exactly as to the application's own
requests, and the 3-per-endpoint limit is shared with them.

``await exporter.export(...)`` / ``await syncer.sync_to_database(...)`` keep the event loop free.
Cancelling the awaiting task stops the job at its next request or page (an export keeps its
staged pages for ``resume=True``; a sync commits the page in progress), waits for the worker
thread to finish, then re-raises :class:`asyncio.CancelledError`: nothing keeps writing after the
coroutine has returned.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import datetime as _dt
import os
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar, cast

from ._sender import AsyncSender, Flow, drive
from ._spec import EntitySpec
from .exceptions import AutotaskError

if TYPE_CHECKING:
    import pandas as pd

    from ._core import ApiRequest, ApiResponse, ClientCore
    from .export import ExportResult, ProgressCallback, StagedExport
    from .sync import SyncResult

__all__ = [
    "AsyncExporter",
    "AsyncSyncer",
    "JobCancelledError",
    "LoopBridge",
    "async_entity_to_dataframe",
]

T = TypeVar("T")


class JobCancelledError(AutotaskError):
    """Raised inside the worker thread when the awaiting task was cancelled (the caller sees
    :class:`asyncio.CancelledError`)."""


class LoopBridge:
    """A :class:`~py_autotask._sender.Sender` over an :class:`~py_autotask._sender.AsyncSender`,
    for code running on a worker thread: ``send`` runs the async sender's ``send`` on the event
    loop the job was started from and waits for it. Calling it on that loop's own thread would
    deadlock, so that is refused."""

    def __init__(self, sender: AsyncSender) -> None:
        self._async = sender
        self._loop: asyncio.AbstractEventLoop | None = None
        self.cancelled = threading.Event()

    @property
    def reader(self) -> ClientCore:
        return self._async.reader

    def run(self, flow: Flow[T]) -> T:
        return drive(flow, self.send)

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.cancelled.clear()

    def check(self) -> None:
        if self.cancelled.is_set():
            raise JobCancelledError("the task awaiting this job was cancelled")

    def send(self, request: ApiRequest) -> ApiResponse:
        self.check()
        loop = self._loop
        if loop is None:
            raise RuntimeError("LoopBridge used before bind(): start the job with await")
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            raise RuntimeError("LoopBridge.send called on its event loop's thread (deadlock)")
        future = asyncio.run_coroutine_threadsafe(self._async.send(request), loop)
        return future.result()


def _finish(done: asyncio.Future[None]) -> None:
    if not done.done():
        done.set_result(None)


async def _run_in_thread(
    bridge: LoopBridge, fn: Callable[[], T], on_cancel: Callable[[], None] | None = None
) -> T:
    bridge.bind(asyncio.get_running_loop())
    loop = asyncio.get_running_loop()
    result: dict[str, Any] = {}
    done: asyncio.Future[None] = loop.create_future()

    def work() -> None:
        try:
            result["value"] = fn()
        except BaseException as exc:  # handed to the awaiting task
            result["error"] = exc
        finally:
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting
                loop.call_soon_threadsafe(_finish, done)

    # the job runs in a copy of the awaiting task's context: its job scopes (and a tracer's
    # current span) are the parents of what the job does
    context = contextvars.copy_context()
    thread = threading.Thread(
        target=context.run, args=(work,), name="autotask-async-job", daemon=True
    )
    thread.start()
    try:
        await asyncio.shield(done)
    except asyncio.CancelledError:
        if on_cancel is not None:
            on_cancel()  # the job stops itself cleanly (a sync commits its page)
        else:
            bridge.cancelled.set()  # the next request or page raises JobCancelledError
        # let the job stop at its next request/page; its in-flight requests still complete here
        while not done.done():
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(done)
        thread.join()  # it signalled `done` as its last step: this returns at once
        raise
    thread.join()
    if "error" in result:
        raise result["error"]
    return cast("T", result["value"])


class AsyncExporter:
    """:class:`~py_autotask.export.Exporter` for an async client (``client.create_exporter()``):
    the same configuration methods; ``export``, ``to_sql`` and ``fetch`` are coroutines."""

    def __init__(
        self,
        sender: AsyncSender,
        *,
        workers: int = 3,
        picklist_labels: bool = False,
        neutralize_formulas: bool = True,
        fsync: bool = True,
        progress: ProgressCallback | None = None,
        strict: bool = False,
    ) -> None:
        from .export import Exporter

        self._bridge = LoopBridge(sender)
        self.progress = progress
        self._exporter = Exporter(
            self._bridge,
            workers=workers,
            picklist_labels=picklist_labels,
            neutralize_formulas=neutralize_formulas,
            fsync=fsync,
            progress=self._on_progress,
            strict=strict,
        )

    def _on_progress(self, entity: str, phase: str, done: int, total: int | None) -> None:
        self._bridge.check()  # a cancelled job stops at the next page
        if self.progress is not None:
            self.progress(entity, phase, done, total)

    def add_entities(self, *entities: str, filter: Any = None) -> AsyncExporter:
        self._exporter.add_entities(*entities, filter=filter)
        return self

    def include_relationships(self, relationships: str | Iterable[str]) -> AsyncExporter:
        self._exporter.include_relationships(relationships)
        return self

    @property
    def entities(self) -> list[str]:
        return self._exporter.entities

    def fingerprint(self) -> str:
        return self._exporter.fingerprint()

    async def export(
        self, path: str | os.PathLike[str], format: str | None = None, **options: Any
    ) -> ExportResult:
        """:meth:`Exporter.export <py_autotask.export.Exporter.export>` on a worker thread."""
        return await _run_in_thread(
            self._bridge, lambda: self._exporter.export(path, format, **options)
        )

    async def to_sql(self, connection: Any, **options: Any) -> ExportResult:
        """:meth:`Exporter.to_sql <py_autotask.export.Exporter.to_sql>` on a worker thread."""
        return await _run_in_thread(
            self._bridge, lambda: self._exporter.to_sql(connection, **options)
        )

    async def fetch(
        self, work_dir: str | os.PathLike[str], *, resume: bool = False
    ) -> StagedExport:
        return await _run_in_thread(
            self._bridge, lambda: self._exporter.fetch(work_dir, resume=resume)
        )


class AsyncSyncer:
    """:class:`~py_autotask.sync.Syncer` for an async client (``client.create_syncer()``):
    ``await sync_to_database(...)``; daemon mode (``sync_interval``) runs until :meth:`stop` or
    until the awaiting task is cancelled (the page in progress is committed first). Signals are
    the application's to handle: no signal handlers are installed."""

    def __init__(
        self,
        sender: AsyncSender,
        *,
        page_size: int = 500,
        progress: Any = None,
        strict: bool = False,
    ) -> None:
        from .sync import Syncer

        self._bridge = LoopBridge(sender)
        self._syncer = Syncer(self._bridge, page_size=page_size, progress=progress, strict=strict)

    def stop(self) -> None:
        """Ask a running sync to stop after the page in progress is committed (thread-safe)."""
        self._syncer.stop()

    async def sync_to_database(
        self,
        connection_string: str,
        entities: Sequence[str],
        sync_interval: _dt.timedelta | None = None,
        **options: Any,
    ) -> SyncResult:
        """:meth:`Syncer.sync_to_database <py_autotask.sync.Syncer.sync_to_database>` on a
        worker thread (``handle_signals`` is always off)."""
        options["handle_signals"] = False
        return await _run_in_thread(
            self._bridge,
            lambda: self._syncer.sync_to_database(
                connection_string, entities, sync_interval, **options
            ),
            on_cancel=self._syncer.stop,
        )


async def async_entity_to_dataframe(
    sender: AsyncSender, spec: EntitySpec, filters: Any = None, **options: Any
) -> pd.DataFrame:
    """:func:`py_autotask.dataframe.entity_to_dataframe` for an async client, on a worker thread
    whose requests go through ``sender`` on this event loop."""
    from .dataframe import entity_to_dataframe

    bridge = LoopBridge(sender)
    return await _run_in_thread(
        bridge, lambda: entity_to_dataframe(bridge, spec, filters, **options)
    )
