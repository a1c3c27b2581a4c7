"""Prometheus metrics (``MetricsCollector``) against the simulator: what a scrape of the real
``/metrics`` endpoint says equals what the simulator's request journal recorded."""

from __future__ import annotations

import asyncio
import csv
import datetime as _dt
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

prometheus_client = pytest.importorskip("prometheus_client")
simulator = pytest.importorskip("py_autotask.simulator")

from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

from py_autotask import AsyncAutotaskClient, AutotaskClient  # noqa: E402
from py_autotask.export import _fetch  # noqa: E402
from py_autotask.monitoring import MetricsCollector, current_job  # noqa: E402
from py_autotask.resilience import PacingConfig  # noqa: E402

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]
from tests._retry import fast_retry  # noqa: E402


@pytest.fixture(scope="module")
def module_sim() -> Iterator[Any]:
    with simulator.Simulator(seed=7, profile="tiny", counts={"Tickets": 450}) as s:
        yield s


@pytest.fixture
def sim(module_sim: Any) -> Any:
    module_sim.reset()
    return module_sim


def client_of(sim: Any, **options: Any) -> AutotaskClient:
    return AutotaskClient(
        **sim.credentials,
        retry_config=fast_retry(max_retries=6, max_delay=0.02, max_retry_after=0.05),
        **options,
    )


def scrape(url: str) -> Samples:
    """GET the endpoint and parse it as Prometheus does."""
    response = httpx.get(url, timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return parse(response.text)


def parse(text: str) -> Samples:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def total(samples: Samples, metric: str, /, **where: str) -> float:
    return sum(
        v
        for (n, labels), v in samples.items()
        if n == metric and all(dict(labels).get(k) == w for k, w in where.items())
    )


def by_label(samples: Samples, name: str, label: str) -> dict[str, float]:
    out: Counter[str] = Counter()
    for (n, labels), v in samples.items():
        if n == name and v:
            out[dict(labels)[label]] += v  # type: ignore[assignment]
    return dict(out)


def test_export_metrics_equal_the_journal(
    sim: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DONE-WHEN: an export through 429s (thread limit and plain) and 503s; the scraped request
    counters equal the journal (total, per status), retries its failed attempts, rows the file."""
    monkeypatch.setattr(_fetch, "PAGE_SIZE", 100)  # small pages: more requests, more faults
    tickets = {"entity": "Tickets", "operation": "query"}
    sim.add_fault({"match": tickets, "effect": "throttle", "count": 2})
    sim.add_fault({"match": tickets, "effect": {"type": "status", "status": 429}, "count": 2})
    sim.add_fault({"match": tickets, "effect": {"type": "status", "status": 503}, "count": 3})
    pacing = PacingConfig(threshold_first_poll_after=3)
    with client_of(sim, pacing=pacing) as client:
        metrics = MetricsCollector(client)
        metrics.start_collection()
        with metrics.serve(0) as server:
            result = (
                client.create_exporter(workers=3)
                .add_entities("Tickets")
                .export(tmp_path / "out", "csv")
            )
            samples = scrape(server.url)
    journal = sim.journal()
    statuses = Counter(str(e.status) for e in journal)
    # the injected faults (a real thread-limit rejection of the simulator would add a 429)
    assert statuses["429"] >= 4 and statuses["503"] == 3
    assert total(samples, "autotask_requests_total") == len(journal) == result.requests
    assert by_label(samples, "autotask_requests_total", "status") == dict(statuses)
    failed = [e for e in journal if e.status >= 400]
    assert total(samples, "autotask_retries_total") == len(failed)
    thread_limit = statuses["429"] - 2  # all but the two plain 429s
    assert by_label(samples, "autotask_retries_total", "reason") == {
        "thread_limit": thread_limit,
        "throttled": 2,
        "transient": 3,
    }
    assert by_label(samples, "autotask_rate_limited_total", "kind") == {
        "thread_limit": thread_limit,
        "throttled": 2,
    }
    polls = [e for e in journal if e.entity == "ThresholdInformation"]
    assert polls and total(samples, "autotask_requests_total", operation="threshold") == len(polls)
    # every attempt was timed
    assert total(samples, "autotask_request_duration_seconds_count") == len(journal)
    # rows: what the file holds
    with open(tmp_path / "out" / "tickets.csv", newline="", encoding="utf-8") as fh:
        rows_in_file = sum(1 for _ in csv.DictReader(fh))
    assert rows_in_file == 450
    assert (
        total(samples, "autotask_rows_total", job="export", entity="Tickets", outcome="exported")
        == rows_in_file
    )
    # jobs: the export and its entity, both ok
    assert total(samples, "autotask_jobs_total", kind="export", status="ok") == 1
    assert total(samples, "autotask_jobs_total", kind="export_entity", status="ok") == 1
    assert total(samples, "autotask_job_duration_seconds_count", kind="export") == 1
    # the budget gauges read the pacing's last ThresholdInformation reading (no request of their
    # own): equal to what the simulator answered to the last poll
    limit = total(samples, "autotask_budget_limit_requests")
    used = total(samples, "autotask_budget_used_requests")
    assert limit == sim.state.budget.threshold
    assert 0 < used <= len(journal)
    assert total(samples, "autotask_budget_remaining_requests") == limit - used
    assert len(sim.journal()) == len(journal)  # scraping sent nothing to Autotask
    # waits were counted by reason
    assert total(samples, "autotask_wait_seconds_total", reason="thread_limit") > 0


def test_worker_threads_run_inside_the_export_job(
    sim: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every request an export's worker pool sends belongs to the export (a copied context per
    task), so the tracing and the metrics can tell them apart from other work."""
    monkeypatch.setattr(_fetch, "PAGE_SIZE", 100)
    from py_autotask.monitoring import Observer, RequestInfo, RequestOutcome

    seen: list[tuple[str | None, str | None]] = []

    class Jobs(Observer):
        def request_ended(self, info: RequestInfo, token: Any, outcome: RequestOutcome) -> None:
            job = info.job
            root = job
            while root is not None and root.parent is not None:
                root = root.parent
            seen.append((job.kind if job else None, root.kind if root else None))

    with client_of(sim) as client:
        client.observers.add(Jobs())
        client.create_exporter(workers=3).add_entities("Tickets").export(tmp_path / "o", "jsonl")
        assert current_job() is None
    assert len(seen) == len(sim.journal()) > 3
    assert set(seen) == {("export_entity", "export")}


def test_sync_reports_rows_lag_and_jobs(sim: Any, tmp_path: Path) -> None:
    with client_of(sim) as client:
        metrics = MetricsCollector(client).start_collection()
        syncer = client.create_syncer()
        first = syncer.sync_to_database(f"sqlite:///{tmp_path / 'm.db'}", ["Tickets"])
        samples = parse(metrics.exposition().decode())
        (res,) = first.entities
        assert res.created == 450
        assert (
            total(samples, "autotask_rows_total", job="sync", entity="Tickets", outcome="created")
            == 450
        )
        assert total(samples, "autotask_jobs_total", kind="sync", status="ok") == 1
        assert total(samples, "autotask_jobs_total", kind="sync_entity", status="ok") == 1
        # lag: now minus the newest change the mirror holds (its watermark)
        import sqlite3

        with sqlite3.connect(tmp_path / "m.db") as db:
            (watermark,) = db.execute(
                "select watermark from autotask_sync_state where entity = 'Tickets'"
            ).fetchone()
        newest = _dt.datetime.fromisoformat(watermark.rstrip("Z")).replace(tzinfo=_dt.timezone.utc)
        expected = (_dt.datetime.now(_dt.timezone.utc) - newest).total_seconds()
        lag = total(samples, "autotask_sync_lag_seconds", entity="Tickets")
        assert lag > 0 and abs(lag - expected) < 30
        # an update seen by the next run counts as updated
        ticket = client.tickets.query(max_records=1).items[0]
        client.tickets.update({"id": ticket.id, "title": "changed by the metrics test"})
        syncer.sync_to_database(f"sqlite:///{tmp_path / 'm.db'}", ["Tickets"])
        samples = parse(metrics.exposition().decode())
        assert total(samples, "autotask_rows_total", outcome="updated") >= 1
        assert total(samples, "autotask_jobs_total", kind="sync") == 2


def test_bulk_rows_by_outcome(sim: Any, tmp_path: Path) -> None:
    with client_of(sim) as client:
        metrics = MetricsCollector(client).start_collection()
        bulk = client.create_bulk_manager(journal_dir=tmp_path)
        company = client.companies.query(max_records=1).items[0].id
        rows = [
            {"companyID": company, "title": f"t{i}", "status": 1, "priority": 2} for i in range(3)
        ]
        rows.append({"companyID": company, "status": 1, "priority": 2})  # no title: invalid
        result = bulk.bulk_create("Tickets", rows, on_invalid="skip")
        samples = parse(metrics.exposition().decode())
    counts = result.counts()
    assert counts["ok"] == 3
    assert total(samples, "autotask_rows_total", job="bulk_create", outcome="created") == 3
    not_ok = counts["failed"] + counts["skipped"]
    assert not_ok == 1
    assert (
        total(samples, "autotask_rows_total", job="bulk_create", outcome="failed")
        + total(samples, "autotask_rows_total", job="bulk_create", outcome="skipped")
        == not_ok
    )
    assert total(samples, "autotask_jobs_total", kind="bulk_create") == 1
    creates = sim.journal(entity="Tickets", operation="create")
    assert total(samples, "autotask_requests_total", entity="Tickets", operation="create") == len(
        creates
    )


def test_query_all_is_a_job(sim: Any) -> None:
    with client_of(sim) as client:
        metrics = MetricsCollector(client).start_collection()
        tickets = client.tickets.query_all()
        samples = parse(metrics.exposition().decode())
    assert len(tickets) == 450
    assert total(samples, "autotask_jobs_total", kind="query_all", status="ok") == 1


def test_two_collectors_each_count_their_own_client(sim: Any) -> None:
    with client_of(sim) as a, client_of(sim) as b:
        ma = MetricsCollector(a).start_collection()
        mb = MetricsCollector(b).start_collection()
        ma.start_collection()  # again: still one observer (beside the client's tracing)
        assert [type(o).__name__ for o in a.observers] == ["TracingObserver", "_Observer"]
        a.tickets.query(max_records=5)
        for _ in range(3):
            b.companies.query(max_records=5)
        with ma.serve(0) as sa, mb.serve(0) as sb:
            assert sa.port != sb.port
            got_a, got_b = scrape(sa.url), scrape(sb.url)
        mb.stop_collection()
        b.companies.query(max_records=5)
        after_b = parse(mb.exposition().decode())
    assert total(got_a, "autotask_requests_total") == 1
    assert total(got_a, "autotask_requests_total", entity="Tickets") == 1
    assert total(got_b, "autotask_requests_total") == 3
    assert total(got_b, "autotask_requests_total", entity="Companies", status="200") == 3
    assert total(after_b, "autotask_requests_total") == 3  # stopped: not counted any more


def test_the_global_registry_is_used_only_when_asked(sim: Any) -> None:
    from prometheus_client import REGISTRY

    with client_of(sim) as client:
        mine = MetricsCollector(client, namespace="private_ns")
        assert mine.registry is not REGISTRY
        assert REGISTRY.get_sample_value("private_ns_requests_total") is None
        shared = MetricsCollector(client, REGISTRY, namespace="metrics_test_global")
        try:
            shared.start_collection()
            client.tickets.query(max_records=1)
            value = REGISTRY.get_sample_value(
                "metrics_test_global_requests_total",
                {"entity": "Tickets", "operation": "query", "method": "POST", "status": "200"},
            )
            assert value == 1
        finally:
            shared.stop_collection()
            for collector in list(REGISTRY._collector_to_names):  # leave the process clean
                names = REGISTRY._collector_to_names[collector]
                if any(n.startswith("metrics_test_global") for n in names):
                    REGISTRY.unregister(collector)


def test_serve_refuses_a_port_in_use(sim: Any) -> None:
    with client_of(sim) as client:
        metrics = MetricsCollector(client)
        with metrics.serve(0) as server:
            with pytest.raises(OSError):
                metrics.serve(server.port)
            assert httpx.get(server.url).status_code == 200
        with pytest.raises(httpx.TransportError):
            httpx.get(server.url, timeout=2)


def test_track_duration_on_sync_and_async_functions(sim: Any) -> None:
    with client_of(sim) as client:
        metrics = MetricsCollector(client)

        @metrics.track_duration("sync_work")
        def work(fail: bool) -> int:
            if fail:
                raise ValueError("no")
            return 1

        @metrics.track_duration("async_work")
        async def awork(fail: bool) -> int:
            await asyncio.sleep(0.01)
            if fail:
                raise ValueError("no")
            return 2

        assert work(False) == work(False) == 1
        with pytest.raises(ValueError):
            work(True)
        assert asyncio.run(awork(False)) == 2
        with pytest.raises(ValueError):
            asyncio.run(awork(True))
        assert work.__name__ == "work" and asyncio.iscoroutinefunction(awork)
        samples = parse(metrics.exposition().decode())
    duration = "autotask_operation_duration_seconds"
    assert total(samples, f"{duration}_count", name="sync_work") == 3
    assert total(samples, "autotask_operation_failures_total", name="sync_work") == 1
    assert total(samples, f"{duration}_count", name="async_work") == 2
    assert total(samples, "autotask_operation_failures_total", name="async_work") == 1
    assert total(samples, f"{duration}_sum", name="async_work") >= 0.02


def test_seed_sketch_runs_as_written(sim: Any) -> None:
    """Seed plan 4.3, as written. Autotask has no batch endpoint: ``batch_create`` is a
    py-autotask 2.x name whose error says what replaced it; the call is timed and counted as a
    failure."""
    client = client_of(sim)

    # Metrics collection
    metrics = MetricsCollector(client)
    metrics.start_collection()

    # Custom metrics
    @metrics.track_duration("ticket_creation")
    def create_ticket_batch(tickets):  # type: ignore[no-untyped-def]
        return client.tickets.batch_create(tickets)

    with pytest.raises(AttributeError, match=r"no batch endpoint; use client\.create_bulk_manager"):
        create_ticket_batch([{"title": "x"}])
    samples = parse(metrics.exposition().decode())
    client.close()
    assert total(samples, "autotask_operation_failures_total", name="ticket_creation") == 1
    assert total(samples, "autotask_operation_duration_seconds_count", name="ticket_creation") == 1


def test_async_client_query_all_and_export(sim: Any, tmp_path: Path) -> None:
    async def main() -> Samples:
        async with AsyncAutotaskClient(
            **sim.credentials,
            retry_config=fast_retry(max_retries=6, max_delay=0.02, max_retry_after=0.05),
        ) as client:
            metrics = MetricsCollector(client).start_collection()
            await client.tickets.query_all()
            await client.create_exporter().add_entities("Tickets").export(tmp_path / "a", "csv")
            return parse(metrics.exposition().decode())

    samples = asyncio.run(main())
    assert total(samples, "autotask_jobs_total", kind="query_all") == 1
    assert total(samples, "autotask_jobs_total", kind="export", status="ok") == 1
    assert total(samples, "autotask_rows_total", job="export", outcome="exported") == 450
    assert total(samples, "autotask_requests_total") == len(sim.journal())


def test_no_secret_in_the_exposition(sim: Any, tmp_path: Path) -> None:
    sim.add_fault({"match": {"entity": "Tickets"}, "effect": {"type": "status", "status": 401}})
    with client_of(sim) as client:
        metrics = MetricsCollector(client).start_collection()
        with pytest.raises(Exception):
            client.tickets.query_all()
        client.companies.query_all()
        with metrics.serve(0) as server:
            text = httpx.get(server.url).text
    creds = sim.credentials
    for secret in (creds["username"], creds["secret"], creds["integration_code"]):
        assert secret not in text
    assert sim.url not in text and "127.0.0.1" not in text
    assert 'status="401"' in text


def test_off_type_values_of_an_export_and_a_sync_are_counted_once_per_field(
    tmp_path: Path,
) -> None:
    with (
        simulator.Simulator(
            seed=42, profile="tiny", counts={"Tickets": 200}, messy=0.05, hourly_threshold=0
        ) as messy,
        client_of(messy) as client,
    ):
        metrics = MetricsCollector(client).start_collection()
        exported = client.create_exporter().add_entities("Tickets").export(tmp_path / "e", "csv")
        after_export = parse(metrics.exposition().decode())
        synced = client.create_syncer().sync_to_database(
            f"sqlite:///{tmp_path / 's.db'}", ["Tickets"]
        )
        after_sync = parse(metrics.exposition().decode())
    reports = {(r.entity, r.field): r.values for r in exported.off_type}
    assert reports, "the messy tenant sent no off-type value"
    got = {
        (dict(labels)["entity"], dict(labels)["field"]): v
        for (n, labels), v in after_export.items()
        if n == "autotask_off_type_values_total"
    }
    assert got == reports
    synced_reports = Counter({(r.entity, r.field): r.values for r in synced.off_type})
    assert synced_reports
    both = Counter(reports) + synced_reports
    got = {
        (dict(labels)["entity"], dict(labels)["field"]): v
        for (n, labels), v in after_sync.items()
        if n == "autotask_off_type_values_total"
    }
    assert got == dict(both)
