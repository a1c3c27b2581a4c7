"""The webhook receiver over real sockets (uvicorn): authentication fails closed, events reach
handlers once, in order per record, with retries and parking."""

from __future__ import annotations

import asyncio
import logging
import random
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest

from py_autotask import _events
from py_autotask._hooksig import SIGNATURE_HEADER, sign
from py_autotask.webhooks import EventQueue, WebhookEvent, WebhookServer

from .helpers import GUID, SECRET, body_of, payload, post, running, wait_for


def _server(tmp_path: Path, **options: Any) -> WebhookServer:
    options.setdefault("secret_key", SECRET)
    options.setdefault("queue", tmp_path / "queue.db")
    return WebhookServer(port=0, **options)


def test_a_dotnet_signed_delivery_with_non_ascii_text_reaches_the_handler(tmp_path: Path) -> None:
    server = _server(tmp_path)
    got: list[WebhookEvent] = []
    server.handler("ticket.updated")(got.append)
    fields = {"Title": "Café <Zürich> & 'Ünïcode' + `x` \"q\" 😀", "status": 5, "priority": "2"}
    body = body_of(payload(42, fields=fields))
    assert "Café".encode() in body  # plain UTF-8 on the wire, the signature is over \u00E9
    with running(server):
        response = post(server.url or "", body)
        assert response.status_code == 200, response.text
        raw_signed = post(
            server.url or "", body_of(payload(43, fields=fields, sequence=2)), dotnet=False
        )
        assert raw_signed.status_code == 200
        wait_for(lambda: len(got) == 2)
    event = next(e for e in got if e.id == 42)
    assert (
        event.action == "updated" and event.entity == "Tickets" and event.topic == "ticket.updated"
    )
    assert event.fields == {"title": fields["Title"], "status": 5, "priority": "2"}
    assert event["ticket"] == {"id": event.id, **event.fields} and event["Action"] == "Update"
    assert event.model is not None
    assert event.model.id == 42 and event.model["title"] == fields["Title"]
    assert event.model["priority"] == 2  # read as the metadata's integer, losslessly
    assert event.event_time == datetime(2026, 12, 3, 17, 5, 43, 123000, tzinfo=timezone.utc)
    assert event.sequence == 1 and event.person_id == 29682885 and event.webhook_guid == GUID
    assert server.stats["accepted"] == 2 and server.stats["handled"] == 2


def test_forged_unsigned_malformed_truncated_oversized_and_wrong_deliveries_fail_closed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server = _server(tmp_path, webhooks={GUID: SECRET}, max_body=4096)
    got: list[WebhookEvent] = []
    server.handler("*")(got.append)
    good = body_of(payload(7))
    with running(server), caplog.at_level(logging.WARNING, "py_autotask.webhooks"):
        url = server.url or ""
        cases = {
            "unsigned": (post(url, good, secret=None), 401),
            "forged": (post(url, good, secret="not-the-secret"), 401),
            "garbage header": (post(url, good, headers={SIGNATURE_HEADER: "sha1=AAAA"}), 401),
            "wrong guid": (post(url, body_of(payload(7, guid="someone-else"))), 401),
            "malformed": (post(url, b'{"Action": "Update", "Id": '), 400),
            "not a callout": (post(url, body_of({"Guid": GUID, "hello": "world"})), 400),
            "unknown entity": (post(url, body_of(payload(7, entity="Spaceship"))), 400),
            "truncated": (
                httpx.post(
                    url,
                    content=good[: len(good) // 2],
                    headers={
                        "Content-Type": "application/json",
                        SIGNATURE_HEADER: sign(SECRET, good),
                    },
                ),
                401,
            ),
            "oversized": (post(url, body_of(payload(7, fields={"title": "x" * 5000}))), 413),
            "oversized chunked": (
                httpx.post(
                    url,
                    content=iter([b"{" + b" " * 3000, b" " * 3000 + b"}"]),
                    headers={"Content-Type": "application/json"},
                ),
                413,
            ),
            "GET": (httpx.get(url), 405),
            "text/plain": (post(url, good, headers={"Content-Type": "text/plain"}), 415),
        }
        time.sleep(0.2)
    for name, (response, status) in cases.items():
        assert response.status_code == status, (name, response.text)
    assert got == []
    assert EventQueue(tmp_path / "queue.db").counts() == {
        "pending": 0,
        "running": 0,
        "done": 0,
        "parked": 0,
    }
    stats = server.stats
    assert stats["bad_signature"] == 4 and stats["unknown_guid"] == 1
    assert stats["malformed"] == 3 and stats["too_large"] == 2
    assert stats["bad_method"] == 1 and stats["bad_content_type"] == 1
    assert stats["accepted"] == stats["handled"] == 0
    assert len([r for r in caplog.records if "rejected" in r.getMessage()]) == 12
    assert SECRET not in caplog.text and sign(SECRET, good) not in caplog.text
    assert SECRET not in repr(server)


def test_replayed_deliveries_are_handled_once(tmp_path: Path) -> None:
    server = _server(tmp_path)
    got: list[WebhookEvent] = []
    server.handler("*")(got.append)
    with running(server):
        url = server.url or ""
        first = body_of(payload(5, sequence=10))
        no_sequence = body_of(payload(6, sequence=None))
        answers = [post(url, first).json() for _ in range(3)]
        answers += [post(url, no_sequence).json() for _ in range(2)]
        wait_for(lambda: len(got) == 2)
        time.sleep(0.1)
    assert [a["duplicate"] for a in answers] == [False, True, True, False, True]
    assert sorted(e.id or 0 for e in got) == [5, 6]
    assert server.stats["duplicates"] == 3


def test_deactivated_events_are_authenticated_and_reach_handlers(tmp_path: Path) -> None:
    class Hook:  # what the registration slice hands over: guid, secret_key, entity
        guid = GUID
        secret_key = SECRET
        entity = "Tickets"

    server = WebhookServer(port=0, webhooks=[Hook()], queue=tmp_path / "q.db")
    got: list[WebhookEvent] = []
    server.handler("ticket.deactivated")(got.append)
    notice = {"Action": "Deactivated", "Guid": GUID, "Id": 0, "SequenceNumber": 99}
    with running(server):
        assert post(server.url or "", body_of(notice), secret=None).status_code == 401
        assert post(server.url or "", body_of(notice), secret="x").status_code == 401
        assert post(server.url or "", body_of(notice)).status_code == 200
        wait_for(lambda: len(got) == 1)
    assert got[0].action == "deactivated" and got[0].entity == "Tickets"


def test_entity_names_fields_and_off_type_values(tmp_path: Path) -> None:
    server = _server(tmp_path)
    got: dict[str, WebhookEvent] = {}
    server.handler("*")(lambda e: got.__setitem__(e.topic, e))
    with running(server):
        url = server.url or ""
        post(
            url,
            body_of(
                payload(
                    1,
                    entity="Account",
                    action="Create",
                    sequence=1,
                    fields={"CompanyName": "Acme", "isActive": True},
                )
            ),
        )
        post(
            url,
            body_of(payload(2, entity="InstalledProduct", action="Delete", sequence=2, fields={})),
        )
        post(
            url,
            body_of(
                payload(
                    3,
                    entity="TicketNote",
                    sequence=3,
                    fields={"TITLE": "n", "ticketID": "not-a-number"},
                )
            ),
        )
        wait_for(lambda: len(got) == 3)
    company = got["company.created"]
    assert company.entity == "Companies" and company["company"] == {
        "id": company.id,
        "companyName": "Acme",
        "isActive": True,
    }
    assert company.model is not None and company.model["companyName"] == "Acme"
    assert got["configuration_item.deleted"].entity == "ConfigurationItems"
    note = got["ticket_note.updated"]
    assert note.fields == {"title": "n", "ticketID": "not-a-number"}
    assert note.model is not None and note.model["ticketID"] == "not-a-number"  # kept, not dropped
    assert "ticketID" in note.model.off_type_fields


def test_per_record_order_under_parallel_workers(tmp_path: Path) -> None:
    server = _server(tmp_path, workers=6)
    seen: dict[int, list[int]] = {}
    active = 0
    peak = 0
    lock = threading.Lock()
    gate = threading.Event()

    def handler(event: WebhookEvent) -> None:
        nonlocal active, peak
        gate.wait(10)  # held until every event is queued, so the workers have a backlog
        with lock:
            active += 1
            peak = max(peak, active)
        time.sleep(random.uniform(0, 0.004))
        with lock:
            active -= 1
            seen.setdefault(event.id or 0, []).append(int(event.fields["seq"]))

    server.handler("*")(handler)
    sequence = 0
    with running(server), httpx.Client(timeout=10) as client:
        for step in range(15):
            for record in range(1, 7):
                sequence += 1
                body = body_of(payload(record, sequence=sequence, fields={"seq": step}))
                assert post(server.url or "", body, client=client).status_code == 200
        gate.set()
        wait_for(lambda: sum(map(len, seen.values())) == 90)
    assert seen == {record: list(range(15)) for record in range(1, 7)}
    assert peak > 1  # different records ran in parallel


def test_failing_handlers_are_retried_then_parked_and_retry_puts_them_back(
    tmp_path: Path,
) -> None:
    server = _server(tmp_path, max_attempts=3, retry_delay=0.02)
    calls: dict[int, int] = {}
    healed = threading.Event()

    async def flaky(event: WebhookEvent) -> None:
        calls[event.id or 0] = calls.get(event.id or 0, 0) + 1
        if event.id == 1 and calls[1] < 3:
            raise RuntimeError("transient")
        if event.id == 2 and not healed.is_set():
            raise RuntimeError(f"broken handler for {event.id}")

    server.handler("ticket.*")(flaky)
    with running(server):
        post(server.url or "", body_of(payload(1, sequence=1)))
        post(server.url or "", body_of(payload(2, sequence=2)))
        wait_for(lambda: server.queue.counts()["done"] == 1 and server.stats["parked"] == 1)
        assert calls == {1: 3, 2: 3}
        parked = server.queue.parked()
        assert [(p.record_id, p.topic, p.entity, p.attempts) for p in parked] == [
            (2, "ticket.updated", "Tickets", 3)
        ]
        assert parked[0].last_error == "RuntimeError: broken handler for 2"
        assert server.queue.counts() == {"pending": 0, "running": 0, "done": 1, "parked": 1}
        healed.set()
        assert server.queue.retry([parked[0].id]) == 1
        wait_for(lambda: server.queue.counts()["done"] == 2)
    assert calls == {1: 3, 2: 4}
    assert EventQueue(tmp_path / "queue.db").parked() == []


def test_sync_handlers_run_in_a_thread_async_ones_on_the_loop(tmp_path: Path) -> None:
    server = _server(tmp_path)
    threads: dict[str, int] = {}
    loops: list[asyncio.AbstractEventLoop] = []

    @server.handler("ticket.updated")
    def sync_handler(event: WebhookEvent) -> None:
        threads["sync"] = threading.get_ident()

    @server.handler("ticket.updated")
    async def async_handler(event: WebhookEvent) -> None:
        threads["async"] = threading.get_ident()
        loops.append(asyncio.get_running_loop())

    with running(server):
        post(server.url or "", body_of(payload(1)))
        wait_for(lambda: len(threads) == 2)
    assert threads["sync"] != threads["async"]


def test_every_event_is_published_to_the_event_bus(tmp_path: Path) -> None:
    bus = _events.EventBus()
    published: list[tuple[str, dict[str, Any]]] = []
    unsubscribe = bus.subscribe("record.*", lambda t, p: published.append((t, dict(p))))
    server = _server(tmp_path, bus=bus)
    with running(server):
        post(server.url or "", body_of(payload(1, action="Create", sequence=1)))
        post(server.url or "", body_of(payload(1, action="Update", sequence=2)))
        post(server.url or "", body_of(payload(1, action="Delete", sequence=3, fields={})))
        wait_for(lambda: len(published) == 3)
    unsubscribe()
    assert [t for t, _ in published] == ["record.created", "record.updated", "record.deleted"]
    assert {k: published[1][1][k] for k in ("entity", "id", "new", "old")} == {
        "entity": "Tickets",
        "id": 1,
        "new": {"status": 5},
        "old": None,
    }
    assert bus.publish("record.created", {}) == 0  # unsubscribed


def test_an_event_the_queue_cannot_take_is_not_acknowledged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    queue = EventQueue(tmp_path / "queue.db")
    server = _server(tmp_path, queue=queue)
    got: list[WebhookEvent] = []
    server.handler("*")(got.append)
    with running(server), caplog.at_level(logging.ERROR, "py_autotask.webhooks"):
        queue.close()  # the queue's database is gone from under the server
        response = post(server.url or "", body_of(payload(1)))
        wait_for(lambda: "cannot be read" in caplog.text)  # the workers keep going
    assert response.status_code == 503 and got == []
    assert server.stats["queue_errors"] == 1 and server.stats["accepted"] == 0


def test_a_server_without_secrets_is_refused_and_errors_name_no_secret() -> None:
    with pytest.raises(ValueError, match="secret_key or webhooks"):
        WebhookServer(port=0)

    class NoSecret:
        guid = GUID
        secret_key = ""

    with pytest.raises(ValueError, match="has no secret_key and the server has none") as info:
        WebhookServer(port=0, webhooks=[NoSecret()])
    assert SECRET not in str(info.value)
    assert SECRET not in repr(WebhookServer(port=0, secret_key=SECRET))


def test_listed_webhooks_without_their_secret_use_the_servers_key(tmp_path: Path) -> None:
    class Listed:  # as WebhookRegistry.list() returns them: Autotask never gives the key back
        guid = GUID
        entity = "Tickets"

    server = _server(tmp_path, webhooks=[Listed()])
    got: list[WebhookEvent] = []
    server.handler("*")(got.append)
    with running(server):
        assert post(server.url or "", body_of(payload(1, guid="other"))).status_code == 401
        assert post(server.url or "", body_of(payload(1))).status_code == 200
        wait_for(lambda: len(got) == 1)
    assert server.stats["unknown_guid"] == 1


def test_sync_handlers_of_different_records_run_on_as_many_threads_as_workers(
    tmp_path: Path,
) -> None:
    server = _server(tmp_path, workers=10)
    barrier = threading.Barrier(10, timeout=10)  # passes only when 10 handlers run at once
    done: list[int] = []

    @server.handler("*")
    def handler(event: WebhookEvent) -> None:
        barrier.wait()
        done.append(event.id or 0)

    with running(server), httpx.Client(timeout=10) as client:
        for record in range(10):
            post(server.url or "", body_of(payload(record, sequence=record)), client=client)
        wait_for(lambda: len(done) == 10, timeout=15)
    assert sorted(done) == list(range(10)) and server.stats["failed"] == 0


def test_a_retry_runs_only_the_handlers_that_have_not_succeeded_and_publishes_once(
    tmp_path: Path,
) -> None:
    bus = _events.EventBus()
    published: list[str] = []
    bus.subscribe("*", lambda t, p: published.append(t))
    server = _server(tmp_path, max_attempts=2, retry_delay=0.02, bus=bus)
    calls = {"first": 0, "second": 0}
    healed = threading.Event()

    @server.handler("ticket.updated")
    def first(event: WebhookEvent) -> None:
        calls["first"] += 1

    @server.handler("*")
    async def second(event: WebhookEvent) -> None:
        calls["second"] += 1
        if not healed.is_set():
            raise ValueError("downstream is down")

    with running(server):
        post(server.url or "", body_of(payload(4)))
        wait_for(lambda: len(server.queue.parked()) == 1)
        assert calls == {"first": 1, "second": 2}
        healed.set()
        assert server.queue.retry() == 1
        wait_for(lambda: server.queue.counts()["done"] == 1)
    assert calls == {"first": 1, "second": 3}
    assert published == ["record.updated"]


def test_each_webhook_verifies_with_its_own_key(tmp_path: Path) -> None:
    other_guid, other_secret = "0f3e9a77-aaaa-4bbb-8ccc-123456789abc", "second-hook-key-42"
    server = WebhookServer(
        port=0, webhooks={GUID: SECRET, other_guid: other_secret}, queue=tmp_path / "q.db"
    )
    got: list[WebhookEvent] = []
    server.handler("*")(got.append)
    with running(server):
        url = server.url or ""
        swapped = body_of(payload(1, guid=other_guid, sequence=1))
        assert post(url, swapped, secret=SECRET).status_code == 401  # the other hook's key
        assert post(url, swapped, secret=other_secret).status_code == 200
        assert post(url, body_of(payload(2, sequence=1)), secret=SECRET).status_code == 200
        wait_for(lambda: len(got) == 2)
    assert sorted((e.webhook_guid or "", e.id) for e in got) == sorted([(other_guid, 1), (GUID, 2)])
    assert server.stats["bad_signature"] == 1


def test_the_acknowledgement_does_not_wait_for_handlers(tmp_path: Path) -> None:
    server = _server(tmp_path)
    release = threading.Event()
    finished: list[int] = []

    @server.handler("*")
    def slow(event: WebhookEvent) -> None:
        release.wait(20)  # far longer than Autotask's 10 s timeout
        finished.append(event.id or 0)

    with running(server):
        started = time.monotonic()
        response = post(server.url or "", body_of(payload(8)))
        elapsed = time.monotonic() - started
        assert response.status_code == 200 and finished == []
        wait_for(lambda: server.queue.counts()["running"] == 1)  # taken, held by the handler
        release.set()
        wait_for(lambda: finished == [8])
    assert elapsed < 2.0


def test_a_records_later_events_wait_for_a_retried_one_and_go_on_once_it_is_parked(
    tmp_path: Path,
) -> None:
    server = _server(tmp_path, max_attempts=3, retry_delay=0.05)
    log: list[tuple[int, str]] = []

    @server.handler("*")
    def handler(event: WebhookEvent) -> None:
        log.append((event.sequence or 0, event.fields["step"]))
        if event.fields["step"] == "bad":
            raise RuntimeError("cannot apply")

    with running(server):
        post(server.url or "", body_of(payload(1, sequence=1, fields={"step": "bad"})))
        post(server.url or "", body_of(payload(1, sequence=2, fields={"step": "next"})))
        post(server.url or "", body_of(payload(2, sequence=3, fields={"step": "other"})))
        wait_for(lambda: (2, "next") in log)
    record_one = [entry for entry in log if entry[0] in (1, 2)]
    assert record_one == [(1, "bad"), (1, "bad"), (1, "bad"), (2, "next")]
    assert log.index((3, "other")) < log.index((2, "next"))  # another record did not wait
