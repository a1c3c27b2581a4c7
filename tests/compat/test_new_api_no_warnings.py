"""The compatibility layer is silent on the new API: a representative session runs under
``warnings.simplefilter("error")``, so any warning the library emits fails it."""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Iterator

import pytest
from py_autotask_generated.entities import ATTRIBUTES

from py_autotask import AsyncAutotaskClient, AutotaskClient, F
from py_autotask.simulator import Simulator

from .conftest import client_kwargs

pytestmark = pytest.mark.xdist_group("compat-new-api")


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(profile="tiny", seed=42) as s:
        yield s


def test_sync_session_emits_no_warnings(sim: Simulator) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with AutotaskClient(**client_kwargs(sim)) as client:
            for attribute in ATTRIBUTES:
                getattr(client, attribute)
            company = client.companies.query(F("isActive").eq(True), max_records=1).items[0]
            assert client.companies.get(company.id) is not None
            contact_id = client.contacts.create(
                {"firstName": "New", "lastName": "Api", "companyID": company.id, "isActive": 1}
            )
            client.contacts.update({"id": contact_id, "companyID": company.id, "title": "CTO"})
            contact = client.contacts.get(contact_id)
            assert contact is not None and contact.title == "CTO"
            tickets = client.tickets.query_all(F("status").noteq(5) | F("priority").lte(2))
            assert len(tickets) == client.tickets.count(F("status").noteq(5) | F("priority").lte(2))
            assert [t.id for t in client.tickets.query_all_iter()] == [
                t.id for t in client.tickets.query_all()
            ]
            raw = client.companies.query_all({"op": "eq", "field": "isActive", "value": True})
            model = client.companies.query_all(
                {"filter": [{"op": "eq", "field": "isActive", "value": True}], "MaxRecords": 10}
            )
            assert [c.id for c in raw] == [c.id for c in model]
            assert client.tickets.query_all([F("id").gte(1), {"op": "exist", "field": "title"}])
            ticket = tickets[0]
            note_id = client.tickets.notes(ticket.id).create(
                {"title": "Called", "description": "...", "noteType": 1, "publish": 1}
            )
            assert client.tickets.notes(ticket.id).get(note_id) is not None
            assert client.raw_request("GET", f"Tickets/{ticket.id}")["item"]["id"] == ticket.id


def test_async_session_emits_no_warnings(sim: Simulator) -> None:
    async def main() -> None:
        async with AsyncAutotaskClient(**client_kwargs(sim)) as client:
            page = await client.tickets.query(F("id").gte(1))
            same = await client.tickets.query_async(F("id").gte(1))
            assert [t.id for t in page.items] == [t.id for t in same.items]
            assert len(await client.tickets.query_all()) == await client.tickets.count()
            async with AsyncAutotaskClient.create(
                username=sim.credentials["username"],
                secret=sim.credentials["secret"],
                integration_code=sim.credentials["integration_code"],
                api_url=sim.url,
            ) as created:
                assert await created.tickets.get(page.items[0].id) is not None

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        asyncio.run(main())
