"""Webhooks end to end, offline: the embedded Autotask simulator calls back a local receiver.

Starts the simulator, a :class:`~py_autotask.webhooks.WebhookServer` on a free port, registers a
Tickets webhook pointing at it, creates and changes a few tickets through the API and prints the
events as they arrive (signed callouts, verified, queued, handled).

    python -m examples.webhooks_events [--changes 5]
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
import tempfile
from pathlib import Path

from py_autotask import AutotaskClient
from py_autotask.simulator import Simulator
from py_autotask.webhooks import EventQueue, WebhookEvent, WebhookRegistry, WebhookServer


async def run(changes: int, queue_dir: Path) -> int:
    secret = secrets.token_urlsafe(24)  # the webhook's secretKey: yours, never printed
    server = WebhookServer(0, secret, queue=EventQueue(queue_dir / "events.db"))
    seen: list[WebhookEvent] = []
    done = asyncio.Event()
    expected = 2 * changes

    @server.handler("*")
    async def show(event: WebhookEvent) -> None:
        fields = ", ".join(f"{k}={v!r}" for k, v in sorted(event.fields.items()))
        print(f"{event.topic:<16} id {event.id:<6} seq {event.sequence}  {fields}")
        seen.append(event)
        if len(seen) >= expected:
            done.set()

    await server.start()
    try:
        with Simulator(profile="tiny", seed=1) as sim:
            client = AutotaskClient(**sim.credentials)
            with client:
                # Blocking API calls run in a thread: the receiver shares this event loop.
                hook = await asyncio.to_thread(
                    WebhookRegistry(client).register,
                    "Tickets",
                    url=server.url or "",
                    secret_key=secret,
                    fields=["title", "status", "priority"],
                    exclude_resources=[],  # the API user's own changes are what we make here
                )
                print(f"registered Tickets webhook {hook.id} -> {server.url}", file=sys.stderr)
                company = (await asyncio.to_thread(client.companies.query, max_records=1)).items[0]

                def make_changes() -> None:
                    for i in range(changes):
                        created = client.tickets.create(
                            {
                                "companyID": company.id,
                                "title": f"example {i}",
                                "status": 1,
                                "priority": 2,
                            }
                        )
                        ticket_id = int(getattr(created, "id", created))
                        client.tickets.update({"id": ticket_id, "title": f"example {i}, changed"})

                await asyncio.to_thread(make_changes)
                try:
                    await asyncio.wait_for(done.wait(), timeout=30)
                except asyncio.TimeoutError:
                    print(f"only {len(seen)} of {expected} events arrived", file=sys.stderr)
                    return 1
    finally:
        await server.stop()
    print(f"{len(seen)} events received; receiver stats: {server.stats}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=5, help="tickets to create and change")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as queue_dir:
        return asyncio.run(run(args.changes, Path(queue_dir)))


if __name__ == "__main__":
    sys.exit(main())
