"""Requests sent by a job's worker threads belong to the job that started them: the pools copy
the caller's context per task (``current_job()``, and a tracer's current span with it)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

simulator = pytest.importorskip("py_autotask.simulator")

from py_autotask import AsyncAutotaskClient, AutotaskClient  # noqa: E402
from py_autotask.export import _fetch  # noqa: E402
from py_autotask.monitoring import JobInfo, Observer, RequestInfo, RequestOutcome  # noqa: E402


@pytest.fixture(scope="module")
def module_sim() -> Iterator[Any]:
    with simulator.Simulator(seed=3, profile="tiny", counts={"Tickets": 320}) as s:
        yield s


@pytest.fixture
def sim(module_sim: Any) -> Any:
    module_sim.reset()
    return module_sim


def _root(job: JobInfo | None) -> str | None:
    while job is not None and job.parent is not None:
        job = job.parent
    return job.kind if job is not None else None


class Roots(Observer):
    """The outermost job of every request, and the thread that sent it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seen: list[tuple[str | None, str]] = []

    def request_ended(self, info: RequestInfo, token: Any, outcome: RequestOutcome) -> None:
        with self.lock:
            self.seen.append((_root(info.job), threading.current_thread().name))


def test_an_exports_worker_threads_run_in_the_callers_job(
    sim: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_fetch, "PAGE_SIZE", 80)  # a first page, then id-range partitions
    roots = Roots()
    with AutotaskClient(**sim.credentials) as client:
        client.observers.add(roots)
        with client.observers.job("nightly"):
            client.create_exporter(workers=3).add_entities("Tickets").include_relationships(
                "tickets.companyID"
            ).export(tmp_path / "out", "csv")
    assert len(roots.seen) == len(sim.journal()) > 5
    threads = {name for _, name in roots.seen}
    assert len(threads) > 1  # the pools did send
    assert {root for root, _ in roots.seen} == {"nightly"}


def test_an_async_export_runs_in_the_awaiting_tasks_job(sim: Any, tmp_path: Path) -> None:
    roots = Roots()

    async def main() -> None:
        async with AsyncAutotaskClient(**sim.credentials) as client:
            client.observers.add(roots)
            with client.observers.job("nightly"):
                exporter = client.create_exporter().add_entities("Tickets")
                await exporter.export(tmp_path / "out", "csv")

    asyncio.run(main())
    assert len(roots.seen) == len(sim.journal()) > 2
    assert {root for root, _ in roots.seen} == {"nightly"}
