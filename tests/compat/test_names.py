"""Names on the clients: SOAP-era / 2.x spellings of real collections keep working with a
DeprecationWarning naming the replacement; the names py-autotask 2.x invented fail with an error
that is both an AttributeError and an AutotaskError and says what to use instead."""

from __future__ import annotations

import asyncio
import pickle
import re
from collections.abc import Iterator

import pytest
from py_autotask_generated.entities import ATTRIBUTES, resolve_name

from py_autotask import AsyncAutotaskClient, AutotaskClient
from py_autotask.compat import NOT_REST_ENTITIES_2X, resolve_legacy_name
from py_autotask.exceptions import AutotaskError, AutotaskUnknownEntityError
from py_autotask.simulator import Simulator

from .conftest import client_kwargs

pytestmark = pytest.mark.xdist_group("compat-names")

SOAP_ALIASES = {
    "accounts": "companies",
    "installed_products": "configuration_items",
    "allocation_codes": "billing_codes",
    "business_divisions": "organizational_level1s",
    "ticket_costs": "ticket_charges",
    "project_costs": "project_charges",
}


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(profile="tiny", seed=42) as s:
        yield s


@pytest.fixture(scope="module")
def client(sim: Simulator) -> Iterator[AutotaskClient]:
    with AutotaskClient(**client_kwargs(sim)) as c:
        yield c


def test_the_2x_names_are_still_not_rest_collections() -> None:
    # If Autotask (schemas/) gains one of them, it must leave this list and become a real name.
    assert len(NOT_REST_ENTITIES_2X) == 50
    for name in NOT_REST_ENTITIES_2X:
        assert name not in ATTRIBUTES
        assert resolve_name(name) is None
        assert resolve_legacy_name(name).attribute is None


def test_alternatives_name_real_collections(client: AutotaskClient) -> None:
    for name, alternative in NOT_REST_ENTITIES_2X.items():
        for mentioned in re.findall(r"client\.([a-z0-9_]+)", alternative or ""):
            assert mentioned in ATTRIBUTES or hasattr(type(client), mentioned), (name, mentioned)
    # Child routes named in alternatives exist too.
    assert callable(client.tickets.attachments) and callable(client.companies.attachments)


# The client has a feature under some of these names (client.attachments: upload/download
# through parent routes); only names that reach __getattr__ raise.
@pytest.mark.parametrize(
    "name", sorted(n for n in NOT_REST_ENTITIES_2X if not hasattr(AutotaskClient, n))
)
def test_invented_2x_names_raise_a_helpful_error(client: AutotaskClient, name: str) -> None:
    with pytest.raises(AutotaskUnknownEntityError) as caught:
        getattr(client, name)
    error = caught.value
    assert isinstance(error, AttributeError) and isinstance(error, AutotaskError)
    assert error.name == name
    text = str(error)
    assert f"client.{name} does not exist" in text
    assert "Nearest real collections: client." in text
    assert all(s in ATTRIBUTES for s in error.suggestions) and error.suggestions
    alternative = NOT_REST_ENTITIES_2X[name]
    if alternative:
        assert alternative in text and error.alternative == alternative
    else:
        assert "nothing equivalent" in text
    assert not hasattr(client, name)
    assert getattr(client, name, "default") == "default"
    # The 2.x entity manager says the same.
    with pytest.raises(AutotaskUnknownEntityError, match=f"client.{name} does not exist"):
        getattr(client.entities, name)


def test_examples_of_alternatives(client: AutotaskClient) -> None:
    with pytest.raises(AttributeError, match=r"project phases are client\.phases"):
        client.project_phases  # noqa: B018
    with pytest.raises(
        AttributeError, match=r"client\.raw_request\('GET', 'ThresholdInformation'\)"
    ):
        client.system_health  # noqa: B018
    with pytest.raises(AttributeError, match=r"Nearest real collections: client\.tickets"):
        client.tikets  # noqa: B018


@pytest.mark.parametrize(("legacy", "real"), sorted(SOAP_ALIASES.items()))
def test_soap_era_names_work_with_a_warning(client: AutotaskClient, legacy: str, real: str) -> None:
    with pytest.warns(DeprecationWarning, match=rf"use client\.{real} ") as record:
        entity = getattr(client, legacy)
    assert entity is getattr(client, real)
    assert record[0].filename == __file__  # attributed to the caller's line
    with pytest.warns(DeprecationWarning, match=rf"use client\.{real} "):
        via_manager = getattr(client.entities, legacy)
    assert via_manager is entity


def test_soap_alias_reads_real_records(client: AutotaskClient) -> None:
    with pytest.warns(DeprecationWarning, match="SOAP-era entity 'Account'"):
        accounts = client.accounts.query_all()
    assert [a.id for a in accounts] == [c.id for c in client.companies.query_all()]
    with pytest.warns(DeprecationWarning, match="SOAP-era entity 'InstalledProduct'"):
        assert client.installed_products.count() == client.configuration_items.count() > 0


def test_entity_manager_and_get_entity(client: AutotaskClient) -> None:
    assert client.entities.tickets is client.tickets
    assert client.entities.get_entity("Tickets") is client.tickets
    with pytest.warns(DeprecationWarning, match="use client.companies"):
        assert client.entities.get_entity("Accounts") is client.companies


def test_private_names_raise_plain_attribute_errors(client: AutotaskClient) -> None:
    with pytest.raises(AttributeError) as caught:
        client._no_such_thing  # noqa: B018
    assert not isinstance(caught.value, AutotaskError)


def test_error_pickles() -> None:
    resolution = resolve_legacy_name("dashboards")
    error = AutotaskUnknownEntityError(
        resolution.message, name="dashboards", suggestions=["tickets"], alternative=None
    )
    copy = pickle.loads(pickle.dumps(error))
    assert str(copy) == str(error) and copy.name == "dashboards" and copy.suggestions == ["tickets"]


def test_async_client_resolves_the_same_names(sim: Simulator) -> None:
    async def main() -> None:
        async with AsyncAutotaskClient(**client_kwargs(sim)) as client:
            with pytest.warns(DeprecationWarning, match="use client.companies"):
                accounts = client.accounts
            assert accounts is client.companies
            assert len(await accounts.query_all()) > 0
            with pytest.raises(AutotaskUnknownEntityError, match="no Analytics entity"):
                client.analytics  # noqa: B018

    asyncio.run(main())


@pytest.mark.parametrize(
    ("method", "hint"),
    [
        ("get", r"client\.tickets\.get\(12345\)"),
        ("query", r"client\.<collection>\.query\(filter\)"),
        ("update", "PATCH on the collection"),
        ("create_child_entity", r"client\.tickets\.notes\(12345\)\.create"),
        ("batch_create", "no batch endpoint"),
    ],
)
def test_2x_client_methods_say_what_replaced_them(
    client: AutotaskClient, method: str, hint: str
) -> None:
    with pytest.raises(AutotaskUnknownEntityError, match=hint) as caught:
        getattr(client, method)
    assert f"client.{method} was a py-autotask 2.x client method" in str(caught.value)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("AutotaskTimeoutError", "AutotaskConnectionError"),
        ("AutotaskZoneError", "AutotaskConnectionError"),
        ("AutotaskConfigurationError", "AutotaskConfigError"),
    ],
)
def test_2x_exception_names_import_with_a_warning(old: str, new: str) -> None:
    import py_autotask.exceptions as exceptions

    with pytest.warns(DeprecationWarning, match=f"use {new}") as record:
        cls = getattr(exceptions, old)
    assert cls is getattr(exceptions, new)
    assert record[0].filename == __file__
    with pytest.raises(AttributeError):
        exceptions.NoSuchError  # type: ignore[attr-defined]  # noqa: B018


def test_collections_explain_missing_methods(client: AutotaskClient) -> None:
    with pytest.raises(
        AttributeError, match=r"Tickets\.batch_create was a py-autotask 2\.x method"
    ):
        client.tickets.batch_create  # type: ignore[attr-defined]  # noqa: B018
    with pytest.raises(AttributeError, match=r"update\(\{'id': id"):
        client.tickets.update_by_id  # type: ignore[attr-defined]  # noqa: B018
    # Autotask cannot delete tickets: the error says so and lists what the collection has.
    with pytest.raises(AttributeError, match="does not support delete on Tickets") as caught:
        client.tickets.delete  # type: ignore[attr-defined]  # noqa: B018
    assert "query_all" in str(caught.value)
    assert not hasattr(client.tickets, "delete")
    assert hasattr(client.ticket_notes, "get")
