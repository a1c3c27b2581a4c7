"""The exporter and syncer of the async client: the same rows as the sync ones, every request sent
by the async client on the caller's loop (the loop stays responsive meanwhile), and cancelling the
awaiting task stops the job - nothing is published, nothing keeps running, a resume completes."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from py_autotask import AsyncAutotaskClient, AutotaskClient
from py_autotask.simulator import Simulator

from ._helpers import raw_rows

pytestmark = pytest.mark.xdist_group("export")


def _async_client(sim: Simulator) -> AsyncAutotaskClient:
    return AsyncAutotaskClient(**sim.credentials)


def test_async_export_writes_the_same_file_as_the_sync_exporter(
    sim: Simulator, client: AutotaskClient, tmp_path: Path
) -> None:
    sync_result = (
        client.create_exporter()
        .add_entities("tickets")
        .include_relationships("tickets.company")
        .export(tmp_path / "sync", format="parquet")
    )
    events: list[tuple[str, str, int]] = []
    ticks = 0

    async def run() -> Any:
        nonlocal ticks
        async with _async_client(sim) as aclient:
            exporter = aclient.create_exporter(
                progress=lambda e, p, done, total: events.append((e, p, done))
            )
            exporter.add_entities("tickets").include_relationships("tickets.company")
            task = asyncio.create_task(exporter.export(tmp_path / "async", format="parquet"))
            while not task.done():  # the event loop keeps running while the export works
                ticks += 1
                await asyncio.sleep(0.005)
            return await task

    result = asyncio.run(run())
    assert result.rows == sync_result.rows
    for name in ("tickets.parquet", "companies.parquet"):
        assert pq.read_table(tmp_path / "async" / name).equals(
            pq.read_table(tmp_path / "sync" / name)
        )
    assert ticks > 10
    tickets = len(raw_rows(sim, "Tickets"))
    assert ("Tickets", "fetch", tickets) in events and ("Tickets", "write", tickets) in events
    # every request went through the async client (its request counter saw them)
    assert result.requests >= tickets // 500


def test_cancelling_an_async_export_stops_it_and_resume_completes(
    sim: Simulator, client: AutotaskClient, tmp_path: Path
) -> None:
    # pages slow enough that the cancel lands mid-export (the fixture resets faults per test)
    sim.add_fault({"match": {"entity": "Tickets"}, "effect": {"type": "latency", "seconds": 0.1}})
    out = tmp_path / "out"
    staged_rows: list[int] = []

    async def run() -> None:
        async with _async_client(sim) as aclient:
            exporter = aclient.create_exporter(
                workers=1, progress=lambda e, p, done, total: staged_rows.append(done)
            )
            exporter.add_entities("tickets")
            task = asyncio.create_task(exporter.export(out, format="csv"))
            while not staged_rows or staged_rows[-1] < 1000:
                await asyncio.sleep(0.001)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

    before = {t.name for t in threading.enumerate()}
    asyncio.run(run())
    # the worker thread finished before the cancelled coroutine returned
    assert not [t for t in threading.enumerate() if t.name.startswith("autotask-async-job")]
    assert {t.name for t in threading.enumerate()} <= before | {"MainThread"}
    assert not out.exists() and (tmp_path / "out.export-state").is_dir()
    stopped_at = staged_rows[-1]
    time.sleep(0.2)
    assert staged_rows[-1] == stopped_at  # nothing ran on after the cancel returned
    result = (
        client.create_exporter(workers=1)
        .add_entities("tickets")
        .export(out, format="csv", resume=True)
    )
    assert result.resumed and result.entities["Tickets"].rows == len(raw_rows(sim, "Tickets"))


def test_async_syncer_mirrors_the_simulator_and_a_cancelled_daemon_stops(
    sim: Simulator, tmp_path: Path
) -> None:
    import datetime as dt
    import sqlite3

    db = tmp_path / "mirror.db"

    async def run() -> Any:
        async with _async_client(sim) as aclient:
            once = await aclient.create_syncer().sync_to_database(
                f"sqlite:///{db}", ["Companies", "Tickets"]
            )
            daemon = aclient.create_syncer()
            task = asyncio.create_task(
                daemon.sync_to_database(f"sqlite:///{db}", ["Companies"], dt.timedelta(hours=1))
            )
            await asyncio.sleep(1.0)  # the first pass is done; the daemon sleeps for an hour
            started = time.monotonic()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            return once, time.monotonic() - started

    once, stop_seconds = asyncio.run(run())
    assert once.ok
    created = {e.entity: e.created for e in once.entities}
    tickets = raw_rows(sim, "Tickets")
    assert created["Tickets"] == len(tickets)
    with sqlite3.connect(db) as conn:
        ids = [r[0] for r in conn.execute("SELECT id FROM tickets ORDER BY id")]
    assert ids == [t["id"] for t in tickets]
    assert stop_seconds < 5  # the hour-long sleep was cut short, the lock released
    # the lock was released: a new sync of the same database runs at once
    with AutotaskClient(**sim.credentials) as again:
        result = again.create_syncer().sync_to_database(
            f"sqlite:///{db}", ["Companies"], handle_signals=False
        )
    assert result.ok
