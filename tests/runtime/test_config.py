"""Credentials: env fallback, masking, api_url normalisation and zone discovery."""

from __future__ import annotations

import httpx
import pytest

from py_autotask import AutotaskClient
from py_autotask._config import Credentials, normalize_api_url
from py_autotask.exceptions import AutotaskConfigError, AutotaskConnectionError

from .conftest import INTEGRATION_CODE, SECRET, SECRETS, USERNAME, Recorder, json_response

EXPECTED = "https://webservices14.autotask.net/ATServicesRest/V1.0/"


@pytest.mark.parametrize(
    "given",
    [
        "https://webservices14.autotask.net",
        "https://webservices14.autotask.net/",
        "https://webservices14.autotask.net/ATServicesRest",
        "https://webservices14.autotask.net/ATServicesRest/",
        "https://webservices14.autotask.net/ATServicesRest/V1.0",
        "https://webservices14.autotask.net/atservicesrest/v1.0/",
        "https://WebServices14.AutoTask.net/ATServicesRest/V1.0/",
        "webservices14.autotask.net",
        "  https://webservices14.autotask.net/ATServicesRest/V1.0/  ",
    ],
)
def test_api_url_normalisation(given: str) -> None:
    assert normalize_api_url(given) == EXPECTED


def test_local_simulator_urls_keep_http_and_port() -> None:
    assert (
        normalize_api_url("http://127.0.0.1:8765") == "http://127.0.0.1:8765/ATServicesRest/V1.0/"
    )
    assert (
        normalize_api_url("http://localhost:9000/atservicesrest/v1.0")
        == "http://localhost:9000/ATServicesRest/V1.0/"
    )
    assert normalize_api_url("http://[::1]:9000") == "http://[::1]:9000/ATServicesRest/V1.0/"


@pytest.mark.parametrize(
    "bad",
    [
        "http://webservices14.autotask.net",  # https enforced off localhost
        "ftp://webservices14.autotask.net",
        "https://webservices14.autotask.net/ATServicesRest/V1.0/Tickets",
        "https://user:pw@webservices14.autotask.net",
        "https://webservices14.autotask.net/?x=1",
        "",
    ],
)
def test_bad_api_urls(bad: str) -> None:
    with pytest.raises(AutotaskConfigError):
        normalize_api_url(bad)


def test_credentials_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOTASK_USERNAME", USERNAME)
    monkeypatch.setenv("AUTOTASK_SECRET", SECRET + "\n")
    monkeypatch.setenv("AUTOTASK_INTEGRATION_CODE", INTEGRATION_CODE)
    monkeypatch.setenv("AUTOTASK_API_URL", "webservices5.autotask.net")
    creds = Credentials.resolve()
    assert creds.username == USERNAME
    assert creds.secret == SECRET
    assert creds.integration_code == INTEGRATION_CODE
    assert creds.api_url == "https://webservices5.autotask.net/ATServicesRest/V1.0/"
    # arguments win over the environment
    assert Credentials.resolve(username="other@example.com").username == "other@example.com"


def test_missing_credentials_name_every_gap() -> None:
    with pytest.raises(AutotaskConfigError) as info:
        Credentials.resolve(username=USERNAME)
    message = str(info.value)
    assert "AUTOTASK_SECRET" in message and "AUTOTASK_INTEGRATION_CODE" in message
    assert "AUTOTASK_USERNAME" not in message


def test_repr_and_str_never_show_secrets() -> None:
    creds = Credentials(USERNAME, SECRET, INTEGRATION_CODE, EXPECTED, impersonation_resource_id=7)
    for text in (repr(creds), str(creds), f"{creds}", repr([creds])):
        for value in SECRETS:
            assert value not in text
    assert "j***@example.com" in repr(creds)
    assert "<hidden>" in repr(creds)


def test_client_repr_never_shows_secrets() -> None:
    client = AutotaskClient(USERNAME, SECRET, INTEGRATION_CODE, EXPECTED)
    try:
        for text in (repr(client), str(client), repr(client.credentials)):
            for value in SECRETS:
                assert value not in text
    finally:
        client.close()


def test_auth_headers() -> None:
    creds = Credentials(USERNAME, SECRET, INTEGRATION_CODE, impersonation_resource_id=29682885)
    assert creds.auth_headers() == {
        "ApiIntegrationCode": INTEGRATION_CODE,
        "UserName": USERNAME,
        "Secret": SECRET,
        "ImpersonationResourceId": "29682885",
    }


@pytest.mark.parametrize("rid", [0, -1, True, "5"])
def test_bad_impersonation_id(rid: object) -> None:
    with pytest.raises(AutotaskConfigError):
        Credentials(USERNAME, SECRET, INTEGRATION_CODE, impersonation_resource_id=rid)  # type: ignore[arg-type]


def test_zone_discovery_runs_once_without_auth_headers() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "webservices.autotask.net":
            return json_response(
                200,
                {
                    "zoneName": "America East 2",
                    "url": "https://webservices14.autotask.net/ATServicesRest/",
                    "webUrl": "https://ww14.autotask.net/",
                    "ci": 12345,
                },
            )
        return json_response(200, {"item": {"id": 1}})

    rec = Recorder(handler)
    with AutotaskClient(
        USERNAME, SECRET, INTEGRATION_CODE, transport=httpx.MockTransport(rec)
    ) as client:
        assert client.api_url is None
        assert client.raw_request("GET", "Tickets/1") == {"item": {"id": 1}}
        assert client.raw_request("GET", "Tickets/1") == {"item": {"id": 1}}
        assert client.api_url == EXPECTED

    zone, first, _second = rec.requests
    assert zone.method == "GET"
    assert str(zone.url) == (
        "https://webservices.autotask.net/ATServicesRest/V1.0/zoneInformation"
        "?user=jane.doe%40example.com"
    )
    for header in ("ApiIntegrationCode", "UserName", "Secret"):
        assert header not in zone.headers
    assert str(first.url) == EXPECTED + "Tickets/1"
    assert first.headers["Secret"] == SECRET


def test_zone_discovery_failure_is_a_config_error_without_the_username() -> None:
    rec = Recorder().reply(
        json_response(500, {"errors": ["Zone information could not be determined"]})
    )
    with (
        AutotaskClient(
            USERNAME, SECRET, INTEGRATION_CODE, transport=httpx.MockTransport(rec)
        ) as client,
        pytest.raises(AutotaskConfigError) as info,
    ):
        client.raw_request("GET", "Version")
    assert "Zone information could not be determined" in str(info.value)
    assert "AUTOTASK_API_URL" in str(info.value)
    assert USERNAME not in str(info.value)


def test_zone_discovery_transport_failure() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"cannot reach {request.url}")

    with (
        AutotaskClient(
            USERNAME, SECRET, INTEGRATION_CODE, transport=httpx.MockTransport(handler)
        ) as client,
        pytest.raises(AutotaskConnectionError) as info,
    ):
        client.raw_request("GET", "Version")
    assert "jane.doe" not in str(info.value)
