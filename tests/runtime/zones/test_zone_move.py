"""Following a tenant whose zone moved, against two real simulator instances.

``old`` plays the zone the tenant used to live in (and, in most tests, the generic discovery host);
``new`` is where it lives now. The client keeps its zone in an on-disk cache, so a new client
starts on the cached (old) zone exactly like a process started the next day would.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from py_autotask import AsyncAutotaskClient, AutotaskClient
from py_autotask._zones import ZoneCache, ZoneOptions
from py_autotask.exceptions import AutotaskAuthError

simulator = pytest.importorskip("py_autotask.simulator")
pytest.importorskip("py_autotask_generated._client_mixin")

pytestmark = pytest.mark.xdist_group("zones")


@pytest.fixture
def old() -> Iterator[Any]:
    with simulator.Simulator(profile=None, hourly_threshold=0) as sim:
        yield sim


@pytest.fixture(scope="module")
def new_zone() -> Iterator[Any]:
    with simulator.Simulator(profile="tiny", seed=7, hourly_threshold=0) as sim:
        yield sim


@pytest.fixture
def new(new_zone: Any) -> Any:
    """The tenant's new zone (shared by the module; its zone answer and journal reset per test)."""
    new_zone.config.public_base_url = None
    new_zone.faults.clear()
    new_zone.clear_journal()
    return new_zone


def _creds(sim: Any) -> dict[str, str]:
    """username / secret / integration_code only: an api_url would switch discovery off."""
    return {k: v for k, v in sim.credentials.items() if k != "api_url"}


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _move_tenant_away(old: Any, new: Any) -> None:
    """The database moved: ``old`` no longer knows this user's secret (401) and its zone lookup
    now reports ``new``."""
    user = old.config.users[0]
    old.config.users = [simulator.ApiUser(user.username, "secret-of-another-database")]
    old.config.public_base_url = new.zone_url


def _options(tmp_path: Path, lookup_sim: Any, **kw: Any) -> ZoneOptions:
    kw.setdefault("probe_hosts", ())
    return ZoneOptions(
        lookup_url=lookup_sim.url + "zoneInformation", cache_path=tmp_path / "zones.json", **kw
    )


def _calls(sim: Any, operation: str) -> list[Any]:
    return [e for e in sim.journal() if e.operation == operation]


def test_cached_zone_answers_401_rediscovers_once_and_finishes_the_work(
    old: Any, new: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    creds = _creds(old)
    options = _options(tmp_path, old)
    with AutotaskClient(**creds, zones=options) as client:
        assert client.raw_request("GET", "Version")["majorVersion"]
        assert client.api_url == old.url
    cache_text = (tmp_path / "zones.json").read_text()
    assert old.url in cache_text
    for secret in creds.values():
        assert secret not in cache_text

    _move_tenant_away(old, new)
    old.clear_journal()
    caplog.set_level(logging.DEBUG, logger="py_autotask")
    with AutotaskClient(**creds, zones=options) as client:
        # starts on the cached (old) zone: no lookup before the first request
        total = client.companies.count()
        first_company = client.companies.query(max_records=1).items[0]
        ticket_id = client.tickets.create(
            {
                "companyID": first_company.id,
                "title": "after the zone move",
                "status": 1,
                "priority": 2,
            }
        )
        assert client.api_url == new.url

    assert total > 0
    # old: one rejected request (401), one fresh lookup; nothing else
    assert [(e.operation, e.status) for e in old.journal()] == [("count", 401), ("zone", 200)]
    # new: the same count request, then the rest of the work
    assert [e.operation for e in new.journal()] == ["count", "query", "create"]
    created = [e for e in new.journal() if e.operation == "create"]
    assert created[0].item_ids == [ticket_id]
    # the cache now points at the new zone
    cache = ZoneCache(tmp_path / "zones.json", ttl=3600)
    assert cache.get(creds["username"], options.lookup_url) == new.url
    # secrets never reach the logs
    log_text = "\n".join(r.getMessage() for r in caplog.records)
    assert "zone changed" in log_text
    for secret in creds.values():
        assert secret not in log_text

    # a third client goes straight to the new zone from the cache: no lookup, no 401
    old.clear_journal()
    with AutotaskClient(**creds, zones=options) as client:
        assert client.companies.count() == total
    assert old.journal() == []


def test_stopped_zone_host_rediscovers_and_resends_the_create_once(
    old: Any, new: Any, tmp_path: Path
) -> None:
    creds = _creds(new)
    # discovery lives on `new`; at first it reports `old` as the zone
    new.config.public_base_url = old.zone_url
    options = _options(tmp_path, new)
    with AutotaskClient(**creds, zones=options) as client:
        assert client.raw_request("GET", "Version")
        assert client.api_url == old.url
        old.stop()  # the old zone host is gone (connection refused)
        new.config.public_base_url = None  # discovery now reports `new` itself
        new.clear_journal()
        company_id = next(iter(client.companies.query(max_records=1).items)).id
        ticket_id = client.tickets.create(
            {"companyID": company_id, "title": "created after the move", "status": 1, "priority": 2}
        )
        assert client.api_url == new.url
    # a connection refused proves nothing was sent: the create went to `new` exactly once
    assert [e.operation for e in new.journal()] == ["zone", "query", "create"]
    assert [e.item_ids for e in _calls(new, "create")] == [[ticket_id]]


def test_unreachable_discovery_probes_zone_hosts_and_keeps_the_one_that_accepts(
    old: Any, new: Any, tmp_path: Path
) -> None:
    creds = _creds(new)
    user = old.config.users[0]
    old.config.users = [simulator.ApiUser(user.username, "another-databases-secret")]
    dead_lookup = f"http://127.0.0.1:{_closed_port()}/ATServicesRest/V1.0/zoneInformation"
    options = ZoneOptions(
        lookup_url=dead_lookup,
        cache_path=tmp_path / "zones.json",
        probe_hosts=(old.url, new.url),
    )
    with AutotaskClient(**creds, zones=options) as client:
        assert client.companies.count() > 0
        assert client.api_url == new.url
    # one cheap authenticated probe per host (it counts against the hourly budget)
    assert [(e.operation, e.status) for e in old.journal()] == [("version", 401)]
    assert [(e.operation, e.status) for e in new.journal()] == [("version", 200), ("count", 200)]
    assert ZoneCache(tmp_path / "zones.json", ttl=60).get(creds["username"], dead_lookup) == new.url


def test_async_client_follows_the_move(old: Any, new: Any, tmp_path: Path) -> None:
    creds = _creds(old)
    options = _options(tmp_path, old)

    async def scenario() -> tuple[int, int, str | None]:
        async with AsyncAutotaskClient(**creds, zones=options) as client:
            await client.raw_request("GET", "Version")
            assert client.api_url == old.url
            _move_tenant_away(old, new)
            # concurrent requests hit the 401 together; only one re-discovery happens
            counts = await asyncio.gather(*(client.companies.count() for _ in range(3)))
            assert len(set(counts)) == 1
            return counts[0], await client.tickets.count(), client.api_url

    companies, tickets, api_url = asyncio.run(scenario())
    assert companies > 0 and tickets > 0
    assert api_url == new.url
    assert len(_calls(old, "zone")) == 2  # the first discovery + exactly one re-discovery
    assert len([e for e in old.journal() if e.status == 401]) == 3


def test_explicit_api_url_never_rediscovers(old: Any, new: Any, tmp_path: Path) -> None:
    creds = _creds(old)
    _move_tenant_away(old, new)
    with (
        AutotaskClient(**creds, api_url=old.url, zones=_options(tmp_path, old)) as client,
        pytest.raises(AutotaskAuthError),
    ):
        client.companies.count()
    assert [e.operation for e in old.journal()] == ["count"]
    assert new.journal() == []
    assert not (tmp_path / "zones.json").exists()


def test_a_genuine_401_is_raised_after_one_lookup_then_cools_down(old: Any, tmp_path: Path) -> None:
    creds = dict(_creds(old), secret="wrong-secret-value")
    with AutotaskClient(**creds, zones=_options(tmp_path, old)) as client:
        for _ in range(3):
            with pytest.raises(AutotaskAuthError) as info:
                client.companies.count()
            assert "wrong-secret-value" not in str(info.value) + repr(info.value)
    # first discovery, then one fresh re-discovery that found the same zone; then the cool-down
    assert len(_calls(old, "zone")) == 2
    assert len(_calls(old, "count")) == 3
    data = json.loads((tmp_path / "zones.json").read_text())
    assert "wrong-secret-value" not in json.dumps(data)
