"""The in-process event bus (py_autotask._events) and the public surface of py_autotask.webhooks."""

from __future__ import annotations

import logging
import os
import stat
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import py_autotask.webhooks as webhooks
from py_autotask import _events
from py_autotask.webhooks import EventQueue


def test_subscribers_get_their_topics_in_order_and_unsubscribe() -> None:
    bus = _events.EventBus()
    got: list[tuple[str, str]] = []
    stop_exact = bus.subscribe("record.updated", lambda t, p: got.append(("exact", t)))
    bus.subscribe("record.*", lambda t, p: got.append(("prefix", t)))
    bus.subscribe("*", lambda t, p: got.append(("all", t)))
    assert bus.publish("record.updated", {"id": 1}) == 3
    assert bus.publish("plugin.loaded", {}) == 1
    stop_exact()
    stop_exact()  # twice is harmless
    assert bus.publish("record.updated", {}) == 2
    assert got == [
        ("exact", "record.updated"),
        ("prefix", "record.updated"),
        ("all", "record.updated"),
        ("all", "plugin.loaded"),
        ("prefix", "record.updated"),
        ("all", "record.updated"),
    ]
    with pytest.raises(ValueError):
        bus.subscribe("", lambda t, p: None)


def test_a_failing_subscriber_is_logged_and_the_others_still_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bus = _events.EventBus()
    got: list[Any] = []

    def broken(topic: str, payload: Any) -> None:
        raise RuntimeError("plugin bug")

    bus.subscribe("record.created", broken)
    bus.subscribe("record.created", lambda t, p: got.append(p["id"]))
    with caplog.at_level(logging.ERROR, "py_autotask.events"):
        assert bus.publish("record.created", {"id": 9}) == 2
    assert got == [9]
    assert "plugin bug" in caplog.text


def test_the_default_bus_is_process_wide() -> None:
    got: list[str] = []
    stop = _events.subscribe("record.deleted", lambda t, p: got.append(t))
    try:
        # (other subscribers of this process may hear it too: count ours)
        assert _events.bus.publish("record.deleted", {}) >= 1
        assert _events.publish("record.deleted", {}) >= 1
    finally:
        stop()
    assert got == ["record.deleted", "record.deleted"]


def test_exported_members() -> None:
    assert set(webhooks.__all__) == {
        "AsyncWebhookRegistry",
        "DeactivatedWebhook",
        "EventQueue",
        "FieldCatalog",
        "ParkedEvent",
        "PayloadError",
        "TestDelivery",
        "Webhook",
        "WebhookCollections",
        "WebhookEvent",
        "WebhookHandler",
        "WebhookRegistrationError",
        "WebhookRegistry",
        "WebhookServer",
        "default_queue_path",
        "parse_payload",
        "webhook_collections",
        "webhook_entities",
    }
    for name in webhooks.__all__:
        assert getattr(webhooks, name) is not None, name


def test_the_queue_defaults_to_the_users_state_folder_and_prunes_old_handled_events(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    queue = EventQueue()
    assert queue.path == tmp_path / "state" / "py-autotask" / "webhooks.db"
    assert queue.append("g|seq|1", "ticket.updated", "Tickets", 1, b"{}")
    assert queue.append("g|seq|2", "ticket.updated", "Tickets", 2, b"{}")
    for item in queue.claim(10):
        queue.done(item.seq)
    assert queue.prune(3600) == 0
    time.sleep(0.02)
    assert queue.prune(0.01) == 2
    assert queue.counts()["done"] == 0
    assert queue.append("g|seq|1", "ticket.updated", "Tickets", 1, b"{}")  # forgotten: new again
    queue.close()


def test_opening_a_missing_queue_for_reading_leaves_nothing_on_disk(tmp_path: Path) -> None:
    where = tmp_path / "nowhere" / "webhooks.db"
    with pytest.raises(FileNotFoundError, match="no webhook event queue at"):
        EventQueue(where, create=False)
    assert not (tmp_path / "nowhere").exists()
    EventQueue(where).close()
    reader = EventQueue(where, create=False)
    assert reader.counts() == {"pending": 0, "running": 0, "done": 0, "parked": 0}
    reader.close()


def test_handler_topics_no_event_can_have_are_refused_with_the_closest_ones(
    tmp_path: Path,
) -> None:
    from py_autotask.webhooks import WebhookServer

    server = WebhookServer(port=0, secret_key="k", queue=tmp_path / "q.db")
    for topic in ("*", "Ticket.Created", "ticket_note.*", "company.deactivated", "webhook.*"):
        server.add_handler(topic, print)
    with pytest.raises(ValueError, match=r"did you mean ticket\b"):
        server.handler("tiket.created")
    with pytest.raises(ValueError, match=r"did you mean ticket\.created\?"):
        server.add_handler("ticket.create", print)
    with pytest.raises(ValueError, match=r"'<entity>\.<action>'"):
        server.add_handler("", print)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX modes")
def test_the_queue_is_private_by_default(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        queue = EventQueue(tmp_path / "state" / "py-autotask" / "webhooks.db")
        queue.append("g|seq|1", "ticket.updated", "Tickets", 1, b'{"Fields": {"title": "x"}}')
        queue.close()
    finally:
        os.umask(old)
    folder = tmp_path / "state" / "py-autotask"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "state").stat().st_mode) == 0o700
    for name in ("webhooks.db", "webhooks.db-wal", "webhooks.db-shm"):
        if (folder / name).exists():
            assert stat.S_IMODE((folder / name).stat().st_mode) == 0o600, name
