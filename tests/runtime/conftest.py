"""Hand-written specs, models and entity classes that mirror what codegen emits, plus an
``httpx.MockTransport`` recorder, so runtime tests do not depend on generated code."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any

import httpx
import pytest
from pydantic import Field

from py_autotask import AsyncAutotaskClient, AutotaskClient
from py_autotask._entity import AsyncChildCollection, AsyncEntity, SyncChildCollection, SyncEntity
from py_autotask._model import AutotaskModel, Page
from py_autotask._spec import EntitySpec, RouteSpec
from py_autotask.query import FilterArg
from py_autotask.resilience import PacingConfig, RetryConfig

BASE = "https://webservices14.autotask.net/ATServicesRest/V1.0/"
USERNAME = "jane.doe@example.com"
SECRET = "S3cr3t-Value-xyz"
INTEGRATION_CODE = "INTCODE1234567890ABCDEFGHIJ"
SECRETS = (USERNAME, SECRET, INTEGRATION_CODE)

TICKETS_SPEC = EntitySpec(
    name="Tickets",
    singular="Ticket",
    root_operations=frozenset({"count", "create", "get", "query", "replace", "update"}),
    has_udfs=True,
)
NOTES_ROUTE = RouteSpec(
    parent="Tickets",
    child="Notes",
    parent_id_field="ticketID",
    operations=frozenset({"create", "get", "list", "replace", "update"}),
)
TICKET_NOTES_SPEC = EntitySpec(
    name="TicketNotes",
    singular="TicketNote",
    root_operations=frozenset({"count", "get", "query"}),
    parent_routes=(NOTES_ROUTE,),
)
ATTACHMENTS_ROUTE = RouteSpec(
    parent="Tickets",
    child="Attachments",
    parent_id_field="parentID",
    operations=frozenset({"create", "delete", "get", "list"}),
)
TICKET_ATTACHMENTS_SPEC = EntitySpec(
    name="TicketAttachments",
    singular="TicketAttachment",
    root_operations=frozenset({"count", "get", "query"}),
    parent_routes=(ATTACHMENTS_ROUTE,),
)
CONTACT_GROUPS_SPEC = EntitySpec(
    name="ContactGroups",
    singular="ContactGroup",
    root_operations=frozenset({"count", "create", "delete", "get", "query", "update"}),
)


class Ticket(AutotaskModel):
    id: int | None = None
    title: str | None = None
    status: int | None = None
    company_id: int | None = Field(None, alias="companyID")
    last_activity_date: datetime | None = Field(None, alias="lastActivityDate")


class TicketNote(AutotaskModel):
    id: int | None = None
    ticket_id: int | None = Field(None, alias="ticketID")
    title: str | None = None
    description: str | None = None


class TicketAttachment(AutotaskModel):
    id: int | None = None
    parent_id: int | None = Field(None, alias="parentID")
    title: str | None = None


class ContactGroup(AutotaskModel):
    id: int | None = None
    name: str | None = None


class TicketsEntity(SyncEntity[Ticket]):
    _spec = TICKETS_SPEC
    _model = Ticket

    def get(self, id: int) -> Ticket | None:
        return self._get(id)

    def query(
        self,
        filter: FilterArg | None = None,
        *,
        include_fields: Sequence[str] | None = None,
        max_records: int | None = None,
    ) -> Page[Ticket]:
        return self._query(filter, include_fields=include_fields, max_records=max_records)

    def query_all_iter(
        self, filter: FilterArg | None = None, *, include_fields: Sequence[str] | None = None
    ) -> Iterator[Ticket]:
        return self._query_all_iter(filter, include_fields=include_fields)

    def query_all(
        self, filter: FilterArg | None = None, *, include_fields: Sequence[str] | None = None
    ) -> list[Ticket]:
        return self._query_all(filter, include_fields=include_fields)

    def count(self, filter: FilterArg | None = None) -> int:
        return self._count(filter)

    def create(self, data: dict[str, Any]) -> int:
        return self._create(data)

    def update(self, data: dict[str, Any]) -> int:
        return self._update(data)

    def replace(self, data: dict[str, Any]) -> int:
        return self._replace(data)

    def notes(self, parent_id: int) -> TicketsNotesCollection:
        return TicketsNotesCollection(self._host, parent_id)


class TicketNotesEntity(SyncEntity[TicketNote]):
    _spec = TICKET_NOTES_SPEC
    _model = TicketNote

    def get(self, id: int) -> TicketNote | None:
        return self._get(id)

    def query_all(self, filter: FilterArg | None = None) -> list[TicketNote]:
        return self._query_all(filter)

    def create(self, data: dict[str, Any], *, parent_id: int | None = None) -> int:
        return self._create(data, parent_id=parent_id)

    def update(self, data: dict[str, Any], *, parent_id: int | None = None) -> int:
        return self._update(data, parent_id=parent_id)


class TicketAttachmentsEntity(SyncEntity[TicketAttachment]):
    _spec = TICKET_ATTACHMENTS_SPEC
    _model = TicketAttachment

    def delete(self, id: int, *, parent_id: int) -> None:
        self._delete(id, parent_id=parent_id)


class ContactGroupsEntity(SyncEntity[ContactGroup]):
    _spec = CONTACT_GROUPS_SPEC
    _model = ContactGroup

    def delete(self, id: int) -> None:
        self._delete(id)


class TicketsNotesCollection(SyncChildCollection[TicketNote]):
    _model = TicketNote

    def __init__(self, client: Any, parent_id: int) -> None:
        super().__init__(client, TICKET_NOTES_SPEC, NOTES_ROUTE, parent_id)

    def query_all_iter(self) -> Iterator[TicketNote]:
        return self._list_iter()

    def query_all(self) -> list[TicketNote]:
        return self._list()

    def get(self, id: int) -> TicketNote | None:
        return self._get(id)

    def create(self, data: dict[str, Any]) -> int:
        return self._create(data)

    def update(self, data: dict[str, Any]) -> int:
        return self._update(data)

    def replace(self, data: dict[str, Any]) -> int:
        return self._replace(data)


class TicketsAttachmentsCollection(SyncChildCollection[TicketAttachment]):
    _model = TicketAttachment

    def __init__(self, client: Any, parent_id: int) -> None:
        super().__init__(client, TICKET_ATTACHMENTS_SPEC, ATTACHMENTS_ROUTE, parent_id)

    def delete(self, id: int) -> None:
        self._delete(id)


class AsyncTicketsEntity(AsyncEntity[Ticket]):
    _spec = TICKETS_SPEC
    _model = Ticket


class AsyncTicketsNotesCollection(AsyncChildCollection[TicketNote]):
    _model = TicketNote

    def __init__(self, client: Any, parent_id: int) -> None:
        super().__init__(client, TICKET_NOTES_SPEC, NOTES_ROUTE, parent_id)


# --- fake server ----------------------------------------------------------------------------------

Handler = Callable[[httpx.Request], httpx.Response]


def json_response(status: int, data: Any, **headers: str) -> httpx.Response:
    return httpx.Response(status, content=json.dumps(data).encode(), headers=headers)


class Recorder:
    """A MockTransport handler that records every request and answers from a script."""

    def __init__(self, handler: Handler | None = None) -> None:
        self.requests: list[httpx.Request] = []
        self.handler = handler
        self.queue: list[httpx.Response] = []

    def reply(self, *responses: httpx.Response) -> Recorder:
        self.queue.extend(responses)
        return self

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        if self.queue:
            return self.queue.pop(0)
        if self.handler is not None:
            return self.handler(request)
        raise AssertionError(f"unexpected request {request.method} {request.url}")

    @property
    def last(self) -> httpx.Request:
        return self.requests[-1]

    def body(self, index: int = -1) -> Any:
        content = self.requests[index].content
        return json.loads(content) if content else None


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


#: Scripted mock-transport tests check exact request sequences and error mapping: no retries and no
#: ThresholdInformation polls (the resilient pipeline is tested in tests/runtime/resilience/).
PLAIN = {
    "retry_config": RetryConfig(max_retries=0),
    "pacing": PacingConfig(threshold_poll_interval=None),
}


@pytest.fixture
def client(recorder: Recorder) -> Iterator[AutotaskClient]:
    with AutotaskClient(
        USERNAME,
        SECRET,
        INTEGRATION_CODE,
        BASE,
        transport=httpx.MockTransport(recorder),
        **PLAIN,  # type: ignore[arg-type]
    ) as c:
        yield c


def make_async_client(recorder: Recorder, **kwargs: Any) -> AsyncAutotaskClient:
    return AsyncAutotaskClient(
        USERNAME,
        SECRET,
        INTEGRATION_CODE,
        kwargs.pop("api_url", BASE),
        transport=httpx.MockTransport(recorder),
        **{**PLAIN, **kwargs},
    )


@pytest.fixture(autouse=True)
def _no_autotask_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "AUTOTASK_USERNAME",
        "AUTOTASK_SECRET",
        "AUTOTASK_INTEGRATION_CODE",
        "AUTOTASK_API_URL",
    ):
        monkeypatch.delenv(name, raising=False)
