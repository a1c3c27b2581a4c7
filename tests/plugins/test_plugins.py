"""The plugin manager against the simulator: the seed sketch as written, request hooks on the
wire, record transforms, failures, and what watching updates costs in requests."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from py_autotask import AutotaskClient, _events
from py_autotask.exceptions import AutotaskConfigError
from py_autotask.monitoring import Observer
from py_autotask.plugins import Plugin, PluginManager, hookimpl
from py_autotask.simulator import Simulator


class Wire:
    """The headers of every request the client put on the wire."""

    def __init__(self) -> None:
        self.headers: list[httpx.Headers] = []

    def __call__(self, request: httpx.Request) -> None:
        self.headers.append(request.headers)


@pytest.fixture
def wire() -> Wire:
    return Wire()


@pytest.fixture
def client(sim: Simulator, wire: Wire) -> Iterator[AutotaskClient]:
    http = httpx.Client(event_hooks={"request": [wire]})
    with AutotaskClient(**sim.credentials, http_client=http) as c:
        yield c
    http.close()


def _company(client: AutotaskClient) -> int:
    return int(client.companies.query(max_records=1).items[0].id)


def _new_ticket(client: AutotaskClient, title: str, priority: int = 3) -> int:
    created = client.tickets.create(
        {"companyID": _company(client), "title": title, "status": 1, "priority": priority}
    )
    return int(getattr(created, "id", created))


class Failures(Observer):
    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def plugin_failed(self, plugin: str, hook: str) -> None:
        self.seen.append((plugin, hook))


def test_the_seed_sketch_runs_as_written(client: AutotaskClient, sim: Simulator) -> None:
    sent: list[str] = []

    class SlackIntegrationPlugin(Plugin):
        name = "slack_integration"
        version = "1.0.0"

        def send_slack_message(self, text: str) -> None:
            sent.append(text)

        def send_urgent_slack_message(self, ticket: dict[str, Any]) -> None:
            sent.append(f"URGENT {ticket['id']}: {ticket['title']}")

        def on_ticket_created(self, ticket):  # type: ignore[no-untyped-def]
            self.send_slack_message(f"New ticket: {ticket['title']}")

        def on_ticket_priority_changed(self, ticket, old_priority, new_priority):  # type: ignore[no-untyped-def]
            if new_priority <= 2:  # High priority
                self.send_urgent_slack_message(ticket)

    # Register and use plugins
    plugin_manager = PluginManager(client)
    plugin_manager.register_plugin(SlackIntegrationPlugin())
    plugin_manager.enable_plugin("slack_integration")
    try:
        tid = _new_ticket(client, "Printer on fire", priority=1)
        client.tickets.update({"id": tid, "priority": 3})  # not urgent
        client.tickets.update({"id": tid, "priority": 2})  # urgent
        client.tickets.update({"id": tid, "priority": 2})  # the same value: no change
    finally:
        plugin_manager.close()
    assert sent == ["New ticket: Printer on fire", f"URGENT {tid}: Printer on fire"]
    (info,) = plugin_manager.list_plugins()
    assert (info.name, info.version, info.enabled, info.source, info.failures) == (
        "slack_integration",
        "1.0.0",
        True,
        "registered",
        0,
    )
    assert info.hooks == ("on_ticket_created", "on_ticket_priority_changed")


def test_old_values_cost_one_get_per_update_only_while_an_update_hook_is_enabled(
    client: AutotaskClient, sim: Simulator
) -> None:
    changes: list[tuple[Any, Any]] = []

    class Watcher(Plugin):
        name = "watcher"

        def on_ticket_priority_changed(self, ticket, old_priority, new_priority):  # type: ignore[no-untyped-def]
            changes.append((old_priority, new_priority))

    tid = _new_ticket(client, "cost", priority=3)
    with PluginManager(client) as manager:
        manager.register_plugin(Watcher)
        sim.clear_journal()
        client.tickets.update({"id": tid, "priority": 2})
        assert [(e.method, e.operation) for e in sim.journal()] == [
            ("GET", "get"),
            ("PATCH", "update"),
        ]
        manager.disable_plugin("watcher")
        sim.clear_journal()
        client.tickets.update({"id": tid, "priority": 1})
        assert [e.method for e in sim.journal()] == ["PATCH"]
    assert changes == [(3, 2)]
    assert client.sender.reader.update_watchers == 0  # closing detached it


def test_before_request_adds_headers_but_cannot_touch_credentials(
    client: AutotaskClient, sim: Simulator, wire: Wire, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[dict[str, Any]] = []
    answers: list[tuple[str | None, int | None]] = []

    class Tagger:
        name = "tagger"

        @hookimpl
        def before_request(self, request: Any) -> dict[str, str]:
            seen.append({**vars(request), "headers": dict(request.headers)})
            request.headers["X-Request-Source"] = "plugin-test"
            return {"Secret": "stolen", "ApiIntegrationCode": "x", "X-Bad": "a\r\nInjected: 1"}

        @hookimpl
        def after_response(self, request: Any, response: Any) -> None:
            answers.append((request.operation, response.status))

    with PluginManager(client) as manager, caplog.at_level(logging.WARNING, "py_autotask"):
        manager.register_plugin(Tagger())
        wire.headers.clear()
        client.tickets.query(max_records=1)
    (headers,) = wire.headers
    creds = sim.credentials
    assert headers["X-Request-Source"] == "plugin-test"
    assert headers["Secret"] == creds["secret"]
    assert headers["ApiIntegrationCode"] == creds["integration_code"]
    assert "X-Bad" not in headers and "Injected" not in headers
    # the hook sees no header of the client's: only those plugins add
    assert seen[0]["headers"] == {}
    assert creds["secret"] not in repr(seen) and creds["integration_code"] not in repr(seen)
    assert seen[0]["operation"] == "query" and seen[0]["entity"] == "Tickets"
    assert answers == [("query", 200)]
    assert "'Secret' was not added" in caplog.text and "stolen" not in caplog.text
    wire.headers.clear()
    client.tickets.query(max_records=1)  # closed: no more headers
    assert "X-Request-Source" not in wire.headers[0]


def test_on_record_transforms_reads_only_when_opted_in(client: AutotaskClient) -> None:
    class Upper:
        name = "upper"

        @hookimpl
        def on_record(self, entity: str, record: dict[str, Any]) -> dict[str, Any]:
            if entity == "Tickets" and isinstance(record.get("title"), str):
                return {**record, "title": record["title"].upper()}
            return record

    tid = _new_ticket(client, "quiet title")
    with PluginManager(client) as manager:
        manager.register_plugin(Upper())
        assert client.tickets.get(tid).title == "quiet title"  # not opted in
    with PluginManager(client, transform_records=True) as manager:
        manager.register_plugin(Upper())
        assert client.tickets.get(tid).title == "QUIET TITLE"
        page = client.tickets.query(filter=[{"op": "eq", "field": "id", "value": tid}])
        assert [t.title for t in page.items] == ["QUIET TITLE"]
    assert client.tickets.get(tid).title == "quiet title"


def test_a_raising_plugin_changes_no_result_and_is_disabled_after_max_failures(
    client: AutotaskClient, sim: Simulator
) -> None:
    failures = Failures()
    client.observers.add(failures)
    calls: list[int] = []

    class Broken(Plugin):
        name = "broken"

        def before_request(self, request: Any) -> None:
            raise RuntimeError("header bug")

        def on_ticket_created(self, ticket: dict[str, Any]) -> None:
            calls.append(ticket["id"])
            raise RuntimeError("event bug")

    try:
        with PluginManager(client, max_failures=2) as manager:
            manager.register_plugin(Broken())
            tid = _new_ticket(client, "still created")
            assert client.tickets.get(tid).title == "still created"
            (info,) = manager.list_plugins()
            assert not info.enabled and info.failures == 2
            tid2 = _new_ticket(client, "after disabling")
            assert calls == []  # disabled by the two before_request failures first
            manager.enable_plugin("broken")
            assert manager.list_plugins()[0].failures == 0
    finally:
        client.observers.remove(failures)
    assert failures.seen == [("broken", "before_request"), ("broken", "before_request")]
    assert tid2 > tid


def test_strict_lets_a_request_hook_error_propagate(client: AutotaskClient, sim: Simulator) -> None:
    class Broken(Plugin):
        name = "broken"

        def before_request(self, request: Any) -> None:
            raise RuntimeError("header bug")

    with PluginManager(client, strict=True, max_failures=1) as manager:
        manager.register_plugin(Broken())
        sim.clear_journal()
        with pytest.raises(RuntimeError, match="header bug"):
            client.tickets.query(max_records=1)
        assert sim.journal() == []  # nothing sent
        assert manager.list_plugins()[0].enabled  # strict never disables


def test_hook_names_and_arguments_are_checked_at_registration(client: AutotaskClient) -> None:
    class Typo(Plugin):
        name = "typo"

        def on_ticket_priorty_changed(self, ticket: Any, old: Any, new: Any) -> None: ...

    class Args(Plugin):
        name = "args"

        def on_company_company_name_changed(self, c: Any, old: Any, new: Any) -> None: ...

    class Named(Plugin):
        name = "named"

        def on_record_deleted(self, entity: str, record: Any) -> None: ...

    with PluginManager(client) as manager:
        with pytest.raises(AutotaskConfigError, match=r"plugin 'named'.*record"):
            manager.register_plugin(Named())
        with pytest.raises(AutotaskConfigError, match="did you mean on_ticket_priority_changed"):
            manager.register_plugin(Typo())
        with pytest.raises(AutotaskConfigError, match=r"takes \(company, old_company_name"):
            manager.register_plugin(Args())
        assert manager.list_plugins() == []
        manager.register_plugin(Plugin, name="empty")
        with pytest.raises(AutotaskConfigError, match="registered already"):
            manager.register_plugin(Plugin, name="empty")
        with pytest.raises(AutotaskConfigError, match="no plugin named 'nope'"):
            manager.enable_plugin("nope")


def test_alerts_on_the_bus_reach_on_alert() -> None:
    got: list[dict[str, Any]] = []

    class Pager(Plugin):
        name = "pager"

        def on_alert(self, alert: dict[str, Any]) -> None:
            got.append(alert)

    alert = {
        "name": "budget",
        "severity": "warning",
        "message": "80% of the hourly budget used",
        "value": 0.8,
        "threshold": 0.75,
    }
    with PluginManager() as manager:
        manager.register_plugin(Pager())
        _events.publish("alert.raised", alert)
    _events.publish("alert.raised", alert)  # closed: not delivered
    assert got == [alert]


def test_the_async_client_gets_the_same_hooks(sim: Simulator) -> None:
    from py_autotask import AsyncAutotaskClient

    changes: list[tuple[int, Any, Any]] = []
    wire = Wire()

    class Watcher(Plugin):
        name = "watcher"

        def before_request(self, request: Any) -> None:
            request.headers["X-Async"] = "yes"

        def on_ticket_priority_changed(self, ticket, old_priority, new_priority):  # type: ignore[no-untyped-def]
            changes.append((ticket["id"], old_priority, new_priority))

    async def main() -> int:
        async def hook(request: httpx.Request) -> None:
            wire(request)

        http = httpx.AsyncClient(event_hooks={"request": [hook]})
        async with AsyncAutotaskClient(**sim.credentials, http_client=http) as client:
            ticket = (await client.tickets.query(max_records=1)).items[0]
            with PluginManager(client) as manager:
                manager.register_plugin(Watcher)
                new = 1 if ticket.priority != 1 else 2
                await client.tickets.update({"id": ticket.id, "priority": new})
                await client.tickets.update({"id": ticket.id, "priority": ticket.priority})
        await http.aclose()
        return int(ticket.priority)

    old = asyncio.run(main())
    new = 1 if old != 1 else 2
    tid = changes[0][0]
    assert changes == [(tid, old, new), (tid, new, old)]
    assert [h.get("X-Async") for h in wire.headers] == [None, "yes", "yes", "yes", "yes"]


def test_closing_the_client_detaches_its_plugin_manager(sim: Simulator) -> None:
    """A manager attached to a client lets go of the bus and the client when the client closes
    (the CLI attaches one per command: repeated in one process, they piled up on the bus)."""
    bus = _events.EventBus()
    seen: list[str] = []

    class Listener(Plugin):
        name = "listener"
        version = "1"

        def on_record_created(self, entity: str, record: dict[str, Any]) -> None:
            seen.append(entity)

    with AutotaskClient(**sim.credentials) as client:
        manager = PluginManager(client, bus=bus)
        manager.register_plugin(Listener())
        assert bus.subscribers("record.created")
        assert len(client.observers) == 2  # the tracing and the manager's request observer
        bus.publish("record.created", {"entity": "Tickets", "id": 1, "record": {"id": 1}})
        assert seen == ["Tickets"]
    assert bus.subscribers("record.created") == []
    assert bus.subscribers("alert.raised") == []
    assert [type(o).__name__ for o in client.observers] == ["TracingObserver"]
    assert client.sender.reader.header_hooks == ()
    bus.publish("record.created", {"entity": "Tickets", "id": 2, "record": {"id": 2}})
    assert seen == ["Tickets"]
    manager.close()  # closing again is harmless
