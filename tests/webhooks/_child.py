"""A receiver in its own process. ``python -m tests.webhooks._child QUEUE OUT GATE`` (the crash
test) prints its URL, then runs until killed; its handler waits for the file GATE to exist, then
appends the event's key to the SQLite file OUT (one row per handler call).
``python -m tests.webhooks._child QUEUE OUT run`` serves with ``server.run()`` (the URL is in its
INFO log on stderr) and appends each event's key to the text file OUT."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import sys
import time
from pathlib import Path

from py_autotask.webhooks import WebhookEvent, WebhookServer

from .helpers import SECRET


def main(queue: str, out: str, gate: str) -> None:
    server = WebhookServer(port=0, secret_key=SECRET, queue=queue, workers=4)
    db = sqlite3.connect(out, check_same_thread=False, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
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


def main_run(queue: str, out: str) -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(name)s: %(message)s")
    server = WebhookServer(port=0, secret_key=SECRET, queue=queue)

    @server.handler("*")
    async def handle(event: WebhookEvent) -> None:
        with open(out, "a", encoding="utf-8") as fh:
            fh.write(event.key + "\n")

    server.run()


if __name__ == "__main__":
    if sys.argv[3] == "run":
        main_run(*sys.argv[1:3])
    else:
        main(*sys.argv[1:4])
