"""Exactly-once creates against the simulator's ``commit_then_drop`` and ``reset`` faults.

``commit_then_drop`` applies the create and then closes the connection without an answer: the
client cannot know the ticket exists. The simulator journal records every create it applied
(``item_ids``), so duplicates are counted from the server's side, not the client's.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from py_autotask import AsyncAutotaskClient, AutotaskClient, F
from py_autotask._reconcile import CorrelationUdf, ReconcileConfig
from py_autotask.exceptions import AutotaskAmbiguousWriteError

simulator = pytest.importorskip("py_autotask.simulator")
pytest.importorskip("py_autotask_generated._client_mixin")

CREATE_MATCH = {"method": "POST", "entity": "Tickets", "operation": "create"}


@pytest.fixture(scope="module")
def sim() -> Iterator[Any]:
    # A large hourly threshold: ThresholdInformation tells the client's pacer it may go fast.
    with simulator.Simulator(
        seed=11, profile="tiny", hourly_threshold=1_000_000, thread_limit=0
    ) as s:
        yield s


@pytest.fixture
def fresh(sim: Any) -> Any:
    """The shared simulator without faults or journal from earlier tests (records are kept:
    every assertion is about records created in the test itself)."""
    sim.faults.clear()
    sim.clear_journal()
    return sim


def _client(sim: Any, **kw: Any) -> AutotaskClient:
    return AutotaskClient(**sim.credentials, **kw)


def _company_id(client: AutotaskClient) -> int:
    company = client.companies.query(max_records=1).items[0]
    assert company.id is not None
    return company.id


def _applied_creates(sim: Any) -> list[int]:
    """Ticket ids the server created, from its request journal (answered or not)."""
    return [
        i
        for e in sim.journal(method="POST", entity="Tickets")
        if e.operation == "create"
        for i in e.item_ids
    ]


@pytest.mark.xdist_group("reconcile-bulk")
def test_500_creates_with_20_percent_commit_then_drop_make_exactly_500_tickets(fresh: Any) -> None:
    sim = fresh
    run = f"bulk-{uuid.uuid4().hex[:8]}"
    with _client(sim) as client:
        company_id = _company_id(client)
        before = client.tickets.count()
        rule = sim.add_fault(
            match=CREATE_MATCH, effect={"type": "commit_then_drop"}, probability=0.2
        )
        sim.clear_journal()
        payloads = [
            {"companyID": company_id, "title": f"{run} {n}", "status": 1, "priority": 2}
            for n in range(500)
        ]
        started = time.perf_counter()
        ids = [client.tickets.create(p) for p in payloads]
        elapsed = time.perf_counter() - started
        lookups = [
            e for e in sim.journal(method="POST", entity="Tickets") if e.operation == "query"
        ]
        after = client.tickets.count()
        tagged = client.tickets.query_all(
            F("title").begins_with(run), include_fields=["id", "externalID"]
        )

    dropped = rule.fired
    applied = _applied_creates(sim)
    print(
        f"\n500 creates, {dropped} dropped after commit, {len(lookups)} lookups, "
        f"{len(applied)} applied, {elapsed:.2f}s ({500 / elapsed:.0f} creates/s)"
    )
    assert 60 <= dropped <= 140  # ~20 % of 500 (seeded RNG)
    assert after - before == 500
    assert len(applied) == 500 and len(set(applied)) == 500  # the server created each once
    assert sorted(ids) == sorted(applied)  # every caller got the id of its own record
    assert len(lookups) == dropped  # one lookup per ambiguous create, none otherwise
    assert sorted(t.id for t in tagged) == sorted(ids)
    tokens = [t.model_dump(by_alias=True)["externalID"] for t in tagged]
    assert len(set(tokens)) == 500 and all(t.startswith("pyat-") for t in tokens)
    assert all("externalID" not in p for p in payloads)  # the caller's dicts are untouched


def test_strict_mode_raises_with_the_correlation_value_and_never_resends(fresh: Any) -> None:
    sim = fresh
    with _client(sim, reconcile=ReconcileConfig(strict=True, lookup_delays=(0.0,))) as client:
        company_id = _company_id(client)
        # `reset`: the connection drops after the request was sent, before anything is applied
        sim.add_fault(match=CREATE_MATCH, effect={"type": "reset"}, count=1)
        sim.clear_journal()
        with pytest.raises(AutotaskAmbiguousWriteError) as info:
            client.tickets.create(
                {"companyID": company_id, "title": "t", "status": 1, "priority": 2}
            )
    error = info.value
    assert error.correlation_field == "externalID"
    assert error.correlation_value is not None and error.correlation_value.startswith("pyat-")
    assert error.correlation_value in str(error)
    assert "strict mode" in str(error)
    assert (error.entity, error.operation, error.method) == ("Tickets", "create", "POST")
    for secret in (v for k, v in sim.credentials.items() if k != "api_url"):
        assert secret not in str(error) + repr(error)
    creates = [e for e in sim.journal(method="POST", entity="Tickets") if e.operation == "create"]
    assert len(creates) == 1 and _applied_creates(sim) == []


def test_strict_mode_still_adopts_a_committed_record(fresh: Any) -> None:
    sim = fresh
    with _client(sim, reconcile=ReconcileConfig(strict=True)) as client:
        company_id = _company_id(client)
        sim.add_fault(match=CREATE_MATCH, effect={"type": "commit_then_drop"}, count=1)
        sim.clear_journal()
        new_id = client.tickets.create(
            {"companyID": company_id, "title": "t", "status": 1, "priority": 2}
        )
    assert _applied_creates(sim) == [new_id]


def test_not_applied_create_is_resent_once_with_the_same_token(fresh: Any) -> None:
    sim = fresh
    with _client(sim, reconcile=ReconcileConfig(lookup_delays=(0.0,))) as client:
        company_id = _company_id(client)
        sim.add_fault(match=CREATE_MATCH, effect={"type": "reset"}, count=1)
        sim.clear_journal()
        new_id = client.tickets.create(
            {"companyID": company_id, "title": "t", "status": 1, "priority": 2}
        )
        ticket = client.tickets.get(new_id)
    assert _applied_creates(sim) == [new_id]
    creates = [e for e in sim.journal(method="POST", entity="Tickets") if e.operation == "create"]
    assert len(creates) == 2
    assert ticket is not None
    assert ticket.model_dump(by_alias=True)["externalID"].startswith("pyat-")


def test_the_callers_own_external_id_is_the_key(fresh: Any) -> None:
    sim = fresh
    with _client(sim) as client:
        company_id = _company_id(client)
        sim.add_fault(match=CREATE_MATCH, effect={"type": "commit_then_drop"}, count=1)
        new_id = client.tickets.create(
            {
                "companyID": company_id,
                "title": "t",
                "status": 1,
                "priority": 2,
                "externalID": "CRM-42",
            }
        )
        ticket = client.tickets.get(new_id)
    assert ticket is not None and ticket.model_dump(by_alias=True)["externalID"] == "CRM-42"


def test_natural_key_for_an_entity_without_a_correlation_field(fresh: Any) -> None:
    sim = fresh
    config = ReconcileConfig(
        correlation_fields={"Contacts": None},
        natural_keys={"Contacts": ("emailAddress", "companyID")},
        lookup_delays=(0.0,),
    )
    with _client(sim, reconcile=config) as client:
        company_id = _company_id(client)
        sim.add_fault(
            match={"method": "POST", "entity": "Contacts", "operation": "create"},
            effect={"type": "commit_then_drop"},
            count=1,
        )
        sim.clear_journal()
        data = {
            "companyID": company_id,
            "firstName": "Ada",
            "lastName": "Lovelace",
            "isActive": 1,
            "emailAddress": "ada.reconcile@example.com",
        }
        new_id = client.contacts.create(data)
        contact = client.contacts.get(new_id)
    assert contact is not None and contact.model_dump(by_alias=True)["externalID"] is None
    applied = [
        i
        for e in sim.journal(method="POST", entity="Contacts")
        if e.operation == "create"
        for i in e.item_ids
    ]
    assert applied == [new_id]


def test_without_any_key_an_ambiguous_create_is_raised_not_resent(fresh: Any) -> None:
    sim = fresh
    config = ReconcileConfig(correlation_fields={"Tickets": None})
    with _client(sim, reconcile=config) as client:
        company_id = _company_id(client)
        sim.add_fault(match=CREATE_MATCH, effect={"type": "commit_then_drop"}, count=1)
        sim.clear_journal()
        with pytest.raises(AutotaskAmbiguousWriteError, match="not resent") as info:
            client.tickets.create(
                {"companyID": company_id, "title": "t", "status": 1, "priority": 2}
            )
    assert info.value.correlation_value is None
    assert len(_applied_creates(sim)) == 1


def test_udf_correlation_field(fresh: Any) -> None:
    sim = fresh
    with _client(sim) as client:
        udfs = client.raw_request("GET", "Tickets/entityInformation/userDefinedFields")["fields"]
        text_udf = next(u["name"] for u in udfs if u["type"] == "string" and not u["isPickList"])
    config = ReconcileConfig(correlation_fields={"Tickets": CorrelationUdf(text_udf)})
    with _client(sim, reconcile=config) as client:
        company_id = _company_id(client)
        sim.add_fault(match=CREATE_MATCH, effect={"type": "commit_then_drop"}, count=1)
        data = {"companyID": company_id, "title": "u", "status": 1, "priority": 2}
        new_id = client.tickets.create(data)
        ticket = client.tickets.get(new_id)
    assert "userDefinedFields" not in data
    assert ticket is not None
    values = {u["name"]: u["value"] for u in ticket.model_dump(by_alias=True)["userDefinedFields"]}
    assert str(values[text_udf]).startswith("pyat-")
    assert _applied_creates(sim) == [new_id]


def test_async_create_reconciles(fresh: Any) -> None:
    sim = fresh

    async def scenario() -> list[int]:
        async with AsyncAutotaskClient(**sim.credentials) as client:
            company = (await client.companies.query(max_records=1)).items[0]
            sim.add_fault(match=CREATE_MATCH, effect={"type": "commit_then_drop"}, count=3)
            sim.clear_journal()
            return [
                await client.tickets.create(
                    {"companyID": company.id, "title": f"a{n}", "status": 1, "priority": 2}
                )
                for n in range(5)
            ]

    ids = asyncio.run(scenario())
    assert sorted(ids) == sorted(_applied_creates(sim)) and len(set(ids)) == 5
