"""``BulkManager``: bulk create, update and delete with validation, conflict resolution, a
write-ahead journal, resume and undo, for synchronous code.

The jobs are written once (:mod:`._jobs`); this shell drives them through a
:class:`~py_autotask._sender.Sender` and runs their rows on a pool of threads.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any, Concatenate, ParamSpec, TypeVar

from .._registry import require_operation
from .._registry import spec_for as resolve_spec
from .._sender import Flow, Sender, run_effects
from .._tally import counting
from ._jobs import (
    BulkJobs,
    JobEffect,
    JobFlow,
    Join,
    ProgressCallback,
    Spawn,
    account,
    default_journal_dir,
    job_scope,
    journal_path,
    once,
    report,
    shell_method,
)

__all__ = [
    "BulkManager",
    "ProgressCallback",
    "default_journal_dir",
    "journal_path",
    "require_operation",
    "resolve_spec",
]

P = ParamSpec("P")
T = TypeVar("T")


class _Threads:
    """Performs the effects of one job: its own through the sender, its rows on a thread pool.
    Everything holds one of ``workers`` slots while it runs, so the job's own requests (the next
    unit's prefetch) count against ``max_concurrent`` like its rows."""

    def __init__(self, sender: Sender) -> None:
        self._sender = sender
        self._pool: ThreadPoolExecutor | None = None
        self._slots = threading.Semaphore(1)

    def perform(self, effect: JobEffect) -> Any:
        if isinstance(effect, Spawn):
            if self._pool is None:
                self._pool = ThreadPoolExecutor(effect.workers, thread_name_prefix="bulk")
                self._slots = threading.Semaphore(effect.workers)
            # each row runs in a copy of the job's context: its requests count in the job's tally
            return [
                self._pool.submit(contextvars.copy_context().run, self._row, flow)
                for flow in effect.rows
            ]
        if isinstance(effect, Join):
            futures: list[Future[None]] = effect.handle
            try:
                wait(futures)
            except BaseException:  # interrupted: the rows stop before the job closes its journal
                self.close()
                raise
            for future in futures:
                future.result()
            return None
        with self._slots:
            return self._sender.run(once(effect))

    def _row(self, flow: Flow[None]) -> None:
        with self._slots:
            self._sender.run(flow)

    def close(self) -> None:
        """After the job: rows not started yet (a job that failed or was interrupted part way)
        are dropped, running ones finish; the journal keeps them resumable."""
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)


def _runs(
    job: Callable[Concatenate[Any, P], JobFlow[T]],
) -> Callable[Concatenate[BulkManager, P], T]:
    """The manager method that runs the job flow ``job`` to its end."""

    def run(self: BulkManager, /, *args: P.args, **kwargs: P.kwargs) -> T:
        threads = _Threads(self._sender)
        observers = self._sender.reader.observers
        try:
            with job_scope(observers, run.__name__) as scope, counting() as tally:
                result = account(run_effects(job(self, *args, **kwargs), threads.perform), tally)
                report(observers, scope, result)
                return result
        finally:
            threads.close()

    shell_method(run, job)
    return run


class BulkManager(BulkJobs[Sender]):
    """Bulk operations through a :class:`~py_autotask._sender.Sender`
    (``client.create_bulk_manager()``, or ``BulkManager(client)``).

    ``max_concurrent`` is how many rows the manager works on at once (default 3). Requests per
    endpoint, pacing against the hourly budget and retries are the client's
    (``PacingConfig``, ``RetryConfig``). ``journal_dir`` is where job journals go when a call does
    not name one (:func:`default_journal_dir`); ``budget_fraction`` and ``hourly_threshold`` feed
    :meth:`estimate`. ``endpoint_limit`` and ``rate_limit_retries`` are deprecated.
    """

    bulk_create = _runs(BulkJobs._bulk_create)
    bulk_update = _runs(BulkJobs._bulk_update)
    bulk_delete = _runs(BulkJobs._bulk_delete)
    resume = _runs(BulkJobs._resume)
    undo = _runs(BulkJobs._undo)
    estimate = _runs(BulkJobs._estimate)
