"""``client.estimate()`` and ``client.health()`` against the simulator."""

from __future__ import annotations

import asyncio
import math
from typing import Any

import pytest

from py_autotask import AsyncAutotaskClient, AutotaskClient
from py_autotask.exceptions import AutotaskConfigError
from py_autotask.resilience import PacingConfig

from .conftest import creds

FILTER = {"filter": [{"op": "gte", "field": "id", "value": 0}]}


def test_estimate_counts_requests_before_running(fresh: Any) -> None:
    with AutotaskClient(**creds(fresh)) as client:
        fresh.clear_journal()
        estimate = client.estimate(client.tickets, FILTER)
        assert [e.operation for e in fresh.journal()] == ["count"]  # only the count was sent
        assert estimate.records == 120 and estimate.pages == 1 and estimate.requests == 2
        by_name = client.estimate("Tickets", FILTER, page_size=7)
        assert by_name.pages == math.ceil(120 / 7) and by_name.requests == by_name.pages + 1
        assert by_name.seconds > estimate.seconds > 0
        assert not by_name.exceeds_budget
        with pytest.raises(AutotaskConfigError, match="unknown Autotask entity"):
            client.estimate("NoSuchThings")
        # an export's 3 partitions in flight: a third of the time, the same requests
        three = client.estimate("Tickets", FILTER, page_size=7, latency=0.3, concurrency=3)
        one = client.estimate("Tickets", FILTER, page_size=7, latency=0.3)
        assert three.requests == one.requests and three.seconds == pytest.approx(one.seconds / 3)
        with pytest.raises(AutotaskConfigError, match="concurrency must be 1, 2 or 3"):
            client.estimate("Tickets", FILTER, concurrency=4)


def test_estimate_accounts_for_usage_latency_and_the_stop_level(tenant: Any) -> None:
    scale = 60.0  # Autotask's +1 s usage latency costs 1/60 s here
    sim = tenant(time_scale=scale)
    # in-process limits: the simulator is reset between the two clients (a new tenant, in
    # effect), so the first client's shared threshold reading must not carry over
    pacing = PacingConfig(threshold_first_poll_after=0, time_scale=scale, backend="local")
    with AutotaskClient(**creds(sim), pacing=pacing) as client:
        low = client.estimate(client.tickets, page_size=4, latency=0.1)
        assert low.pages == 30
        assert low.usage_before is not None and low.usage_before < 0.01
    sim.reset()
    sim.preload_threshold(7_600)  # past the 75% step: +1 s per request, slowed pacing
    with AutotaskClient(**creds(sim), pacing=pacing) as client:
        high = client.estimate(client.tickets, page_size=4, latency=0.1)
    assert high.usage_before is not None and 0.76 <= high.usage_before < 0.77
    assert high.usage_after is not None and high.usage_after > high.usage_before
    assert high.seconds >= low.seconds + 30 * 1.0 / scale - 1e-9  # every page 1 s slower
    assert not high.exceeds_budget
    sim.reset()
    sim.preload_threshold(9_790)
    with AutotaskClient(**creds(sim), pacing=pacing) as client:
        full = client.estimate(client.tickets, page_size=4, latency=0.1)
    assert full.exceeds_budget


def test_health_reports_the_tenant_view(fresh: Any) -> None:
    fresh.preload_threshold(2_500)
    with AutotaskClient(**creds(fresh)) as client:
        client.tickets.count()
        health = client.health()
    assert health.reachable and health.error is None
    assert health.api_url == fresh.url
    assert health.threshold is not None
    assert health.threshold["externalRequestThreshold"] == 10_000
    assert health.usage is not None and 0.25 <= health.usage < 0.26
    assert health.in_flight == {"tickets": 0}
    assert health.breakers == {"tickets": "closed"}
    assert health.pacing["max_in_flight_per_endpoint"] == 3
    assert health.retry_budget == 500
    assert health.budget_exhausted_for == 0.0


def test_health_of_an_unreachable_tenant_never_raises() -> None:
    async def scenario() -> Any:
        async with AsyncAutotaskClient(
            "u@example.com",
            "secret-value",
            "INTEGRATION",
            "http://127.0.0.1:9/ATServicesRest/V1.0/",
        ) as client:
            return await client.health()

    health = asyncio.run(scenario())
    assert not health.reachable
    assert health.error is not None and "ConnectError" in health.error
    assert "secret-value" not in health.error
