"""Generated models parse real-shaped Autotask responses."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from py_autotask_generated.entities._tickets import FIELDS, SPEC, validate_create, validate_update

from py_autotask._model import parse_item, parse_page
from py_autotask.models import Contact, Ticket, TicketCreateParams, TicketUpdateParams


def test_page_with_nulls_extras_offsetless_datetimes_and_udfs() -> None:
    body = {
        "items": [
            {
                "id": 12,
                "title": "Printer on fire",
                "companyID": 0,
                "createDate": "2016-03-30T13:10:35.563",
                "lastActivityDate": "2018-11-13T17:32:34",
                "dueDateTime": None,
                "estimatedHours": 1.5,
                "status": None,
                "description": None,
                "someNewField2027": {"nested": True},
                "userDefinedFields": [
                    {"name": "Customer Ranking", "value": "Golden"},
                    {"name": "Empty", "value": None},
                ],
            },
            {"id": 13},
        ],
        "pageDetails": {"count": 2, "requestCount": 500, "prevPageUrl": None, "nextPageUrl": None},
    }
    page = parse_page(Ticket, json.dumps(body).encode())
    first, second = page.items
    assert first.id == 12 and first.company_id == 0 and first.estimated_hours == 1.5
    assert first.create_date == datetime(2016, 3, 30, 13, 10, 35, 563000, tzinfo=timezone.utc)
    assert first.last_activity_date == datetime(2018, 11, 13, 17, 32, 34, tzinfo=timezone.utc)
    assert first.due_date_time is None and first.status is None
    assert first.user_defined_fields is not None
    assert [(u.name, u.value) for u in first.user_defined_fields] == [
        ("Customer Ranking", "Golden"),
        ("Empty", None),
    ]
    assert first.model_extra == {"someNewField2027": {"nested": True}}
    assert (
        first["title"] == "Printer on fire" and first["companyID"] == 0
    )  # 2.x item access by API name
    assert second.title is None and second.user_defined_fields is None
    assert page.page_details.request_count == 500 and page.next_page_url is None


def test_get_envelope_null_item() -> None:
    assert parse_item(Contact, b'{"item": null}') is None
    contact = parse_item(Contact, b'{"item": {"id": 5, "emailAddress": "a@b.c", "isActive": 1}}')
    assert contact is not None and contact.email_address == "a@b.c"


def test_field_map_and_spec_come_from_metadata() -> None:
    assert FIELDS["companyID"].py_name == "company_id"
    assert FIELDS["companyID"].reference_entity == "Company"
    assert FIELDS["id"].read_only and FIELDS["id"].data_type == "long"
    assert FIELDS["status"].is_picklist and FIELDS["status"].required
    assert SPEC.root_operations == frozenset(
        {"count", "create", "get", "query", "replace", "update"}
    )
    assert "delete" not in SPEC.operations
    assert SPEC.change_tracking_field == "lastActivityDate"


def test_params_and_validators() -> None:
    good: TicketCreateParams = {
        "title": "t",
        "companyID": 1,
        "status": 1,
        "priority": 2,
        "dueDateTime": "2024-01-01T00:00:00Z",
    }
    assert validate_create(good) == []
    missing = validate_create({"title": "t"})
    assert sorted(p.field or "" for p in missing) == ["companyID", "priority", "status"]
    problems = validate_create(
        {"title": "x" * 300, "createDate": "2024-01-01", "companyID": "seven", "bogus": 1}
    )
    text = "\n".join(map(str, problems))
    assert "Tickets.title: is 300 characters long; the maximum is 255" in text
    assert "Tickets.createDate: is read-only" in text
    assert "Tickets.companyID: expects an integer" in text
    assert "Tickets.bogus: unknown field" in text
    assert "Tickets.status: is required" in text
    update: TicketUpdateParams = {"id": 5, "title": None}
    assert validate_update(update) == []
    assert [str(p) for p in validate_update({"title": "x"})] == [
        "Tickets.id: an update needs the record's id"
    ]
