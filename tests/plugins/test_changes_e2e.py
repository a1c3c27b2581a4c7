"""Each change reaches each enabled plugin exactly once with its old and new values, although
three sources see it: the client's write, its webhook callout (delivered by the simulator to a
real receiver, here BEFORE the write's response reaches the client) and the next sync into
SQLite. A raising plugin beside it leaves the sync's result unchanged."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest

from py_autotask import AutotaskClient, _events
from py_autotask.plugins import Plugin, PluginManager
from py_autotask.simulator import Simulator
from py_autotask.webhooks import WebhookRegistry, WebhookServer
from tests.sync.helpers import assert_same, db_rows, expected_rows
from tests.webhooks.helpers import running, wait_for

SECRET = "plugins-e2e-secret"


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(
        profile="tiny", seed=61, counts={"Tickets": 10}, thread_limit=0, hourly_threshold=0
    ) as s:
        yield s


class Recorder(Plugin):
    name = "recorder"
    version = "2.0"

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def on_record_created(self, entity: str, record: dict[str, Any]) -> None:
        self.calls.append(("created", entity, record["id"], record.get("title")))

    def on_record_updated(
        self, entity: str, record: dict[str, Any], old: dict[str, Any], new: dict[str, Any]
    ) -> None:
        self.calls.append(("updated", entity, record["id"], old, new))

    def on_ticket_priority_changed(
        self, ticket: dict[str, Any], old_priority: Any, new_priority: Any
    ) -> None:
        self.calls.append(("priority", ticket["id"], old_priority, new_priority))


class Raising(Plugin):
    name = "raising"

    def on_record_created(self, entity: str, record: dict[str, Any]) -> None:
        raise RuntimeError("plugin bug")

    def on_record_updated(self, entity: str, record: Any, old: Any, new: Any) -> None:
        raise RuntimeError("plugin bug")


class Sources:
    """Which source published what, in order (a plain bus subscriber)."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, int]] = []
        self.lock = threading.Lock()

    def __call__(self, topic: str, payload: Mapping[str, Any]) -> None:
        source = "webhook" if "event" in payload else str(payload.get("source"))
        with self.lock:
            self.seen.append((source, topic, int(payload["id"])))

    def has(self, source: str, topic: str, record_id: int) -> bool:
        with self.lock:
            return (source, topic, record_id) in self.seen


def test_a_write_its_webhook_and_the_next_sync_reach_each_plugin_once(
    sim: Simulator, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'mirror.db'}"
    sources = Sources()
    stop = _events.subscribe("record.*", sources)
    hold: dict[str, Any] = {}

    def webhook_first(response: httpx.Response) -> None:
        """Hold the update's response until its webhook has been received and published."""
        target = hold.get("id")
        if target is not None and response.request.method == "PATCH":
            wait_for(lambda: sources.has("webhook", "record.updated", target), timeout=15)

    server = WebhookServer(port=0, secret_key=SECRET, queue=tmp_path / "queue.db")
    http = httpx.Client(event_hooks={"response": [webhook_first]})
    try:
        with running(server), AutotaskClient(**sim.credentials, http_client=http) as client:
            WebhookRegistry(client).register(
                "Tickets",
                url=server.url,
                secret_key=SECRET,
                fields=["title", "priority", "status"],
                exclude_resources=[],  # the changes are made by the API user itself
            )
            syncer = client.create_syncer()
            syncer.sync_to_database(url, ["Tickets"], handle_signals=False)  # full load: no events
            ticket = client.tickets.query(max_records=1).items[0]
            tid, old_priority = int(ticket.id), int(ticket.priority)
            new_priority = 1 if old_priority != 1 else 2

            recorder = Recorder()
            with PluginManager(client) as manager:
                manager.register_plugin(recorder)
                manager.register_plugin(Raising())
                hold["id"] = tid
                client.tickets.update({"id": tid, "priority": new_priority})
                hold.clear()
                created = client.tickets.create(
                    {
                        "companyID": int(ticket.company_id),
                        "title": "from the client",
                        "status": 1,
                        "priority": 3,
                    }
                )
                new_id = int(getattr(created, "id", created))
                assert sim.webhooks.wait_idle(timeout=15)
                wait_for(lambda: sources.has("webhook", "record.created", new_id), timeout=15)
                result = syncer.sync_to_database(url, ["Tickets"], handle_signals=False)
                raising = {i.name: i for i in manager.list_plugins()}["raising"]
    finally:
        stop()
        http.close()

    # all three sources saw both changes; the webhook of the update came before the response
    update_sources = [s for s, t, i in sources.seen if i == tid and t == "record.updated"]
    assert update_sources == ["webhook", "client", "sync"]
    created_sources = [s for s, t, i in sources.seen if i == new_id and t == "record.created"]
    assert sorted(created_sources) == ["client", "sync", "webhook"]
    # ... and the plugin got each change once, with the old and new values
    assert recorder.calls == [
        ("updated", "Tickets", tid, {"priority": old_priority}, {"priority": new_priority}),
        ("priority", tid, old_priority, new_priority),
        ("created", "Tickets", new_id, "from the client"),
    ]
    # the raising plugin changed nothing in the job: rows, counts and status
    (entity_result,) = result.entities
    assert (entity_result.status, entity_result.created, entity_result.updated) == ("ok", 1, 1)
    assert_same(expected_rows(sim, "Tickets"), db_rows(url, "tickets", "Tickets"))
    assert raising.failures == 2 and raising.enabled  # max_failures=3 not reached
