"""``HealthMonitor`` against the simulator (real sockets): the seed plan's sketch as written with
both clients, each check's figures compared with what the simulator holds, a tenant that moved
zone, the cache and limiter backends (real Redis, a dead Redis, the SQLite file), deactivated
webhooks, and no secret anywhere in a result."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from py_autotask import AsyncAutotaskClient, AutotaskClient, ZoneOptions
from py_autotask.caching import CacheConfig
from py_autotask.exceptions import AutotaskServerError
from py_autotask.monitoring import HealthMonitor, HealthStatus
from py_autotask.resilience import CircuitBreakerConfig, PacingConfig, RetryConfig

simulator = pytest.importorskip("py_autotask.simulator")
pytest.importorskip("py_autotask_generated._client_mixin")

LOCAL = PacingConfig(backend="local")


@pytest.fixture(scope="module")
def module_sim() -> Iterator[Any]:
    with simulator.Simulator(profile="tiny", seed=11, counts={"Tickets": 20}) as sim:
        yield sim


@pytest.fixture
def sim(module_sim: Any) -> Iterator[Any]:
    module_sim.reset()
    yield module_sim
    module_sim.state.budget.threshold = 10_000


def _secrets(sim: Any) -> list[str]:
    c = sim.credentials
    return [c["secret"], c["integration_code"], c["username"]]


def _no_secret(status: HealthStatus, sim: Any) -> None:
    text = json.dumps(status.to_dict()) + repr(status)
    for secret in _secrets(sim):
        assert secret not in text


def _sim_count(sim: Any) -> int:
    return int(sim.state.budget.current())


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_seed_sketch_runs_as_written_with_the_async_client(sim: Any) -> None:
    async def sketch() -> tuple[HealthStatus, list[str]]:
        async with AsyncAutotaskClient(**sim.credentials, pacing=LOCAL) as client:
            printed = []
            # seed plan 4.3, as written
            monitor = HealthMonitor(client)
            health_status = await monitor.check_all()
            printed.append(f"API Status: {health_status.api_status}")
            printed.append(f"Zone Health: {health_status.zone_health}")
            printed.append(f"Rate Limit: {health_status.rate_limit_remaining}")
            return health_status, printed

    status, printed = asyncio.run(sketch())
    used = _sim_count(sim)
    assert printed == ["API Status: ok", "Zone Health: ok", f"Rate Limit: {10_000 - used}"]
    assert status.status == "ok" and status.ok
    budget = status.check("budget")
    assert budget is not None
    assert (budget.data["used"], budget.data["limit"]) == (used, 10_000)
    # one ThresholdInformation request and nothing else (an explicit api_url: no zone lookup)
    assert [e.operation for e in sim.journal()] == ["threshold"]
    _no_secret(status, sim)


def test_seed_sketch_with_a_sync_client_awaited_and_called(sim: Any) -> None:
    with AutotaskClient(**sim.credentials, pacing=LOCAL) as client:
        monitor = HealthMonitor(client)

        async def sketch() -> HealthStatus:
            health_status = await monitor.check_all()  # a sync client, from async code
            return health_status

        awaited = asyncio.run(sketch())
        assert awaited.rate_limit_remaining == 10_000 - _sim_count(sim)
        called = monitor.check()  # plain sync code
        assert called.rate_limit_remaining == 10_000 - _sim_count(sim)
    assert (awaited.api_status, awaited.zone_health) == ("ok", "ok")
    assert [c.name for c in called.checks] == [
        "api",
        "zone",
        "budget",
        "in_flight",
        "breakers",
        "cache",
        "limiter",
    ]
    assert all(c.status == "ok" for c in called.checks)
    assert [e.operation for e in sim.journal()] == ["threshold", "threshold"]
    round_trip = json.loads(json.dumps(called.to_dict()))
    assert round_trip["status"] == "ok" and len(round_trip["checks"]) == 7


def test_check_refuses_an_async_client_with_the_way_out(sim: Any) -> None:
    async def run() -> None:
        async with AsyncAutotaskClient(**sim.credentials, pacing=LOCAL) as client:
            with pytest.raises(TypeError, match=r"await monitor\.check_all"):
                HealthMonitor(client).check()

    asyncio.run(run())
    assert sim.journal() == []


def test_wrong_secret_is_unhealthy_with_autotasks_words_and_no_secret(sim: Any) -> None:
    wrong = "not-the-secret-7Qx"
    with AutotaskClient(**{**sim.credentials, "secret": wrong}, pacing=LOCAL) as client:
        status = HealthMonitor(client).check()
    api = status.check("api")
    assert api is not None and api.status == "unhealthy" and status.status == "unhealthy"
    assert "authentication failed" in api.detail and "HTTP 401" in api.detail
    assert "invalid user name or secret" in api.detail  # the simulator's (Autotask's) words
    assert wrong not in json.dumps(status.to_dict())
    assert [(e.operation, e.status) for e in sim.journal()] == [("threshold", 401)]


def test_dead_host_is_unhealthy(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/ATServicesRest/V1.0/"
    with AutotaskClient("u@example.com", "s3cret-value", "CODE1234", url, pacing=LOCAL) as client:
        status = HealthMonitor(client).check()
    api = status.check("api")
    assert api is not None and api.status == "unhealthy" and api.detail.startswith("unreachable")
    assert "ConnectError" in api.detail
    assert status.rate_limit_remaining is None and status.status == "unhealthy"


@pytest.mark.parametrize(
    ("preload", "expected"),
    [(7_900, "ok"), (8_500, "degraded"), (10_000, "unhealthy")],
)
def test_budget_status_follows_threshold_information(sim: Any, preload: int, expected: str) -> None:
    sim.preload_threshold(preload)
    with AutotaskClient(**sim.credentials, pacing=LOCAL) as client:
        status = HealthMonitor(client, budget_degraded_at=0.8).check()
    budget = status.check("budget")
    assert budget is not None and budget.status == expected
    assert status.status == expected
    if expected == "unhealthy":
        # Autotask refuses even ThresholdInformation (429) once the budget is used up
        assert budget.data["remaining"] == status.rate_limit_remaining == 0
        assert budget.data["exhausted_for"] > 0 and "drain" in budget.detail
        assert status.api_status == "degraded"  # reachable, refusing requests
        assert [(e.operation, e.status) for e in sim.journal()] == [("threshold", 429)]
        return
    used = _sim_count(sim)
    assert budget.data["used"] == used == preload + 1  # the health check's own request counts
    assert budget.data["remaining"] == status.rate_limit_remaining == 10_000 - used


def test_open_breaker_is_unhealthy_and_in_flight_is_listed(sim: Any) -> None:
    sim.add_fault({"match": {"entity": "Tickets"}, "effect": {"type": "status", "status": 503}})
    breaker = CircuitBreakerConfig(failure_threshold=2, timeout=60)
    retry = RetryConfig(max_retries=0)
    with AutotaskClient(
        **sim.credentials, pacing=LOCAL, circuit_breaker=breaker, retry_config=retry
    ) as client:
        for _ in range(2):
            with pytest.raises(AutotaskServerError):
                client.tickets.count()
        status = HealthMonitor(client).check()
    breakers = status.check("breakers")
    assert breakers is not None and breakers.status == "unhealthy"
    assert breakers.data["states"] == {"tickets": "open"}
    assert "tickets" in breakers.detail
    in_flight = status.check("in_flight")
    assert in_flight is not None and in_flight.data["endpoints"] == {"tickets": 0}
    assert status.status == "unhealthy"


def test_cache_round_trips_memory_and_real_redis_and_a_dead_redis(sim: Any, redis_url: str) -> None:
    dead = f"redis://127.0.0.1:{_closed_port()}/0"
    results = {}
    for name, config in (
        ("memory", CacheConfig(backend="memory")),
        ("redis", CacheConfig(backend="redis", redis_url=redis_url, key_prefix="hc-test")),
        ("dead", CacheConfig(backend="redis", redis_url=dead)),
    ):
        with AutotaskClient(**sim.credentials, pacing=LOCAL, cache_config=config) as client:
            results[name] = HealthMonitor(client).check().check("cache")
    memory, redis, down = results["memory"], results["redis"], results["dead"]
    assert memory is not None and memory.status == "ok" and memory.latency is not None
    assert redis is not None and redis.status == "ok" and redis.data["backend"] == "redis"
    assert down is not None and down.status == "degraded" and "ConnectionError" in down.detail
    # the probe key was deleted again
    import redis as redis_module

    assert not list(redis_module.Redis.from_url(redis_url).scan_iter("hc-test:health:*"))


def test_limiter_round_trips_sqlite_redis_and_a_dead_redis(
    sim: Any, redis_url: str, tmp_path: Path
) -> None:
    sqlite = PacingConfig(backend=f"sqlite:///{tmp_path / 'limits.sqlite3'}")
    dead = PacingConfig(backend=f"redis://:pw-zz9@127.0.0.1:{_closed_port()}/0")
    found = {}
    for name, pacing in (
        ("sqlite", sqlite),
        ("redis", PacingConfig(backend=redis_url)),
        ("dead", dead),
    ):
        with AutotaskClient(**sim.credentials, pacing=pacing) as client:
            found[name] = HealthMonitor(client).check()
    sq = found["sqlite"].check("limiter")
    assert sq is not None and sq.status == "ok" and sq.data["backend"] == "sqlite"
    assert sq.data["where"] == str(tmp_path / "limits.sqlite3") and sq.latency is not None
    rd = found["redis"].check("limiter")
    assert rd is not None and rd.status == "ok" and rd.data["backend"] == "redis"
    down = found["dead"].check("limiter")
    assert down is not None and down.status == "unhealthy" and down.data["ok"] is False
    assert found["dead"].status == "unhealthy"
    assert "pw-zz9" not in json.dumps(found["dead"].to_dict())


def _move_tenant_away(old: Any, new: Any) -> None:
    user = old.config.users[0]
    old.config.users = [simulator.ApiUser(user.username, "secret-of-another-database")]
    old.config.public_base_url = new.zone_url


def test_zone_check_sees_the_tenant_move(sim: Any, tmp_path: Path) -> None:
    creds = {k: v for k, v in sim.credentials.items() if k != "api_url"}
    with simulator.Simulator(profile=None, hourly_threshold=0) as old:
        options = ZoneOptions(
            lookup_url=old.url + "zoneInformation",
            cache_path=tmp_path / "zones.json",
            probe_hosts=(),
        )
        with AutotaskClient(**creds, zones=options, pacing=LOCAL) as client:
            status = HealthMonitor(client).check()
            zone = status.check("zone")
            assert zone is not None and zone.status == "ok" and zone.data["discovery"] is True
            assert zone.data["api_url"] == old.url and "confirmed by zoneInformation" in zone.detail

        _move_tenant_away(old, sim)
        # a new process starts on the cached (old) zone; the check finds the move
        with AutotaskClient(**creds, zones=options, pacing=LOCAL) as client:
            status = HealthMonitor(client).check()
            assert client.api_url == sim.url
    zone = status.check("zone")
    assert zone is not None and zone.status == "degraded" and zone.data["moved"] is True
    assert (zone.data["previous"], zone.data["api_url"]) == (old.url, sim.url)
    assert status.api_status == "ok"  # the client followed the tenant
    assert status.status == "degraded"
    _no_secret(status, sim)


def test_deactivated_webhooks_are_degraded(sim: Any) -> None:
    with AutotaskClient(**sim.credentials, pacing=LOCAL) as client:
        hooks = client.raw_request(
            "POST",
            "CompanyWebhooks/query",
            json={"filter": [{"op": "gt", "field": "id", "value": 0}]},
        )["items"]
        hook = hooks[0]
        before = HealthMonitor(client, webhooks=True).check().check("webhooks")
        assert before is not None
        assert ("Companies", hook["id"]) not in {
            (d["entity"], d["id"]) for d in before.data["deactivated"]
        }
        client.raw_request("PATCH", "CompanyWebhooks", json={"id": hook["id"], "isActive": False})
        status = HealthMonitor(client, webhooks=True).check()
    check = status.check("webhooks")
    assert check is not None and check.status == "degraded"
    assert {"entity": "Companies", "id": hook["id"], "name": hook["name"]} in check.data[
        "deactivated"
    ]
    assert hook["secretKey"] not in json.dumps(status.to_dict())


def test_client_health_never_raises_when_the_limiter_backend_is_down(sim: Any) -> None:
    """Defect on main: once an endpoint had been used, ``client.health()`` ("never raises") read
    the in-flight counts from a dead Redis limiter outside its error handling and raised."""
    dead = PacingConfig(backend=f"redis://127.0.0.1:{_closed_port()}/0")
    with AutotaskClient(**sim.credentials, pacing=dead) as client:
        with pytest.raises(Exception, match="onnect"):
            client.tickets.count()  # the endpoint is now known; the limiter is unreachable
        health = client.health()
    assert health.error is not None and "Connection refused" in health.error
    assert health.in_flight == {}
    assert sim.journal() == []  # nothing could be paced, so nothing was sent


def test_async_client_runs_the_zone_lookup_cache_and_webhook_checks(
    sim: Any, tmp_path: Path
) -> None:
    creds = {k: v for k, v in sim.credentials.items() if k != "api_url"}
    options = ZoneOptions(
        lookup_url=sim.url + "zoneInformation", cache_path=tmp_path / "zones.json", probe_hosts=()
    )

    async def run() -> HealthStatus:
        async with AsyncAutotaskClient(
            **creds, zones=options, pacing=LOCAL, cache_config=CacheConfig(backend="memory")
        ) as client:
            return await HealthMonitor(client, webhooks=True).check_all()

    status = asyncio.run(run())
    assert [c.name for c in status.checks if c.status != "ok"] in ([], ["webhooks"])
    zone, cache, hooks = (status.check(n) for n in ("zone", "cache", "webhooks"))
    assert zone is not None and zone.data["discovery"] is True and zone.latency is not None
    assert "confirmed by zoneInformation" in zone.detail and status.api_url == sim.url
    assert cache is not None and cache.data["backend"] == "memory" and cache.latency is not None
    operations = [e.operation for e in sim.journal()]
    assert operations[:3] == ["zone", "threshold", "zone"]  # discovery, health, fresh lookup
    _no_secret(status, sim)
    # the webhook check reads what the sync client reads (the seed has inactive webhooks)
    with AutotaskClient(**sim.credentials, pacing=LOCAL) as client:
        sync_hooks = HealthMonitor(client, webhooks=True).check().check("webhooks")
    assert hooks is not None and sync_hooks is not None
    assert hooks.data == sync_hooks.data and hooks.status == sync_hooks.status
    assert hooks.status == ("degraded" if hooks.data["deactivated"] else "ok")
