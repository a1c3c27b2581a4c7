"""Bulk uses the client's resilience layer: a thread-limit 429 is retried there, the client's
pacing holds 3 requests per endpoint whatever ``max_concurrent`` is, and a refusal that outlasts
the client's retries (exhausted hourly budget, bad credentials) stops the job with every row
reported and resumable. Each test runs with the sync and the async manager."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from py_autotask.bulk import BulkJournal, BulkManager
from py_autotask.exceptions import AutotaskAPIError
from py_autotask.resilience import PacingConfig, RetryConfig
from tests.bulk.conftest import thread_rejections, ticket_base, tickets_with_token

FAST_RETRIES = RetryConfig(max_retries=8, base_delay=0.01, thread_limit_delay=0.01)


def test_thread_limit_429s_are_retried_by_the_client_and_every_row_lands_once(
    sim, client, twins, tmp_path
):
    base = ticket_base(client)
    throttle = sim.add_fault(
        match={"method": "POST", "entity": "Tickets", "operation": "create"},
        effect={"type": "throttle"},
        count=12,
    )
    manager = twins(sim, client_options={"retry_config": FAST_RETRIES}, journal_dir=tmp_path)
    result = manager.bulk_create(
        "Tickets", [{**base, "title": f"throttled {i}"} for i in range(40)]
    )
    assert result.exit_code == 0, result.summary()
    assert throttle.fired == 12
    # the job sent 40 creates; the 12 refused ones were resent by the client, not by bulk
    assert result.requests["create"] == 40
    assert len(sim.journal(method="POST", operation="create")) == 52
    job_id = BulkJournal.open(result.journal_path).meta["job_id"]
    found = tickets_with_token(sim, f"pyat-{job_id}-")
    assert len(found) == 40 and all(len(ids) == 1 for ids in found.values())


def test_client_pacing_holds_three_per_endpoint_whatever_max_concurrent(
    sim, client, twins, tmp_path
):
    tickets = client.tickets.query(include_fields=["id"]).items
    sim.add_fault(match={"entity": "Tickets"}, effect={"type": "latency", "seconds": 0.02})
    # the hourly budget share is scaled away; the per-endpoint limit stays on
    pacing = PacingConfig(time_scale=3600.0, threshold_poll_interval=None)
    manager = twins(sim, client_options={"pacing": pacing}, max_concurrent=8)
    assert manager.max_concurrent == 8
    sim.clear_journal()
    rows = [{"id": t.id, "title": f"paced {t.id}"} for t in tickets]
    result = manager.bulk_update("Tickets", rows, journal=tmp_path / "paced.sqlite")
    assert len(tickets) >= 20 and result.exit_code == 0
    assert result.counts()["ok"] == len(tickets)
    assert thread_rejections(sim) == 0
    assert max(e.in_flight_at_start for e in sim.journal(entity="Tickets")) <= 3


REFUSALS: dict[str, dict[str, Any]] = {
    "hourly budget": {"type": "status", "status": 429, "errors": ["Request threshold exceeded"]},
    "credentials": {"type": "status", "status": 401},
}


@pytest.mark.parametrize("refusal", sorted(REFUSALS))
def test_a_refusal_stops_the_job_with_every_row_reported_and_resume_finishes_it(
    sim, client, twins, tmp_path, refusal
):
    base = ticket_base(client)
    journal = tmp_path / "job.sqlite"
    sim.add_fault(
        match={"method": "POST", "operation": "create"},
        sequence=["ok"] * 30 + [REFUSALS[refusal]] * 60,
    )
    rows = [{**base, "title": f"stopped {i}"} for i in range(60)]
    first = twins(sim).bulk_create("tickets", rows, journal=journal, batch_size=10)
    assert first.stopped_reason
    assert len(first.rows) == 60  # one outcome per input row, also for rows never reached
    counts = first.counts()
    assert counts["ok"] >= 30 and counts["ok"] + counts["pending"] == 60, counts
    # the documented codes: 4 for the hourly budget (resume later), 3 for the credentials
    assert first.exit_code == (4 if refusal == "hourly budget" else 3)
    assert first.stopped_on == ("rate_limit" if refusal == "hourly budget" else "auth")
    # the unsent rows are the journal's, not a failures CSV's
    assert first.failure_rows() == []
    with BulkJournal.open(journal) as jr:
        assert set(jr.counts()) <= {"done", "pending", "queued"}
    sim.faults.clear()
    resumed = twins(sim).resume(journal)
    assert resumed.exit_code == 0, resumed.summary()
    assert resumed.counts()["ok"] == 60
    job_id = BulkJournal.open(journal).meta["job_id"]
    found = tickets_with_token(sim, f"pyat-{job_id}-")
    assert len(found) == 60 and Counter(len(ids) for ids in found.values()) == {1: 60}


def test_old_pacing_options_still_work_with_a_warning_naming_the_replacement(client):
    with pytest.warns(DeprecationWarning, match=r"PacingConfig\(max_in_flight_per_endpoint"):
        capped = BulkManager(client, endpoint_limit=2)
    assert capped.max_concurrent == 2
    with pytest.warns(DeprecationWarning, match=r"RetryConfig"):
        BulkManager(client, rate_limit_retries=1)


def test_a_job_that_fails_part_way_lets_its_running_rows_finish_before_it_raises(
    sim, client, twins, tmp_path
):
    tickets = client.tickets.query(include_fields=["id"]).items[:20]
    journal = tmp_path / "job.sqlite"
    # the second unit's prefetch is refused while the first unit's rows are being sent
    sim.add_fault(
        match={"method": "POST", "entity": "Tickets", "path": "/query"},
        sequence=["ok", {"type": "status", "status": 400, "errors": ["refused for the test"]}],
    )
    sim.add_fault(match={"method": "PATCH"}, effect={"type": "latency", "seconds": 0.05})
    rows = [{"id": t.id, "title": f"part way {t.id}"} for t in tickets]
    with pytest.raises(AutotaskAPIError, match="refused for the test"):
        twins(sim).bulk_update("Tickets", rows, journal=journal, batch_size=10)
    with BulkJournal.open(journal) as jr:
        counts = jr.counts()
    # the first unit: rows sent before the error have their outcome journaled (none cut off
    # mid-write), rows not started yet sent nothing; the second unit was never started
    assert counts.get("done", 0) + counts.get("pending", 0) == 10 and counts["queued"] == 10
    assert len(sim.journal(method="PATCH")) == counts.get("done", 0)
    sim.faults.clear()
    resumed = twins(sim).resume(journal)
    assert resumed.exit_code == 0 and resumed.counts()["ok"] == 20
    assert client.tickets.get(tickets[-1].id).title == f"part way {tickets[-1].id}"  # type: ignore[union-attr]
