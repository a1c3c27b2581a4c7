"""Routing and URL rules of the I/O-free core, without any transport."""

from __future__ import annotations

import json

import pytest

from py_autotask._config import Credentials
from py_autotask._core import (
    ApiRequest,
    ClientCore,
    create_request,
    delete_request,
    get_request,
    next_page_request,
    update_request,
)
from py_autotask._spec import EntitySpec, RouteSpec
from py_autotask.exceptions import AutotaskConfigError, AutotaskOperationNotSupportedError

from .conftest import BASE, INTEGRATION_CODE, SECRET, USERNAME

# An entity that is a child of two parents and has no root writes or root get.
CONTRACT_ROUTE = RouteSpec("Contracts", "Services", "contractID", frozenset({"create", "get"}))
COMPANY_ROUTE = RouteSpec("Companies", "Services", "companyID", frozenset({"create", "delete"}))
SERVICES = EntitySpec(
    name="ContractServices",
    singular="ContractService",
    root_operations=frozenset({"query"}),
    parent_routes=(CONTRACT_ROUTE, COMPANY_ROUTE),
)


def core() -> ClientCore:
    return ClientCore(Credentials(USERNAME, SECRET, INTEGRATION_CODE, BASE))


def test_get_falls_back_to_the_parent_route_when_the_root_has_no_get() -> None:
    req = get_request(SERVICES, 5, parent_id=3)
    assert (req.method, req.path) == ("GET", "Contracts/3/Services/5")
    with pytest.raises(AutotaskConfigError, match=r"Contracts/\{parentId\}/Services"):
        get_request(SERVICES, 5)


def test_write_route_is_chosen_from_the_parent_id_field_present() -> None:
    by_contract = create_request(SERVICES, {"contractID": 7, "x": 1})
    by_company = create_request(SERVICES, {"companyID": 8, "x": 1})
    assert by_contract.path == "Contracts/7/Services"
    assert by_company.path == "Companies/8/Services"
    assert by_contract.json == {"contractID": 7, "x": 1}


def test_ambiguous_explicit_parent_id_needs_a_parent_name() -> None:
    with pytest.raises(AutotaskConfigError, match="ambiguous"):
        create_request(SERVICES, {"x": 1}, parent_id=4)
    assert create_request(SERVICES, {"x": 1}, parent_id=4, parent="companies").path == (
        "Companies/4/Services"
    )
    assert create_request(SERVICES, {"companyID": 4}, parent_id=4).path == "Companies/4/Services"


def test_missing_parent_lists_every_route_and_field() -> None:
    with pytest.raises(AutotaskConfigError) as info:
        create_request(SERVICES, {"x": 1})
    message = str(info.value)
    assert "ContractServices" in message
    assert "Contracts/{parentId}/Services (field 'contractID')" in message
    assert "Companies/{parentId}/Services (field 'companyID')" in message


def test_delete_uses_the_only_route_that_supports_it() -> None:
    req = delete_request(SERVICES, 9, parent_id=2)
    assert (req.method, req.path) == ("DELETE", "Companies/2/Services/9")


def test_unsupported_operations() -> None:
    with pytest.raises(AutotaskOperationNotSupportedError) as info:
        update_request(SERVICES, {"id": 1, "contractID": 2})
    assert "ContractServices does not support 'update'" in str(info.value)
    assert "query at ContractServices" in str(info.value)
    assert "create, get at Contracts/{parentId}/Services" in str(info.value)
    with pytest.raises(AutotaskOperationNotSupportedError):
        create_request(SERVICES, {"x": 1}, parent_id=1, parent="Tickets")


@pytest.mark.parametrize("bad", [True, "5", 1.0, -1, None])
def test_ids_must_be_integers(bad: object) -> None:
    with pytest.raises(AutotaskConfigError):
        get_request(SERVICES, bad, parent_id=1)  # type: ignore[arg-type]
    with pytest.raises(AutotaskConfigError):
        create_request(SERVICES, {"contractID": bad})


def test_field_names_are_matched_case_insensitively() -> None:
    assert create_request(SERVICES, {"CONTRACTID": 7}).path == "Contracts/7/Services"


def test_next_page_request_shapes() -> None:
    url = BASE + "Tickets/query/next?paging=abc"
    body = {"filter": [{"op": "gte", "field": "id", "value": 0}]}
    post = next_page_request("Tickets", url, body)
    assert (post.method, post.path, post.json, post.operation) == ("POST", url, body, "next")
    get = next_page_request("Tickets", url, body, "GET")
    assert (get.method, get.json) == ("GET", None)
    assert next_page_request("Tickets", url, None).method == "GET"
    with pytest.raises(AutotaskConfigError):
        next_page_request("Tickets", url, body, "PUT")  # type: ignore[arg-type]


def test_prepare_builds_url_headers_and_compact_json() -> None:
    prepared = core().prepare(
        ApiRequest("POST", "/Tickets/query", json={"filter": [], "t": "é"}, params={"a": "b c"})
    )
    assert prepared.url == BASE + "Tickets/query?a=b+c"
    assert prepared.headers["Content-Type"] == "application/json"
    assert prepared.headers["ApiIntegrationCode"] == INTEGRATION_CODE
    assert prepared.content is not None
    assert json.loads(prepared.content) == {"filter": [], "t": "é"}
    assert b" " not in prepared.content


def test_absolute_urls_same_origin_kept_foreign_rebased_or_refused() -> None:
    c = core()
    same = "https://WEBSERVICES14.autotask.net/ATServicesRest/V1.0/Tickets/query/next?paging=1"
    assert c.resolve_url(same) == same
    assert (
        c.resolve_url("http://10.0.0.5/atservicesrest/v1.0/Tickets/query/next?paging=1")
        == BASE + "Tickets/query/next?paging=1"
    )
    with pytest.raises(AutotaskConfigError, match="refusing"):
        c.resolve_url("https://attacker.example/collect")


def test_base_url_must_be_known() -> None:
    c = ClientCore(Credentials(USERNAME, SECRET, INTEGRATION_CODE))
    with pytest.raises(AutotaskConfigError, match="zone discovery"):
        c.prepare(ApiRequest("GET", "Tickets/1"))
