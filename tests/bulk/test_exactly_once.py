"""No duplicates, ever: dropped answers after commit, and a kill -9 in the middle of a job."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from py_autotask.bulk import BulkJournal
from tests.bulk.conftest import client_for, thread_rejections, ticket_base, tickets_with_token

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.xdist_group("bulk")
def test_commit_then_drop_on_ten_percent_of_2000_creates_makes_exactly_2000(
    sim, client, bulk, journal_dir
):
    base = ticket_base(client)
    rule = sim.add_fault(
        match={"method": "POST", "entity": "Tickets", "operation": "create"},
        effect={"type": "commit_then_drop"},
        probability=0.1,
    )
    before = client.tickets.count()
    rows = [{"title": f"drop row {i}", **base} for i in range(2000)]

    result = bulk(journal_dir=journal_dir).bulk_create("Tickets", rows)

    assert result.exit_code == 0, result.summary()
    assert result.counts()["ok"] == 2000
    assert 150 <= rule.fired <= 250  # about 10% of the POSTs lost their answer after committing
    assert len(set(result.ids)) == 2000
    # the store: exactly one ticket per row token, 2,000 in all
    job_id = BulkJournal.open(result.journal_path).meta["job_id"]
    found = tickets_with_token(sim, f"pyat-{job_id}-")
    assert len(found) == 2000
    assert all(len(ids) == 1 for ids in found.values())
    assert sorted(i for ids in found.values() for i in ids) == sorted(result.ids)
    # the journal agrees: every row done with its own record id, none claimed twice
    with BulkJournal.open(result.journal_path) as jr:
        assert jr.counts() == {"done": 2000}
        assert jr.duplicate_record_ids() == []
        by_token = {r.op_id: r.record_id for r in jr.rows()}
    assert {token: ids[0] for token, ids in found.items()} == by_token
    creates = sim.journal(method="POST", operation="create")
    assert len(creates) == 2000  # a dropped create was found by its token, never resent
    assert thread_rejections(sim) == 0
    assert client.tickets.count() == before + 2000


def _done(journal: Path) -> int:
    try:
        conn = sqlite3.connect(f"file:{journal}?mode=ro", uri=True, timeout=5)
        try:
            return int(conn.execute("SELECT COUNT(*) FROM rows WHERE state='done'").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.Error:
        return 0


@pytest.mark.xdist_group("bulk")
def test_kill_9_mid_create_then_bulk_resume_gives_2000_records_no_duplicate_no_loss(
    sim, client, bulk, tmp_path
):
    base = ticket_base(client)
    journal = tmp_path / "job.sqlite"
    # a little latency so the job is still running when it is killed
    sim.add_fault(match={"operation": "create"}, effect={"type": "latency", "seconds": 0.004})
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'generated'}"}
    child = subprocess.Popen(
        [
            sys.executable,
            str(Path(__file__).with_name("_child_create.py")),
            sim.url,
            str(journal),
            json.dumps(sim.credentials),
            json.dumps(base),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while _done(journal) < 700:
        assert child.poll() is None, (
            child.stderr.read().decode() if child.stderr else "child exited"
        )
        assert time.monotonic() < deadline, "the child made no progress"
        time.sleep(0.02)
    os.kill(child.pid, signal.SIGKILL)
    child.wait(10)
    assert child.returncode == -signal.SIGKILL
    with BulkJournal.open(journal) as jr:
        counts = jr.counts()
        job_id = jr.meta["job_id"]
    assert counts.get("done", 0) < 2000  # really interrupted
    assert sum(counts.values()) == 2000  # every row was journaled before the first POST

    resumed = bulk().resume(journal)  # what `bulk resume JOURNAL` runs (tested in test_cli)
    assert resumed.exit_code == 0, resumed.summary()
    assert resumed.counts()["ok"] == 2000
    # rows that might have been sent were looked up in batched `in` queries, never blindly resent
    assert resumed.requests["lookup"] <= 5

    found = tickets_with_token(sim, f"pyat-{job_id}-")
    assert len(found) == 2000  # no row lost
    assert Counter(len(ids) for ids in found.values()) == {1: 2000}  # no duplicate
    with BulkJournal.open(journal) as jr:
        assert jr.counts() == {"done": 2000}
        assert jr.duplicate_record_ids() == []
        rows = jr.rows()
    assert {r.op_id for r in rows} == set(found)
    assert thread_rejections(sim) == 0
    with client_for(sim) as c:
        titles = Counter(
            t.title
            for t in c.tickets.query_all(
                {"op": "beginsWith", "field": "title", "value": "kill9 row "},
                include_fields=["id", "title"],
            )
        )
    assert len(titles) == 2000 and set(titles.values()) == {1}


def test_ambiguous_create_without_a_correlation_field_is_never_resent(
    sim, client, bulk, journal_dir
):
    sim.add_fault(
        match={"method": "POST", "entity": "ContactGroups", "operation": "create"},
        effect={"type": "commit_then_drop"},
        count=1,
    )
    rows = [{"name": f"group {i}", "isActive": True} for i in range(5)]
    result = bulk(journal_dir=journal_dir).bulk_create("ContactGroups", rows)
    assert result.counts()["ok"] == 4
    unknown = [r for r in result.rows if r.status == "unknown"]
    assert len(unknown) == 1 and "not resent" in (unknown[0].reason or "")
    assert result.exit_code == 5
    assert len(sim.journal(method="POST", operation="create")) == 5  # one POST per row, no resend
