"""Alerts against the simulator: the budget read by the pacing's own ThresholdInformation polls,
a breaker opened by real 503s, the lag a sync reports through the seam, and deactivated webhooks
found by a health run. Each fires once per crossing (no storm), again after clearing; the
``"alert.raised"`` payload on the default bus; a raising callback never breaks the request."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from py_autotask import AutotaskClient
from py_autotask._events import subscribe
from py_autotask.exceptions import AutotaskCircuitOpenError, AutotaskServerError
from py_autotask.monitoring import ALERT_TOPIC, Alert, AlertManager, AlertRules, HealthMonitor
from py_autotask.resilience import CircuitBreakerConfig, PacingConfig, RetryConfig

simulator = pytest.importorskip("py_autotask.simulator")
pytest.importorskip("py_autotask_generated._client_mixin")

#: every request is followed by a ThresholdInformation poll; no slowdown, a large burst
POLL_EACH = PacingConfig(
    backend="local",
    threshold_first_poll_after=0,
    threshold_poll_requests=1,
    budget_fraction=1.0,
    slowdown_steps=(),
)
PAYLOAD_KEYS = {"name", "severity", "message", "value", "threshold"}


@pytest.fixture(scope="module")
def module_sim() -> Iterator[Any]:
    with simulator.Simulator(profile="tiny", seed=12, counts={"Tickets": 10}) as sim:
        yield sim


@pytest.fixture
def sim(module_sim: Any) -> Any:
    module_sim.reset()
    return module_sim


@pytest.fixture
def published() -> Iterator[list[Mapping[str, Any]]]:
    got: list[Mapping[str, Any]] = []
    unsubscribe = subscribe(ALERT_TOPIC, lambda _topic, payload: got.append(payload))
    yield got
    unsubscribe()


def test_budget_alert_fires_once_per_crossing_from_the_pacing_polls(
    sim: Any, published: list[Mapping[str, Any]]
) -> None:
    raised: list[Alert] = []
    sim.preload_threshold(6_000)
    with AutotaskClient(**sim.credentials, pacing=POLL_EACH) as client:
        alerts = AlertManager(client, AlertRules(budget_fraction=0.5), callbacks=[raised.append])
        for _ in range(3):
            assert client.tickets.count() == 10
        polls = [e for e in sim.journal() if e.operation == "threshold"]
        assert len(polls) >= 2  # crossed, then still above: one alert
        assert [(a.name, a.severity) for a in raised] == [("budget_used", "warning")]
        assert [a.name for a in alerts.active] == ["budget_used"]

        sim.state.budget.reset()  # the window drained
        client.tickets.count()
        assert alerts.active == []
        sim.preload_threshold(7_000)
        client.tickets.count()
        client.tickets.count()
    assert [a.name for a in raised] == ["budget_used", "budget_used"]
    assert len(published) == 2 and all(set(p) == PAYLOAD_KEYS for p in published)
    first = published[0]
    assert first["name"] == "budget_used" and first["severity"] == "warning"
    assert first["threshold"] == 0.5 and 0.6 <= first["value"] < 0.61
    assert "of the hourly request budget used" in first["message"]


def test_breaker_alert_from_real_failures_and_a_raising_callback_breaks_nothing(
    sim: Any, published: list[Mapping[str, Any]]
) -> None:
    sim.add_fault({"match": {"entity": "Tickets"}, "effect": {"type": "status", "status": 503}})
    breaker = CircuitBreakerConfig(failure_threshold=2, timeout=0.2)
    seen: list[Alert] = []

    def broken(alert: Alert) -> None:
        raise RuntimeError("a broken alert callback")

    with AutotaskClient(
        **sim.credentials,
        pacing=PacingConfig(backend="local"),
        circuit_breaker=breaker,
        retry_config=RetryConfig(max_retries=0),
    ) as client:
        alerts = AlertManager(client, callbacks=[broken, seen.append])
        for _ in range(2):  # two failures open the breaker
            with pytest.raises(AutotaskServerError):
                client.tickets.count()
        with pytest.raises(AutotaskCircuitOpenError):  # fails without a request
            client.tickets.count()
        assert len(sim.journal(entity="Tickets")) == 2
        assert [(a.name, a.severity, a.subject) for a in seen] == [
            ("breaker_open", "critical", "tickets")
        ]
        sim.faults.clear()
        time.sleep(0.25)  # the breaker lets one probe through, which succeeds and closes it
        assert client.tickets.count() == 10  # the raising callback did not break it
        assert alerts.active == []
        sim.add_fault({"match": {"entity": "Tickets"}, "effect": {"type": "status", "status": 503}})
        for _ in range(2):
            with pytest.raises(AutotaskServerError):
                client.tickets.count()
    assert [a.name for a in seen] == ["breaker_open", "breaker_open"]
    assert [p["name"] for p in published] == ["breaker_open", "breaker_open"]
    assert "tickets" in published[0]["message"]


def test_sync_lag_alert_from_the_seams_lag_reports(sim: Any) -> None:
    raised: list[Alert] = []
    with AutotaskClient(**sim.credentials, pacing=PacingConfig(backend="local")) as client:
        alerts = AlertManager(client, AlertRules(sync_lag_seconds=60), bus=None)
        alerts.on_alert(raised.append)
        with client.observers.job("sync", "Tickets"):
            for seconds in (30.0, 120.0, 130.0, 10.0, 200.0):  # what a sync reports
                client.observers.lag("Tickets", seconds)
    assert [(a.name, a.value, a.threshold, a.subject) for a in raised] == [
        ("sync_lag", 120.0, 60.0, "Tickets"),
        ("sync_lag", 200.0, 60.0, "Tickets"),
    ]
    assert "Tickets is 120s behind" in raised[0].message


def test_deactivated_webhook_alert_from_health_runs(
    sim: Any, published: list[Mapping[str, Any]]
) -> None:
    with AutotaskClient(**sim.credentials, pacing=PacingConfig(backend="local")) as client:
        alerts = AlertManager(bus=None)  # fed by the monitor only
        raised: list[Alert] = []
        alerts.on_alert(raised.append)
        monitor = HealthMonitor(client, webhooks=True, alerts=alerts)
        hook = client.raw_request(
            "POST",
            "CompanyWebhooks/query",
            json={"filter": [{"op": "gt", "field": "id", "value": 0}]},
        )["items"][0]
        client.raw_request("PATCH", "CompanyWebhooks", json={"id": hook["id"], "isActive": False})
        monitor.check()
        monitor.check()  # still deactivated: no second alert
        mine = [a for a in raised if a.subject == f"Companies:{hook['id']}"]
        assert len(mine) == 1 and mine[0].severity == "critical"
        assert f"Companies webhook {hook['id']}" in mine[0].message
        client.raw_request("PATCH", "CompanyWebhooks", json={"id": hook["id"], "isActive": True})
        monitor.check()
        assert not [a for a in alerts.active if a.subject == f"Companies:{hook['id']}"]
    assert published == []  # bus=None keeps them to the callbacks
    assert hook["secretKey"] not in repr(raised)


def test_rules_reject_nonsense() -> None:
    with pytest.raises(ValueError, match="budget_fraction"):
        AlertRules(budget_fraction=1.5)
    with pytest.raises(ValueError, match="sync_lag_seconds"):
        AlertRules(sync_lag_seconds=-1)
