"""A receiver in its own process, for the crash test: ``python -m tests.webhooks._child QUEUE OUT
GATE`` prints its URL, then runs until killed. Its handler waits for the file GATE to exist, then
appends the event's key to the SQLite file OUT (one row per handler call)."""

from __future__ import annotations

import asyncio
import sqlite3
import sys
import time
from pathlib import Path

from py_autotask.webhooks import WebhookEvent, WebhookServer

from .helpers import SECRET


def main(queue: str, out: str, gate: str) -> None:
    server = WebhookServer(port=0, secret_key=SECRET, queue=queue, workers=4)
    db = sqlite3.connect(out, check_same_thread=False, isolation_level=None)
    db.execute("CREATE TABLE IF NOT EXISTS handled (key TEXT, record INTEGER, seq INTEGER)")

    @server.handler("*")
    def handle(event: WebhookEvent) -> None:
        while not Path(gate).exists():
            time.sleep(0.005)
        db.execute("INSERT INTO handled VALUES (?, ?, ?)", (event.key, event.id, event.sequence))

    async def run() -> None:
        await server.start()
        print(server.url, flush=True)
        await asyncio.Event().wait()

    asyncio.run(run())


if __name__ == "__main__":
    main(*sys.argv[1:4])
