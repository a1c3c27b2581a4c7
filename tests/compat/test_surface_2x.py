"""The py-autotask 2.x public surface against the simulator (real sockets): what keeps working
unchanged, and what warns (a real DeprecationWarning naming the replacement) because its
behaviour had to change."""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Iterator

import pytest

from py_autotask import AsyncAutotaskClient, AutotaskClient, F
from py_autotask.exceptions import (
    AutotaskAPIError,
    AutotaskAuthError,
    AutotaskRateLimitError,
    AutotaskValidationError,
)
from py_autotask.simulator import Simulator
from py_autotask.types import RequestConfig

from .conftest import (
    README_INTEGRATION_CODE,
    README_SECRET,
    README_USERNAME,
    TICKET_TITLE,
    client_kwargs,
)

pytestmark = pytest.mark.xdist_group("compat-surface")


@pytest.fixture
def client(readme_sim: Simulator) -> Iterator[AutotaskClient]:
    with AutotaskClient.create(
        username=README_USERNAME,
        integration_code=README_INTEGRATION_CODE,
        secret=README_SECRET,
        api_url=readme_sim.url,
    ) as c:
        yield c


def test_create_and_get_read_like_2x_without_warnings(readme_sim: Simulator) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        client = AutotaskClient.create(
            username=README_USERNAME,
            integration_code=README_INTEGRATION_CODE,
            secret=README_SECRET,
            api_url=readme_sim.url,
        )
        ticket = client.tickets.get(12345)
        assert ticket is not None
        assert ticket["title"] == ticket.title == TICKET_TITLE
        assert ticket["companyID"] == 12345
        client.close()


def test_from_env(readme_env: dict[str, str]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with AutotaskClient.from_env() as client:
            assert client.api_url == readme_env["AUTOTASK_API_URL"]
            assert client.tickets.get(12345) is not None


def test_string_boolean_is_converted_with_a_warning(client: AutotaskClient) -> None:
    with pytest.warns(DeprecationWarning, match=r"isActive is a boolean field.*pass True"):
        page = client.companies.query(
            {"filter": [{"op": "eq", "field": "isActive", "value": "true"}]}
        )
    expected = client.companies.query_all(F("isActive").eq(True))
    assert sorted(c.id for c in page.items) == sorted(c.id for c in expected)
    assert page.items and all(c["isActive"] is True for c in page.items)
    with pytest.warns(DeprecationWarning, match="boolean field"):
        inactive = client.companies.query_all({"field": "isActive", "op": "eq", "value": "false"})
    assert {c.id for c in inactive} == {
        c.id for c in client.companies.query_all(F("isActive").eq(False))
    }


@pytest.mark.parametrize(
    ("legacy", "new", "warning"),
    [
        ({"status": 1}, F("status").eq(1), r"F\('status'\)\.eq\(1\)"),
        ({"id": {"gte": 3}}, F("id").gte(3), "dict of field -> value"),
        ({"id": [1, 2, 5]}, F("id").in_([1, 2, 5]), "dict of field -> value"),
        ([{"op": "ne", "field": "status", "value": 1}], F("status").noteq(1), "'noteq'"),
        ({"op": "isNull", "field": "dueDateTime"}, F("dueDateTime").not_exist(), "not_exist"),
        ({"op": "isNotNull", "field": "dueDateTime"}, F("dueDateTime").exist(), r"exist\(\)"),
        (
            {"op": "between", "field": "id", "value": [3, 9]},
            F("id").gte(3) & F("id").lte(9),
            "not an Autotask operator",
        ),
    ],
)
def test_2x_filter_forms(client: AutotaskClient, legacy: object, new: F, warning: str) -> None:
    with pytest.warns(DeprecationWarning, match=warning):
        got = client.tickets.query_all(legacy)  # type: ignore[arg-type]
    assert got, "the filter should match seeded tickets"
    assert [t.id for t in got] == [t.id for t in client.tickets.query_all(new)]  # type: ignore[arg-type]
    with pytest.warns(DeprecationWarning):
        assert client.tickets.count(legacy) == len(got)  # type: ignore[arg-type]


def test_picklist_labels_are_left_to_autotask_or_the_validation_layer(
    client: AutotaskClient,
) -> None:
    with pytest.warns(DeprecationWarning, match="dict of field -> value"):
        with pytest.raises(AutotaskValidationError, match="'open'"):
            client.tickets.query({"status": "open"})


def test_contacts_create(readme_sim: Simulator, client: AutotaskClient) -> None:
    new_id = client.contacts.create(
        {
            "firstName": "Ada",
            "lastName": "Lovelace",
            "emailAddress": "ada@example.com",
            "companyID": 12345,
            "isActive": 1,
        }
    )
    contact = client.contacts.get(new_id)
    assert contact is not None and contact["companyID"] == 12345
    assert contact["emailAddress"] == "ada@example.com"
    assert isinstance(new_id, int) and repr(new_id) == str(int(new_id))
    # 2.x returned a CreateResponse; its .item_id / ["itemId"] still work, with a warning.
    with pytest.warns(DeprecationWarning, match=r"use the value itself instead of \.item_id"):
        assert new_id.item_id == contact.id  # type: ignore[attr-defined]
    with pytest.warns(DeprecationWarning, match=r"instead of \['itemId'\]"):
        assert new_id["itemId"] == contact.id  # type: ignore[index]
    note_id = client.tickets.notes(12345).create(
        {"title": "t", "description": "d", "noteType": 1, "publish": 1}
    )
    with pytest.warns(DeprecationWarning, match="item_id"):
        assert note_id.item_id == note_id  # type: ignore[attr-defined]


def test_api_error_keeps_autotasks_message(client: AutotaskClient) -> None:
    with pytest.raises(AutotaskAPIError) as caught:
        client.contacts.create({"firstName": "No", "lastName": "Flag", "companyID": 12345})
    assert caught.value.message == "Missing Required Field: isActive."


def test_auth_error(readme_sim: Simulator) -> None:
    client = AutotaskClient.create(
        username=README_USERNAME,
        integration_code=README_INTEGRATION_CODE,
        secret="not-the-secret",
        api_url=readme_sim.url,
    )
    with pytest.raises(AutotaskAuthError):
        client.tickets.get(12345)


def test_rate_limit_error_has_retry_after() -> None:
    with Simulator(profile=None, hourly_threshold=50, retry_after_seconds=7) as sim:
        sim.preload_threshold(50)
        from py_autotask.resilience import RetryConfig

        client = AutotaskClient(retry_config=RetryConfig(max_retries=0), **client_kwargs(sim))
        with pytest.raises(AutotaskRateLimitError) as caught:
            client.tickets.get(1)
        assert caught.value.retry_after is not None and caught.value.retry_after > 0
        client.close()


def test_request_config_maps_onto_timeout_and_retries(readme_sim: Simulator) -> None:
    with pytest.warns(
        DeprecationWarning, match=r"retry_config=py_autotask\.resilience\.RetryConfig"
    ):
        no_retry = AutotaskClient.create(
            username=README_USERNAME,
            integration_code=README_INTEGRATION_CODE,
            secret=README_SECRET,
            api_url=readme_sim.url,
            config=RequestConfig(timeout=7, max_retries=0, retry_delay=0.01),
        )
    assert no_retry._http.timeout.read == 7
    readme_sim.add_fault(match={"entity": "Tickets"}, effect=503, count=1)
    with pytest.raises(AutotaskAPIError):
        no_retry.tickets.get(12345)
    with pytest.warns(DeprecationWarning):
        retrying = AutotaskClient.create(
            username=README_USERNAME,
            integration_code=README_INTEGRATION_CODE,
            secret=README_SECRET,
            api_url=readme_sim.url,
            config=RequestConfig(max_retries=2, retry_delay=0.01),
        )
    readme_sim.add_fault(match={"entity": "Tickets"}, effect=503, count=2)
    ticket = retrying.tickets.get(12345)
    assert ticket is not None and ticket.title == TICKET_TITLE
    no_retry.close()
    retrying.close()


def test_query_all_returns_every_record() -> None:
    with Simulator(profile="tiny", counts={"Tickets": 1234}) as sim:
        with AutotaskClient(**client_kwargs(sim)) as client:
            tickets = client.tickets.query_all()
            assert len(tickets) == client.tickets.count() == 1234
            assert len({t.id for t in tickets}) == 1234


def test_async_create_with_query_async(readme_sim: Simulator) -> None:
    async def main() -> tuple[list[int], list[int]]:
        async with AsyncAutotaskClient.create(
            username=README_USERNAME,
            integration_code=README_INTEGRATION_CODE,
            secret=README_SECRET,
            api_url=readme_sim.url,
        ) as client:
            with pytest.warns(DeprecationWarning, match="dict of field -> value"):
                page = await client.tickets.query_async({"companyID": 12345})
            new = await client.tickets.query(F("companyID").eq(12345))
            return [t.id for t in page.items], [t.id for t in new.items]

    legacy_ids, new_ids = asyncio.run(main())
    assert legacy_ids == new_ids and 12345 in legacy_ids


def test_plan_sketch_dict_filter_with_picklist_labels(readme_sim: Simulator) -> None:
    """``await client.tickets.query_async({"status": <label>})``: the dict becomes an eq filter
    (warned), and the validation layer maps the tenant's label to its value."""
    from py_autotask.exceptions import AutotaskInputError
    from py_autotask.validation import ValidationConfig

    async def main() -> tuple[list[int], list[int]]:
        async with AsyncAutotaskClient(
            **client_kwargs(readme_sim), validation_config=ValidationConfig()
        ) as client:
            with pytest.warns(DeprecationWarning, match=r"F\('status'\)\.eq\('New'\)"):
                by_label = await client.tickets.query_async({"status": "New"})
            by_value = await client.tickets.query(F("status").eq(1))
            with (
                pytest.warns(DeprecationWarning),
                pytest.raises(AutotaskInputError, match="unknown label 'open'"),
            ):
                await client.tickets.query_async({"status": "open"})
            return [t.id for t in by_label.items], [t.id for t in by_value.items]

    labelled, valued = asyncio.run(main())
    assert labelled == valued and labelled


def test_create_takes_2x_credentials_objects(readme_sim: Simulator) -> None:
    from py_autotask.types import AuthCredentials

    credentials = AuthCredentials(
        username=README_USERNAME,
        integration_code=README_INTEGRATION_CODE,
        secret=README_SECRET,
        api_url=readme_sim.url,
    )
    assert README_SECRET not in repr(credentials)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with AutotaskClient.create(credentials) as client:
            ticket = client.tickets.get(12345)
    assert ticket is not None and ticket.title == TICKET_TITLE


def test_2x_positional_constructor_warns_and_works(readme_sim: Simulator) -> None:
    from py_autotask.auth import AutotaskAuth
    from py_autotask.types import AuthCredentials

    auth = AutotaskAuth(
        AuthCredentials(
            username=README_USERNAME,
            integration_code=README_INTEGRATION_CODE,
            secret=README_SECRET,
            api_url=readme_sim.url,
        )
    )
    with pytest.warns(
        DeprecationWarning, match=r"AutotaskClient\(auth, config\) is the py-autotask 2\.x"
    ):
        client = AutotaskClient(auth)  # type: ignore[arg-type]
    with client:
        assert client.api_url == readme_sim.url
        assert client.tickets.get(12345) is not None
