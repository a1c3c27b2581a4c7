"""Zone cache, safety rules and probing, with exact wire checks through ``httpx.MockTransport``."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import httpx
import pytest

from py_autotask import AutotaskClient
from py_autotask._zones import (
    KNOWN_ZONE_HOSTS,
    ZoneCache,
    ZoneOptions,
    default_zone_cache_path,
)
from py_autotask.exceptions import AutotaskConfigError, AutotaskConnectionError
from tests.runtime.conftest import (
    INTEGRATION_CODE,
    SECRET,
    SECRETS,
    USERNAME,
    Recorder,
    json_response,
)

WS14 = "https://webservices14.autotask.net/ATServicesRest/V1.0/"
WS5 = "https://webservices5.autotask.net/ATServicesRest/V1.0/"


def _zone(url: str) -> httpx.Response:
    return json_response(200, {"zoneName": "Z", "url": url, "webUrl": "https://ww.x/", "ci": 1})


def test_cache_ttl_hashing_and_file_hygiene(tmp_path: Path) -> None:
    now = [1_000_000.0]
    path = tmp_path / "sub" / "zones.json"
    cache = ZoneCache(path, ttl=100, clock=lambda: now[0])
    assert cache.get(USERNAME, "https://lookup") is None  # no file yet
    cache.put(USERNAME, "https://lookup", WS14)
    assert cache.get(USERNAME, "https://lookup") == WS14
    assert cache.get(USERNAME.upper(), "https://lookup") == WS14  # user names are case-insensitive
    assert cache.get(USERNAME, "https://other-lookup") is None  # keyed by lookup URL too
    text = path.read_text()
    assert USERNAME not in text and "jane" not in text
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert not [p for p in path.parent.iterdir() if p.name != "zones.json"]  # no temp files left
    now[0] += 101
    assert cache.get(USERNAME, "https://lookup") is None  # expired
    cache.put("other@example.com", "https://lookup", WS5)  # rewriting drops expired entries
    assert len(json.loads(path.read_text())["zones"]) == 1
    path.write_text("{not json")
    assert cache.get("other@example.com", "https://lookup") is None  # corrupt file = empty cache
    path.write_text(
        json.dumps(
            {
                "format": 1,
                "zones": {
                    ZoneCache.key(USERNAME, "https://lookup"): {
                        "apiUrl": "http://evil.example/",
                        "storedAt": now[0],
                    }
                },
            }
        )
    )
    assert cache.get(USERNAME, "https://lookup") is None  # an http URL for a real host is ignored


def test_default_cache_path_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_zone_cache_path() == tmp_path / "py-autotask" / "zones.json"
    monkeypatch.delenv("PY_AUTOTASK_ZONE_CACHE")
    assert ZoneOptions().resolved_cache_path() == tmp_path / "py-autotask" / "zones.json"
    monkeypatch.setenv("PY_AUTOTASK_ZONE_CACHE", "off")
    assert ZoneOptions().resolved_cache_path() is None
    assert ZoneOptions(cache=False, cache_path=tmp_path / "z.json").resolved_cache_path() is None


def test_second_client_uses_the_cache_without_a_lookup() -> None:
    rec = Recorder(
        lambda r: (
            _zone("https://webservices14.autotask.net/ATServicesRest/")
            if r.url.path.endswith("zoneInformation")
            else json_response(200, {"queryCount": 3})
        )
    )
    for _ in range(2):
        with AutotaskClient(
            USERNAME, SECRET, INTEGRATION_CODE, transport=httpx.MockTransport(rec)
        ) as client:
            assert client.raw_request("GET", "Tickets/query/count", params={"search": "{}"})
    assert [r.url.host for r in rec.requests] == [
        "webservices.autotask.net",
        "webservices14.autotask.net",
        "webservices14.autotask.net",
    ]


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ("http://webservices14.autotask.net/ATServicesRest/", "http"),
        ("https://collector.evil.example/ATServicesRest/", "outside autotask.net"),
    ],
)
def test_discovery_never_downgrades_or_leaves_autotask(answer: str, message: str) -> None:
    rec = Recorder().reply(_zone(answer))
    with (
        AutotaskClient(USERNAME, SECRET, INTEGRATION_CODE, transport=httpx.MockTransport(rec)) as c,
        pytest.raises(AutotaskConfigError, match=message),
    ):
        c.raw_request("GET", "Version")
    assert len(rec.requests) == 1  # nothing was sent with credentials


def test_lookup_url_must_be_https_unless_loopback() -> None:
    with pytest.raises(AutotaskConfigError, match="https"):
        ZoneOptions(
            lookup_url="http://webservices.autotask.net/ATServicesRest/V1.0/zoneInformation"
        )
    ZoneOptions(lookup_url="http://127.0.0.1:9/ATServicesRest/V1.0/zoneInformation")
    with pytest.raises(AutotaskConfigError, match="https"):
        ZoneOptions(probe_hosts=["http://webservices3.autotask.net"])


def test_probing_the_default_zone_table_in_parallel() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "webservices.autotask.net":
            raise httpx.ConnectError("name resolution failed", request=request)
        assert request.url.path == "/ATServicesRest/V1.0/Version"
        assert request.headers["Secret"] == SECRET
        if request.url.host == "webservices14.autotask.net":
            return json_response(200, {"majorVersion": "2026"})
        return json_response(401, {"errors": ["Unauthorized"]})

    rec = Recorder(handler)
    with AutotaskClient(
        USERNAME, SECRET, INTEGRATION_CODE, transport=httpx.MockTransport(rec)
    ) as client:
        client.raw_request("GET", "Version")
        assert client.api_url == WS14
    probed = {r.url.host for r in rec.requests if r.url.host != "webservices.autotask.net"}
    assert "webservices14.autotask.net" in probed
    assert probed <= set(KNOWN_ZONE_HOSTS)


def test_nothing_reachable_raises_without_secrets() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"cannot reach {request.url}", request=request)

    with (
        AutotaskClient(
            USERNAME,
            SECRET,
            INTEGRATION_CODE,
            transport=httpx.MockTransport(handler),
            zones=ZoneOptions(probe_hosts=["webservices3.autotask.net"]),
        ) as client,
        pytest.raises(AutotaskConnectionError, match="probed 1 zone host") as info,
    ):
        client.raw_request("GET", "Version")
    for value in SECRETS:
        assert value not in str(info.value) + repr(info.value)


def test_a_json_zone_error_is_not_probed() -> None:
    rec = Recorder().reply(json_response(500, {"errors": ["Zone information could not be found"]}))
    with (
        AutotaskClient(USERNAME, SECRET, INTEGRATION_CODE, transport=httpx.MockTransport(rec)) as c,
        pytest.raises(AutotaskConfigError, match="could not be found"),
    ):
        c.raw_request("GET", "Version")
    assert len(rec.requests) == 1


def test_iis_html_404_on_the_cached_zone_follows_the_move() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("zoneInformation"):
            return _zone("https://webservices5.autotask.net/ATServicesRest/")
        if request.url.host == "webservices14.autotask.net":
            return httpx.Response(
                404,
                content=b"<html><title>404 - File or directory not found.</title></html>",
                headers={"content-type": "text/html"},
            )
        return json_response(200, {"item": {"id": 9}})

    ZoneCache(os.environ["PY_AUTOTASK_ZONE_CACHE"], ttl=3600).put(
        USERNAME, ZoneOptions().lookup_url, WS14
    )
    rec = Recorder(handler)
    with AutotaskClient(
        USERNAME, SECRET, INTEGRATION_CODE, transport=httpx.MockTransport(rec)
    ) as client:
        assert client.raw_request("GET", "Tickets/9") == {"item": {"id": 9}}
        assert client.api_url == WS5
    assert [(r.url.host, r.url.path.rsplit("/", 1)[-1]) for r in rec.requests] == [
        ("webservices14.autotask.net", "9"),
        ("webservices.autotask.net", "zoneInformation"),
        ("webservices5.autotask.net", "9"),
    ]
