"""SOAP-era entity and field names work with a DeprecationWarning naming the REST replacement;
the current API emits no warnings at all."""

from __future__ import annotations

import warnings
from typing import Any

import pytest

from py_autotask import F
from py_autotask.exceptions import AutotaskInputError
from py_autotask.validation import ValidationConfig

from .conftest import Wire

pytestmark = pytest.mark.xdist_group("validation")


@pytest.mark.parametrize("config", [None, ValidationConfig()], ids=["plain", "validating"])
def test_soap_field_names_in_bodies(make_client: Any, wire: Wire, config: Any) -> None:
    client = make_client(config)
    ticket = client.tickets.query(max_records=1).items[0]
    company_id = client.companies.query(max_records=1).items[0].id
    with pytest.warns(
        DeprecationWarning, match=r"'accountID' is the SOAP-era name; use 'companyID'"
    ) as record:
        client.tickets.update({"id": ticket.id, "accountID": company_id})
    assert record[0].filename == __file__  # attributed to the caller's line
    assert wire.bodies("PATCH")[-1] == {"id": ticket.id, "companyID": company_id}
    with pytest.warns(DeprecationWarning, match="'billingCodeID'"):
        client.tickets.update({"id": ticket.id, "AllocationCodeID": None})
    assert wire.bodies("PATCH")[-1] == {"id": ticket.id, "billingCodeID": None}


def test_soap_field_names_in_filters_and_include_fields(make_client: Any, wire: Wire) -> None:
    client = make_client()
    company_id = client.tickets.query(max_records=1).items[0].company_id
    with pytest.warns(
        DeprecationWarning, match="'AccountID' is the SOAP-era name; use 'companyID'"
    ):
        page = client.tickets.query(F("AccountID").eq(company_id), include_fields=["AccountID"])
    sent = wire.bodies("POST", "/query")[-1]
    assert sent["filter"] == [{"op": "eq", "field": "companyID", "value": company_id}]
    assert "AccountID" not in str(sent) and "companyID" in str(sent["IncludeFields"])
    assert page.items and all(t.company_id == company_id for t in page.items)


def test_alias_given_twice_is_an_error(make_client: Any, wire: Wire) -> None:
    client = make_client(ValidationConfig())
    with pytest.warns(DeprecationWarning), pytest.raises(AutotaskInputError, match="given twice"):
        client.tickets.update({"id": 1, "companyID": 0, "AccountID": 0})
    assert wire.writes() == []


def test_soap_entity_names_on_the_client(make_client: Any) -> None:
    client = make_client()
    with pytest.warns(DeprecationWarning, match="companies"):
        accounts = client.accounts
    assert accounts is client.companies
    with pytest.warns(DeprecationWarning, match="configuration_items"):
        assert client.installed_products is client.configuration_items


def test_the_current_api_emits_no_warnings(make_client: Any, wire: Wire) -> None:
    client = make_client(ValidationConfig())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        company_id = client.companies.query(max_records=1).items[0].id
        ticket_id = client.tickets.create(
            {"title": "quiet", "status": "New", "priority": 1, "companyID": company_id}
        )
        client.tickets.update({"id": ticket_id, "companyID": company_id, "status": "Complete"})
        client.tickets.query(F("companyID").eq(company_id), include_fields=["companyID"])
        client.tickets.notes(ticket_id).create(
            {"title": "n", "description": "d", "noteType": 1, "publish": 1}
        )
        assert client.picklists.label("Tickets", "status", 1) == "New"
    assert len(wire.writes()) == 3
