"""The seed plan's webhook sketch (section 3.5), its handlers as written, against a real server:
``event_data['ticket']`` gives the record (its ``id`` and the fields the callout carried)."""

from __future__ import annotations

import asyncio

from py_autotask.webhooks import WebhookHandler, WebhookServer  # noqa: F401 - the sketch's import

from .helpers import SECRET, body_of, payload, post, running, wait_for

notified: list[str] = []
stored: list[dict[str, object]] = []
invalidated: list[str] = []


async def send_slack_notification(text: str) -> None:
    notified.append(text)


async def update_local_database(ticket: dict[str, object]) -> None:
    stored.append(ticket)


async def invalidate_cache(key: str) -> None:
    invalidated.append(key)


def test_the_seed_plans_webhook_sketch_runs_as_written() -> None:
    # as written, but on a free port (port=8080 may be taken on a test machine)
    webhook_server = WebhookServer(port=0, secret_key=SECRET)

    @webhook_server.handler("ticket.created")
    async def handle_ticket_created(event_data):  # type: ignore[no-untyped-def]
        ticket = event_data["ticket"]
        await send_slack_notification(f"New ticket: {ticket['title']}")
        await update_local_database(ticket)

    @webhook_server.handler("ticket.updated")
    async def handle_ticket_updated(event_data):  # type: ignore[no-untyped-def]
        ticket_id = event_data["ticket"]["id"]
        await invalidate_cache(f"ticket:{ticket_id}")

    with running(webhook_server) as server:
        created = payload(41, action="Create", fields={"title": "Printer on fire"}, sequence=1)
        updated = payload(41, action="Update", fields={"status": 5}, sequence=2)
        for data in (created, updated):
            assert post(server.url, body_of(data)).status_code == 200
        wait_for(lambda: len(invalidated) == 1 and len(stored) == 1)
    assert notified == ["New ticket: Printer on fire"]
    assert stored == [{"id": 41, "title": "Printer on fire"}]
    assert invalidated == ["ticket:41"]
    assert asyncio.iscoroutinefunction(handle_ticket_created)
