"""A full run with every kind of output switched on -- DEBUG logs as JSON, Prometheus metrics,
OpenTelemetry spans, plugins, alerts, health reports, errors -- and then a grep of all of it: the
API user, the secret and the integration code appear nowhere (STYLE: ``UserName``, ``Secret``
and ``ApiIntegrationCode`` never appear in logs, reprs, exceptions, metrics, traces).

The run is the library's (query, writes, export, sync, bulk, health, a refused login, injected
429s and 503s) and the CLI's (export and health in child processes with ``--log-format json
--log-level debug``, and ``--metrics-port`` scraped while the export runs)."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import socket
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

pytest.importorskip("prometheus_client")
simulator = pytest.importorskip("py_autotask.simulator")
sdk_trace = pytest.importorskip("opentelemetry.sdk.trace")

from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (  # noqa: E402
    InMemorySpanExporter,
)

from py_autotask import AutotaskClient  # noqa: E402
from py_autotask.exceptions import AutotaskError  # noqa: E402
from py_autotask.monitoring import (  # noqa: E402
    AlertManager,
    AlertRules,
    HealthMonitor,
    JsonFormatter,
    MetricsCollector,
)
from py_autotask.plugins import Plugin, PluginManager  # noqa: E402
from tests._cli import ROOT, cli_env, run_cli  # noqa: E402
from tests._retry import fast_retry  # noqa: E402


@pytest.fixture(scope="module")
def sim() -> Iterator[Any]:
    with simulator.Simulator(seed=11, profile="tiny", counts={"Tickets": 60}) as s:
        yield s


def secrets_of(sim: Any) -> dict[str, str]:
    c = sim.credentials
    return {"username": c["username"], "secret": c["secret"], "code": c["integration_code"]}


def assert_clean(where: str, text: str, sim: Any) -> None:
    assert text.strip(), f"{where}: nothing was captured (the grep would prove nothing)"
    for what, value in secrets_of(sim).items():
        assert value not in text, f"the {what} appears in {where}"


class Recorder(Plugin):
    name = "recorder"
    version = "1.0"

    def __init__(self) -> None:
        self.calls: list[str] = []

    def before_request(self, request: Any) -> None:
        self.calls.append(f"before_request {request!r}")

    def after_response(self, request: Any, response: Any) -> None:
        self.calls.append(f"after_response {request!r} {response!r}")

    def on_record_created(self, entity: str, record: dict[str, Any]) -> None:
        self.calls.append(f"created {entity} {record!r}")

    def on_record_updated(
        self, entity: str, record: dict[str, Any], old: dict[str, Any], new: dict[str, Any]
    ) -> None:
        self.calls.append(f"updated {entity} {record!r} {old!r} {new!r}")

    def on_alert(self, alert: dict[str, Any]) -> None:
        self.calls.append(f"alert {alert!r}")


def test_a_full_library_run_leaks_nothing(sim: Any, tmp_path: Path) -> None:
    sim.reset()
    for effect in (
        {"type": "status", "status": 503},
        "throttle",
        {"type": "status", "status": 429},
    ):
        sim.add_fault({"match": {"entity": "Tickets"}, "effect": effect, "count": 2})
    logs = io.StringIO()
    handler = logging.StreamHandler(logs)
    handler.setFormatter(JsonFormatter())  # no scrubbing: the library must not log them at all
    handler.setLevel(logging.DEBUG)
    library = logging.getLogger("py_autotask")
    old_level = library.level
    library.addHandler(handler)
    library.setLevel(logging.DEBUG)
    exporter = InMemorySpanExporter()
    provider = sdk_trace.TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    outputs: dict[str, str] = {}
    errors: list[BaseException] = []
    alerts: list[Any] = []
    recorder = Recorder()
    try:
        with AutotaskClient(
            **sim.credentials,
            retry_config=fast_retry(max_retries=6, max_delay=0.02, max_retry_after=0.05),
            tracing=provider,
        ) as c:
            metrics = MetricsCollector(c).start_collection()
            manager = AlertManager(c, AlertRules(budget_fraction=0.001), callbacks=[alerts.append])
            plugins = PluginManager(c)
            plugins.register_plugin(recorder)
            outputs["repr"] = f"{c!r} {c.credentials!r} {c.sender!r} {c.observers!r}"

            tickets = c.tickets.query_all()
            company = c.companies.query(max_records=1).items[0].id
            created = c.tickets.create(
                {"companyID": company, "title": "leak probe", "status": 1, "priority": 2}
            )
            c.tickets.update({"id": created, "priority": 1})
            c.create_exporter().add_entities("tickets").export(tmp_path / "t.csv", format="csv")
            c.create_syncer().sync_to_database(f"sqlite:///{tmp_path / 'mirror.db'}", ["Tickets"])
            rows = [
                {"companyID": company, "title": f"bulk {i}", "status": 1, "priority": 2}
                for i in range(3)
            ] + [{"companyID": company, "title": "bad", "status": 1, "priority": "urgent!"}]
            result = c.create_bulk_manager(journal_dir=tmp_path / "journals").bulk_create(
                "Tickets", rows
            )
            outputs["bulk result"] = f"{result!r} {result!s}"
            health = HealthMonitor(c).check()
            outputs["health"] = json.dumps(health.to_dict(), default=str) + repr(health)
            try:
                c.tickets.create({"companyID": company, "title": "x", "status": 1, "priority": 99})
            except AutotaskError as exc:
                errors.append(exc)
            outputs["metrics"] = metrics.exposition().decode()
            with metrics.serve(0) as server:
                outputs["metrics endpoint"] = httpx.get(server.url, timeout=10).text
            manager.detach(c)
            plugins.close()
        bad = {**sim.credentials, "secret": sim.credentials["secret"][::-1]}
        with AutotaskClient(
            **bad,
            retry_config=fast_retry(max_retries=6, max_delay=0.02, max_retry_after=0.05),
            tracing=provider,
        ) as wrong:
            try:
                wrong.tickets.query(max_records=1)
            except AutotaskError as exc:
                errors.append(exc)
            outputs["refused health"] = json.dumps(HealthMonitor(wrong).check().to_dict())
    finally:
        library.removeHandler(handler)
        library.setLevel(old_level)

    assert len(tickets) == 60 and created > 0
    assert len(errors) == 2  # a refused write and a refused login
    assert alerts, "the budget alert fired"
    outputs["logs"] = logs.getvalue()
    outputs["spans"] = "\n".join(span.to_json() for span in exporter.get_finished_spans())
    outputs["errors"] = "\n".join(
        f"{e!s} {e!r} " + "".join(traceback.format_exception(type(e), e, e.__traceback__))
        for e in errors
    )
    outputs["alerts"] = repr(alerts)
    outputs["plugin calls"] = "\n".join(recorder.calls)
    # the run really produced each output: retries, spans, the write events, DEBUG lines
    assert "retry" in outputs["logs"] and '"level": "debug"' in outputs["logs"]
    assert outputs["spans"].count('"kind": "SpanKind.CLIENT"') == len(sim.journal())
    assert "updated Tickets" in outputs["plugin calls"]
    assert 'status="503"' in outputs["metrics"] and 'status="429"' in outputs["metrics"]
    for where, text in outputs.items():
        assert_clean(where, text, sim)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_the_cli_with_json_logs_and_metrics_leaks_nothing(sim: Any, tmp_path: Path) -> None:
    sim.reset()
    sim.add_fault(
        {"match": {"entity": "Tickets"}, "effect": {"type": "status", "status": 503}, "count": 2}
    )
    sim.add_fault(
        {
            "match": {"entity": "Tickets"},
            "effect": {"type": "latency", "dist": "fixed", "seconds": 0.05},
        }
    )
    env = cli_env(sim.environ, tmp_path)
    port = _free_port()
    scraped: list[str] = []
    args = [
        *("--log-format", "json", "--log-level", "debug"),
        *("export", "Tickets", "-F", "csv", "-O", str(tmp_path / "out")),
        *("--metrics-port", str(port)),
    ]
    child = subprocess.Popen(
        [sys.executable, "-m", "py_autotask.cli", *args],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )

    def scrape() -> None:
        deadline = time.monotonic() + 60
        while child.poll() is None and time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                scraped.append(httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text)
            time.sleep(0.05)

    watcher = threading.Thread(target=scrape)
    watcher.start()
    stdout, stderr = child.communicate(timeout=120)
    watcher.join()
    assert child.returncode == 0, stderr
    assert scraped, "the metrics endpoint was never reachable while the export ran"
    lines = [json.loads(line) for line in stderr.splitlines() if line.strip()]
    assert any(line["level"] == "debug" for line in lines)
    health = run_cli(
        "--log-format", "json", "--log-level", "debug", "health", "-o", "json", env=env
    )
    assert health.returncode == 0, health.stderr
    refused = run_cli(
        *("--log-format", "json", "--log-level", "debug", "count", "Tickets"),
        env={**env, "AUTOTASK_SECRET": sim.credentials["secret"][::-1]},
    )
    assert refused.returncode == 3, refused.stderr
    for where, text in {
        "export stdout+stderr": stdout + stderr,
        "metrics scrapes": "\n".join(scraped),
        "health output": health.stdout + health.stderr,
        "refused login output": refused.stdout + refused.stderr,
    }.items():
        assert_clean(where, text, sim)
