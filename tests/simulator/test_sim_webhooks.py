"""The simulator's webhooks: the ``<X>Webhooks`` entities and callouts from its change feed, sent
over real sockets to a small stdlib receiver recording what it gets."""

from __future__ import annotations

import itertools
import json
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from sim_helpers import ALL_ROWS, api_client, errors_of, ticket_body

from py_autotask._hooksig import SIGNATURE_HEADER, dotnet_form, sign, verify_signature
from py_autotask.simulator import Simulator
from tests._serve import served

SECRET = "webhook-secret-0123456789"
SCALE = 6000.0  # virtual seconds per real second: the 2-minute retry schedule takes 20 ms


class Receiver:
    """Records every POST; ``fail[path] = n`` answers the next n requests to path with 500
    (-1: always)."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.fail: dict[str, int] = {}
        self.delay: dict[str, float] = {}  # seconds a path waits before answering
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                time.sleep(receiver.delay.get(self.path, 0.0))
                with receiver.lock:
                    left = receiver.fail.get(self.path, 0)
                    if left:
                        receiver.fail[self.path] = left - 1 if left > 0 else left
                    receiver.requests.append(
                        {
                            "path": self.path,
                            "headers": {k.lower(): v for k, v in self.headers.items()},
                            "body": body,
                            "json": json.loads(body),
                            "status": 500 if left else 200,
                            "peer": self.client_address,
                        }
                    )
                self.send_response(500 if left else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def got(self, path: str, status: int | None = 200) -> list[dict[str, Any]]:
        with self.lock:
            return [
                r
                for r in self.requests
                if r["path"] == path and (status is None or r["status"] == status)
            ]

    def clear(self) -> None:
        with self.lock:
            self.requests.clear()
            self.fail.clear()
            self.delay.clear()


@pytest.fixture(scope="module")
def wsim() -> Iterator[Simulator]:
    with Simulator(seed=42, profile="tiny", hourly_threshold=0, time_scale=SCALE) as s:
        yield s


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()
    r.server.server_close()


@pytest.fixture
def api(wsim: Simulator, receiver: Receiver) -> Iterator[httpx.Client]:
    wsim.reset()
    wsim.webhooks.configure(
        delay=0, duplicate=0, out_of_order=0, drop=0, sign="dotnet", paused=False
    )
    receiver.clear()
    with api_client(wsim) as c:
        yield c


def field_ids(api: httpx.Client, collection: str) -> dict[str, int]:
    fields = api.get(f"{collection}/entityInformation/fields").json()["fields"]
    (fid,) = [f for f in fields if f["name"] in ("fieldID", "udfFieldID")]
    assert fid["isPickList"] is True
    return {p["label"].lower(): int(p["value"]) for p in fid["picklistValues"]}


def register(
    api: httpx.Client,
    receiver: Receiver,
    path: str = "/hook",
    *,
    kind: str = "Ticket",
    fields: tuple[str, ...] = ("status",),
    display: tuple[str, ...] = (),
    exclude: tuple[int, ...] = (),
    events: tuple[str, ...] = ("Create", "Update", "Delete"),
) -> dict[str, Any]:
    body = {
        "name": f"test {path}",
        "webhookUrl": receiver.url(path),
        "deactivationUrl": receiver.url(path + "/deactivated"),
        "secretKey": SECRET,
        "isActive": True,
        "sendThresholdExceededNotification": False,
        **{f"isSubscribedTo{e}Events": True for e in events},
    }
    r = api.post(f"{kind}Webhooks", json=body)
    assert r.status_code == 200, r.text
    wid = r.json()["itemId"]
    ids = field_ids(api, f"{kind}WebhookFields")
    for name in sorted({*fields, *display}):
        row = {
            "fieldID": ids[name.lower()],
            "isSubscribedField": name in fields,
            "isDisplayAlwaysField": name in display,
        }
        assert api.post(f"{kind}Webhooks/{wid}/Fields", json=row).status_code == 200
    for resource in exclude:
        r = api.post(f"{kind}Webhooks/{wid}/ExcludedResources", json={"resourceID": resource})
        assert r.status_code == 200, r.text
    item: dict[str, Any] = api.get(f"{kind}Webhooks/{wid}").json()["item"]
    return item


def new_ticket(api: httpx.Client, **changes: Any) -> int:
    r = api.post("Tickets", json=ticket_body(api, **changes))
    assert r.status_code == 200, r.text
    return int(r.json()["itemId"])


def error_logs(api: httpx.Client) -> list[dict[str, Any]]:
    """WebhookEventErrorLogs rows the simulator wrote (not the seeded ones)."""
    query = {"filter": [{"op": "contains", "field": "errorMessage", "value": "was dropped"}]}
    rows: list[dict[str, Any]] = api.post("WebhookEventErrorLogs/query", json=query).json()["items"]
    return rows


def settle(sim: Simulator) -> None:
    assert sim.webhooks.wait_idle(10.0)


def test_webhook_entities_follow_autotask_rules(api: httpx.Client, wsim: Simulator) -> None:
    base = {
        "name": "rules",
        "webhookUrl": "http://127.0.0.1:9/x",
        "deactivationUrl": "http://127.0.0.1:9/y",
        "secretKey": SECRET,
        "isActive": True,
        "sendThresholdExceededNotification": False,
    }
    missing = api.post("TicketWebhooks", json={k: v for k, v in base.items() if k != "secretKey"})
    assert missing.status_code == 500
    assert errors_of(missing) == ["Missing Required Field: secretKey."]
    first = api.post(
        "TicketWebhooks",
        json={**base, "isReady": True, "webhookGuid": "mine", "ownerResourceID": 7},
    ).json()["itemId"]
    second = api.post("TicketWebhooks", json=base).json()["itemId"]
    assert second == first + 1
    item = api.get(f"TicketWebhooks/{first}").json()["item"]
    assert re.fullmatch(r"[0-9a-f-]{36}", item["webhookGuid"])
    assert item["webhookGuid"] != api.get(f"TicketWebhooks/{second}").json()["item"]["webhookGuid"]
    assert item["isReady"] is False  # no field row yet, whatever the body said
    assert item["ownerResourceID"] == wsim.config.users[0].resource_id
    assert item["secretKey"] == SECRET  # UNCONFIRMED whether Autotask masks it: kept readable

    ids = field_ids(api, "TicketWebhookFields")
    assert ids["status"] != ids["title"]  # the catalog names the metadata's fields
    row = api.post(
        f"TicketWebhooks/{first}/Fields",
        json={"fieldID": ids["status"], "isSubscribedField": True, "isDisplayAlwaysField": False},
    ).json()["itemId"]
    assert api.get(f"TicketWebhooks/{first}").json()["item"]["isReady"] is True
    mine = {"filter": [{"op": "eq", "field": "webhookID", "value": first}]}
    rows = api.post("TicketWebhookFields/query", json=mine).json()["items"]
    assert [(r["id"], r["webhookID"], r["fieldID"]) for r in rows] == [(row, first, ids["status"])]
    # a PATCH cannot set isReady; deleting the last field row clears it
    api.patch("TicketWebhooks", json={"id": second, "isReady": True})
    assert api.get(f"TicketWebhooks/{second}").json()["item"]["isReady"] is False
    assert api.delete(f"TicketWebhooks/{first}/Fields/{row}").status_code == 200
    assert api.get(f"TicketWebhooks/{first}").json()["item"]["isReady"] is False
    # the UDF catalog comes from the entity's UDF metadata
    udf_ids = field_ids(api, "TicketWebhookUdfFields")
    udfs = api.get("Tickets/entityInformation/userDefinedFields").json()["fields"]
    assert set(udf_ids) == {u["name"].lower() for u in udfs}


def test_create_callout_shape_and_signature(
    api: httpx.Client, wsim: Simulator, receiver: Receiver
) -> None:
    hook = register(api, receiver, fields=("status",), display=("title",))
    tid = new_ticket(api, title="Café & <b>'quoted'</b> + ü")
    settle(wsim)
    (req,) = receiver.got("/hook")
    payload = req["json"]
    assert payload == {
        "Action": "Create",
        "Guid": hook["webhookGuid"],
        "EntityType": "Ticket",
        "Id": tid,
        "Fields": {
            "status": api.get(f"Tickets/{tid}").json()["item"]["status"],
            "title": "Café & <b>'quoted'</b> + ü",
        },
        "EventTime": payload["EventTime"],
        "SequenceNumber": 1,
        "PersonID": wsim.config.users[0].resource_id,
    }
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", payload["EventTime"])
    body = req["body"]
    assert "Café".encode() in body  # UTF-8, non-ASCII plain
    assert b'": ' not in body and b', "' not in body  # compact
    assert req["headers"]["content-type"] == "application/json"
    header = req["headers"][SIGNATURE_HEADER.lower()]
    assert header == sign(SECRET, dotnet_form(body)) != sign(SECRET, body)
    assert verify_signature(SECRET, body, header)
    assert not verify_signature("another-secret", body, header)
    (delivery,) = wsim.webhook_deliveries()
    assert (delivery.attempt, delivery.status, delivery.outcome) == (1, 200, "ok")
    assert delivery.sent_at >= delivery.committed_at > 0
    change = wsim.changes(entity="Tickets")[-1]
    assert delivery.change_sequence == change.sequence


def test_updates_only_for_subscribed_fields(
    api: httpx.Client, wsim: Simulator, receiver: Receiver
) -> None:
    register(api, receiver, fields=("status", "priority"), display=("title",), events=("Update",))
    tid = new_ticket(api)  # not subscribed to creates
    item = api.get(f"Tickets/{tid}").json()["item"]
    api.patch("Tickets", json={"id": tid, "description": "an unsubscribed field"})
    api.patch("Tickets", json={"id": tid, "status": item["status"]})  # unchanged value
    settle(wsim)
    assert receiver.got("/hook") == []
    fields = api.get("Tickets/entityInformation/fields").json()["fields"]
    (status,) = [f for f in fields if f["name"] == "status"]
    other = next(p["value"] for p in status["picklistValues"] if p["value"] != str(item["status"]))
    api.patch("Tickets", json={"id": tid, "status": int(other), "description": "again"})
    settle(wsim)
    (req,) = receiver.got("/hook")
    assert req["json"]["Action"] == "Update"
    assert req["json"]["Fields"] == {"status": int(other), "title": item["title"]}
    assert req["json"]["SequenceNumber"] == 1


def test_udf_subscriptions(api: httpx.Client, wsim: Simulator, receiver: Receiver) -> None:
    hook = register(api, receiver, fields=("title",), events=("Update",))
    udf_ids = field_ids(api, "TicketWebhookUdfFields")
    row = {"udfFieldID": udf_ids["status summary"], "isSubscribedField": True}
    assert api.post(f"TicketWebhooks/{hook['id']}/UdfFields", json=row).status_code == 200
    tid = new_ticket(api)
    udf = [{"name": "Status Summary", "value": "all green"}]
    api.patch("Tickets", json={"id": tid, "userDefinedFields": udf})
    settle(wsim)
    (req,) = receiver.got("/hook")
    assert req["json"]["Fields"] == {"Status Summary": "all green"}


def test_changes_by_excluded_resource_are_not_sent(
    api: httpx.Client, wsim: Simulator, receiver: Receiver
) -> None:
    resources = api.post("Resources/query", json=ALL_ROWS).json()["items"]
    excluded, other = resources[0]["id"], resources[1]["id"]
    register(api, receiver, fields=("title",), exclude=(excluded,))
    with api_client(wsim, ImpersonationResourceId=str(excluded)) as as_excluded:
        new_ticket(as_excluded, title="by the excluded resource")
    with api_client(wsim, ImpersonationResourceId=str(other)) as as_other:
        tid = new_ticket(as_other, title="by someone else")
    settle(wsim)
    (req,) = receiver.got("/hook")
    assert (req["json"]["Id"], req["json"]["PersonID"]) == (tid, other)


def test_delete_callout_carries_no_fields(
    api: httpx.Client, wsim: Simulator, receiver: Receiver
) -> None:
    register(api, receiver, kind="Contact", fields=("firstName",), display=("lastName",))
    contact = api.post("Contacts/query", json=ALL_ROWS).json()["items"][0]
    r = api.delete(f"Companies/{contact['companyID']}/Contacts/{contact['id']}")
    assert r.status_code == 200, r.text
    settle(wsim)
    (req,) = receiver.got("/hook")
    assert req["json"]["Action"] == "Delete"
    assert (req["json"]["EntityType"], req["json"]["Id"]) == ("Contact", contact["id"])
    assert req["json"]["Fields"] == {}


def test_retry_schedule_then_drop_and_error_log(
    api: httpx.Client, wsim: Simulator, receiver: Receiver
) -> None:
    register(api, receiver, "/down", fields=("title",))
    receiver.fail["/down"] = -1
    scale = 100.0  # 2 virtual minutes in 1.2 s; 0.1 s of real jitter is 10 virtual seconds
    wsim.clock.set_scale(scale)
    try:
        new_ticket(api, title="never delivered")
        settle(wsim)
    finally:
        wsim.clock.set_scale(SCALE)
    attempts = wsim.webhook_deliveries()
    assert [(d.attempt, d.status, d.outcome) for d in attempts] == [
        (n, 500, "error") for n in range(1, 6)
    ]
    # each retry ~30 virtual s after the previous attempt ended (plus sleep jitter), all five
    # within about 2 minutes
    gaps = [b.sent_at - (a.sent_at + a.latency * scale) for a, b in itertools.pairwise(attempts)]
    assert all(29.9 <= g < 40.0 for g in gaps), gaps
    assert attempts[-1].sent_at - attempts[0].sent_at < 160
    assert len(receiver.got("/down", status=None)) == 5
    (log,) = error_logs(api)
    assert log["sequenceNumber"] == 1
    assert json.loads(log["payload"])["Fields"] == {"title": "never delivered"}
    assert "dropped" in log["errorMessage"]


def test_a_slow_receiver_times_out_and_is_retried(
    api: httpx.Client, wsim: Simulator, receiver: Receiver
) -> None:
    register(api, receiver, "/slow", fields=("title",))
    receiver.delay["/slow"] = 0.3
    wsim.clock.set_scale(600)  # the 10 s timeout is 17 ms real; the floor lowered below it
    floor = wsim.config.webhook_min_real_timeout
    wsim.config.webhook_min_real_timeout = 0.05
    try:
        new_ticket(api, title="slow")
        settle(wsim)
    finally:
        wsim.clock.set_scale(SCALE)
        wsim.config.webhook_min_real_timeout = floor
    attempts = wsim.webhook_deliveries()
    assert [(d.attempt, d.outcome, d.status) for d in attempts] == [
        (n, "timeout", None) for n in range(1, 6)
    ]
    assert all(0.05 <= d.latency < 0.25 for d in attempts)
    assert attempts[0].error == "no answer within 10 s"
    assert len(error_logs(api)) == 1


def test_events_of_one_webhook_are_delivered_in_order(
    api: httpx.Client, wsim: Simulator, receiver: Receiver
) -> None:
    register(api, receiver, fields=("title",))
    receiver.fail["/hook"] = 2  # the first event needs three attempts and holds the others
    ids = [new_ticket(api, title=f"t{n}") for n in range(3)]
    settle(wsim)
    got = receiver.got("/hook")
    assert [r["json"]["Id"] for r in got] == ids
    assert [r["json"]["SequenceNumber"] for r in got] == [1, 2, 3]
    first_ok = [d for d in wsim.webhook_deliveries() if d.outcome == "ok"]
    assert [d.attempt for d in first_ok] == [3, 1, 1]


def test_a_failing_webhook_holds_only_its_own_events(
    api: httpx.Client, wsim: Simulator, receiver: Receiver
) -> None:
    ticket_hook = register(api, receiver, "/down", fields=("title",))
    contact_hook = register(api, receiver, kind="Contact", fields=("firstName",))
    assert ticket_hook["id"] == contact_hook["id"]  # ids repeat across the collections
    receiver.fail["/down"] = -1
    contact = api.post("Contacts/query", json=ALL_ROWS).json()["items"][0]
    wsim.webhooks.pause()
    new_ticket(api, title="stuck")
    api.patch(
        f"Companies/{contact['companyID']}/Contacts",
        json={"id": contact["id"], "firstName": "Zoë"},
    )
    wsim.webhooks.resume()
    settle(wsim)
    (req,) = receiver.got("/hook")
    assert req["json"]["Fields"] == {"firstName": "Zoë"}
    delivered = next(d for d in wsim.webhook_deliveries() if d.outcome == "ok")
    assert delivered.attempt == 1 and delivered.webhook_entity == "ContactWebhooks"
    assert delivered.sent_at < wsim.webhook_deliveries(outcome="error")[-1].sent_at


def test_many_events_in_order_over_one_kept_alive_connection(
    api: httpx.Client, wsim: Simulator, receiver: Receiver
) -> None:
    register(api, receiver, fields=("title",))
    wsim.webhooks.pause()
    tid = new_ticket(api, title="t")
    for n in range(150):
        api.patch("Tickets", json={"id": tid, "title": f"title {n}"})
    wsim.webhooks.resume()
    settle(wsim)
    got = receiver.got("/hook")
    assert [r["json"]["SequenceNumber"] for r in got] == list(range(1, 152))
    assert got[-1]["json"]["Fields"] == {"title": "title 149"}
    assert len({r["peer"] for r in got}) == 1  # one connection, kept alive


def test_25_failed_events_deactivate_the_webhook(
    api: httpx.Client, wsim: Simulator, receiver: Receiver
) -> None:
    hook = register(api, receiver, "/dead", fields=("title",))
    receiver.fail["/dead"] = -1
    wsim.webhooks.pause()  # queue all 27 before any fails, so none is created after deactivation
    for n in range(27):
        new_ticket(api, title=f"d{n}")
    wsim.webhooks.resume()
    settle(wsim)
    assert len(receiver.got("/dead", status=None)) == 25 * 5
    assert api.get(f"TicketWebhooks/{hook['id']}").json()["item"]["isActive"] is False
    (call,) = receiver.got("/dead/deactivated")
    assert call["json"]["Action"] == "Deactivated"
    assert call["json"]["Guid"] == hook["webhookGuid"]
    assert verify_signature(SECRET, call["body"], call["headers"][SIGNATURE_HEADER.lower()])
    assert len(error_logs(api)) == 25
    new_ticket(api, title="after deactivation")
    settle(wsim)
    assert len(receiver.got("/dead", status=None)) == 25 * 5
    # switched on again (the receiver fixed): events flow from the next change
    receiver.fail.clear()
    api.patch("TicketWebhooks", json={"id": hook["id"], "isActive": True})
    tid = new_ticket(api, title="back")
    settle(wsim)
    (back,) = receiver.got("/dead")
    assert back["json"]["Id"] == tid


def test_switching_off_or_deleting_a_webhook_calls_its_deactivation_url(
    api: httpx.Client, wsim: Simulator, receiver: Receiver
) -> None:
    off = register(api, receiver, "/off", fields=("title",))
    gone = register(api, receiver, "/gone", fields=("title",))
    api.patch("TicketWebhooks", json={"id": off["id"], "name": "renamed"})  # still active
    api.patch("TicketWebhooks", json={"id": off["id"], "isActive": False})
    assert api.delete(f"TicketWebhooks/{gone['id']}").status_code == 200
    new_ticket(api, title="nobody hears this")
    settle(wsim)
    for path, hook in (("/off", off), ("/gone", gone)):
        assert receiver.got(path) == []
        (call,) = receiver.got(path + "/deactivated")
        assert (call["json"]["Action"], call["json"]["Guid"]) == (
            "Deactivated",
            hook["webhookGuid"],
        )
        assert verify_signature(SECRET, call["body"], call["headers"][SIGNATURE_HEADER.lower()])


def test_fault_drop_duplicate_delay_and_signing_form(
    api: httpx.Client, wsim: Simulator, receiver: Receiver
) -> None:
    register(api, receiver, fields=("title",))
    wsim.webhooks.configure(drop=1.0)
    new_ticket(api, title="lost")
    settle(wsim)
    assert receiver.got("/hook") == []
    assert [d.outcome for d in wsim.webhook_deliveries()] == ["fault:drop"]

    wsim.webhooks.configure(drop=0.0, duplicate=1.0, sign="raw", delay=90)
    new_ticket(api, title="twice")
    settle(wsim)
    first, again = receiver.got("/hook")
    assert first["body"] == again["body"]
    assert first["headers"][SIGNATURE_HEADER.lower()] == sign(SECRET, first["body"])
    late = next(d for d in wsim.webhook_deliveries() if d.outcome == "ok")
    assert late.sent_at - late.committed_at >= 90
    assert wsim.webhook_deliveries()[-1].outcome == "fault:duplicate:ok"


def test_fault_out_of_order_and_pause(
    api: httpx.Client, wsim: Simulator, receiver: Receiver
) -> None:
    register(api, receiver, fields=("title",))
    wsim.webhooks.configure(out_of_order=1.0, paused=True)
    new_ticket(api, title="one")
    new_ticket(api, title="two")
    time.sleep(0.1)
    assert receiver.got("/hook") == []  # paused
    wsim.webhooks.resume()
    settle(wsim)
    assert [r["json"]["SequenceNumber"] for r in receiver.got("/hook")] == [2, 1]


def test_control_endpoint_and_ci_entity_type(
    api: httpx.Client, wsim: Simulator, receiver: Receiver
) -> None:
    control = httpx.Client(base_url=wsim.base_url)
    bad = control.post("/_sim/webhooks", json={"dorp": 1})
    assert bad.status_code == 400 and "dorp" in bad.json()["errors"][0]
    assert control.post("/_sim/webhooks", json={"drop": 2}).status_code == 400
    r = control.post("/_sim/webhooks", json={"ciEntityType": "InstalledProduct"})
    assert r.json()["settings"]["ciEntityType"] == "InstalledProduct"
    try:
        register(api, receiver, kind="ConfigurationItem", fields=("serialNumber",))
        ci = api.post("ConfigurationItems/query", json=ALL_ROWS).json()["items"][0]
        api.patch("ConfigurationItems", json={"id": ci["id"], "serialNumber": "SN-1"})
        settle(wsim)
        (req,) = receiver.got("/hook")
        assert req["json"]["EntityType"] == "InstalledProduct"
    finally:
        control.post("/_sim/webhooks", json={"ciEntityType": "ConfigurationItem"})
    data = control.get("/_sim/webhooks").json()
    assert [d["outcome"] for d in data["deliveries"]] == ["ok"]
    assert data["deliveries"][0]["committed_at"] > 0
    assert control.delete("/_sim/webhooks").status_code == 200
    assert control.get("/_sim/webhooks").json()["deliveries"] == []
    control.close()


@pytest.mark.parametrize("module", ["py_autotask.simulator", "py_autotask.cli"])
def test_serve_options_set_the_webhook_knobs(module: str) -> None:
    prefix = ("py_autotask.cli", "simulator") if module == "py_autotask.cli" else (module,)
    with served(
        *prefix,
        *("serve", "--port", "0", "--webhook-drop", "0.25", "--webhook-delay", "5"),
        *("--webhook-sign", "raw", "--webhook-ci-entity-type", "InstalledProduct"),
    ) as (url, _):
        root = url.split("/ATServicesRest")[0]
        settings = httpx.get(root + "/_sim/webhooks", timeout=30).json()["settings"]
    assert (settings["drop"], settings["delaySeconds"], settings["sign"]) == (0.25, 5.0, "raw")
    assert settings["ciEntityType"] == "InstalledProduct"
    bad = subprocess.run(
        [sys.executable, "-m", *prefix, "serve", "--port", "0", "--webhook-duplicate", "1.5"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2 and "fraction from 0 to 1" in bad.stderr, bad.stderr
    assert "Traceback" not in bad.stderr
