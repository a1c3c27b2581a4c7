"""The webhook receiver: a plain ASGI app that verifies, parses and queues callouts, and workers
that run the handlers off the request path.

The request path only authenticates (``X-Hook-Signature`` with a registered webhook's secret, or
the one ``secret_key``; a ``Guid`` among the registered webhooks when the server was given them),
reads the payload, appends it to the durable :class:`EventQueue` (committed) and answers 200,
well inside Autotask's 10 s. Everything else fails closed before anything is queued: 405 (not a
POST), 415 (not JSON), 413 (over ``max_body``), 401 (signature or Guid), 400 (not a callout
payload); each counted in :attr:`WebhookServer.stats` and logged without the secret or the
signature. Workers take queued events oldest first, one at a time per record (events of different
records run in parallel), run the handlers (async ones on the loop, sync ones in a thread), publish
``record.created|updated|deleted`` to the event bus, and retry a failing event with exponential
backoff, parking it after ``max_attempts``. A record's later events wait while an earlier one is
retried; once it is parked they go on (a broken event never holds its record back for good).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import os
import signal
import sqlite3
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .._events import EventBus
from .._events import bus as default_bus
from .._hooksig import SIGNATURE_HEADER, verify_signature
from ._events import PayloadError, WebhookEvent, check_topic, parse_payload
from ._queue import EventQueue, QueuedEvent

__all__ = ["Handler", "WebhookServer"]

_log = logging.getLogger("py_autotask.webhooks")

#: a handler: a sync or async function taking the :class:`WebhookEvent` (the seed plan's name)
WebhookHandler = Callable[[WebhookEvent], Any]
Handler = WebhookHandler
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_SIGNATURE_KEY = SIGNATURE_HEADER.lower().encode("latin-1")
_PRUNE_EVERY = 600.0  # seconds between forgetting old handled events
_COUNTERS = (
    "received",
    "accepted",
    "duplicates",
    "bad_method",
    "bad_content_type",
    "too_large",
    "bad_signature",
    "unknown_guid",
    "malformed",
    "queue_errors",
    "handled",
    "failed",
    "parked",
)
_BUS = "<event bus>"  # the bus's entry among an event's handled handlers
_BUS_TOPICS = {
    "created": "record.created",
    "updated": "record.updated",
    "deleted": "record.deleted",
}


class _Rejected(Exception):
    def __init__(self, status: int, counter: str, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.counter = counter
        self.reason = reason


def _webhook_secrets(webhooks: Any, fallback: str | None) -> tuple[dict[str, str], dict[str, str]]:
    """``{guid: secret}`` and ``{guid: entity}`` from webhooks (objects with ``guid``, optionally
    ``secret_key``/``secret`` and ``entity``; a webhook without its own secret, such as one
    :class:`WebhookRegistry` lists, is signed with the server's ``secret_key``) or a
    ``{guid: secret}`` mapping."""
    secrets: dict[str, str] = {}
    entities: dict[str, str] = {}
    if isinstance(webhooks, Mapping):
        for guid, secret in webhooks.items():
            secrets[str(guid)] = str(secret or fallback or "")
    else:
        for hook in webhooks:
            guid = getattr(hook, "guid", None)
            if not guid:
                raise ValueError("each webhook given to WebhookServer needs its guid")
            secret = getattr(hook, "secret_key", None) or getattr(hook, "secret", None)
            secrets[str(guid)] = str(secret or fallback or "")
            entity = getattr(hook, "entity", None)
            if isinstance(entity, str) and entity:
                entities[str(guid)] = entity
    if any(not secret for secret in secrets.values()):
        raise ValueError(
            "a webhook given to WebhookServer has no secret_key and the server has none:"
            " pass secret_key= (the key the webhooks were registered with)"
        )
    return secrets, entities


class WebhookServer:
    """Receive Autotask webhook callouts and run handlers on them.

    ``WebhookServer(port=8080, secret_key="...")`` accepts callouts signed with that key;
    ``webhooks=[...]`` (the registered webhooks, each with ``guid`` and ``secret_key``) accepts
    only those webhooks' Guids, each with its own key. ``@server.handler("ticket.created")``
    (or ``"*"``) registers a sync or async function taking a :class:`WebhookEvent`.
    ``await server.start()`` listens (``port=0``: any free port, see :attr:`url`);
    ``server.run()`` blocks until interrupted; ``server.app`` mounts in Starlette/FastAPI.
    """

    def __init__(
        self,
        port: int = 8080,
        secret_key: str | None = None,
        host: str = "127.0.0.1",
        *,
        webhooks: Iterable[Any] | Mapping[str, str] | None = None,
        queue: EventQueue | str | os.PathLike[str] | None = None,
        max_body: int = 1 << 20,
        workers: int = 8,
        max_attempts: int = 5,
        retry_delay: float = 1.0,
        max_retry_delay: float = 300.0,
        bus: EventBus | None = None,
        keep_done: float = 7 * 86400.0,
    ) -> None:
        if webhooks is None and not secret_key:
            raise ValueError(
                "WebhookServer needs secret_key or webhooks: unsigned callouts are never accepted"
            )
        if max_attempts < 1 or workers < 1 or max_body < 1:
            raise ValueError("max_attempts, workers and max_body must be at least 1")
        self.host = host
        self.port = port
        self._secret_key = secret_key or None
        self._guids: dict[str, str] | None = None
        self._guid_entities: dict[str, str] = {}
        if webhooks is not None:
            self._guids, self._guid_entities = _webhook_secrets(webhooks, self._secret_key)
        self._secrets = list(
            dict.fromkeys(
                ([self._secret_key] if self._secret_key else [])
                + list((self._guids or {}).values())
            )
        )
        self._own_queue = not isinstance(queue, EventQueue)
        self._queue_arg = queue
        self._queue: EventQueue | None = queue if isinstance(queue, EventQueue) else None
        self.max_body = max_body
        self.workers = workers
        self.max_attempts = max_attempts
        self.retry_delay = retry_delay
        self.max_retry_delay = max_retry_delay
        self.bus = bus if bus is not None else default_bus
        #: how long handled events are remembered for deduplication (seconds)
        self.keep_done = keep_done
        self._handlers: list[tuple[str, Handler]] = []
        # every counter exists from the start: reading stats from another thread never sees the
        # dict grow mid-copy
        self._stats: Counter[str] = Counter(dict.fromkeys(_COUNTERS, 0))
        self._wake: asyncio.Event | None = None
        self._dispatcher: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._busy: set[str] = set()
        self._executor: ThreadPoolExecutor | None = None
        self._stopping = False
        self._uvicorn: Any = None
        self._serve_task: asyncio.Task[Any] | None = None
        self.url: str | None = None
        #: the ASGI application (mount it under any path; every POST to it is a callout)
        self.app = self._asgi

    def __repr__(self) -> str:
        auth = f"{len(self._guids)} webhooks" if self._guids is not None else "secret_key"
        return f"WebhookServer(host={self.host!r}, port={self.port}, auth={auth})"

    # -- configuration -----------------------------------------------------------------------------
    @property
    def queue(self) -> EventQueue:
        """The durable queue (opened on first use)."""
        if self._queue is None:
            arg = self._queue_arg
            self._queue = EventQueue(None if isinstance(arg, EventQueue) else arg)
        return self._queue

    def handler(self, topic: str = "*") -> Callable[[Handler], Handler]:
        """Decorator: run the function for events of ``topic`` (``"ticket.created"``,
        ``"ticket.*"`` or ``"*"``). An event's handlers run one after the other; when one raises,
        the event is retried later from that handler on (those that succeeded are not run
        again). A handler cut off by a crash runs again at the next start, so a handler writing
        elsewhere can use ``event.key`` (the delivery's identity) to stay idempotent."""

        checked = check_topic(topic)  # a misspelt topic fails here, not silently never firing

        def register(fn: Handler) -> Handler:
            self._handlers.append((checked, fn))
            return fn

        return register

    def add_handler(self, topic: str, fn: Handler) -> None:
        """Register ``fn`` for ``topic`` (see :meth:`handler`); a topic no event can have (a
        misspelt entity or action) raises ``ValueError`` naming the closest ones."""
        self._handlers.append((check_topic(topic), fn))

    def handlers_for(self, topic: str) -> list[Handler]:
        return [fn for pattern, fn in self._handlers if _topic_matches(pattern, topic)]

    @property
    def stats(self) -> dict[str, int]:
        """Counters: ``received``, ``accepted``, ``duplicates``, the rejections
        (``bad_method``, ``bad_content_type``, ``too_large``, ``bad_signature``, ``unknown_guid``,
        ``malformed``, ``queue_errors``), and the workers' ``handled``, ``failed`` (attempts), ``parked``."""
        return dict(self._stats)

    # -- the request path --------------------------------------------------------------------------
    async def _asgi(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        if self._dispatcher is None and not self._stopping:
            await self.start_workers()  # mounted in another app, whose lifespan we never see
        self._stats["received"] += 1
        try:
            duplicate = await self._accept(scope, receive)
        except _Rejected as rejected:
            self._stats[rejected.counter] += 1
            client = scope.get("client")
            _log.warning(
                "webhook delivery rejected with %d (%s) from %s",
                rejected.status,
                rejected.reason,
                f"{client[0]}:{client[1]}" if client else "unknown",
            )
            headers = [(b"allow", b"POST")] if rejected.status == 405 else []
            await _respond(send, rejected.status, {"error": rejected.reason}, headers)
            return
        await _respond(send, 200, {"ok": True, "duplicate": duplicate})

    async def _accept(self, scope: Scope, receive: Receive) -> bool:
        if scope.get("method") != "POST":
            raise _Rejected(405, "bad_method", f"method {scope.get('method')} (callouts are POST)")
        headers: dict[bytes, bytes] = {}
        for name, value in scope.get("headers", []):
            headers.setdefault(bytes(name).lower(), bytes(value))
        ctype = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        if ctype != b"application/json":
            raise _Rejected(415, "bad_content_type", "content type is not application/json")
        length = headers.get(b"content-length")
        if length is not None and length.strip().isdigit() and int(length) > self.max_body:
            raise _Rejected(413, "too_large", f"body over {self.max_body} bytes")
        body = await self._read_body(receive)
        signature = headers.get(_SIGNATURE_KEY)
        header = signature.decode("latin-1") if signature is not None else None
        if header is None:
            raise _Rejected(401, "bad_signature", f"no {SIGNATURE_HEADER} header")
        try:
            payload: Any = json.loads(body)
        except ValueError:
            payload = None  # answered 400 only once the signature verified
        guid = _guid_of(payload)
        # a known Guid is checked against its own key (and the server's): one HMAC, not one per
        # webhook; anything else against every key, so a forged body is a 401 whatever it holds
        own = self._guids.get(guid) if self._guids is not None and guid is not None else None
        candidates = [own, self._secret_key] if own is not None else self._secrets
        matched = {s for s in dict.fromkeys(candidates) if s and verify_signature(s, body, header)}
        if not matched:
            raise _Rejected(401, "bad_signature", "signature does not verify")
        if payload is None:
            raise _Rejected(400, "malformed", "body is not JSON")
        # given its webhooks, the server accepts only their Guids
        if self._guids is not None and own is None:
            raise _Rejected(401, "unknown_guid", "Guid is not one of this server's webhooks")
        try:
            event = parse_payload(
                payload, default_entity=self._guid_entities.get(guid or ""), with_model=False
            )
        except PayloadError as exc:
            raise _Rejected(400, "malformed", str(exc)) from None
        try:
            inserted = self.queue.append(event.key, event.topic, event.entity, event.id, body)
        except sqlite3.Error as exc:  # not acknowledged: Autotask delivers it again
            _log.error("webhook queue %s cannot take an event: %s", self.queue.path, exc)
            raise _Rejected(503, "queue_errors", "the event queue is unavailable") from None
        if inserted:
            self._stats["accepted"] += 1
            if self._wake is not None:
                self._wake.set()
        else:
            self._stats["duplicates"] += 1
        return not inserted

    async def _read_body(self, receive: Receive) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _Rejected(400, "malformed", "client disconnected mid-body")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                raise _Rejected(413, "too_large", f"body over {self.max_body} bytes")
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.start_workers()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.stop_workers()
                await send({"type": "lifespan.shutdown.complete"})
                return

    # -- the workers -------------------------------------------------------------------------------
    async def start_workers(self) -> None:
        """Resume the queue (events a killed process left running) and start the workers; the
        server's ``start``/``run`` and its ASGI lifespan call this, so does the first request."""
        if self._dispatcher is not None:
            return
        self._stopping = False
        self._wake = asyncio.Event()
        # sync handlers run here: as many threads as workers (the loop's default pool is smaller)
        self._executor = ThreadPoolExecutor(
            max_workers=min(self.workers, 64), thread_name_prefix="webhook-handler"
        )
        resumed = self.queue.recover()
        if resumed:
            _log.info("resuming %d webhook events a previous run left unfinished", resumed)
        self._dispatcher = asyncio.create_task(self._dispatch())

    async def stop_workers(self, timeout: float = 10.0) -> None:
        """Stop taking events; wait up to ``timeout`` s for running handlers (the rest stay
        queued and run at the next start)."""
        self._stopping = True
        dispatcher, self._dispatcher = self._dispatcher, None
        if self._wake is not None:
            self._wake.set()
        if dispatcher is not None:
            dispatcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await dispatcher
        if self._tasks:
            _done, pending = await asyncio.wait(set(self._tasks), timeout=timeout)
            for task in pending:
                task.cancel()
        if self._executor is not None:
            self._executor.shutdown(wait=False)
            self._executor = None

    async def _dispatch(self) -> None:
        assert self._wake is not None
        queue = self.queue
        pruned_at = 0.0
        while not self._stopping:
            self._wake.clear()
            try:
                if time.monotonic() - pruned_at > _PRUNE_EVERY:
                    queue.prune(self.keep_done)
                    pruned_at = time.monotonic()
                free = self.workers - len(self._tasks)
                batch = queue.claim(free, self._busy) if free > 0 else []
                due = queue.next_due()
            except sqlite3.Error as exc:  # keep the workers alive: the queue may come back
                _log.error("webhook queue %s cannot be read: %s", queue.path, exc)
                batch, due = [], time.time() + 1.0
            for item in batch:
                self._busy.add(item.order_key)
                task = asyncio.create_task(self._run(item))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            if batch and len(batch) < free:
                continue
            timeout = 1.0
            if due is not None and due > time.time():
                timeout = min(timeout, due - time.time())
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    async def _run(self, item: QueuedEvent) -> None:
        try:
            try:
                payload = json.loads(item.body)
                event = parse_payload(
                    payload, default_entity=self._guid_entities.get(_guid_of(payload) or "")
                )
            except (ValueError, PayloadError) as exc:  # cannot happen for what _accept queued
                self._fail(item, f"unreadable queued event: {exc}", final=True)
                return
            handled = set(item.handled)
            if _BUS not in handled:  # once per event, also when parked events are retried
                self._publish(event)
                handled.add(_BUS)
            try:
                for name, fn in self._named_handlers(event.topic):
                    if name in handled:
                        continue  # succeeded on an earlier attempt
                    if inspect.iscoroutinefunction(fn):
                        await fn(event)
                    else:
                        loop = asyncio.get_running_loop()
                        result = await loop.run_in_executor(self._executor, fn, event)
                        if inspect.isawaitable(result):
                            await result
                    handled.add(name)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._fail(item, f"{type(exc).__name__}: {exc}"[:1000], handled=handled)
                return
            self.queue.done(item.seq)
            self._stats["handled"] += 1
        finally:
            self._busy.discard(item.order_key)
            if self._wake is not None:
                self._wake.set()

    def _named_handlers(self, topic: str) -> list[tuple[str, Handler]]:
        """The handlers of ``topic``, each with a name that stays the same across restarts
        (pattern, module and qualified name, and a count for the same function twice)."""
        out: list[tuple[str, Handler]] = []
        seen: Counter[str] = Counter()
        for pattern, fn in self._handlers:
            if not _topic_matches(pattern, topic):
                continue
            base = f"{pattern} {getattr(fn, '__module__', '')}.{getattr(fn, '__qualname__', fn)}"
            seen[base] += 1
            out.append((f"{base}#{seen[base]}", fn))
        return out

    def _fail(
        self, item: QueuedEvent, error: str, *, final: bool = False, handled: Iterable[str] = ()
    ) -> None:
        attempts = item.attempts + 1
        self._stats["failed"] += 1
        if final or attempts >= self.max_attempts:
            self.queue.failed(item.seq, error, retry_at=None, handled=handled)
            self._stats["parked"] += 1
            _log.error(
                "webhook event %s (%s) parked after %d attempts: %s",
                item.seq,
                item.topic,
                attempts,
                error,
            )
            return
        delay = min(self.max_retry_delay, self.retry_delay * 2 ** (attempts - 1))
        self.queue.failed(item.seq, error, retry_at=time.time() + delay, handled=handled)
        _log.warning(
            "webhook event %s (%s) failed (attempt %d of %d), retrying in %.1f s: %s",
            item.seq,
            item.topic,
            attempts,
            self.max_attempts,
            delay,
            error,
        )

    def _publish(self, event: WebhookEvent) -> None:
        topic = _BUS_TOPICS.get(event.action)
        if topic is None or not event.entity:
            return
        self.bus.publish(
            topic,
            {
                "entity": event.entity,
                "id": event.id,
                "new": dict(event.fields),
                "old": None,
                "event": event,
            },
        )

    # -- serving -----------------------------------------------------------------------------------
    async def start(self) -> None:
        """Start the workers and listen on ``host:port``; :attr:`url` is set when this returns."""
        if self._serve_task is not None:
            return
        uvicorn = _uvicorn()
        await self.start_workers()

        class _Server(uvicorn.Server):  # type: ignore[misc,name-defined]
            @contextlib.contextmanager
            def capture_signals(self) -> Iterator[None]:  # the caller's loop owns the signals
                yield

        config = uvicorn.Config(
            self.app,
            host=self.host,
            port=self.port,
            lifespan="off",
            interface="asgi3",
            log_level="warning",
            access_log=False,
            timeout_keep_alive=30,
            backlog=2048,
        )
        server = _Server(config)
        self._uvicorn = server
        self._serve_task = asyncio.create_task(server.serve())
        while not server.started:
            if self._serve_task.done():
                self._serve_task = None
                await self.stop_workers()
                raise OSError(f"the webhook receiver could not listen on {self.host}:{self.port}")
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        self.port = int(port)
        host = f"[{self.host}]" if ":" in self.host else self.host
        self.url = f"http://{host}:{self.port}/"

    async def stop(self, timeout: float = 10.0) -> None:
        """Stop listening and stop the workers (unfinished events stay queued)."""
        if self._uvicorn is not None and self._serve_task is not None:
            self._uvicorn.should_exit = True
            with contextlib.suppress(Exception, SystemExit):
                await self._serve_task
        self._uvicorn = None
        self._serve_task = None
        await self.stop_workers(timeout)
        if self._own_queue and self._queue is not None:
            self._queue.close()
            self._queue = None

    def run(self) -> None:
        """Serve until SIGINT (Ctrl-C) or SIGTERM, then stop cleanly (unfinished events stay
        queued for the next start)."""

        async def main() -> None:
            stopping = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    loop.add_signal_handler(sig, stopping.set)
            await self.start()
            _log.info("webhook receiver listening on %s", self.url)
            try:
                await stopping.wait()
            finally:
                await self.stop()

        asyncio.run(main())


def _uvicorn() -> Any:
    try:
        import uvicorn
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise ImportError(
            'The webhook receiver needs the "webhooks" extra: pip install "py-autotask[webhooks]"'
        ) from exc
    return uvicorn


def _guid_of(payload: Any) -> str | None:
    if not isinstance(payload, Mapping):
        return None
    for key, value in payload.items():
        if str(key).lower() == "guid":
            return str(value) if value is not None else None
    return None


def _topic_matches(pattern: str, topic: str) -> bool:
    if pattern == "*" or pattern == topic:
        return True
    return pattern.endswith(".*") and topic.startswith(pattern[:-1])


async def _respond(
    send: Send,
    status: int,
    body: Mapping[str, Any],
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    data = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(data)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": data})
