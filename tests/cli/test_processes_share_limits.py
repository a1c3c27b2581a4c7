"""Several CLI processes against one tenant share its limits by default: three exports and three
bulk-creates started side by side (real processes, 0.3 s latency per request) all finish, complete
and duplicate-free, and the simulator never sees a 4th request in flight on an endpoint.

Before the shared limiter each process kept its own 3 slots: the tenant saw up to 9 in flight,
refused the excess with Itgenatr005 and two of three exports died on it (exit 4)."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from py_autotask.simulator import JournalEntry, Simulator

pytestmark = pytest.mark.xdist_group("processes")

ROOT = Path(__file__).resolve().parents[2]
TICKETS = 3000
LATENCY = 0.3


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(
        profile="tiny", seed=11, counts={"Tickets": TICKETS}, hourly_threshold=1_000_000
    ) as s:
        yield s


@pytest.fixture
def slow(sim: Simulator) -> Iterator[Simulator]:
    sim.reset()
    sim.add_fault({"effect": {"type": "latency", "dist": "fixed", "seconds": LATENCY}})
    yield sim
    sim.faults.clear()


def _env(sim: Simulator, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOTASK_")}
    env.update(sim.environ)
    # no limiter option: the default, one file in the user cache folder (this test's own,
    # tests/conftest.py), shared by the three processes
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "generated")])
    env["PY_AUTOTASK_CONFIG_DIR"] = str(tmp_path / "config")
    return env


def _run_side_by_side(argvs: list[list[str]], env: dict[str, str], cwd: Path) -> list[Any]:
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "py_autotask.cli", *argv],
            env=env,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for argv in argvs
    ]
    out = []
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=300)
        out.append((proc.returncode, stdout, stderr))
    return out


def _max_in_flight(entries: list[JournalEntry]) -> dict[str, int]:
    """The most requests the server was working on at once, per endpoint (from start and finish
    times: a sweep over the intervals)."""
    by_endpoint: dict[str, list[tuple[float, int]]] = {}
    for e in entries:
        if e.entity is None or e.entity.lower() == "zoneinformation":
            continue
        events = by_endpoint.setdefault(e.entity.lower(), [])
        events.append((e.started_at, 1))
        events.append((e.finished_at, -1))
    peaks = {}
    for endpoint, events in by_endpoint.items():
        level = peak = 0
        for _t, step in sorted(events, key=lambda ev: (ev[0], ev[1])):  # ends before starts
            level += step
            peak = max(peak, level)
        peaks[endpoint] = peak
    return peaks


def test_three_exports_side_by_side_share_the_thread_limit(slow: Simulator, tmp_path: Path) -> None:
    env = _env(slow, tmp_path)
    outs = [tmp_path / f"out{i}" for i in range(3)]
    argvs = [["export", "Tickets", "-F", "parquet", "-O", str(o), "-q"] for o in outs]
    results = _run_side_by_side(argvs, env, tmp_path)
    for code, _stdout, stderr in results:
        assert code == 0, stderr
    for out in outs:
        table = pq.read_table(next(out.rglob("*.parquet")))
        ids = table.column("id").to_pylist()
        assert len(ids) == TICKETS and len(set(ids)) == TICKETS
    entries = slow.journal()
    assert [e for e in entries if e.outcome == "rejected_thread"] == []
    assert not any("Itgenatr005" in (e.error or "") for e in entries)
    peaks = _max_in_flight(entries)
    assert peaks["tickets"] == 3, peaks  # used the whole allowance, never more
    assert max(e.in_flight_at_start for e in entries) <= 2


def test_three_bulk_creates_side_by_side_share_the_thread_limit(
    slow: Simulator, tmp_path: Path
) -> None:
    base = _ticket_base(slow)
    env = _env(slow, tmp_path)
    argvs = []
    for job in range(3):
        path = tmp_path / f"rows{job}.csv"
        with path.open("w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["title", "companyID", "status", "priority"])
            for row in range(12):
                writer.writerow(
                    [
                        f"side-by-side {job}-{row}",
                        base["companyID"],
                        base["status"],
                        base["priority"],
                    ]
                )
        argvs.append(
            [
                "bulk-create",
                "tickets",
                "--csv",
                str(path),
                "--journal",
                str(tmp_path / f"j{job}"),
                "-q",
            ]
        )
    before = _titles(slow)
    results = _run_side_by_side(argvs, env, tmp_path)
    for code, _stdout, stderr in results:
        assert code == 0, stderr
    created = [t for t in _titles(slow) if t.startswith("side-by-side") and t not in before]
    assert sorted(created) == sorted(f"side-by-side {j}-{r}" for j in range(3) for r in range(12))
    entries = slow.journal()
    assert [e for e in entries if e.outcome == "rejected_thread"] == []
    peaks = _max_in_flight(entries)
    assert peaks["tickets"] <= 3, peaks


def _ticket_base(sim: Simulator) -> dict[str, Any]:
    from py_autotask import AutotaskClient

    creds = {k: v for k, v in sim.credentials.items() if k != "api_url"}
    with AutotaskClient(api_url=sim.url, **creds) as client:
        t = client.tickets.query(max_records=1).items[0]
    return {"companyID": t.company_id, "status": t.status, "priority": t.priority}


def _titles(sim: Simulator) -> list[str]:
    from py_autotask import AutotaskClient

    creds = {k: v for k, v in sim.credentials.items() if k != "api_url"}
    with AutotaskClient(api_url=sim.url, **creds) as client:
        return [
            str(t.title)
            for t in client.tickets.query_all(
                {"op": "beginsWith", "field": "title", "value": "side-by-side"},
                include_fields=["id", "title"],
            )
        ]
