"""The in-process event bus (py_autotask._events) and the public surface of py_autotask.webhooks."""

from __future__ import annotations

import logging
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
        assert _events.bus.publish("record.deleted", {}) == 1
        assert _events.publish("record.deleted", {}) == 1
    finally:
        stop()
    assert got == ["record.deleted", "record.deleted"]


def test_exported_members() -> None:
    assert set(webhooks.__all__) == {
        "EventQueue",
        "Handler",
        "ParkedEvent",
        "PayloadError",
        "WebhookEvent",
        "WebhookServer",
        "default_queue_path",
        "parse_payload",
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
