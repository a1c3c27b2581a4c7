"""Write-body validation and conversion against the simulator over real sockets: the exact bytes
sent, picklist labels (tenant values, ambiguity), UDFs by name, every problem listed with nothing
sent, custom validators, local time zones, the async client."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from py_autotask import AutotaskClient, F
from py_autotask.exceptions import AutotaskConfigError, AutotaskInputError
from py_autotask.validation import FieldValidator, ValidationConfig, ValidationContext, udf_values

from .conftest import AMBIGUOUS_LABEL, DEPENDENT_LABEL, Wire

pytestmark = pytest.mark.xdist_group("validation")

# The tests hand the client text for integer fields, labels for picklists and UDF dicts on
# purpose (that is what the conversion layer is for), so ``client`` is typed ``Any`` here: the
# generated params TypedDicts describe the API's values, not the convertible inputs.


def _tenant_value(client: AutotaskClient, field: str, label: str) -> int:
    """The tenant's value for a label, read straight from the metadata endpoint."""
    fields = client.raw_request("GET", "Tickets/entityInformation/fields")["fields"]
    (info,) = [f for f in fields if f["name"] == field]
    (value,) = [v["value"] for v in info["picklistValues"] if v["label"] == label]
    return int(value)


def _company_id(client: AutotaskClient) -> int:
    company_id = client.companies.query(max_records=1).items[0].id
    assert company_id is not None
    return company_id


def test_conversions_produce_the_exact_wire_body(client: Any, wire: Wire) -> None:
    complete = _tenant_value(client, "status", "Complete")
    company_id = _company_id(client)
    priority = next(iter(client.picklists.choices("Tickets", "priority")))
    ticket_id = client.tickets.create(
        {
            "title": "Printer on fire",
            "status": "Complete",
            "priority": priority,  # "2": text of an integer
            "companyID": str(company_id),
            "dueDateTime": "2024-05-01T10:00:00+02:00",
            "estimatedHours": "1.5",
            "isVisibleToComanaged": "false",
        }
    )
    sent = wire.bodies("POST", "/Tickets")[-1]
    sent.pop("externalID", None)  # the create path's correlation token, not ours to check
    assert sent == {
        "title": "Printer on fire",
        "status": complete,
        "priority": int(priority),
        "companyID": company_id,
        "dueDateTime": "2024-05-01T08:00:00.000Z",
        "estimatedHours": 1.5,
        "isVisibleToComanaged": False,
    }
    stored = client.tickets.get(ticket_id)
    assert stored is not None and stored.status == complete
    assert stored.due_date_time == datetime(2024, 5, 1, 8, tzinfo=timezone.utc)


def test_datetimes_go_out_as_utc_and_date_only_values_untouched(client: Any, wire: Wire) -> None:
    ticket = client.tickets.query(max_records=1).items[0]
    berlin = datetime(2024, 1, 15, 9, 30, 0, 123456, tzinfo=ZoneInfo("Europe/Berlin"))
    client.tickets.update({"id": ticket.id, "dueDateTime": berlin})
    client.tickets.update({"id": ticket.id, "dueDateTime": datetime(2024, 1, 15, 9, 30)})
    client.tickets.update({"id": ticket.id, "dueDateTime": "2024-01-15T09:30:00.5-05:00"})
    client.tickets.update({"id": ticket.id, "dueDateTime": "2024-05-31"})
    assert [b["dueDateTime"] for b in wire.bodies("PATCH")] == [
        "2024-01-15T08:30:00.123Z",
        "2024-01-15T09:30:00.000Z",  # naive: UTC, like every Autotask datetime
        "2024-01-15T14:30:00.500Z",
        "2024-05-31",  # date-only: no time-zone shift
    ]


def test_update_sends_only_the_given_fields(client: Any, wire: Wire) -> None:
    ticket = client.tickets.query(max_records=1).items[0]
    client.tickets.update({"id": ticket.id, "title": 12345, "priority": 1.0})
    assert wire.bodies("PATCH") == [{"id": ticket.id, "title": "12345", "priority": 1}]


def test_ambiguous_label_is_an_error_naming_the_choices(
    client: Any, wire: Wire, fresh_sim: Any
) -> None:
    body = {"title": "t", "status": AMBIGUOUS_LABEL, "priority": 1, "companyID": 0}
    with pytest.raises(AutotaskInputError) as info:
        client.tickets.create(body)
    (problem,) = info.value.problems
    assert (problem.entity, problem.field) == ("Tickets", "status")
    assert "ambiguous" in problem.reason
    assert "7 (Waiting Customer)" in str(info.value) and "27 (Waiting Customer)" in str(info.value)
    assert "pass the value" in str(info.value)
    assert wire.writes() == []
    assert fresh_sim.journal(method="POST", operation="create") == []


def test_dependent_picklist_label_is_narrowed_by_its_parent(client: Any, wire: Wire) -> None:
    ticket = client.tickets.query(max_records=1).items[0]
    client.tickets.update(
        {"id": ticket.id, "issueType": "issueType 34", "subIssueType": DEPENDENT_LABEL}
    )
    client.tickets.update({"id": ticket.id, "issueType": 22, "subIssueType": DEPENDENT_LABEL})
    assert [(b["issueType"], b["subIssueType"]) for b in wire.bodies("PATCH")] == [
        (34, 165),
        (22, 164),
    ]
    with pytest.raises(AutotaskInputError, match=r"ambiguous.*164 \(Printer jam\).*165"):
        client.tickets.update({"id": ticket.id, "subIssueType": DEPENDENT_LABEL})


def test_unknown_label_lists_the_tenant_choices(client: Any, wire: Wire) -> None:
    with pytest.raises(AutotaskInputError, match=r"unknown label 'Finished'.*\(Complete\)"):
        client.tickets.update({"id": 1, "status": "Finished"})
    assert wire.writes() == []


def test_every_problem_is_listed_and_nothing_is_sent(client: Any, wire: Wire) -> None:
    with pytest.raises(AutotaskInputError) as info:
        client.tickets.create(
            {
                "status": "no such status",
                "priority": "high-ish",
                "companyID": "ACME",
                "description": "x" * 8001,
                "estimatedHours": "lots",
                "colour": "red",
            }
        )
    fields = sorted(str(p.field) for p in info.value.problems)
    assert fields == [
        "colour",
        "companyID",
        "description",
        "estimatedHours",
        "priority",
        "status",
        "title",
    ]
    text = str(info.value)
    assert "Tickets create was not sent: 7 problems" in text
    assert "Tickets.title: is required for a create" in text
    assert "Tickets.description: is 8001 characters long; the maximum is 8000" in text
    assert "Tickets.companyID: expects an integer" in text
    assert isinstance(info.value, ValueError)
    assert wire.writes() == []


def test_required_field_cleared_on_update_is_an_error(client: Any, wire: Wire) -> None:
    with pytest.raises(AutotaskInputError, match="title: is required and cannot be null"):
        client.tickets.update({"id": 1, "title": None})
    assert wire.writes() == []


def test_strict_types_reject_instead_of_converting(make_client: Any, wire: Wire) -> None:
    client = make_client(ValidationConfig(strict_types=True))
    with pytest.raises(AutotaskInputError, match="priority: expects an integer"):
        client.tickets.update({"id": 1, "priority": "1"})
    assert wire.writes() == []


def test_lengths_and_types_on_another_entity(client: Any, wire: Wire) -> None:
    with pytest.raises(AutotaskInputError, match=r"Contacts\.title: is 51 characters"):
        client.contacts.create(
            {
                "firstName": "Ada",
                "lastName": "L",
                "isActive": "true",
                "title": "x" * 51,
                "companyID": 0,
            }
        )
    company_id = _company_id(client)
    client.contacts.create(
        {"firstName": "Ada", "lastName": "L", "isActive": "1", "companyID": company_id}
    )
    # Contacts.isActive is an integer field in Autotask's metadata (not a boolean): "1" -> 1
    assert wire.bodies("POST", "/Contacts")[-1]["isActive"] == 1


def test_unreadable_metadata_skips_membership_but_not_labels(
    client: Any, wire: Wire, fresh_sim: Any
) -> None:
    fresh_sim.add_fault(
        {"match": {"path": "/entityInformation"}, "effect": {"type": "status", "status": 503}}
    )
    ticket = client.tickets.query(max_records=1).items[0]
    client.tickets.update({"id": ticket.id, "priority": 1})  # membership left to Autotask
    assert wire.bodies("PATCH") == [{"id": ticket.id, "priority": 1}]
    with pytest.raises(AutotaskInputError, match="picklist could not be read; pass the numeric"):
        client.tickets.update({"id": ticket.id, "status": "Complete"})


def test_picklist_values_must_be_active_values_of_the_tenant(client: Any, wire: Wire) -> None:
    with pytest.raises(AutotaskInputError, match="value 999 is not in the tenant's picklist"):
        client.tickets.update({"id": 1, "status": 999})
    inactive = [
        v
        for v in client.metadata.picklist("Tickets", "status", include_inactive=True)
        if not v["isActive"]
    ]
    with pytest.raises(AutotaskInputError, match="inactive"):
        client.tickets.update({"id": 1, "status": int(inactive[0]["value"])})
    assert wire.writes() == []


def test_labels_in_query_filters(client: Any, wire: Wire) -> None:
    complete = _tenant_value(client, "status", "Complete")
    new = _tenant_value(client, "status", "New")
    tickets = client.tickets.query(F("status").eq("complete"))
    assert wire.bodies("POST", "/Tickets/query")[-1]["filter"] == [
        {"op": "eq", "field": "status", "value": complete}
    ]
    assert all(t.status == complete for t in tickets.items)
    client.tickets.count(F("status").in_(["New", "Complete"]))
    assert wire.bodies("POST", "/count")[-1]["filter"][0]["value"] == [new, complete]
    with pytest.raises(AutotaskInputError, match="ambiguous"):
        client.tickets.query(F("status").eq(AMBIGUOUS_LABEL))


def test_picklist_helpers(client: Any) -> None:
    complete = _tenant_value(client, "status", "Complete")
    assert client.picklists.label("Tickets", "status", complete) == "Complete"
    assert client.picklists.label("tickets", "status", 424242) is None
    assert client.picklists.value("Tickets", "status", "COMPLETE") == complete
    with pytest.raises(AutotaskInputError, match="ambiguous"):
        client.picklists.value("Tickets", "status", AMBIGUOUS_LABEL)
    with pytest.raises(AutotaskConfigError, match="not a picklist"):
        client.picklists.label("Tickets", "title", 1)
    ticket = client.tickets.query(F("status").eq(complete), max_records=1).items[0]
    labels = client.picklists.labels("Tickets", ticket)
    assert labels["status"] == "Complete"


def test_udfs_by_name(client: Any, wire: Wire) -> None:
    ticket = client.tickets.query(max_records=1).items[0]
    client.tickets.update(
        {  # a dict by name; labels of picklist UDFs resolve to the tenant's value
            "id": ticket.id,
            "userDefinedFields": {"fr result": "FR Result Escalated", "Ext URL": "https://x.test"},
        }
    )
    assert wire.bodies("PATCH")[-1]["userDefinedFields"] == [
        {"name": "FR Result", "value": "Escalated"},
        {"name": "Ext URL", "value": "https://x.test"},
    ]
    stored = client.tickets.get(ticket.id)
    assert stored is not None
    assert stored.udf("FR Result") == "Escalated" and stored.udf("ext url") == "https://x.test"
    assert stored.udf("No Such UDF", "n/a") == "n/a"
    client.tickets.update({"id": ticket.id, "userDefinedFields": udf_values({"Ext URL": None})})
    stored = client.tickets.get(ticket.id)
    assert stored is not None and stored.udf("Ext URL") is None


def test_unknown_or_invalid_udfs_are_errors(client: Any, wire: Wire) -> None:
    with pytest.raises(AutotaskInputError) as info:
        client.tickets.update(
            {
                "id": 1,
                "userDefinedFields": [
                    {"name": "FR Reslt", "value": "x"},
                    {"name": "FR Result", "value": "Nope"},
                ],
            }
        )
    text = str(info.value)
    assert "userDefinedFields[FR Reslt]: unknown user-defined field" in text
    assert "did you mean 'FR Result'" in text
    assert "'Nope' is not a value of this picklist UDF" in text and "Escalated" in text
    with pytest.raises(
        AutotaskInputError, match=r"TicketNotes has no user-defined fields; remove them"
    ):
        client.ticket_notes.create(
            {
                "ticketID": 1,
                "description": "d",
                "noteType": 1,
                "publish": 1,
                "userDefinedFields": {"x": "y"},
            }
        )
    assert wire.writes() == []


def test_custom_validators(make_client: Any, wire: Wire) -> None:
    seen: list[ValidationContext] = []

    def record_context(value: Any, context: ValidationContext) -> Any:
        seen.append(context)
        return value

    @FieldValidator.register("tickets", "title")
    def no_shouting(value: str) -> str:
        if value.isupper():
            raise ValueError("title must not be all capitals; write it in sentence case")
        return value

    try:
        client = make_client(
            ValidationConfig(
                custom_validators={"Tickets.description": str.strip, "title": record_context}
            )
        )
        with pytest.raises(AutotaskInputError, match=r"Tickets\.title: rejected by a custom"):
            client.tickets.update({"id": 1, "title": "PRINTER DOWN"})
        client.tickets.update({"id": 1, "title": "Printer down", "description": "  spaced  "})
        assert wire.bodies("PATCH")[-1] == {
            "id": 1,
            "title": "Printer down",
            "description": "spaced",
        }
        assert seen[-1].entity == "Tickets" and seen[-1].operation == "update"
    finally:
        FieldValidator.unregister(no_shouting)
    client.tickets.update({"id": 1, "title": "SHOUTING ALLOWED AGAIN"})
    with pytest.raises(AutotaskConfigError, match="unknown Autotask entity .Tickts.; did you mean Tickets"):
        ValidationConfig(custom_validators={"Tickts.title": str.strip})


def test_dry_run_check_sends_nothing(client: Any, wire: Wire) -> None:
    body = client.validation.check(
        "tickets", {"title": "t", "status": "New", "priority": "1", "companyID": "0"}
    )
    assert body["status"] == _tenant_value(client, "status", "New") and body["companyID"] == 0
    assert wire.writes() == []


def test_local_timezone_on_read(make_client: Any) -> None:
    client = make_client(ValidationConfig(local_timezone="America/New_York"))
    ticket = client.tickets.query(max_records=1).items[0]
    assert ticket.create_date is not None and ticket.create_date.tzinfo == timezone.utc
    local = client.validation.localize(ticket)
    assert local.create_date == ticket.create_date  # same instant
    assert local.create_date is not None
    assert local.create_date.tzinfo == ZoneInfo("America/New_York")
    assert client.validation.localize(ticket, "Asia/Tokyo").create_date == ticket.create_date
    with pytest.raises(AutotaskConfigError, match="IANA"):
        ValidationConfig(local_timezone="Mars/Olympus")


def test_async_client_validates_and_converts(make_async_client: Any, wire: Wire) -> None:
    async def run() -> None:
        async with make_async_client(ValidationConfig()) as client:
            page = await client.tickets.query(max_records=1)
            ticket_id = page.items[0].id
            await client.tickets.update(
                {"id": ticket_id, "status": "Complete", "priority": "1", "estimatedHours": 2}
            )
            with pytest.raises(AutotaskInputError, match="ambiguous"):
                await client.tickets.update({"id": ticket_id, "status": AMBIGUOUS_LABEL})
            assert (
                await client.picklists.value("Tickets", "status", "Complete")
                == (wire.bodies("PATCH")[-1]["status"])
            )
            body = await client.validation.check("Tickets", {"id": 1, "title": 5}, "update")
            assert body == {"id": 1, "title": "5"}
            await client.tickets.count(F("status").in_(["complete", "New"]))
            assert wire.bodies("POST", "/count")[-1]["filter"][0]["value"] == [
                wire.bodies("PATCH")[-1]["status"],
                await client.picklists.value("Tickets", "status", "New"),
            ]

    asyncio.run(run())
    assert len(wire.bodies("PATCH")) == 1
    assert wire.bodies("PATCH")[0]["priority"] == 1
