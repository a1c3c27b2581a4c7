"""Receivers on a background event loop and signed deliveries, for the webhook tests."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

import httpx

from py_autotask._hooksig import SIGNATURE_HEADER, dotnet_form, sign
from py_autotask.webhooks import WebhookServer

SECRET = "hook-secret-Zq81"
GUID = "7a0c5e52-1f0e-4d4c-9b43-0b0c3a5e1d01"


class LoopThread:
    """An asyncio loop on a daemon thread; :meth:`call` runs a coroutine on it and waits."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def call(self, coro: Coroutine[Any, Any, Any], timeout: float = 30.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


@contextlib.contextmanager
def running(server: WebhookServer) -> Iterator[WebhookServer]:
    """``server`` started on a background loop (its url set), stopped afterwards."""
    loop = LoopThread()
    try:
        loop.call(server.start())
        yield server
    finally:
        loop.call(server.stop())
        loop.close()


def payload(
    record_id: int = 1,
    *,
    action: str = "Update",
    entity: str = "Ticket",
    fields: dict[str, Any] | None = None,
    sequence: int | None = 1,
    guid: str = GUID,
    person: int | None = 29682885,
) -> dict[str, Any]:
    """A callout payload as the contract spells it."""
    data: dict[str, Any] = {
        "Action": action,
        "Guid": guid,
        "EntityType": entity,
        "Id": record_id,
        "Fields": fields if fields is not None else {"status": 5},
        "EventTime": "2026-12-03T17:05:43.123Z",
        "SequenceNumber": sequence,
        "PersonID": person,
    }
    if sequence is None:
        del data["SequenceNumber"]
    return data


def body_of(data: dict[str, Any]) -> bytes:
    """Compact UTF-8 JSON with non-ASCII plain, as Autotask sends it."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def post(
    url: str,
    body: bytes,
    *,
    secret: str | None = SECRET,
    dotnet: bool = True,
    headers: dict[str, str] | None = None,
    client: httpx.Client | None = None,
) -> httpx.Response:
    """POST ``body`` signed (the .NET form by default, as Autotask signs) to ``url``."""
    sent = {"Content-Type": "application/json"}
    if secret is not None:
        sent[SIGNATURE_HEADER] = sign(secret, dotnet_form(body) if dotnet else body)
    sent.update(headers or {})
    if client is not None:
        return client.post(url, content=body, headers=sent)
    return httpx.post(url, content=body, headers=sent, timeout=10)


def wait_for(check: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll ``check`` until true; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.01)
