"""Registering webhooks through the client against the simulator (real sockets): every row read
back from the simulator, the request journal, undo on failure half way, secrets kept out."""

from __future__ import annotations

import http.server
import json
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from py_autotask import AutotaskClient
from py_autotask._hooksig import SIGNATURE_HEADER, verify_signature
from py_autotask.exceptions import AutotaskConfigError
from py_autotask.simulator import Simulator
from py_autotask.webhooks._register import (
    WebhookRegistrationError,
    WebhookRegistry,
    webhook_collections,
    webhook_entities,
)

from .registry_helpers import TICKET_FIELDS, TICKET_UDFS, build_webhook_schemas, client_for

SECRET = "whreg-secret-Zq81x"
URL = "https://hooks.example.com/autotask"


@pytest.fixture(scope="session")
def webhook_schemas(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_webhook_schemas(tmp_path_factory.mktemp("webhook-schemas"))


@pytest.fixture(scope="module")
def sim(webhook_schemas: Path) -> Iterator[Simulator]:
    with Simulator(schemas_dir=webhook_schemas, seed=7, profile="tiny", hourly_threshold=0) as s:
        yield s


@pytest.fixture
def own_resource(sim: Simulator) -> int:
    """A seeded resource made the API user's own: its email set to the API user name (the
    simulator's API user has no Resources row of its own)."""
    with client_for(sim) as client:
        first = client.raw_request(
            "POST", "Resources/query", json={"filter": [{"op": "gt", "field": "id", "value": 0}]}
        )["items"][0]
        client.raw_request(
            "PATCH", "Resources", json={"id": first["id"], "email": sim.credentials["username"]}
        )
        return int(first["id"])


@pytest.fixture
def client(sim: Simulator) -> Iterator[AutotaskClient]:
    sim.faults.clear()
    with client_for(sim) as c:
        yield c
    sim.faults.clear()


def rows(client: AutotaskClient, entity: str, webhook_id: int) -> list[dict[str, Any]]:
    body = {"filter": [{"op": "eq", "field": "webhookID", "value": webhook_id}]}
    items: list[dict[str, Any]] = client.raw_request("POST", f"{entity}/query", json=body)["items"]
    return sorted(items, key=lambda r: r["id"])


def webhooks_named(client: AutotaskClient, name: str) -> list[dict[str, Any]]:
    body = {"filter": [{"op": "eq", "field": "name", "value": name}]}
    items: list[dict[str, Any]] = client.raw_request("POST", "TicketWebhooks/query", json=body)[
        "items"
    ]
    return items


def writes(sim: Simulator) -> list[tuple[str, str]]:
    return [
        (e.method, e.path)
        for e in sim.journal()
        if e.method in ("POST", "PATCH", "PUT", "DELETE") and "/query" not in e.path
    ]


def test_entities_and_children_come_from_the_metadata() -> None:
    assert webhook_entities() == [
        "Companies",
        "ConfigurationItems",
        "Contacts",
        "TicketNotes",
        "Tickets",
    ]
    cols = webhook_collections("tickets")
    assert (cols.webhooks.name, cols.fields.name) == ("TicketWebhooks", "TicketWebhookFields")
    assert cols.udf_fields is not None and cols.udf_fields.name == "TicketWebhookUdfFields"
    assert cols.excluded is not None and cols.excluded.name == "TicketWebhookExcludedResources"
    assert webhook_collections("TicketNotes").udf_fields is None  # no UdfFields route
    assert webhook_collections("Companies").error_log_field == "accountWebhookID"
    with pytest.raises(AutotaskConfigError, match="Resources has no webhooks; entities with"):
        webhook_collections("Resources")


def test_register_creates_every_row_through_the_client(
    sim: Simulator, client: AutotaskClient, own_resource: int
) -> None:
    sim.clear_journal()
    hook = WebhookRegistry(client).register(
        "Tickets",
        url=URL,
        secret_key=SECRET,
        fields=["status", "PRIORITY", "assignedResourceID"],
        udfs=["ext url"],
        display_always=["title", "status"],
        name="reg-all-rows",
        events=("create", "update"),
    )
    journal = sim.journal()
    # one request at a time per endpoint: never near the 3-per-endpoint limit, none rejected
    assert max(e.in_flight_at_start for e in journal) < 3
    assert not [e for e in journal if e.outcome != "ok"]
    assert writes(sim) == [
        ("POST", "/ATServicesRest/V1.0/TicketWebhooks"),
        *[("POST", f"/ATServicesRest/V1.0/TicketWebhooks/{hook.id}/Fields")] * 4,
        ("POST", f"/ATServicesRest/V1.0/TicketWebhooks/{hook.id}/UdfFields"),
        ("POST", f"/ATServicesRest/V1.0/TicketWebhooks/{hook.id}/ExcludedResources"),
    ]

    stored = client.raw_request("GET", f"TicketWebhooks/{hook.id}")["item"]
    assert stored["webhookUrl"] == stored["deactivationUrl"] == URL
    assert stored["secretKey"] == SECRET
    assert stored["name"] == "reg-all-rows" and stored["isActive"] is True
    assert (
        stored["isSubscribedToCreateEvents"],
        stored["isSubscribedToUpdateEvents"],
        stored["isSubscribedToDeleteEvents"],
    ) == (True, True, False)
    ids = {label: fid for fid, label in TICKET_FIELDS.items()}
    fields = {
        (r["fieldID"], r["isSubscribedField"], r["isDisplayAlwaysField"])
        for r in rows(client, "TicketWebhookFields", hook.id)
    }
    assert fields == {
        (ids["Status"], True, True),
        (ids["Priority"], True, False),
        (ids["AssignedResourceID"], True, False),
        (ids["Title"], False, True),
    }
    udfs = [
        (r["udfFieldID"], r["isSubscribedField"])
        for r in rows(client, "TicketWebhookUdfFields", hook.id)
    ]
    assert udfs == [({n: i for i, n in TICKET_UDFS.items()}["Ext URL"], True)]
    excluded = [r["resourceID"] for r in rows(client, "TicketWebhookExcludedResources", hook.id)]
    assert excluded == [own_resource]

    # what register returned is what the simulator holds, in the metadata's spelling
    assert (hook.entity, hook.url, hook.active) == ("Tickets", URL, True)
    assert hook.fields == ("status", "priority", "assignedResourceID")
    assert hook.display_always == ("status", "title")
    assert hook.udfs == ("Ext URL",) and hook.excluded_resources == (own_resource,)
    assert hook.events == ("create", "update")
    assert SECRET not in repr(hook) and SECRET not in json.dumps(hook.as_row())
    listed = [h for h in WebhookRegistry(client).list("Tickets") if h.id == hook.id]
    assert listed == [hook]


def test_explicit_exclusions_and_none(sim: Simulator, client: AutotaskClient) -> None:
    reg = WebhookRegistry(client)
    hook = reg.register(
        "Tickets", url=URL, secret_key=SECRET, fields=["queueID"], exclude_resources=[5, 9, 5]
    )
    assert [r["resourceID"] for r in rows(client, "TicketWebhookExcludedResources", hook.id)] == [
        5,
        9,
    ]
    none = reg.register(
        "Tickets", url=URL, secret_key=SECRET, fields=["queueID"], exclude_resources=[]
    )
    assert rows(client, "TicketWebhookExcludedResources", none.id) == []


#: mistakes found without the tenant's metadata
OFFLINE = (
    "at least one field or UDF",
    "choose one or more of",
    "must be an http:// or https:// URL",
    "secret_key is 65 characters",
)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"fields": ["status", "nope", "dueDateTime"]},
            "Tickets webhooks cannot subscribe to fields 'nope', 'dueDateTime'; allowed fields: "
            "assignedResourceID, priority, queueID, status, title",
        ),
        (
            {"fields": ["status"], "udfs": ["Ext URL", "Customer Tier"]},
            "cannot subscribe to UDF 'Customer Tier'; allowed UDFs: Agreed Start Date, Ext URL",
        ),
        ({"fields": ["status"], "display_always": ["bogus"]}, "field 'bogus'"),
        ({"fields": []}, "at least one field or UDF"),
        ({"fields": ["status"], "events": ("create", "explode")}, "choose one or more of"),
        ({"fields": ["status"], "url": "ftp://x"}, "must be an http:// or https:// URL"),
        ({"fields": ["status"], "secret_key": "k" * 65}, "secret_key is 65 characters"),
    ],
)
def test_bad_input_creates_nothing(
    sim: Simulator, client: AutotaskClient, options: dict[str, Any], message: str
) -> None:
    args: dict[str, Any] = {"url": URL, "secret_key": SECRET, "exclude_resources": [], **options}
    sim.clear_journal()
    with pytest.raises(AutotaskConfigError) as err:
        WebhookRegistry(client).register("Tickets", **args)
    assert message in str(err.value)
    assert writes(sim) == []
    if message in OFFLINE:
        assert sim.journal() == []  # found wrong before any request, metadata included


def test_unknown_api_user_resource_is_an_error_before_anything_is_created(
    sim: Simulator, client: AutotaskClient, own_resource: int
) -> None:
    client.raw_request(
        "PATCH", "Resources", json={"id": own_resource, "email": "someone@else.example"}
    )
    sim.clear_journal()
    with pytest.raises(AutotaskConfigError, match="--no-exclude-self"):
        WebhookRegistry(client).register("Tickets", url=URL, secret_key=SECRET, fields=["status"])
    assert writes(sim) == []


@pytest.mark.parametrize(
    ("effect", "cause"),
    [
        ("validation", "Simulated validation error"),
        # applied, then the connection drops: a row exists whose id the client never saw
        ("commit_then_drop", "outcome unknown"),
    ],
)
def test_failure_half_way_deletes_what_was_created(
    sim: Simulator,
    client: AutotaskClient,
    caplog: pytest.LogCaptureFixture,
    effect: str,
    cause: str,
) -> None:
    # the second Fields POST fails: the webhook and the first field row exist by then
    sim.add_fault(match={"method": "POST", "path": "/Fields"}, sequence=["ok", {"type": effect}])
    caplog.set_level(logging.DEBUG)
    with pytest.raises(WebhookRegistrationError) as err:
        WebhookRegistry(client).register(
            "Tickets",
            url=URL,
            secret_key=SECRET,
            fields=["status", "priority", "title"],
            exclude_resources=[7],
            name=f"reg-half-way-{effect}",
        )
    assert err.value.removed is True and err.value.left == []
    assert cause in str(err.value) and "nothing is registered" in str(err.value)
    assert webhooks_named(client, f"reg-half-way-{effect}") == []
    hook_id = int(str(err.value).split("TicketWebhooks ")[1].split(" ")[0])
    for child in (
        "TicketWebhookFields",
        "TicketWebhookUdfFields",
        "TicketWebhookExcludedResources",
    ):
        assert rows(client, child, hook_id) == []
    assert SECRET not in str(err.value) and SECRET not in caplog.text


def test_failure_half_way_when_undo_fails_reports_exactly_what_exists(
    sim: Simulator, client: AutotaskClient
) -> None:
    sim.add_fault(match={"method": "POST", "path": "/ExcludedResources"}, effect="validation")
    sim.add_fault(match={"method": "DELETE", "entity": "TicketWebhooks"}, effect="validation")
    with pytest.raises(WebhookRegistrationError) as err:
        WebhookRegistry(client).register(
            "Tickets",
            url=URL,
            secret_key=SECRET,
            fields=["status"],
            exclude_resources=[7],
            name="reg-undo-fails",
        )
    sim.faults.clear()
    (left,) = webhooks_named(client, "reg-undo-fails")
    assert err.value.removed is False
    assert err.value.left == [f"TicketWebhooks {left['id']}"]
    assert f"webhooks delete Tickets {left['id']}" in str(err.value)
    assert rows(client, "TicketWebhookFields", left["id"]) == []  # the field row was undone
    WebhookRegistry(client).delete("Tickets", left["id"])
    assert webhooks_named(client, "reg-undo-fails") == []


def test_delete_removes_the_webhook_and_its_rows(sim: Simulator, client: AutotaskClient) -> None:
    reg = WebhookRegistry(client)
    hook = reg.register(
        "Tickets",
        url=URL,
        secret_key=SECRET,
        fields=["status"],
        udfs=["Ext URL"],
        exclude_resources=[3],
    )
    reg.delete("Tickets", hook.id)
    assert client.raw_request("GET", f"TicketWebhooks/{hook.id}")["item"] is None
    for child in (
        "TicketWebhookFields",
        "TicketWebhookUdfFields",
        "TicketWebhookExcludedResources",
    ):
        assert rows(client, child, hook.id) == []
    with pytest.raises(AutotaskConfigError, match=f"no webhook with id {hook.id}"):
        reg.delete("Tickets", hook.id)


def test_deactivated_lists_inactive_webhooks_with_their_error_log_rows(
    sim: Simulator, client: AutotaskClient
) -> None:
    logs = client.raw_request(
        "POST",
        "WebhookEventErrorLogs/query",
        json={"filter": [{"op": "gt", "field": "id", "value": 0}]},
    )["items"]
    company_hook = logs[0]["accountWebhookID"]
    client.raw_request("PATCH", "CompanyWebhooks", json={"id": company_hook, "isActive": False})
    try:
        found = WebhookRegistry(client).deactivated()
    finally:
        client.raw_request("PATCH", "CompanyWebhooks", json={"id": company_hook, "isActive": True})
    (mine,) = [d for d in found if (d.webhook.entity, d.webhook.id) == ("Companies", company_hook)]
    assert mine.webhook.active is False and mine.errors_linked is True
    assert [r["id"] for r in mine.errors] == [
        r["id"] for r in logs if r["accountWebhookID"] == company_hook
    ]
    assert all(not d.webhook.active for d in found)
    tickets = [d for d in found if d.webhook.entity == "Tickets"]
    assert all(d.errors_linked is False for d in tickets)  # the log has no ticket webhook field


class _Receiver(http.server.BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[dict[str, str], bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((dict(self.headers), body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    _Receiver.received = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()
    server.server_close()


def test_test_posts_a_signed_sample_to_the_url(
    sim: Simulator, client: AutotaskClient, receiver: str
) -> None:
    reg = WebhookRegistry(client)
    hook = reg.register(
        "Tickets",
        url=receiver,
        secret_key=SECRET,
        fields=["status"],
        display_always=["title"],
        exclude_resources=[],
    )
    delivery = reg.test("Tickets", hook.id)
    assert delivery.ok and delivery.status == 200 and delivery.url == receiver
    ((headers, body),) = _Receiver.received
    assert verify_signature(SECRET, body, headers[SIGNATURE_HEADER])
    assert not verify_signature("another-secret", body, headers[SIGNATURE_HEADER])
    payload = json.loads(body)
    assert payload["Guid"] == hook.guid and payload["EntityType"] == "Ticket"
    assert payload["Action"] == "Update" and set(payload["Fields"]) == {"status", "title"}
    assert payload["EventTime"].endswith("Z") and isinstance(payload["SequenceNumber"], int)
    assert body == json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    # a secret given explicitly signs instead of the stored one
    reg.test("Tickets", hook.id, secret_key="given-secret-1")
    assert verify_signature(
        "given-secret-1", _Receiver.received[1][1], _Receiver.received[1][0][SIGNATURE_HEADER]
    )


def test_async_registry_runs_the_same_flows(sim: Simulator, receiver: str) -> None:
    import asyncio

    from py_autotask import AsyncAutotaskClient
    from py_autotask.webhooks import AsyncWebhookRegistry

    async def main() -> None:
        c = sim.credentials
        async with AsyncAutotaskClient(
            c["username"], c["secret"], c["integration_code"], api_url=sim.url
        ) as client:
            reg = AsyncWebhookRegistry(client)
            hook = await reg.register(
                "Tickets",
                url=receiver,
                secret_key=SECRET,
                fields=["priority"],
                exclude_resources=[2],
            )
            assert [h.id for h in await reg.list("Tickets") if h.id == hook.id] == [hook.id]
            assert hook.fields == ("priority",) and hook.excluded_resources == (2,)
            delivery = await reg.test("Tickets", hook.id)
            assert delivery.status == 200
            await reg.delete("Tickets", hook.id)
            with pytest.raises(AutotaskConfigError, match="no webhook with id"):
                await reg.get("Tickets", hook.id)

    asyncio.run(main())
    # the signed sample of `test`; deleting the webhook also POSTs a Deactivated notice
    samples = [(h, b) for h, b in _Receiver.received if b'"Deactivated"' not in b]
    ((headers, body),) = samples
    assert verify_signature(SECRET, body, headers[SIGNATURE_HEADER])


def test_fields_flagged_unsupported_are_left_out(sim: Simulator, client: AutotaskClient) -> None:
    # the picklist names createDate, the Companies metadata flags it isSupportedWebhookField=false
    catalog = WebhookRegistry(client).catalog("Companies")
    assert dict(catalog.fields) == {"companyName": 1, "phone": 2}
    sim.clear_journal()
    with pytest.raises(
        AutotaskConfigError, match="field 'createDate'; allowed fields: companyName, phone"
    ):
        WebhookRegistry(client).register(
            "Companies", url=URL, secret_key=SECRET, fields=["createDate"], exclude_resources=[]
        )
    assert writes(sim) == []


def test_an_empty_catalog_names_the_picklist() -> None:
    # a tenant whose ContactWebhookFields.fieldID picklist is empty (the snapshot has none)
    with Simulator(profile="tiny", seed=2, webhook_catalog="snapshot") as bare:
        c = bare.credentials
        with (
            AutotaskClient(
                c["username"], c["secret"], c["integration_code"], api_url=bare.url
            ) as client,
            pytest.raises(AutotaskConfigError) as err,
        ):
            WebhookRegistry(client).register(
                "Contacts", url=URL, secret_key=SECRET, fields=["firstName"], exclude_resources=[]
            )
    assert "allowed fields: none (the fieldID picklist of ContactWebhookFields is empty" in str(
        err.value
    )


def test_registrations_in_parallel_stay_within_three_per_endpoint(
    sim: Simulator, client: AutotaskClient
) -> None:
    # six registrations at once through one client: the client's limiter keeps every endpoint
    # at 3 requests in flight at most (the simulator would answer a 4th with 429)
    from concurrent.futures import ThreadPoolExecutor

    reg = WebhookRegistry(client)
    reg.catalog("Tickets")
    # slow writes, so that the registrations' requests overlap
    sim.add_fault(
        match={"method": "POST"}, effect={"type": "latency", "dist": "fixed", "seconds": 0.05}
    )
    sim.clear_journal()

    def one(n: int) -> int:
        hook = reg.register(
            "Tickets",
            url=f"{URL}/{n}",
            secret_key=SECRET,
            fields=["status", "priority", "title", "queueID"],
            exclude_resources=[n],
        )
        return hook.id

    with ThreadPoolExecutor(6) as pool:
        ids = list(pool.map(one, range(1, 7)))
    journal = sim.journal()
    assert len(set(ids)) == 6
    assert 1 <= max(e.in_flight_at_start for e in journal) < 3  # overlapped, never past 3
    assert all(e.status == 200 and not e.outcome.startswith("rejected") for e in journal)
    for n, hook_id in enumerate(ids, start=1):
        assert len(rows(client, "TicketWebhookFields", hook_id)) == 4
        assert [
            r["resourceID"] for r in rows(client, "TicketWebhookExcludedResources", hook_id)
        ] == [n]
