"""Response models: tolerant, dict-style access by API or Python name, whole-page validation."""

from __future__ import annotations

import json
from datetime import datetime

import pydantic
import pytest

from py_autotask._model import (
    AutotaskModel,
    Page,
    PageDetails,
    item_type,
    page_type,
    parse_item,
    parse_page,
)

from .conftest import Ticket


def test_unknown_fields_and_nulls_are_accepted() -> None:
    ticket = Ticket.model_validate(
        {"id": 1, "title": None, "companyID": 5, "brandNewField": "x", "userDefinedFields": []}
    )
    assert ticket.id == 1
    assert ticket.title is None
    assert ticket.company_id == 5
    assert ticket["brandNewField"] == "x"


def test_item_access_by_api_or_python_name() -> None:
    ticket = Ticket.model_validate({"id": 7, "title": "Printer", "companyID": 42, "extraThing": 1})
    assert ticket["title"] == "Printer"
    assert ticket["companyID"] == 42
    assert ticket["company_id"] == 42
    assert ticket["companyid"] == 42  # Autotask field names are case-insensitive
    assert ticket["ExtraThing"] == 1
    assert ticket.get("missing") is None
    assert ticket.get("missing", 0) == 0
    assert ticket.get("companyID") == 42
    assert "title" in ticket and "missing" not in ticket
    with pytest.raises(KeyError):
        ticket["missing"]


def test_populate_by_python_name_and_mutable() -> None:
    ticket = Ticket(company_id=3)
    ticket.title = "changed"
    assert ticket["companyID"] == 3 and ticket.title == "changed"


def test_to_api_dict_uses_aliases_and_only_set_fields() -> None:
    ticket = Ticket.model_validate(
        {"id": 1, "companyID": 9, "lastActivityDate": "2024-01-02T03:04:05Z", "x": 1}
    )
    assert ticket.to_api_dict() == {
        "id": 1,
        "companyID": 9,
        "lastActivityDate": "2024-01-02T03:04:05Z",
        "x": 1,
    }
    assert Ticket(title=None).to_api_dict() == {"title": None}  # explicit None is kept


def test_page_parses_whole_body_and_page_details() -> None:
    raw = json.dumps(
        {
            "items": [{"id": 1, "title": "a"}, {"id": 2, "title": None}],
            "pageDetails": {
                "count": 2,
                "requestCount": 500,
                "prevPageUrl": None,
                "nextPageUrl": "https://h/ATServicesRest/V1.0/Tickets/query/next?paging=x",
            },
        }
    ).encode()
    page = parse_page(Ticket, raw)
    assert isinstance(page, Page)
    assert [t.id for t in page.items] == [1, 2]
    assert all(isinstance(t, Ticket) for t in page.items)
    assert page.page_details == PageDetails(
        count=2,
        requestCount=500,
        nextPageUrl="https://h/ATServicesRest/V1.0/Tickets/query/next?paging=x",
    )
    assert page.next_page_url is not None and len(page) == 2


def test_page_tolerates_missing_page_details_and_extra_keys() -> None:
    page = parse_page(Ticket, b'{"items": [], "somethingNew": 1}')
    assert page.items == [] and page.next_page_url is None


def test_page_type_is_built_once_per_model() -> None:
    assert page_type(Ticket) is page_type(Ticket)
    assert item_type(Ticket) is item_type(Ticket)


def test_whole_page_is_validated_in_one_call(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    cls = page_type(Ticket)
    original = cls.model_validate_json

    def spy(data: bytes, **kwargs: object) -> object:
        calls.append(1)
        return original(data)

    monkeypatch.setattr(cls, "model_validate_json", spy)
    raw = json.dumps({"items": [{"id": i} for i in range(50)], "pageDetails": {}}).encode()
    assert len(parse_page(Ticket, raw).items) == 50
    assert calls == [1]


def test_item_envelope() -> None:
    assert parse_item(Ticket, b'{"item": null}') is None
    ticket = parse_item(Ticket, b'{"item": {"id": 3, "lastActivityDate": "2024-05-01T10:00:00"}}')
    assert ticket is not None and ticket.id == 3
    assert ticket.last_activity_date == datetime(2024, 5, 1, 10, 0)
    with pytest.raises(pydantic.ValidationError):
        parse_item(Ticket, b"<html>")


def test_subclass_key_indexes_are_separate() -> None:
    class A(AutotaskModel):
        x_id: int | None = pydantic.Field(None, alias="xID")

    class B(AutotaskModel):
        y_id: int | None = pydantic.Field(None, alias="yID")

    assert A(xID=1)["xID"] == 1
    assert B(yID=2)["yID"] == 2
    with pytest.raises(KeyError):
        B(yID=2)["xID"]


def test_repr_shows_only_fields_the_api_sent() -> None:
    ticket = Ticket.model_validate({"id": 1, "title": None, "newThing": 2})
    assert repr(ticket) == "Ticket(id=1, title=None, newThing=2)"
