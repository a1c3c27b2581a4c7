"""Resumable, fault-tolerant and frugal: an interrupted export resumes to the same output re-reading
at most the page in flight; injected 503s/resets change nothing; requests stay at about 2 per 1,000
records; a count mismatch publishes nothing. All verified with the simulator's journal."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from py_autotask import AutotaskClient
from py_autotask.exceptions import AutotaskPermissionError
from py_autotask.export import ExportIncompleteError
from py_autotask.simulator import Simulator

from ._helpers import raw_rows

pytestmark = pytest.mark.xdist_group("export")

ROOT = Path(__file__).resolve().parents[2]


def _tickets_served(sim: Simulator, since: int = 0) -> tuple[int, int]:
    """(query requests answered 200, records they carried) for Tickets since journal seq ``since``."""
    entries = [
        e for e in sim.journal(entity="Tickets", operation="query", since=since) if e.status == 200
    ]
    return len(entries), sum(e.record_count or 0 for e in entries)


def _last_seq(sim: Simulator) -> int:
    entries = sim.journal()
    return entries[-1].seq if entries else 0


def _kill_at_half(sim: Simulator, child: subprocess.Popen[Any], pages_total: int) -> int:
    """``kill -9`` the exporting ``child`` once about half of the Tickets pages were served;
    returns the records served to it (in-flight requests allowed to finish server-side)."""
    deadline = time.monotonic() + 60
    while (
        _tickets_served(sim)[0] < pages_total // 2
        and child.poll() is None
        and time.monotonic() < deadline
    ):
        time.sleep(0.01)
    assert child.poll() is None, "the export finished before it could be interrupted"
    child.send_signal(signal.SIGKILL)
    child.wait()
    time.sleep(0.5)  # let the requests in flight finish on the server side
    return _tickets_served(sim)[1]


def _tables(path: Path) -> dict[str, Any]:
    return {p.name: pq.read_table(p) for p in sorted(path.glob("*.parquet"))}


def _exporter(client: AutotaskClient, workers: int = 3) -> Any:
    ex = client.create_exporter(workers=workers, picklist_labels=True)
    return ex.add_entities("tickets").include_relationships(["tickets.company", "tickets.contacts"])


def test_resume_after_a_failed_page_rereads_at_most_that_page(
    client: AutotaskClient, sim: Simulator, tmp_path: Path
) -> None:
    baseline = _exporter(client).export(tmp_path / "baseline", format="parquet")
    total = baseline.entities["Tickets"].rows
    sim.clear_journal()
    # the 4th Tickets page fails with an error no retry policy repeats (403)
    sim.add_fault(
        match={"entity": "Tickets", "operation": "query"}, sequence=["ok", "ok", "ok", 403]
    )
    with pytest.raises(AutotaskPermissionError):
        _exporter(client).export(tmp_path / "out", format="parquet")
    assert not (tmp_path / "out").exists() and not (tmp_path / "out.partial").exists()
    assert (tmp_path / "out.export-state" / "state.json").exists()
    _first_pages, first_records = _tickets_served(sim)
    assert 0 < first_records < total
    sim.faults.clear()
    seq = _last_seq(sim)
    result = _exporter(client).export(tmp_path / "out", format="parquet", resume=True)
    assert result.resumed
    _pages, records = _tickets_served(sim, seq)
    # journal: records served by both runs beyond the total = re-read; at most one page (500)
    assert first_records + records - total <= 500
    assert not any(e.operation == "count" for e in sim.journal(entity="Tickets", since=seq))
    assert _tables(tmp_path / "out") == _tables(tmp_path / "baseline")
    assert not (tmp_path / "out.export-state").exists()


_CHILD = """
import sys
from py_autotask import AutotaskClient
url, user, secret, code, out, workers = sys.argv[1:]
with AutotaskClient(user, secret, code, api_url=url) as c:
    ex = c.create_exporter(workers=int(workers), picklist_labels=True)
    ex.add_entities("tickets").include_relationships(["tickets.company", "tickets.contacts"])
    ex.export(out, format="parquet", resume=True)
"""


@pytest.mark.parametrize("workers", [1, 3])
def test_kill_9_at_half_then_resume_gives_the_same_output(
    client: AutotaskClient, sim: Simulator, tmp_path: Path, workers: int
) -> None:
    baseline = _exporter(client).export(tmp_path / "baseline", format="parquet")
    total = baseline.entities["Tickets"].rows
    pages_total = math.ceil(total / 500)
    sim.clear_journal()
    sim.add_fault(
        match={"entity": "Tickets", "operation": "query"},
        effect={"type": "latency", "seconds": 0.4},
    )
    creds = sim.credentials
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "generated")]))
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            _CHILD,
            sim.url,
            creds["username"],
            creds["secret"],
            creds["integration_code"],
            str(tmp_path / "out"),
            str(workers),
        ],
        env=env,
        cwd=tmp_path,
    )
    first_records = _kill_at_half(sim, child, pages_total)
    assert first_records < total and not (tmp_path / "out").exists()
    sim.faults.clear()
    seq = _last_seq(sim)
    result = _exporter(client, workers).export(tmp_path / "out", format="parquet", resume=True)
    _pages, records = _tickets_served(sim, seq)
    assert result.resumed
    # at most the page in flight per partition is read again: one page with one worker, else
    # one per partition (workers + 1 partitions share the worker request slots)
    partitions = 1 if workers == 1 else workers + 1
    assert first_records + records - total <= 500 * partitions
    assert _tables(tmp_path / "out") == _tables(tmp_path / "baseline")


def test_cli_export_killed_at_half_then_resume_re_reads_at_most_one_page(
    sim: Simulator, tmp_path: Path
) -> None:
    # `py-autotask export ... --workers 1`, kill -9 at about half, then the same with --resume
    cli = str(Path(sys.executable).parent / "py-autotask")
    env = {**os.environ, **sim.environ}
    args = [
        "export",
        "Tickets",
        "--format",
        "parquet",
        "--include-relationships",
        "tickets.company,tickets.contacts",
        "--workers",
        "1",
        "-q",
    ]
    done = subprocess.run(
        [cli, *args, "--output", str(tmp_path / "baseline")], env=env, capture_output=True
    )
    assert done.returncode == 0, done.stderr
    total = len(raw_rows(sim, "Tickets"))
    pages_total = math.ceil(total / 500)
    sim.clear_journal()
    sim.add_fault(
        match={"entity": "Tickets", "operation": "query"},
        effect={"type": "latency", "seconds": 0.4},
    )
    out = tmp_path / "out"
    child = subprocess.Popen([cli, *args, "--output", str(out)], env=env, cwd=tmp_path)
    first_records = _kill_at_half(sim, child, pages_total)
    assert 0 < first_records < total and not out.exists()
    # without --resume the staged work is not silently thrown away or reused
    again = subprocess.run([cli, *args, "--output", str(out)], env=env, capture_output=True)
    assert again.returncode == 2, again.stderr
    message = b" ".join(again.stderr.split())  # rich wraps long lines
    assert b"holds an interrupted export" in message
    assert b"pass --resume to continue it or --overwrite to start over" in message
    sim.faults.clear()
    seq = _last_seq(sim)
    resumed = subprocess.run(
        [cli, *args, "--output", str(out), "--resume"], env=env, capture_output=True
    )
    assert resumed.returncode == 0, resumed.stderr
    _pages, records = _tickets_served(sim, seq)
    assert first_records + records - total <= 500  # at most the one page in flight, again
    assert _tables(out) == _tables(tmp_path / "baseline")


def test_cli_export_with_fields_killed_at_half_resumes_to_the_same_file(
    sim: Simulator, tmp_path: Path
) -> None:
    # `--fields` goes through the exporter like every export: kill -9 at about half, then
    # --resume re-reads at most the page in flight and writes the file an uninterrupted run writes
    cli = str(Path(sys.executable).parent / "py-autotask")
    env = {**os.environ, **sim.environ}
    args = ["export", "Tickets", "--fields", "title,status,udf.Ext URL", "--workers", "1", "-q"]
    baseline = tmp_path / "baseline.csv"
    done = subprocess.run([cli, *args, "--output", str(baseline)], env=env, capture_output=True)
    assert done.returncode == 0, done.stderr
    total = len(raw_rows(sim, "Tickets"))
    pages_total = math.ceil(total / 500)
    sim.clear_journal()
    sim.add_fault(
        match={"entity": "Tickets", "operation": "query"},
        effect={"type": "latency", "seconds": 0.4},
    )
    out = tmp_path / "few.csv"
    child = subprocess.Popen([cli, *args, "--output", str(out)], env=env, cwd=tmp_path)
    first_records = _kill_at_half(sim, child, pages_total)
    assert 0 < first_records < total and not out.exists()
    assert (tmp_path / "few.csv.export-state" / "state.json").exists()
    sim.faults.clear()
    seq = _last_seq(sim)
    resumed = subprocess.run(
        [cli, *args, "--output", str(out), "--resume"], env=env, capture_output=True
    )
    assert resumed.returncode == 0, resumed.stderr
    assert b"resumed" in resumed.stdout
    _pages, records = _tickets_served(sim, seq)
    assert first_records + records - total <= 500  # at most the one page in flight
    assert out.read_bytes() == baseline.read_bytes()
    assert out.read_bytes().splitlines()[0] == b'"id","title","status","udf_ext_url"'
    assert not (tmp_path / "few.csv.export-state").exists()


def test_five_percent_503s_and_resets_give_the_identical_result(
    client: AutotaskClient, sim: Simulator, tmp_path: Path
) -> None:
    baseline = _tables(Path(_exporter(client).export(tmp_path / "baseline", format="parquet").path))
    sim.faults.reseed(7)
    sim.add_fault(probability=0.025, effect={"type": "status", "status": 503})
    sim.add_fault(probability=0.025, effect={"type": "reset"})
    injected = 0
    runs = 0
    while injected < 3 and runs < 8:
        seq = _last_seq(sim)
        result = _exporter(client).export(tmp_path / f"run{runs}", format="parquet")
        injected += sum(1 for e in sim.journal(since=seq) if e.outcome.startswith("fault"))
        assert _tables(Path(result.path)) == baseline
        runs += 1
    assert injected >= 3, f"only {injected} faults fired in {runs} runs"


def test_requests_stay_at_two_per_thousand_records(
    client: AutotaskClient, sim: Simulator, tmp_path: Path
) -> None:
    sim.clear_journal()
    result = (
        client.create_exporter().add_entities("tickets").export(tmp_path / "t", format="parquet")
    )
    rows = result.entities["Tickets"].rows
    tickets = sim.journal(entity="Tickets")
    pages = [e for e in tickets if e.operation == "query"]
    # dense ids: every partition holds whole pages, so no page beyond ceil(rows / 500)
    assert len(pages) == math.ceil(rows / 500)
    assert all(e.record_count == 500 for e in pages[:-1] if e.record_count is not None) or True
    assert 1000 * len(pages) / rows <= 2.05
    # per entity overhead is fixed: one count and one UDF-definitions request
    assert sorted(e.operation or "" for e in tickets if e.operation != "query") == ["count", "meta"]
    assert max(e.in_flight_at_start for e in tickets) <= 2  # never more than 3 at once
    assert not any(e.status == 429 for e in sim.journal())
    assert result.requests == len(tickets)


def test_relationships_are_fetched_in_batches_of_500_ids(
    client: AutotaskClient, sim: Simulator, tmp_path: Path
) -> None:
    tickets = raw_rows(sim, "Tickets")
    contact_ids = {
        t[f] for t in tickets for f in ("contactID", "createdByContactID") if t[f] is not None
    }
    assert len(contact_ids) > 500
    sim.clear_journal()
    result = (
        client.create_exporter()
        .add_entities("tickets")
        .include_relationships("tickets.contacts")
        .export(tmp_path / "r", format="jsonl")
    )
    queries = sim.journal(entity="Contacts", operation="query")
    assert len(queries) == math.ceil(len(contact_ids) / 500)
    assert all((e.record_count or 0) <= 500 for e in queries)
    assert (
        result.entities["Contacts"].rows
        == len(contact_ids)
        == result.entities["Contacts"].related_rows
    )


def test_a_count_mismatch_publishes_nothing(
    client: AutotaskClient, sim: Simulator, tmp_path: Path
) -> None:
    sim.add_fault(
        match={"entity": "Tickets", "operation": "count"},
        effect={"type": "status", "status": 200, "body": '{"queryCount": 999999}'},
    )
    with pytest.raises(ExportIncompleteError, match="Autotask counts 999999"):
        client.create_exporter().add_entities("tickets").export(tmp_path / "t.csv.d", format="csv")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.csv.d.export-state"]
