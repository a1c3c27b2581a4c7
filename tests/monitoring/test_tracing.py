"""OpenTelemetry traces against the simulator: one CLIENT span per request the server received
(retries and rejections included), parented under the job span that was current when it was sent
(sync, async, threads that copied the context), and not a secret or a record value in any span.

Spans go to the SDK's in-memory exporter on a private ``TracerProvider`` handed to the client; the
global provider is set only in a child process (``test_default_tracing_uses_the_global_provider``)."""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from py_autotask import AsyncAutotaskClient, AutotaskClient
from py_autotask.exceptions import AutotaskConfigError, AutotaskError
from py_autotask.monitoring import JobInfo, TracingObserver

simulator = pytest.importorskip("py_autotask.simulator")
pytest.importorskip("py_autotask_generated._client_mixin")

ROOT = Path(__file__).resolve().parents[2]
ALL = {"filter": [{"op": "gte", "field": "id", "value": 0}], "MaxRecords": 20}
#: a record value that must never reach a span (sent in a body, echoed in an error text)
CONTENT = "Sentinel-Title-7f3a"
from tests._retry import fast_retry  # noqa: E402


@pytest.fixture(scope="module")
def sim() -> Iterator[Any]:
    with simulator.Simulator(seed=16, profile="tiny", counts={"Tickets": 50}) as s:
        yield s


@pytest.fixture
def fresh(sim: Any) -> Any:
    sim.reset()
    return sim


@pytest.fixture
def traced() -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


def requests_of(spans: tuple[ReadableSpan, ...]) -> list[ReadableSpan]:
    return [s for s in spans if s.kind is SpanKind.CLIENT]


def attrs(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


def assert_clean(spans: tuple[ReadableSpan, ...], sim: Any, *extra: str) -> None:
    """No secret, user name, integration code or record value anywhere in a span (names,
    attributes, events, status, resource): every span dumped to JSON and searched."""
    assert spans
    dump = "\n".join(s.to_json() for s in spans)
    credentials = sim.credentials
    for value in (
        credentials["username"],
        credentials["secret"],
        credentials["integration_code"],
        *extra,
    ):
        assert value not in dump
    for span in requests_of(spans):
        assert "?" not in attrs(span)["url.full"]


def journal_keys(sim: Any) -> list[tuple[str, str, int]]:
    return sorted((e.method, urlsplit(e.path).path, e.status) for e in sim.journal())


def span_keys(spans: list[ReadableSpan]) -> list[tuple[str, str, int]]:
    keys = []
    for span in spans:
        a = attrs(span)
        keys.append(
            (
                a["http.request.method"],
                urlsplit(a["url.full"]).path,
                a.get("http.response.status_code", 0),
            )
        )
    return sorted(keys)


def test_one_span_per_request_with_retries_as_events(fresh: Any, traced: Any) -> None:
    provider, exporter = traced
    fresh.add_fault(
        {"match": {"entity": "Tickets"}, "effect": {"type": "status", "status": 503}, "count": 2}
    )
    fresh.add_fault({"match": {"entity": "Tickets"}, "effect": "throttle", "count": 1})
    with AutotaskClient(
        **fresh.credentials, retry_config=fast_retry(max_retries=6), tracing=provider
    ) as client:
        with client.observers.job("probe", "Tickets", mode="test"):
            ids = [t.id for t in client.tickets.query_all(ALL)]
    assert len(ids) == 50
    spans = exporter.get_finished_spans()
    requests = requests_of(spans)
    jobs = {s.name: s for s in spans if s.kind is SpanKind.INTERNAL}
    assert sorted(jobs) == ["autotask.probe", "autotask.query_all"]
    job, query_all = jobs["autotask.probe"], jobs["autotask.query_all"]
    assert query_all.parent is not None and query_all.parent.span_id == job.context.span_id

    # one span per request the server received, same method, path and status
    assert span_keys(requests) == journal_keys(fresh)
    tickets = [s for s in requests if attrs(s).get("autotask.entity") == "Tickets"]
    assert len(tickets) == 3 + 3  # 3 pages, the first one sent 3 more times

    # all of them children of the job span, in its trace
    assert job.name == "autotask.probe"
    assert attrs(job) == {
        "autotask.job.kind": "probe",
        "autotask.entity": "Tickets",
        "autotask.job.mode": "test",
    }
    assert job.status.status_code is StatusCode.UNSET
    for span in requests:  # query_all is a job of its own, inside the caller's
        assert span.parent is not None and span.parent.span_id == query_all.context.span_id
        assert span.context.trace_id == job.context.trace_id

    # the failed attempts: error.type is the status, status ERROR, a retry event
    failed = [s for s in tickets if attrs(s)["http.response.status_code"] >= 400]
    assert sorted(attrs(s)["error.type"] for s in failed) == ["429", "503", "503"]
    for span in failed:
        assert span.status.status_code is StatusCode.ERROR
        (event,) = span.events
        assert event.name == "retry"
        event_attrs = dict(event.attributes or {})
        assert event_attrs["autotask.retry.delay"] > 0
        assert event_attrs["autotask.retry.kind"] in {"transient", "thread_limit"}
    assert sorted(dict(s.events[0].attributes or {})["autotask.retry.kind"] for s in failed) == [
        "thread_limit",
        "transient",
        "transient",
    ]
    # resends counted from the second attempt on
    resends = sorted(attrs(s).get("http.request.resend_count", 0) for s in tickets)
    assert resends == [0, 0, 0, 1, 2, 3]

    # the successes: the HTTP client conventions, nothing else
    port = urlsplit(fresh.url).port
    for span in tickets:
        a = attrs(span)
        assert span.name == a["http.request.method"] == "POST"
        assert a["server.address"] == "127.0.0.1" and a["server.port"] == port
        assert a["url.full"].startswith(fresh.url + "Tickets/query")
        assert a["autotask.operation"] in {"query", "next"}
        if a["http.response.status_code"] == 200:
            assert "error.type" not in a and not span.events
            assert span.status.status_code is StatusCode.UNSET
    assert_clean(spans, fresh)


def test_connection_failure_is_an_error_type_without_status(fresh: Any, traced: Any) -> None:
    provider, exporter = traced
    fresh.add_fault({"match": {"entity": "Tickets"}, "effect": "reset", "count": 1})
    with AutotaskClient(
        **fresh.credentials, retry_config=fast_retry(max_retries=6), tracing=provider
    ) as client:
        assert client.tickets.get(1) is not None
    tickets = [
        s for s in requests_of(exporter.get_finished_spans()) if attrs(s).get("autotask.entity")
    ]
    assert len(tickets) == 2
    broken, ok = sorted(tickets, key=lambda s: attrs(s).get("http.request.resend_count", 0))
    a = attrs(broken)
    assert "http.response.status_code" not in a
    assert a["error.type"] and not a["error.type"].isdigit()  # the exception's type name
    assert broken.status.status_code is StatusCode.ERROR
    assert [e.name for e in broken.events] == ["retry"]
    assert attrs(ok)["http.response.status_code"] == 200
    assert attrs(ok)["http.request.resend_count"] == 1
    assert "error.type" not in attrs(ok)


def test_failed_job_and_final_answer_keep_record_content_out(fresh: Any, traced: Any) -> None:
    provider, exporter = traced
    fresh.add_fault(
        {
            "match": {"entity": "Tickets", "operation": "create"},
            "effect": {"type": "status", "status": 400, "errors": [f"title '{CONTENT}' refused"]},
            "count": 1,
        }
    )
    with AutotaskClient(**fresh.credentials, tracing=provider) as client:
        company = client.companies.query(max_records=1).items[0].id
        ticket = {"companyID": company, "title": CONTENT, "status": 1, "priority": 2}
        with pytest.raises(AutotaskError) as raised:
            with client.observers.job("import", "Tickets"):
                client.tickets.create(ticket)
        assert CONTENT in str(raised.value)  # the error keeps Autotask's words ...
        assert client.tickets.create(ticket) > 0  # ... and a create that works
    spans = exporter.get_finished_spans()
    (job,) = [s for s in spans if s.kind is SpanKind.INTERNAL]
    assert job.status.status_code is StatusCode.ERROR
    (event,) = job.events
    assert event.name == "exception"
    error_name = f"{type(raised.value).__module__}.{type(raised.value).__qualname__}"
    assert dict(event.attributes or {}) == {"exception.type": error_name}
    assert attrs(job)["error.type"] == error_name
    (refused,) = [s for s in requests_of(spans) if attrs(s).get("http.response.status_code") == 400]
    assert refused.parent is not None and refused.parent.span_id == job.context.span_id
    assert attrs(refused)["error.type"] == "400" and not refused.events  # final: not retried
    assert attrs(refused)["autotask.operation"] == "create"
    assert span_keys(requests_of(spans)) == journal_keys(fresh)
    # ... but no span carries it (nor the body of the create that worked)
    assert_clean(spans, fresh, CONTENT)


def test_async_client_requests_are_children_of_the_job(fresh: Any, traced: Any) -> None:
    provider, exporter = traced

    async def run() -> int:
        async with AsyncAutotaskClient(**fresh.credentials, tracing=provider) as client:
            with client.observers.job("gather"):
                rows = await client.tickets.query_all(ALL)
                found = await asyncio.gather(*(client.tickets.get(t.id) for t in rows[:3]))
            assert all(f is not None for f in found)
            await client.tickets.get(rows[0].id)  # after the job: a root span
            return len(rows)

    assert asyncio.run(run()) == 50
    spans = exporter.get_finished_spans()
    jobs = {s.name: s for s in spans if s.kind is SpanKind.INTERNAL}
    assert sorted(jobs) == ["autotask.gather", "autotask.query_all"]
    job, query_all = jobs["autotask.gather"], jobs["autotask.query_all"]
    assert query_all.parent is not None and query_all.parent.span_id == job.context.span_id
    requests = requests_of(spans)
    assert span_keys(requests) == journal_keys(fresh)
    inside = [s for s in requests if s.parent is not None]
    outside = [s for s in requests if s.parent is None]
    parents = {job.context.span_id, query_all.context.span_id}
    assert all(s.parent.span_id in parents for s in inside)  # type: ignore[union-attr]
    # the pages read inside query_all's span, the gathered gets directly inside the caller's job
    paged = [
        attrs(s)["autotask.operation"]
        for s in inside
        if s.parent is not None and s.parent.span_id == query_all.context.span_id
    ]
    assert paged[0] == "query" and set(paged[1:]) <= {"next"}
    gets = sorted(
        attrs(s)["autotask.operation"] for s in inside if "Tickets/" in attrs(s)["url.full"]
    )
    assert gets.count("get") == 3 and gets.count("query") == 1
    assert [attrs(s)["autotask.operation"] for s in outside if attrs(s).get("autotask.entity")] == [
        "get"
    ]
    assert_clean(spans, fresh)


def test_threads_that_copied_the_context_report_into_the_job(fresh: Any, traced: Any) -> None:
    provider, exporter = traced
    with AutotaskClient(**fresh.credentials, tracing=provider) as client:
        with client.observers.job("fan_out", "Tickets"):
            copied = [
                threading.Thread(
                    target=contextvars.copy_context().run, args=(client.tickets.get, i)
                )
                for i in (1, 2, 3)
            ]
            plain = threading.Thread(target=client.tickets.get, args=(4,))
            for thread in (*copied, plain):
                thread.start()
            for thread in (*copied, plain):
                thread.join()
    spans = exporter.get_finished_spans()
    (job,) = [s for s in spans if s.kind is SpanKind.INTERNAL]
    by_id = {
        attrs(s)["url.full"].rsplit("/", 1)[1]: s
        for s in requests_of(spans)
        if attrs(s).get("autotask.operation") == "get"
    }
    assert sorted(by_id) == ["1", "2", "3", "4"]
    for ticket in ("1", "2", "3"):
        parent = by_id[ticket].parent
        assert parent is not None and parent.span_id == job.context.span_id
    assert by_id["4"].parent is None  # a thread that did not copy the context is outside
    assert job.end_time is not None
    assert_clean(spans, fresh)


def test_nested_jobs(fresh: Any, traced: Any) -> None:
    provider, exporter = traced
    with AutotaskClient(**fresh.credentials, tracing=provider) as client:
        with client.observers.job("export", "Tickets"):
            with client.observers.job("query_all", "Tickets"):
                client.tickets.get(1)
            client.tickets.get(2)
        client.tickets.get(3)
    spans = exporter.get_finished_spans()
    jobs = {s.name: s for s in spans if s.kind is SpanKind.INTERNAL}
    assert sorted(jobs) == ["autotask.export", "autotask.query_all"]
    outer, inner = jobs["autotask.export"], jobs["autotask.query_all"]
    assert outer.parent is None
    assert inner.parent is not None and inner.parent.span_id == outer.context.span_id
    gets = {attrs(s)["url.full"].rsplit("/", 1)[1]: s for s in requests_of(spans)}
    assert gets["1"].parent.span_id == inner.context.span_id  # type: ignore[union-attr]
    assert gets["2"].parent.span_id == outer.context.span_id  # type: ignore[union-attr]
    assert gets["3"].parent is None


def test_a_job_span_ended_in_another_context_leaves_that_context_alone(
    traced: Any, caplog: pytest.LogCaptureFixture
) -> None:
    provider, exporter = traced
    observer = TracingObserver(provider)
    job = JobInfo("orphan")
    token = contextvars.copy_context().run(observer.job_started, job)
    observer.job_ended(job, token, None)
    (span,) = exporter.get_finished_spans()
    assert span.name == "autotask.orphan" and span.end_time is not None
    assert not trace.get_current_span().get_span_context().is_valid
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_tracing_switch(fresh: Any) -> None:
    """On by default, off with ``tracing=False``, a clear error for anything else (nothing sent).
    What the default sends to a global SDK provider: the test below."""
    with AutotaskClient(**fresh.credentials) as client:
        assert [type(o) for o in client.observers] == [TracingObserver]
        # this process loaded the API but set no global provider: spans are no-ops
        with client.observers.job("no_sdk"):
            assert client.tickets.get(1) is not None
            assert not trace.get_current_span().get_span_context().is_valid
    with AutotaskClient(**fresh.credentials, tracing=False) as client:
        assert list(client.observers) == []
        assert client.tickets.get(2) is not None
    with pytest.raises(AutotaskConfigError) as raised:
        AutotaskClient(**fresh.credentials, tracing="yes")  # type: ignore[arg-type]
    assert str(raised.value) == (
        "tracing must be True, False or an OpenTelemetry TracerProvider, not str"
    )
    assert [e.path.rsplit("/", 1)[1] for e in fresh.journal(entity="Tickets")] == ["1", "2"]


def test_observer_json_dump_of_a_whole_session_has_no_secret(fresh: Any, traced: Any) -> None:
    """Every span of a mixed session (reads, a write, a threshold poll, failures) as JSON."""
    provider, exporter = traced
    fresh.add_fault({"match": {"entity": "Companies"}, "effect": 503, "count": 1})
    with AutotaskClient(
        **fresh.credentials, retry_config=fast_retry(max_retries=6), tracing=provider
    ) as client:
        with client.observers.job("mixed"):
            company = client.companies.query(max_records=1).items[0].id
            created = client.tickets.create(
                {"companyID": company, "title": CONTENT, "status": 1, "priority": 2}
            )
            client.tickets.update({"id": created, "title": CONTENT + "-2"})
            client.raw_request("GET", "ThresholdInformation")
    spans = exporter.get_finished_spans()
    assert span_keys(requests_of(spans)) == journal_keys(fresh)
    assert_clean(spans, fresh, CONTENT)


#: a fresh interpreter: the default client before any OpenTelemetry import, with the API only,
#: then with an SDK provider installed globally after the clients were built
GLOBAL_PROVIDER = """
import json, sys
from py_autotask import AutotaskClient

creds = json.loads(sys.argv[1])
client = AutotaskClient(**creds)
off = AutotaskClient(**creds, tracing=False)
with client.observers.job("before"):
    client.tickets.get(1)
loaded_before = "opentelemetry.trace" in sys.modules

from opentelemetry import trace

with client.observers.job("api_only"):
    client.tickets.get(2)
    api_only_current = trace.get_current_span().get_span_context().is_valid

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)
with client.observers.job("with_sdk"):
    client.tickets.get(3)
off.tickets.get(4)
spans = [
    {
        "name": s.name,
        "parent": s.parent.span_id if s.parent else None,
        "id": s.context.span_id,
        "url": (s.attributes or {}).get("url.full"),
    }
    for s in exporter.get_finished_spans()
]
print(json.dumps({"loaded_before": loaded_before, "api_only_current": api_only_current,
                  "spans": spans}))
"""


def test_default_tracing_uses_the_global_provider(fresh: Any) -> None:
    """Native instrumentation: no OpenTelemetry import and no span until the application sets
    a provider; then the clients built earlier report to it, except the one built with
    ``tracing=False``."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "generated")])}
    proc = subprocess.run(
        [sys.executable, "-c", GLOBAL_PROVIDER, json.dumps(fresh.credentials)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    out = json.loads(proc.stdout)
    assert out["loaded_before"] is False
    assert out["api_only_current"] is False
    gets = [e.path for e in fresh.journal(entity="Tickets")]
    assert [p.rsplit("/", 1)[1] for p in gets] == ["1", "2", "3", "4"]
    spans = [s for s in out["spans"] if s["url"] is None or "/Tickets/" in s["url"]]
    (job,) = [s for s in spans if s["name"] == "autotask.with_sdk"]
    (request,) = [s for s in spans if s["name"] == "GET"]
    assert request["url"] == fresh.url + "Tickets/3"
    assert request["parent"] == job["id"]
    assert len(spans) == 2
