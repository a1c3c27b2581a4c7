"""Webhooks: the ``<X>Webhooks`` entities' server-side rules and callouts from the change feed.

Everything is derived from the metadata: a webhook kind exists for every ``<X>Webhooks``
collection whose ``<X>`` entity exists, with its ``Fields`` / ``UdfFields`` /
``ExcludedResources`` children. The field catalog (``fieldID`` -> field) is the ``fieldID``
picklist of ``<X>WebhookFields`` when the snapshot has one; otherwise (today's snapshot) it is
numbered 1.. in the entity's metadata field order and served as that picklist, so a client can
map names to ids the way it would against Autotask. UDF ids are numbered the same way.

Callouts follow reference section 13: per webhook, events go out in order on a background
asyncio loop (keep-alive connections per target origin), 10 s timeout, a retry 30 s
later, at most 5 attempts, then the event is dropped and a ``WebhookEventErrorLogs`` row written;
25 consecutive failed events deactivate the webhook and POST a ``Deactivated`` payload to its
``deactivationUrl``. Waits run on the simulator's virtual clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import ssl
import threading
import time
import uuid
from collections import deque
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import orjson

from .._hooksig import SIGNATURE_HEADER, dotnet_form, sign
from .._values import datetime_or_none
from ._journal import ChangeEvent
from ._metadata import EntityMeta
from ._values import format_datetime

if TYPE_CHECKING:
    from ._ops import Caller
    from ._state import SimulatorState

__all__ = ["Delivery", "WebhookEngine", "WebhookKind"]

_ACTIONS = {"created": "Create", "updated": "Update", "deleted": "Delete"}


@dataclass
class Delivery:
    """One delivery attempt (or a fault that replaced one)."""

    webhook_id: int
    webhook_entity: str
    guid: str
    url: str
    action: str
    entity: str
    record_id: int
    sequence: int  # the payload's SequenceNumber
    change_sequence: int  # the change feed's sequence (0 for Deactivated)
    attempt: int
    status: int | None  # HTTP status, None when no answer
    # ok | error | timeout | disabled | fault:drop | fault:duplicate:<outcome> | deactivation:<outcome>
    outcome: str
    error: str | None
    latency: float  # real seconds of the attempt
    committed_at: float  # virtual POSIX time the change was committed
    sent_at: float  # virtual POSIX time the attempt started
    real_sent_at: float  # time.time() when the attempt started

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class WebhookKind:
    """One ``<X>Webhooks`` collection and what it watches."""

    webhooks: EntityMeta
    entity: EntityMeta
    fields: EntityMeta | None
    udf_fields: EntityMeta | None
    excluded: EntityMeta | None
    entity_type: str
    catalog: dict[int, str]  # fieldID -> field name as the metadata spells it
    udf_catalog: dict[int, str]  # udfFieldID -> UDF name
    error_log_field: str | None  # WebhookEventErrorLogs column naming this kind's webhook


@dataclass
class _Hook:
    """A webhook row as the engine needs it."""

    id: int
    kind: WebhookKind
    guid: str
    url: str
    deactivation_url: str
    secret: str
    active: bool
    ready: bool
    on_create: bool
    on_update: bool
    on_delete: bool
    subscribed: set[str]
    display: set[str]
    udf_subscribed: set[str]
    udf_display: set[str]
    excluded: set[int]


class _Target:
    """Keep-alive HTTP/1.1 connections to one origin (scheme, host, port): a small POST-only
    client, several times cheaper per request than a general one (the loop must sustain
    >= 1,000 callouts/s to a local receiver)."""

    def __init__(self, scheme: str, host: str, port: int) -> None:
        self.scheme, self.host, self.port = scheme, host, port
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        default = 443 if scheme == "https" else 80
        self.host_header = (host if port == default else f"{host}:{port}").encode("idna")

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> int:
        """POST ``body``; the status code. Raises OSError / ValueError on a broken exchange."""
        head = [
            f"POST {path} HTTP/1.1".encode("ascii"),
            b"Host: " + self.host_header,
            b"Content-Length: " + str(len(body)).encode("ascii"),
            b"User-Agent: autotask-simulator-webhooks",
        ]
        head += [f"{k}: {v}".encode("latin-1") for k, v in headers.items()]
        request = b"\r\n".join(head) + b"\r\n\r\n" + body
        for reused in (True, False):
            if reused and not self.idle:
                continue
            if reused:
                reader, writer = self.idle.pop()
            else:
                ctx = ssl.create_default_context() if self.scheme == "https" else None
                reader, writer = await asyncio.open_connection(self.host, self.port, ssl=ctx)
            try:
                writer.write(request)
                status, keep = await self._response(reader)
            except (OSError, ValueError, asyncio.IncompleteReadError) as exc:
                writer.close()
                if reused:  # the server closed an idle connection: try once on a new one
                    continue
                if isinstance(exc, asyncio.IncompleteReadError):
                    raise ValueError("the receiver closed the connection mid-response") from exc
                raise
            except BaseException:  # cancelled (timeout): the connection's state is unknown
                writer.close()
                raise
            if keep:
                self.idle.append((reader, writer))
            else:
                writer.close()
            return status
        raise ValueError("no connection")  # pragma: no cover - the loop always returns or raises

    @staticmethod
    async def _response(reader: asyncio.StreamReader) -> tuple[int, bool]:
        while True:
            line = await reader.readuntil(b"\r\n")
            parts = line.split(None, 2)
            if len(parts) < 2 or not parts[0].startswith(b"HTTP/"):
                raise ValueError(f"not an HTTP response: {line[:60]!r}")
            status = int(parts[1])
            keep = parts[0] != b"HTTP/1.0"
            length: int | None = None
            chunked = False
            while True:
                header = await reader.readuntil(b"\r\n")
                if header == b"\r\n":
                    break
                name, _, value = header.partition(b":")
                low, val = name.strip().lower(), value.strip().lower()
                if low == b"content-length":
                    length = int(val)
                elif low == b"transfer-encoding":
                    chunked = b"chunked" in val
                elif low == b"connection":
                    keep = val == b"keep-alive" or (keep and val != b"close")
            if 100 <= status < 200:
                continue  # an interim response: the real one follows
            if chunked:
                while True:
                    size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                    await reader.readexactly(size + 2)
                    if size == 0:
                        break  # (trailers are not expected from a webhook receiver)
            elif length is not None:
                await reader.readexactly(length)
            elif status not in (204, 304):
                await reader.read()  # body until close
                keep = False
            return status, keep

    def close(self) -> None:
        for _, writer in self.idle:
            writer.close()
        self.idle.clear()


@dataclass
class _Subs:
    subscribed: set[str] = field(default_factory=set)
    display: set[str] = field(default_factory=set)
    udf_subscribed: set[str] = field(default_factory=set)
    udf_display: set[str] = field(default_factory=set)
    excluded: set[int] = field(default_factory=set)


@dataclass
class _Event:
    hook: _Hook
    url: str
    secret: str
    payload: dict[str, Any]
    change_sequence: int
    committed_at: float
    generation: int  # the engine's reset count when queued: older events are forgotten


@dataclass
class _Channel:
    """Per webhook: pending events (in order), the sequence counter, consecutive failures."""

    pending: deque[_Event] = field(default_factory=deque)
    sequence: int = 0
    failures: int = 0
    running: bool = False
    dead: bool = False
    handed: int = 0  # enqueued from a request thread, not yet on the delivery loop


def _key(hook: _Hook) -> tuple[str, int]:
    """A webhook's delivery channel: ids repeat across the ``<X>Webhooks`` collections."""
    return (hook.kind.webhooks.name.lower(), hook.id)


def _iso(ts: float) -> str:
    """ISO 8601 UTC with milliseconds and ``Z``."""
    when = datetime.fromtimestamp(ts, tz=timezone.utc)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def _rows(state: SimulatorState, meta: EntityMeta) -> list[dict[str, Any]]:
    rows = state.store.select_page(meta, "1", [], limit=1_000_000)
    return [orjson.loads(doc) for _, doc in rows]


def _get(record: dict[str, Any], name: str) -> Any:
    low = name.lower()
    for k, v in record.items():
        if k.lower() == low:
            return v
    return None


class WebhookEngine:
    """Webhook rules on writes, callouts from the change feed, delivery and its journal."""

    def __init__(self, state: SimulatorState) -> None:
        self.state = state
        self.kinds = self._derive_kinds()
        self._by_webhooks = {k.webhooks.name.lower(): k for k in self.kinds}
        self._by_entity = {k.entity.name.lower(): k for k in self.kinds}
        self._related: dict[str, WebhookKind] = {}
        # field-row collection -> its catalog id field
        self._id_fields: dict[str, str] = {}
        for k in self.kinds:
            if k.fields is not None:
                self._id_fields[k.fields.name.lower()] = "fieldID"
            if k.udf_fields is not None:
                self._id_fields[k.udf_fields.name.lower()] = "udfFieldID"
        for k in self.kinds:
            for child in (k.webhooks, k.fields, k.udf_fields, k.excluded):
                if child is not None:
                    self._related[child.name.lower()] = k
        self._lock = threading.RLock()
        self._hooks: dict[str, list[_Hook]] | None = None  # entity (lower) -> hooks; None: stale
        # (collection, id) of webhooks created through the API: only these call out. Seeded rows
        # are data only (placeholder example.com URLs, field ids outside the catalog).
        # -> the row as last seen (its isActive, for the Deactivated call on delete/switch-off)
        self._live: dict[tuple[str, int], dict[str, Any]] = {}
        self._channels: dict[tuple[str, int], _Channel] = {}
        self._deliveries: deque[Delivery] = deque(maxlen=state.config.webhook_journal_max)
        self._rng = random.Random(state.config.fault_seed)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._targets: dict[tuple[str, str, int], _Target] = {}
        self._resume: asyncio.Event | None = None
        self._paused = False
        self._generation = 0
        self._side_calls = 0
        state.changes.listeners.append(self._on_change)

    # -- metadata ------------------------------------------------------------------------------
    def _derive_kinds(self) -> list[WebhookKind]:
        schema = self.state.schema
        kinds: list[WebhookKind] = []
        for meta in schema:
            if not meta.name.endswith("Webhooks"):
                continue
            watched = schema.collection_for_singular(meta.name[: -len("Webhooks")])
            if watched is None or watched is meta:
                continue
            children = {
                r.child.lower(): m
                for m in schema
                for r in m.parent_routes
                if r.parent.lower() == meta.name.lower()
            }
            fields_meta = children.get("fields")
            udf_meta = children.get("udffields")
            catalog = self._catalog(watched, fields_meta, "fieldID", udf=False)
            udf_catalog = self._catalog(watched, udf_meta, "udfFieldID", udf=True)
            soap = self._soap_name(watched)
            entity_type = (
                self.state.config.webhook_ci_entity_type if soap == "InstalledProduct" else soap
            )
            log = schema.entity("WebhookEventErrorLogs")
            log_field = None
            if log is not None:
                wanted = f"{soap[:1].lower()}{soap[1:]}webhookid".lower()
                f = log.fields.get(wanted)
                log_field = f.name if f is not None else None
            kinds.append(
                WebhookKind(
                    meta,
                    watched,
                    fields_meta,
                    udf_meta,
                    children.get("excludedresources"),
                    entity_type,
                    catalog,
                    udf_catalog,
                    log_field,
                )
            )
        return kinds

    @staticmethod
    def _soap_name(meta: EntityMeta) -> str:
        try:
            derived = orjson.loads((meta.directory / "derived.json").read_bytes())
        except (OSError, orjson.JSONDecodeError):
            return meta.singular
        return str(derived.get("soapEntity") or meta.singular)

    @staticmethod
    def _catalog(
        watched: EntityMeta, child: EntityMeta | None, id_field: str, *, udf: bool
    ) -> dict[int, str]:
        if child is None:
            return {}
        info = child.field(id_field)
        doc = orjson.loads(child.raw("fields"))
        for obj in doc.get("fields") or []:
            if str(obj.get("name", "")).lower() == id_field.lower() and obj.get("picklistValues"):
                known = {f.name.lower(): f.name for f in watched.field_order}
                if udf:
                    known = {u.name.lower(): u.name for u in watched.udf_order}
                out: dict[int, str] = {}
                for p in obj["picklistValues"]:
                    label = str(p.get("label") or "")
                    with contextlib.suppress(TypeError, ValueError):
                        out[int(p.get("value"))] = known.get(label.lower(), label)
                return out
        source = watched.udf_order if udf else watched.field_order
        names = [f.name for f in source if f.name.lower() != "id"]
        catalog = {i + 1: name for i, name in enumerate(names)}
        if info is not None and catalog:
            child.serve_picklist(
                info.name,
                [
                    {
                        "value": str(i),
                        "label": name,
                        "isActive": True,
                        "isDefaultValue": False,
                        "isSystem": True,
                        "parentValue": "",
                        "sortOrder": i,
                    }
                    for i, name in catalog.items()
                ],
            )
        return catalog

    # -- write rules (called by Ops before a record is stored) ----------------------------------
    def prepare(
        self,
        entity: EntityMeta,
        record: dict[str, Any],
        caller: Caller,
        *,
        created: bool,
        body: Any = None,
    ) -> None:
        """Server-side fields of a webhook row (webhookGUID, owner, isReady: read-only here).
        The SOAP-era metadata of some kinds marks a field row's ``fieldID`` / ``udfFieldID``
        read-only (set on create, never changed): it is taken from the create body all the same.
        Ids outside the catalog are stored (seed data carries such rows) and subscribe to
        nothing."""
        id_field = self._id_fields.get(entity.name.lower())
        if id_field is not None and created:
            self._take_field_id(entity, record, body, id_field)
            return
        kind = self._by_webhooks.get(entity.name.lower())
        if kind is None:
            return
        for f in entity.field_order:
            low = f.name.lower()
            if low == "webhookguid" and (created or not record.get(f.name)):
                record[f.name] = str(uuid.uuid4())
            elif low == "ownerresourceid" and created:
                record[f.name] = caller.resource_id
            elif low == "isready":
                record[f.name] = False if created else self._is_ready(kind, int(record["id"]))
        if created:
            with self._lock:
                self._live[(entity.name.lower(), int(record["id"]))] = dict(record)

    def _take_field_id(
        self, entity: EntityMeta, record: dict[str, Any], body: Any, id_field: str
    ) -> None:
        from ._ops import ApiError

        f = entity.field(id_field)
        if f is None or record.get(f.name) is not None or not isinstance(body, dict):
            return
        value = next((v for k, v in body.items() if str(k).lower() == id_field.lower()), None)
        if value is None:
            return
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            number = None
        else:
            try:
                number = int(value)
            except ValueError:
                number = None
        if number is None:
            raise ApiError(
                self.state.config.validation_status,
                f"Error converting value {value!r} to type 'System.Int32'. Path '{f.name}'.",
            )
        record[f.name] = number

    def _is_ready(self, kind: WebhookKind, webhook_id: int) -> bool:
        for child in (kind.fields, kind.udf_fields):
            f = child.field("webhookID") if child is not None else None
            if (
                child is not None
                and f is not None
                and self.state.store.count_upto(child, f"({f.column} = ?)", [webhook_id], 1)
            ):
                return True
        return False

    def _refresh_ready(self, kind: WebhookKind) -> None:
        store = self.state.store
        for row in _rows(self.state, kind.webhooks):
            ready = self._is_ready(kind, int(row["id"]))
            for k in row:
                if k.lower() == "isready" and row[k] != ready:
                    row[k] = ready
                    store.put(kind.webhooks, row)

    # -- change feed -----------------------------------------------------------------------------
    def _hooks_for(self, entity: str) -> list[_Hook]:
        with self._lock:
            if self._hooks is None:
                self._hooks = self._load_hooks()
            return self._hooks.get(entity.lower(), [])

    def _load_hooks(self) -> dict[str, list[_Hook]]:
        out: dict[str, list[_Hook]] = {}
        for kind in self.kinds:
            subs: dict[int, _Subs] = {}
            for child, catalog, udf in (
                (kind.fields, kind.catalog, False),
                (kind.udf_fields, kind.udf_catalog, True),
            ):
                if child is None:
                    continue
                for row in _rows(self.state, child):
                    try:
                        name = catalog.get(int(_get(row, "udfFieldID" if udf else "fieldID")))
                        wid = int(_get(row, "webhookID"))
                    except (TypeError, ValueError):
                        continue
                    if name is None:
                        continue
                    entry = subs.setdefault(wid, _Subs())
                    if _get(row, "isSubscribedField"):
                        (entry.udf_subscribed if udf else entry.subscribed).add(name)
                    if _get(row, "isDisplayAlwaysField"):
                        (entry.udf_display if udf else entry.display).add(name)
            if kind.excluded is not None:
                for row in _rows(self.state, kind.excluded):
                    with contextlib.suppress(TypeError, ValueError):
                        wid = int(_get(row, "webhookID"))
                        subs.setdefault(wid, _Subs()).excluded.add(int(_get(row, "resourceID")))
            hooks = []
            for row in _rows(self.state, kind.webhooks):
                wid = int(row["id"])
                if (kind.webhooks.name.lower(), wid) not in self._live:
                    continue
                sub = subs.get(wid) or _Subs()
                hooks.append(
                    _Hook(
                        id=wid,
                        kind=kind,
                        guid=str(_get(row, "webhookGuid") or ""),
                        url=str(_get(row, "webhookUrl") or ""),
                        deactivation_url=str(_get(row, "deactivationUrl") or ""),
                        secret=str(_get(row, "secretKey") or ""),
                        active=bool(_get(row, "isActive")),
                        ready=bool(_get(row, "isReady")),
                        on_create=bool(_get(row, "isSubscribedToCreateEvents")),
                        on_update=bool(_get(row, "isSubscribedToUpdateEvents")),
                        on_delete=bool(_get(row, "isSubscribedToDeleteEvents")),
                        subscribed=sub.subscribed,
                        display=sub.display,
                        udf_subscribed=sub.udf_subscribed,
                        udf_display=sub.udf_display,
                        excluded=sub.excluded,
                    )
                )
            out[kind.entity.name.lower()] = hooks
        return out

    def _on_change(self, ev: ChangeEvent) -> None:
        low = ev.entity.lower()
        related = self._related.get(low)
        if related is not None:
            if low == related.webhooks.name.lower() and ev.action != "created":
                self._webhook_changed(related, ev)
            if related.fields is not None and low in (
                related.fields.name.lower(),
                (related.udf_fields.name.lower() if related.udf_fields else ""),
            ):
                self._refresh_ready(related)
            with self._lock:
                self._hooks = None
            return
        kind = self._by_entity.get(low)
        if kind is None:
            return
        hooks = [h for h in self._hooks_for(low) if h.active and h.ready]
        if not hooks:
            return
        record: dict[str, Any] | None = None
        if ev.action != "deleted":
            record = self.state.store.get(kind.entity, ev.id)
        changed = {f.lower() for f in ev.fields}
        udf_changed = "userdefinedfields" in changed
        when = datetime_or_none(ev.time, naive=False)
        committed = when.timestamp() if when is not None else self.state.clock.time()
        for hook in hooks:
            if ev.action == "created" and not hook.on_create:
                continue
            if ev.action == "updated" and not hook.on_update:
                continue
            if ev.action == "deleted" and not hook.on_delete:
                continue
            if ev.resource_id is not None and ev.resource_id in hook.excluded:
                continue
            fields: dict[str, Any] = {}
            if record is not None:
                if ev.action == "created":
                    names = hook.subscribed | hook.display
                    udfs = hook.udf_subscribed | hook.udf_display
                else:
                    hits = {n for n in hook.subscribed if n.lower() in changed}
                    udf_hits = hook.udf_subscribed if udf_changed else set()
                    if not hits and not udf_hits:
                        continue
                    names = hits | hook.display
                    udfs = udf_hits | hook.udf_display
                for name in sorted(names):
                    fields[name] = record.get(name)
                if udfs:
                    values = {
                        str(u.get("name", "")).lower(): u.get("value")
                        for u in record.get("userDefinedFields") or []
                        if isinstance(u, dict)
                    }
                    for name in sorted(udfs):
                        fields[name] = values.get(name.lower())
            self._enqueue(hook, ev, fields, committed)

    def _webhook_changed(self, kind: WebhookKind, ev: ChangeEvent) -> None:
        """A live webhook switched off or deleted gets the Deactivated call (reference section
        13: also when deleted or inactivated); one switched on again starts afresh."""
        key = (kind.webhooks.name.lower(), ev.id)
        row = None if ev.action == "deleted" else self.state.store.get(kind.webhooks, ev.id)
        with self._lock:
            before = self._live.get(key)
            if before is None:
                return
            if row is None:
                del self._live[key]
            else:
                self._live[key] = row
            was_active = bool(_get(before, "isActive"))
            active = bool(_get(row, "isActive")) if row is not None else False
            channel = self._channels.setdefault(key, _Channel())
            if active and channel.dead:
                channel.dead, channel.failures = False, 0
            if not (was_active and not active):
                return
            channel.dead = True
            channel.pending.clear()
            channel.sequence += 1
            sequence = channel.sequence
            generation = self._generation
            self._side_calls += 1  # counted by pending() until sent
        hook = _Hook(
            id=ev.id,
            kind=kind,
            guid=str(_get(before, "webhookGuid") or ""),
            url=str(_get(before, "webhookUrl") or ""),
            deactivation_url=str(_get(row or before, "deactivationUrl") or ""),
            secret=str(_get(row or before, "secretKey") or ""),
            active=False,
            ready=False,
            on_create=False,
            on_update=False,
            on_delete=False,
            subscribed=set(),
            display=set(),
            udf_subscribed=set(),
            udf_display=set(),
            excluded=set(),
        )

        async def call() -> None:
            try:
                await self._post_deactivated(hook, sequence, generation)
            finally:
                with self._lock:
                    self._side_calls -= 1

        loop = self._ensure_loop()
        loop.call_soon_threadsafe(lambda: asyncio.get_running_loop().create_task(call()))

    def _enqueue(
        self, hook: _Hook, ev: ChangeEvent, fields: dict[str, Any], committed: float
    ) -> None:
        with self._lock:
            channel = self._channels.setdefault(_key(hook), _Channel())
            if channel.dead:
                return
            channel.sequence += 1
            payload = {
                "Action": _ACTIONS[ev.action],
                "Guid": hook.guid,
                "EntityType": hook.kind.entity_type,
                "Id": ev.id,
                "Fields": fields,
                "EventTime": _iso(committed),
                "SequenceNumber": channel.sequence,
                "PersonID": ev.resource_id,
            }
            generation = self._generation
            event = _Event(hook, hook.url, hook.secret, payload, ev.sequence, committed, generation)
            channel.handed += 1
        loop = self._ensure_loop()
        loop.call_soon_threadsafe(self._push, event, generation)

    # -- delivery loop ---------------------------------------------------------------------------
    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is not None:
                return self._loop
            loop = asyncio.new_event_loop()
            ready = threading.Event()

            def run() -> None:
                asyncio.set_event_loop(loop)
                self._resume = asyncio.Event()
                if not self._paused:
                    self._resume.set()
                ready.set()
                loop.run_forever()

            self._thread = threading.Thread(target=run, name="simulator-webhooks", daemon=True)
            self._thread.start()
            ready.wait()
            self._loop = loop
            return loop

    def _push(self, event: _Event, generation: int) -> None:
        with self._lock:
            if generation != self._generation:
                return
            channel = self._channels.setdefault(_key(event.hook), _Channel())
            channel.handed -= 1
            channel.pending.append(event)
            start = not channel.running
            channel.running = True
        if start:
            asyncio.get_running_loop().create_task(self._drain(channel, generation))

    def _take(self, channel: _Channel) -> _Event | None:
        with self._lock:
            if not channel.pending:
                channel.running = False
                return None
            rate = self.state.config.webhook_out_of_order
            if len(channel.pending) > 1 and rate > 0 and self._rng.random() < rate:
                first = channel.pending.popleft()
                second = channel.pending.popleft()
                channel.pending.appendleft(first)
                return second
            return channel.pending.popleft()

    async def _drain(self, channel: _Channel, generation: int) -> None:
        cfg = self.state.config
        clock = self.state.clock
        assert self._resume is not None
        while generation == self._generation:
            await self._resume.wait()
            event = self._take(channel)
            if event is None:
                return
            wait = event.committed_at + cfg.webhook_delay_seconds - clock.time()
            if wait > 0:
                await clock.sleep(wait)
            if cfg.webhook_drop > 0 and self._rng.random() < cfg.webhook_drop:
                self._record(event, 1, None, "fault:drop", None, 0.0, clock.time(), time.time())
                continue
            ok = await self._deliver(event, generation)
            if generation != self._generation:
                return
            if ok:
                channel.failures = 0
                if cfg.webhook_duplicate > 0 and self._rng.random() < cfg.webhook_duplicate:
                    await self._attempt(event, 1, "fault:duplicate")
                continue
            channel.failures += 1
            self._log_error(event)
            if cfg.webhook_deactivate_after and channel.failures >= cfg.webhook_deactivate_after:
                try:
                    await self._deactivate(event.hook, channel)
                finally:
                    with self._lock:
                        channel.running = False
                return

    async def _deliver(self, event: _Event, generation: int) -> bool:
        cfg = self.state.config
        for attempt in range(1, max(1, cfg.webhook_max_attempts) + 1):
            if attempt > 1:
                await self.state.clock.sleep(cfg.webhook_retry_seconds)
            if generation != self._generation:
                return False
            if await self._attempt(event, attempt, None):
                return True
        return False

    async def _attempt(self, event: _Event, attempt: int, label: str | None) -> bool:
        cfg = self.state.config
        assert self._resume is not None
        await self._resume.wait()
        body = orjson.dumps(event.payload)
        signed = dotnet_form(body) if cfg.webhook_sign == "dotnet" else body
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(event.secret, signed),
        }
        timeout = max(
            self.state.clock.real_seconds(cfg.webhook_timeout_seconds), cfg.webhook_min_real_timeout
        )
        virtual, real, started = self.state.clock.time(), time.time(), time.perf_counter()
        status: int | None = None
        error: str | None = None
        try:
            if not cfg.webhook_delivery:
                outcome = "disabled"
            else:
                target, path = self._target(event.url)
                status = await asyncio.wait_for(target.post(path, body, headers), timeout)
                outcome = "ok" if 200 <= status < 300 else "error"
                if outcome == "error":
                    error = f"HTTP {status}"
        except asyncio.TimeoutError:
            outcome, error = "timeout", f"no answer within {cfg.webhook_timeout_seconds:g} s"
        except (OSError, ValueError) as exc:
            outcome, error = "error", f"{type(exc).__name__}: {exc}"
        latency = time.perf_counter() - started
        shown = f"{label}:{outcome}" if label else outcome
        self._record(event, attempt, status, shown, error, latency, virtual, real)
        return outcome in ("ok", "disabled")

    def _target(self, url: str) -> tuple[_Target, str]:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        port = parts.port or (443 if scheme == "https" else 80)
        key = (scheme, parts.hostname, port)
        target = self._targets.get(key)
        if target is None:
            target = self._targets[key] = _Target(*key)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        return target, path

    def _record(
        self,
        event: _Event,
        attempt: int,
        status: int | None,
        outcome: str,
        error: str | None,
        latency: float,
        virtual: float,
        real: float,
        *,
        url: str | None = None,
    ) -> None:
        if event.generation != self._generation:
            return  # an attempt that was in flight across a reset
        p = event.payload
        hook = event.hook
        self._deliveries.append(
            Delivery(
                webhook_id=hook.id,
                webhook_entity=hook.kind.webhooks.name,
                guid=str(p.get("Guid") or ""),
                url=url or event.url,
                action=str(p.get("Action")),
                entity=hook.kind.entity.name,
                record_id=int(p.get("Id") or 0),
                sequence=int(p.get("SequenceNumber") or 0),
                change_sequence=event.change_sequence,
                attempt=attempt,
                status=status,
                outcome=outcome,
                error=error,
                latency=latency,
                committed_at=event.committed_at,
                sent_at=virtual,
                real_sent_at=real,
            )
        )

    def _log_error(self, event: _Event) -> None:
        log = self.state.schema.entity("WebhookEventErrorLogs")
        hook = event.hook
        if log is None:
            return
        cfg = self.state.config
        row: dict[str, Any] = {f.name: None for f in log.field_order}
        row["id"] = self.state.store.next_id(log, cfg.first_id)
        for f in log.field_order:
            low = f.name.lower()
            if low == "createdatetime":
                row[f.name] = format_datetime(self.state.clock.now())
            elif low == "errormessage":
                row[f.name] = (
                    f"Delivery to {event.url} failed {cfg.webhook_max_attempts} times; "
                    "the event was dropped."
                )
            elif low == "payload":
                row[f.name] = orjson.dumps(event.payload).decode()[: f.length or None]
            elif low == "sequencenumber":
                row[f.name] = event.payload.get("SequenceNumber")
        if hook.kind.error_log_field:
            row[hook.kind.error_log_field] = hook.id
        self.state.store.put(log, row)

    async def _deactivate(self, hook: _Hook, channel: _Channel) -> None:
        with self._lock:
            channel.dead = True
            channel.pending.clear()
            channel.sequence += 1
            sequence = channel.sequence
        row = self.state.store.get(hook.kind.webhooks, hook.id)
        if row is not None:
            for k in list(row):
                if k.lower() == "isactive":
                    row[k] = False
            self.state.store.put(hook.kind.webhooks, row)
        with self._lock:
            self._hooks = None
            self._live[_key(hook)] = row or {}
        await self._post_deactivated(hook, sequence, self._generation)

    async def _post_deactivated(self, hook: _Hook, sequence: int, generation: int) -> None:
        now = self.state.clock.time()
        payload = {
            "Action": "Deactivated",
            "Guid": hook.guid,
            "EntityType": hook.kind.entity_type,
            "Id": hook.id,
            "Fields": {},
            "EventTime": _iso(now),
            "SequenceNumber": sequence,
            "PersonID": None,
        }
        event = _Event(hook, hook.deactivation_url, hook.secret, payload, 0, now, generation)
        await self._attempt(event, 1, "deactivation")

    # -- control ---------------------------------------------------------------------------------
    def deliveries(
        self,
        *,
        webhook_id: int | None = None,
        outcome: str | None = None,
        since_change: int | None = None,
    ) -> list[Delivery]:
        items = list(self._deliveries)
        return [
            d
            for d in items
            if (webhook_id is None or d.webhook_id == webhook_id)
            and (outcome is None or d.outcome.startswith(outcome))
            and (since_change is None or d.change_sequence > since_change)
        ]

    @property
    def paused(self) -> bool:
        return self._paused

    def pause(self) -> None:
        self._paused = True
        if self._loop is not None and self._resume is not None:
            self._loop.call_soon_threadsafe(self._resume.clear)

    def resume(self) -> None:
        self._paused = False
        if self._loop is not None and self._resume is not None:
            self._loop.call_soon_threadsafe(self._resume.set)

    def pending(self) -> int:
        with self._lock:
            return self._side_calls + sum(
                len(c.pending) + c.handed + (1 if c.running else 0) for c in self._channels.values()
            )

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until no event is queued or being delivered (False on timeout)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.pending():
                return True
            time.sleep(0.005)
        return not self.pending()

    def settings(self) -> dict[str, Any]:
        cfg = self.state.config
        return {
            "paused": self._paused,
            "delivery": cfg.webhook_delivery,
            "delaySeconds": cfg.webhook_delay_seconds,
            "duplicate": cfg.webhook_duplicate,
            "outOfOrder": cfg.webhook_out_of_order,
            "drop": cfg.webhook_drop,
            "sign": cfg.webhook_sign,
            "ciEntityType": cfg.webhook_ci_entity_type,
            "pending": self.pending(),
            "kinds": {k.webhooks.name: k.entity.name for k in self.kinds},
        }

    def configure(self, **changes: Any) -> None:
        """Change knobs: delay, duplicate, out_of_order, drop (0..1), sign, ci_entity_type,
        delivery, paused, seed."""
        cfg = self.state.config
        for key, value in changes.items():
            if key in ("duplicate", "out_of_order", "drop"):
                number = float(value)
                if not 0.0 <= number <= 1.0:
                    raise ValueError(f"{key} must be a probability between 0 and 1")
                setattr(cfg, f"webhook_{key}", number)
            elif key == "delay":
                if float(value) < 0:
                    raise ValueError("delay must be >= 0 virtual seconds")
                cfg.webhook_delay_seconds = float(value)
            elif key == "sign":
                if value not in ("dotnet", "raw"):
                    raise ValueError("sign must be 'dotnet' or 'raw'")
                cfg.webhook_sign = value
            elif key == "ci_entity_type":
                cfg.webhook_ci_entity_type = str(value)
                for k in self.kinds:
                    if self._soap_name(k.entity) == "InstalledProduct":
                        k.entity_type = str(value)
            elif key == "delivery":
                cfg.webhook_delivery = bool(value)
            elif key == "paused":
                (self.pause if value else self.resume)()
            elif key == "seed":
                self._rng.seed(int(value))
            else:
                raise ValueError(f"unknown webhook setting {key!r}")

    def reset(self) -> None:
        """Forget queued events, counters and the delivery journal (the store is reset apart)."""
        with self._lock:
            self._generation += 1
            self._live.clear()
            self._channels.clear()
            self._hooks = None
            self._deliveries.clear()
            self._rng.seed(self.state.config.fault_seed)

    def close(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None:
            return
        targets = list(self._targets.values())

        async def shutdown() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:  # deliveries waiting for a retry or an answer
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for target in targets:
                target.close()

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(shutdown(), loop).result(2.0)
        loop.call_soon_threadsafe(loop.stop)
        if thread is not None:
            thread.join(2.0)
        self._loop = None
        self._thread = None
        self._targets.clear()
