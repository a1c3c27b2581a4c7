"""Pacing against the simulator with its thread limit and hourly threshold on (real sockets)."""

from __future__ import annotations

import asyncio
import multiprocessing
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from py_autotask import AsyncAutotaskClient, AutotaskClient
from py_autotask.exceptions import AutotaskBudgetExhaustedError
from py_autotask.resilience import PacingConfig, RetryConfig

from .conftest import creds, paged

LATENCY = {"type": "latency", "dist": "fixed", "seconds": 0.05}


def _max_concurrency(entries: list[Any]) -> int:
    """Most requests the server was handling at once (from start/finish times)."""
    events = sorted(
        [(e.started_at, 1) for e in entries] + [(e.finished_at, -1) for e in entries],
        key=lambda x: (x[0], x[1]),
    )
    current = best = 0
    for _, delta in events:
        current += delta
        best = max(best, current)
    return best


def _rejections(entries: list[Any]) -> list[Any]:
    return [e for e in entries if e.outcome.startswith("rejected") or e.status == 429]


def test_eight_coroutines_on_one_endpoint_never_exceed_three(fresh: Any) -> None:
    fresh.add_fault({"match": {"entity": "Tickets"}, "effect": LATENCY})

    async def scenario() -> list[list[int]]:
        async with AsyncAutotaskClient(**creds(fresh)) as client:

            async def one() -> list[int]:
                return [t.id async for t in client.tickets.query_all_iter(paged(40))]

            return await asyncio.gather(*(one() for _ in range(8)))

    results = asyncio.run(scenario())
    assert all(r == results[0] and len(r) == 120 for r in results)
    tickets = fresh.journal(entity="Tickets")
    assert len(tickets) == 8 * 3
    assert _rejections(fresh.journal()) == []  # zero Itgenatr005
    assert max(e.in_flight_at_start for e in tickets) == 2  # 3 in flight at most ...
    assert _max_concurrency(tickets) == 3  # ... and the requests really overlapped


def test_threads_of_the_sync_client_share_the_limit(fresh: Any) -> None:
    fresh.add_fault({"match": {"entity": "Companies"}, "effect": {**LATENCY, "seconds": 0.2}})
    with AutotaskClient(**creds(fresh)) as client:
        barrier = threading.Barrier(6)

        def work() -> None:
            barrier.wait()
            client.companies.query_all(paged(2))

        threads = [threading.Thread(target=work) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    companies = fresh.journal(entity="Companies")
    assert len(companies) == 6 * 3 and _rejections(fresh.journal()) == []
    assert max(e.in_flight_at_start for e in companies) == 2
    assert _max_concurrency(companies) == 3


def test_gather_over_entities_runs_them_concurrently(fresh: Any) -> None:
    for entity in ("Tickets", "Contacts", "Companies"):
        fresh.add_fault({"match": {"entity": entity}, "effect": LATENCY})

    async def scenario() -> None:
        async with AsyncAutotaskClient(**creds(fresh)) as client:
            await asyncio.gather(
                *(client.tickets.query(paged(5)) for _ in range(3)),
                *(client.contacts.query(paged(5)) for _ in range(3)),
                *(client.companies.query(paged(5)) for _ in range(3)),
            )

    asyncio.run(scenario())
    entries = fresh.journal()
    assert len(entries) == 9 and _rejections(entries) == []
    assert _max_concurrency(entries) == 9  # 3 endpoints x 3 in flight, all at once


# --- several processes, one tenant ----------------------------------------------------------------


def _worker(credentials: dict[str, Any], backend: str, barrier: Any, results: Any) -> None:
    async def scenario() -> int:
        pacing = PacingConfig(backend=backend)
        async with AsyncAutotaskClient(**credentials, pacing=pacing) as client:
            await client.tickets.count()  # connect and warm up before the race
            barrier.wait()

            async def one() -> int:
                return len([t async for t in client.tickets.query_all_iter(paged(60))])

            return sum(await asyncio.gather(*(one() for _ in range(4))))

    results.put(asyncio.run(scenario()))


def _run_processes(sim: Any, backend: str) -> None:
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(2), ctx.Queue()
    procs = [
        ctx.Process(target=_worker, args=(creds(sim), backend, barrier, results)) for _ in range(2)
    ]
    # latency on the paged reads (not the warm-up count) so the two processes' requests overlap
    sim.add_fault({"match": {"entity": "Tickets", "operation": "query"}, "effect": LATENCY})
    sim.add_fault({"match": {"entity": "Tickets", "operation": "next"}, "effect": LATENCY})
    for p in procs:
        p.start()
    totals = [results.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(30)
    assert totals == [4 * 120, 4 * 120]
    tickets = sim.journal(entity="Tickets", operation="query") + sim.journal(
        entity="Tickets", operation="next"
    )
    assert len(tickets) == 2 * 4 * 2
    assert _rejections(sim.journal()) == []
    assert max(e.in_flight_at_start for e in tickets) <= 2
    assert _max_concurrency(tickets) == 3


@pytest.mark.xdist_group("processes")
def test_two_processes_share_the_redis_backend(fresh: Any, redis_url: str) -> None:
    _run_processes(fresh, redis_url)


@pytest.mark.xdist_group("processes")
def test_two_processes_share_the_sqlite_backend(fresh: Any, tmp_path: Path) -> None:
    _run_processes(fresh, f"sqlite:///{tmp_path / 'pacing.db'}")


# --- the hourly threshold -------------------------------------------------------------------------


def test_client_slows_itself_at_74_percent_and_is_never_rejected(tenant: Any) -> None:
    # 1 simulated hour = 15 s; a threshold of 1,000 so the percentages move quickly.
    scale = 240.0
    sim = tenant(threshold=1000, time_scale=scale)
    # in-process limits: the simulator is reset between the two runs (a new tenant, in effect)
    pacing = PacingConfig(time_scale=scale, threshold_first_poll_after=0, backend="local")

    def run(n: int) -> float:
        with AutotaskClient(**creds(sim), pacing=pacing) as client:
            started = time.monotonic()
            for _ in range(n):
                client.tickets.count()
            return time.monotonic() - started

    fast = run(20)  # fresh tenant: the burst allowance covers 20 requests
    sim.reset()
    sim.preload_threshold(740)
    slow = run(20)
    entries = sim.journal()
    assert _rejections(entries) == []
    polls = [e for e in entries if e.entity == "ThresholdInformation"]
    assert 1 <= len(polls) <= 3  # polled, but sparingly
    # at 74% the rate is a quarter of the share: (500 - 50) / 3600 * 240 * 0.25 = 7.5/s
    assert slow >= 19 / 7.5 * 0.8
    assert fast < slow / 3
    usage = sim.state.budget.current() / 1000
    assert usage < 0.80


def test_budget_exhausted_raises_after_a_bounded_number_of_requests(tenant: Any) -> None:
    sim = tenant(threshold=100)
    sim.preload_threshold(100)
    with AutotaskClient(**creds(sim)) as client:
        errors = []
        for _ in range(20):
            with pytest.raises(AutotaskBudgetExhaustedError) as info:
                client.tickets.count()
            errors.append(info.value)
    assert len(sim.journal()) == 1  # one rejection, then no request until the window drains
    first = errors[0]
    assert first.status_code == 429 and not first.thread_limit
    assert "Request threshold exceeded" in str(first)  # Autotask's own words
    assert "on_budget_exhausted='wait'" in str(first)
    assert first.retry_after is not None and 100 < first.retry_after <= 3600
    assert all(e.retry_after and e.retry_after <= first.retry_after for e in errors[1:])


def test_threshold_reading_at_the_stop_level_raises_before_any_rejection(tenant: Any) -> None:
    sim = tenant(threshold=1000)
    sim.preload_threshold(985)
    pacing = PacingConfig(threshold_first_poll_after=0)
    with AutotaskClient(**creds(sim), pacing=pacing) as client:
        with pytest.raises(AutotaskBudgetExhaustedError, match=r"usage about 9[89]%"):
            client.tickets.count()
    assert [e.entity for e in sim.journal()] == ["ThresholdInformation"]
    assert _rejections(sim.journal()) == []


def test_budget_exhausted_waits_for_the_window_when_configured(tenant: Any) -> None:
    scale = 120.0  # one simulated hour in 30 real seconds
    sim = tenant(threshold=100, time_scale=scale)
    pacing = PacingConfig(on_budget_exhausted="wait", time_scale=scale, max_budget_wait=5.0)
    with AutotaskClient(**creds(sim), pacing=pacing, retry_config=RetryConfig()) as client:
        # a full window whose requests are 59 simulated minutes old: drains after 0.5 s real
        sim.preload_threshold(100, age_seconds=3540)
        started = time.monotonic()
        assert client.tickets.count() == 120
        waited = time.monotonic() - started
    entries = sim.journal()
    assert next(e.status for e in entries) == 429
    assert len(entries) <= 4  # rejection, threshold probe(s), the successful request
    assert entries[-1].status == 200
    assert waited < 4.0  # the estimated drain time (1.2 s), not max_budget_wait


def test_retry_after_on_an_hourly_rejection_sets_the_reopen_time(fresh: Any) -> None:
    fresh.add_fault(
        {
            "match": {"entity": "Tickets"},
            "effect": {
                "type": "status",
                "status": 429,
                "retry_after": 42,
                "errors": ["Request threshold exceeded: try again later."],
            },
            "count": 1,
        }
    )
    with AutotaskClient(**creds(fresh)) as client:
        with pytest.raises(AutotaskBudgetExhaustedError) as info:
            client.tickets.count()
        assert info.value.retry_after == 42.0
        assert 41 < client.health().budget_exhausted_for <= 42
