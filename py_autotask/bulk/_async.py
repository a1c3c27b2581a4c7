"""``AsyncBulkManager``: the async twin of :class:`~py_autotask.bulk.BulkManager`.

Same jobs (written once in :mod:`._jobs`), same journal, same results; this shell drives them
through an :class:`~py_autotask._sender.AsyncSender` and runs their rows as asyncio tasks. Journal
writes are short synchronous SQLite commits.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, Concatenate, ParamSpec, TypeVar

from .._sender import AsyncSender, Flow, arun_effects
from .._tally import counting
from ._jobs import (
    BulkJobs,
    JobEffect,
    JobFlow,
    Join,
    Spawn,
    account,
    job_scope,
    once,
    report,
    shell_method,
)

__all__ = ["AsyncBulkManager"]

P = ParamSpec("P")
T = TypeVar("T")


class _Tasks:
    """Performs the effects of one job: its own through the sender, its rows as asyncio tasks,
    each holding one of ``workers`` slots while it runs (the job's own requests too)."""

    def __init__(self, sender: AsyncSender) -> None:
        self._sender = sender
        self._slots = asyncio.Semaphore(1)
        self._tasks: list[asyncio.Task[None]] = []

    async def perform(self, effect: JobEffect) -> Any:
        if isinstance(effect, Spawn):
            if not self._tasks:
                self._slots = asyncio.Semaphore(effect.workers)
            started = [asyncio.ensure_future(self._row(flow)) for flow in effect.rows]
            self._tasks.extend(started)
            return started
        if isinstance(effect, Join):
            try:
                outcomes = await asyncio.gather(*effect.handle, return_exceptions=True)
            except BaseException:  # cancelled: the rows stop before the job closes its journal
                await self.close()
                raise
            for outcome in outcomes:
                if isinstance(outcome, BaseException):
                    raise outcome
            return None
        async with self._slots:
            return await self._sender.run(once(effect))

    async def _row(self, flow: Flow[None]) -> None:
        async with self._slots:
            await self._sender.run(flow)

    async def close(self) -> None:
        """After the job: rows still running (a job that failed or was cancelled part way) are
        cancelled; the journal keeps them resumable."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


def _runs(
    job: Callable[Concatenate[Any, P], JobFlow[T]],
) -> Callable[Concatenate[AsyncBulkManager, P], Coroutine[Any, Any, T]]:
    """The manager coroutine method that runs the job flow ``job`` to its end."""

    async def run(self: AsyncBulkManager, /, *args: P.args, **kwargs: P.kwargs) -> T:
        tasks = _Tasks(self._sender)
        observers = self._sender.reader.observers
        try:
            # tasks started inside copy the context: their requests count, in the job's scope
            with job_scope(observers, run.__name__) as scope, counting() as tally:
                flow = job(self, *args, **kwargs)
                result = account(await arun_effects(flow, tasks.perform), tally)
                report(observers, scope, result)
                return result
        finally:
            await tasks.close()

    shell_method(run, job)
    return run


class AsyncBulkManager(BulkJobs[AsyncSender]):
    """Bulk operations through an :class:`~py_autotask._sender.AsyncSender`
    (``async_client.create_bulk_manager()``). Options and results as :class:`BulkManager`; the
    methods are coroutines (``await bulk.bulk_update(...)``)."""

    bulk_create = _runs(BulkJobs._bulk_create)
    bulk_update = _runs(BulkJobs._bulk_update)
    bulk_delete = _runs(BulkJobs._bulk_delete)
    resume = _runs(BulkJobs._resume)
    undo = _runs(BulkJobs._undo)
    estimate = _runs(BulkJobs._estimate)
