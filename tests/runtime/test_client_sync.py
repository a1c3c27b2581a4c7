"""Exact wire shapes of the sync client, asserted through httpx.MockTransport."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from py_autotask import AutotaskClient, F
from py_autotask._core import get_request
from py_autotask._entity import SyncEntity
from py_autotask._spec import EntitySpec
from py_autotask._version import __version__
from py_autotask.exceptions import (
    AutotaskAPIError,
    AutotaskConfigError,
    AutotaskConnectionError,
    AutotaskNotFoundError,
    AutotaskOperationNotSupportedError,
    AutotaskRateLimitError,
    AutotaskServerError,
    AutotaskValidationError,
)

from .conftest import (
    BASE,
    INTEGRATION_CODE,
    NOTES_ROUTE,
    SECRET,
    SECRETS,
    TICKETS_SPEC,
    USERNAME,
    ContactGroupsEntity,
    Recorder,
    Ticket,
    TicketAttachmentsEntity,
    TicketNotesEntity,
    TicketsAttachmentsCollection,
    TicketsEntity,
    json_response,
)

ALL_ROWS = {"filter": [{"op": "gte", "field": "id", "value": 0}]}


def next_url(entity: str, n: int) -> str:
    paging = quote(f'{{"pageSize":500,"page":{n}}}', safe="").lower()
    return f"{BASE}{entity}/query/next?paging={paging}&search=%7b%7d"


def page(items: list[dict[str, Any]], next_page: str | None = None) -> httpx.Response:
    return json_response(
        200,
        {
            "items": items,
            "pageDetails": {
                "count": len(items),
                "requestCount": 500,
                "prevPageUrl": None,
                "nextPageUrl": next_page,
            },
        },
    )


# --- get --------------------------------------------------------------------------------------------


def test_get_sends_auth_headers_and_parses_item(client: AutotaskClient, recorder: Recorder) -> None:
    recorder.reply(json_response(200, {"item": {"id": 123, "title": "Printer", "companyID": 4}}))
    ticket = client._entity(TicketsEntity).get(123)
    assert isinstance(ticket, Ticket) and ticket.id == 123 and ticket["companyID"] == 4
    req = recorder.last
    assert req.method == "GET"
    assert str(req.url) == BASE + "Tickets/123"
    assert req.headers["ApiIntegrationCode"] == INTEGRATION_CODE
    assert req.headers["UserName"] == USERNAME
    assert req.headers["Secret"] == SECRET
    assert req.headers["Accept"] == "application/json"
    assert req.headers["User-Agent"] == f"py-autotask/{__version__}"
    assert "Content-Type" not in req.headers
    assert "ImpersonationResourceId" not in req.headers
    assert req.content == b""


@pytest.mark.parametrize(
    "response",
    [
        json_response(200, {"item": None}),
        json_response(404, {"errors": ["Record not found"]}),
        httpx.Response(404, content=b""),
    ],
)
def test_get_missing_record_is_none(
    client: AutotaskClient, recorder: Recorder, response: httpx.Response
) -> None:
    recorder.reply(response)
    assert client._entity(TicketsEntity).get(999) is None


def test_get_html_404_means_a_bad_route_and_raises(
    client: AutotaskClient, recorder: Recorder
) -> None:
    recorder.reply(
        httpx.Response(404, content=b"<html><head><title>404 - Not Found</title></head></html>")
    )
    with pytest.raises(AutotaskNotFoundError, match="404 - Not Found"):
        client._entity(TicketsEntity).get(1)


def test_impersonation_header() -> None:
    rec = Recorder().reply(json_response(200, {"item": None}))
    with AutotaskClient(
        USERNAME,
        SECRET,
        INTEGRATION_CODE,
        BASE,
        impersonation_resource_id=29682885,
        transport=httpx.MockTransport(rec),
    ) as client:
        client._entity(TicketsEntity).get(1)
    assert rec.last.headers["ImpersonationResourceId"] == "29682885"


# --- query ------------------------------------------------------------------------------------------


def test_query_posts_query_model(client: AutotaskClient, recorder: Recorder) -> None:
    recorder.reply(page([{"id": 1, "title": "a"}]))
    result = client._entity(TicketsEntity).query(
        F("status").eq(1) & F("title").contains("print"),
        include_fields=["title"],
        max_records=50,
    )
    assert [t.id for t in result.items] == [1]
    req = recorder.last
    assert req.method == "POST"
    assert str(req.url) == BASE + "Tickets/query"
    assert "search" not in req.url.params
    assert req.headers["Content-Type"] == "application/json"
    assert recorder.body() == {
        "filter": [
            {"op": "eq", "field": "status", "value": 1},
            {"op": "contains", "field": "title", "value": "print"},
        ],
        "IncludeFields": ["title", "id"],
        "MaxRecords": 50,
    }


def test_query_without_filter_sends_all_rows_condition(
    client: AutotaskClient, recorder: Recorder
) -> None:
    recorder.reply(page([]))
    client._entity(TicketsEntity).query()
    assert recorder.body() == ALL_ROWS


def test_query_all_iter_follows_next_page_url_with_post_and_same_body(
    client: AutotaskClient, recorder: Recorder
) -> None:
    url2, url3 = next_url("Tickets", 2), next_url("Tickets", 3)
    recorder.reply(
        page([{"id": i} for i in range(1, 501)], url2),
        page([{"id": i} for i in range(501, 1001)], url3),
        page([{"id": i} for i in range(1001, 1201)]),
    )
    flt = F("status").noteq(5)
    stream = client._entity(TicketsEntity).query_all_iter(flt)
    assert recorder.requests == []  # lazy
    first = next(stream)
    assert first.id == 1 and len(recorder.requests) == 1  # one page in flight at a time
    ids = [first.id] + [t.id for t in stream]
    assert ids == list(range(1, 1201))  # nothing lost, nothing duplicated

    assert [r.method for r in recorder.requests] == ["POST", "POST", "POST"]
    assert [str(r.url) for r in recorder.requests] == [BASE + "Tickets/query", url2, url3]
    expected = {"filter": [{"op": "noteq", "field": "status", "value": 5}]}
    assert [recorder.body(i) for i in range(3)] == [expected, expected, expected]
    assert all(r.headers["Secret"] == SECRET for r in recorder.requests)


def test_next_page_method_get_option() -> None:
    url2 = next_url("Tickets", 2)
    rec = Recorder().reply(page([{"id": 1}], url2), page([{"id": 2}]))
    with AutotaskClient(
        USERNAME,
        SECRET,
        INTEGRATION_CODE,
        BASE,
        transport=httpx.MockTransport(rec),
        next_page_method="GET",
    ) as client:
        assert [t.id for t in client._entity(TicketsEntity).query_all()] == [1, 2]
    assert [r.method for r in rec.requests] == ["POST", "GET"]
    assert rec.requests[1].content == b""
    assert str(rec.requests[1].url) == url2


def test_failed_page_raises_instead_of_truncating(
    client: AutotaskClient, recorder: Recorder
) -> None:
    recorder.reply(
        page([{"id": 1}, {"id": 2}], next_url("Tickets", 2)),
        json_response(500, {"errors": ["Timeout expired."]}),
    )
    seen: list[int | None] = []
    with pytest.raises(AutotaskServerError, match=r"Timeout expired\."):
        for ticket in client._entity(TicketsEntity).query_all_iter():
            seen.append(ticket.id)
    assert seen == [1, 2]

    recorder.reply(
        page([{"id": 1}], next_url("Tickets", 2)), httpx.Response(200, content=b"<html>oops")
    )
    with pytest.raises(AutotaskAPIError, match="page of Ticket"):
        client._entity(TicketsEntity).query_all()


def test_foreign_next_page_host_is_rebased_onto_the_configured_host(
    client: AutotaskClient, recorder: Recorder
) -> None:
    foreign = "https://internal-node-7:8443/ATServicesRest/V1.0/Tickets/query/next?paging=abc"
    recorder.reply(page([{"id": 1}], foreign), page([{"id": 2}]))
    assert [t.id for t in client._entity(TicketsEntity).query_all()] == [1, 2]
    assert str(recorder.last.url) == BASE + "Tickets/query/next?paging=abc"


def test_count(client: AutotaskClient, recorder: Recorder) -> None:
    recorder.reply(json_response(200, {"queryCount": 7}))
    assert client._entity(TicketsEntity).count(F("status").eq(1)) == 7
    assert recorder.last.method == "POST"
    assert str(recorder.last.url) == BASE + "Tickets/query/count"
    assert recorder.body() == {"filter": [{"op": "eq", "field": "status", "value": 1}]}


def test_thread_limit_body_under_200_raises(client: AutotaskClient, recorder: Recorder) -> None:
    recorder.reply(json_response(200, {"errors": ["Thread Threshold Exceeded. Itgenatr005"]}))
    with pytest.raises(AutotaskRateLimitError) as info:
        client._entity(TicketsEntity).count()
    assert info.value.thread_limit


def test_record_text_mentioning_the_code_is_not_an_error(
    client: AutotaskClient, recorder: Recorder
) -> None:
    recorder.reply(page([{"id": 1, "title": "Customer saw Itgenatr005 thread threshold"}]))
    assert len(client._entity(TicketsEntity).query().items) == 1


# --- writes -----------------------------------------------------------------------------------------


def test_create_posts_collection_and_returns_item_id(
    client: AutotaskClient, recorder: Recorder
) -> None:
    recorder.reply(json_response(200, {"itemId": 555}))
    due = datetime(2024, 3, 1, 17, 0, tzinfo=timezone.utc)
    new_id = client._entity(TicketsEntity).create(
        {"title": "New", "companyID": 4, "dueDateTime": due, "isVisible": True}
    )
    assert new_id == 555
    assert recorder.last.method == "POST"
    assert str(recorder.last.url) == BASE + "Tickets"
    assert recorder.body() == {
        "title": "New",
        "companyID": 4,
        "dueDateTime": "2024-03-01T17:00:00.000Z",
        "isVisible": True,
    }


def test_update_patches_collection_with_id_in_body_and_explicit_nulls(
    client: AutotaskClient, recorder: Recorder
) -> None:
    recorder.reply(json_response(200, {"itemId": 12}))
    assert client._entity(TicketsEntity).update({"id": 12, "title": "x", "dueDateTime": None}) == 12
    assert recorder.last.method == "PATCH"
    assert str(recorder.last.url) == BASE + "Tickets"
    assert recorder.body() == {"id": 12, "title": "x", "dueDateTime": None}


def test_update_with_a_model_sends_only_set_fields(
    client: AutotaskClient, recorder: Recorder
) -> None:
    recorder.reply(httpx.Response(200, content=b""))  # no itemId: fall back to the record id
    assert client._entity(TicketsEntity).update(Ticket(id=8, company_id=3)) == 8  # type: ignore[arg-type]
    assert recorder.body() == {"id": 8, "companyID": 3}


def test_replace_puts_collection(client: AutotaskClient, recorder: Recorder) -> None:
    recorder.reply(json_response(200, {"itemId": 12}))
    client._entity(TicketsEntity).replace({"id": 12, "title": "all fields"})
    assert recorder.last.method == "PUT"
    assert str(recorder.last.url) == BASE + "Tickets"


@pytest.mark.parametrize("data", [{"title": "no id"}, {"id": None}, {"id": "12"}])
def test_update_needs_an_integer_id(
    client: AutotaskClient, recorder: Recorder, data: dict[str, Any]
) -> None:
    with pytest.raises(AutotaskConfigError, match="id"):
        client._entity(TicketsEntity).update(data)
    assert recorder.requests == []


def test_root_delete(client: AutotaskClient, recorder: Recorder) -> None:
    recorder.reply(json_response(200, {"itemId": 5}))
    client._entity(ContactGroupsEntity).delete(5)
    assert recorder.last.method == "DELETE"
    assert str(recorder.last.url) == BASE + "ContactGroups/5"


def test_unsupported_operation_names_what_is_supported(client: AutotaskClient) -> None:
    with pytest.raises(AutotaskOperationNotSupportedError) as info:
        client._entity(TicketsEntity)._delete(1)
    message = str(info.value)
    assert "Tickets does not support 'delete'" in message
    assert "count, create, get, query, replace, update at Tickets" in message

    with pytest.raises(AutotaskOperationNotSupportedError, match="Tickets/\\{parentId\\}/Notes"):
        client._entity(TicketNotesEntity)._delete(1, parent_id=2)


# --- parent routes ------------------------------------------------------------------------------------


def test_child_write_takes_parent_id_from_the_record(
    client: AutotaskClient, recorder: Recorder
) -> None:
    recorder.reply(json_response(200, {"itemId": 77}))
    notes = client._entity(TicketNotesEntity)
    assert notes.create({"ticketID": 99, "title": "t", "description": "d", "noteType": 1}) == 77
    assert recorder.last.method == "POST"
    assert str(recorder.last.url) == BASE + "Tickets/99/Notes"
    assert recorder.body() == {"ticketID": 99, "title": "t", "description": "d", "noteType": 1}


def test_child_write_with_explicit_parent_id(client: AutotaskClient, recorder: Recorder) -> None:
    recorder.reply(json_response(200, {"itemId": 5}))
    client._entity(TicketNotesEntity).update({"id": 5, "title": "x"}, parent_id=99)
    assert recorder.last.method == "PATCH"
    assert str(recorder.last.url) == BASE + "Tickets/99/Notes"
    assert recorder.body() == {"id": 5, "title": "x"}


def test_child_write_without_parent_id_names_entity_route_and_field(
    client: AutotaskClient, recorder: Recorder
) -> None:
    with pytest.raises(AutotaskConfigError) as info:
        client._entity(TicketNotesEntity).create({"title": "orphan"})
    message = str(info.value)
    assert "TicketNotes" in message
    assert "Tickets/{parentId}/Notes" in message
    assert "ticketID" in message
    assert recorder.requests == []


def test_child_write_parent_mismatch(client: AutotaskClient) -> None:
    with pytest.raises(AutotaskConfigError, match="does not match"):
        client._entity(TicketNotesEntity).create({"ticketID": 1, "title": "x"}, parent_id=2)


def test_reads_of_child_entities_use_their_root(client: AutotaskClient, recorder: Recorder) -> None:
    recorder.reply(json_response(200, {"item": {"id": 3, "ticketID": 99}}))
    note = client._entity(TicketNotesEntity).get(3)
    assert note is not None and note.ticket_id == 99
    assert str(recorder.last.url) == BASE + "TicketNotes/3"


def test_child_delete_goes_through_the_parent(client: AutotaskClient, recorder: Recorder) -> None:
    recorder.reply(json_response(200, {"itemId": 5}))
    client._entity(TicketAttachmentsEntity).delete(5, parent_id=9)
    assert recorder.last.method == "DELETE"
    assert str(recorder.last.url) == BASE + "Tickets/9/Attachments/5"
    with pytest.raises(AutotaskConfigError, match="Tickets/\\{parentId\\}/Attachments"):
        client._entity(TicketAttachmentsEntity)._delete(5)


def test_child_collection_list_get_and_writes(client: AutotaskClient, recorder: Recorder) -> None:
    list_next = f"{BASE}Tickets/9/Notes/next?paging=%7b%22pageSize%22%3a500%7d"
    recorder.reply(
        page([{"id": 1, "ticketID": 9}], list_next),
        page([{"id": 2, "ticketID": 9}]),
        json_response(200, {"item": {"id": 2, "ticketID": 9}}),
        json_response(200, {"itemId": 3}),
        json_response(200, {"itemId": 2}),
        json_response(200, {"itemId": 2}),
    )
    notes = client._entity(TicketsEntity).notes(9)
    assert [n.id for n in notes.query_all()] == [1, 2]
    got = notes.get(2)
    assert got is not None and got.ticket_id == 9
    assert notes.create({"title": "t", "description": "d"}) == 3
    assert notes.update({"id": 2, "title": "u"}) == 2
    assert notes.replace({"id": 2, "title": "r", "ticketID": 9}) == 2

    calls = [(r.method, str(r.url)) for r in recorder.requests]
    assert calls == [
        ("GET", BASE + "Tickets/9/Notes"),
        ("GET", list_next),
        ("GET", BASE + "Tickets/9/Notes/2"),
        ("POST", BASE + "Tickets/9/Notes"),
        ("PATCH", BASE + "Tickets/9/Notes"),
        ("PUT", BASE + "Tickets/9/Notes"),
    ]
    assert recorder.requests[0].content == b"" and recorder.requests[1].content == b""
    assert recorder.body(4) == {"id": 2, "title": "u"}


def test_child_collection_delete_and_unsupported(
    client: AutotaskClient, recorder: Recorder
) -> None:
    recorder.reply(json_response(200, {"itemId": 4}))
    attachments = TicketsAttachmentsCollection(client, 9)
    attachments.delete(4)
    assert (recorder.last.method, str(recorder.last.url)) == (
        "DELETE",
        BASE + "Tickets/9/Attachments/4",
    )
    with pytest.raises(AutotaskOperationNotSupportedError, match="'update'"):
        attachments._update({"id": 4})
    with pytest.raises(AutotaskOperationNotSupportedError, match="'delete'"):
        client._entity(TicketsEntity).notes(9)._delete(1)


# --- errors -----------------------------------------------------------------------------------------


def test_api_errors_keep_autotask_text_and_hide_secrets(
    client: AutotaskClient, recorder: Recorder
) -> None:
    text = "When assigning a Resource, you must assign both assignedResourceID and assignedResourceRoleID."
    recorder.reply(json_response(500, {"errors": [text]}))
    with pytest.raises(AutotaskValidationError) as info:
        client._entity(TicketsEntity).create({"title": "x", "assignedResourceID": 1})
    exc = info.value
    assert exc.errors == [text]
    assert text in str(exc)
    assert exc.method == "POST" and exc.url == BASE + "Tickets"
    rendered = f"{exc}{exc!r}{exc.args}"
    for value in SECRETS:
        assert value not in rendered


def test_connection_failures_are_wrapped() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectTimeout("timed out", request=request)

    with AutotaskClient(
        USERNAME, SECRET, INTEGRATION_CODE, BASE, transport=httpx.MockTransport(handler)
    ) as client:
        with pytest.raises(AutotaskConnectionError, match="timed out") as info:
            client._entity(TicketsEntity).get(1)
    assert info.value.method == "GET" and info.value.url == BASE + "Tickets/1"
    assert isinstance(info.value.__cause__, httpx.ConnectTimeout)


# --- raw_request, lifecycle -------------------------------------------------------------------------


def test_raw_request(client: AutotaskClient, recorder: Recorder) -> None:
    recorder.reply(
        json_response(200, {"externalRequestThreshold": 10000}),
        json_response(200, {"itemId": 1}),
        httpx.Response(200, content=b""),
    )
    assert client.raw_request("get", "/ThresholdInformation", params={"a": 1}) == {
        "externalRequestThreshold": 10000
    }
    assert str(recorder.last.url) == BASE + "ThresholdInformation?a=1"
    assert client.raw_request("POST", "Companies/1/Notes", json={"title": "x"}) == {"itemId": 1}
    assert recorder.body() == {"title": "x"}
    assert client.raw_request("GET", BASE + "Version") is None


def test_raw_request_refuses_foreign_hosts(client: AutotaskClient, recorder: Recorder) -> None:
    with pytest.raises(AutotaskConfigError, match="refusing to send credentials"):
        client.raw_request("GET", "https://evil.example.com/steal")
    assert recorder.requests == []


def test_entity_instances_are_cached_per_client(client: AutotaskClient) -> None:
    assert client._entity(TicketsEntity) is client._entity(TicketsEntity)
    other = AutotaskClient(USERNAME, SECRET, INTEGRATION_CODE, BASE)
    try:
        assert other._entity(TicketsEntity) is not client._entity(TicketsEntity)
        assert other._entity(TicketsEntity)._host is other
    finally:
        other.close()


def test_user_supplied_http_client_is_not_closed() -> None:
    rec = Recorder().reply(json_response(200, {"item": None}))
    http = httpx.Client(transport=httpx.MockTransport(rec))
    with AutotaskClient(USERNAME, SECRET, INTEGRATION_CODE, BASE, http_client=http) as client:
        assert client._entity(TicketsEntity).get(1) is None
    assert not http.is_closed
    http.close()


def test_http_client_and_transport_are_exclusive() -> None:
    with pytest.raises(AutotaskConfigError):
        AutotaskClient(
            USERNAME,
            SECRET,
            INTEGRATION_CODE,
            BASE,
            http_client=httpx.Client(),
            transport=httpx.MockTransport(Recorder()),
        )


def test_prepared_request_and_response_reprs_hide_credentials(
    client: AutotaskClient, recorder: Recorder
) -> None:
    recorder.reply(json_response(200, {"item": None}))
    response = client._send(get_request(TICKETS_SPEC, 1))
    rendered = repr(response) + repr(response.request) + str(response.request)
    assert BASE + "Tickets/1" in rendered
    for value in SECRETS:
        assert value not in rendered


def test_a_next_page_url_that_does_not_advance_raises(
    client: AutotaskClient, recorder: Recorder
) -> None:
    url2 = next_url("Tickets", 2)
    recorder.reply(page([{"id": 1}], url2), page([{"id": 2}], url2))
    with pytest.raises(AutotaskAPIError, match="stopping instead of looping"):
        client._entity(TicketsEntity).query_all()
    assert len(recorder.requests) == 2


def test_query_all_iter_checks_arguments_before_iterating(
    client: AutotaskClient, recorder: Recorder
) -> None:
    with pytest.raises(AutotaskConfigError):
        client._entity(TicketsEntity).query_all_iter([F("a").eq(1), "status eq 1"])  # type: ignore[list-item]

    class ChildOnly(SyncEntity[Ticket]):
        _spec = EntitySpec("ChildOnly", "ChildOnly", frozenset(), (NOTES_ROUTE,))
        _model = Ticket

    with pytest.raises(AutotaskOperationNotSupportedError, match="'query'"):
        client._entity(ChildOnly)._query_all_iter()
    assert recorder.requests == []
