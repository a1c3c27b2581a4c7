"""The ASGI application: one metadata-driven router for ``/ATServicesRest/...`` plus the
Starlette control plane under ``/_sim/``."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from .._values import datetime_or_none
from ._faults import FaultRule
from ._journal import JournalEntry
from ._metadata import EntityMeta, ParentRoute
from ._ops import ApiError, Caller, Reply
from ._state import SeedUnavailableError, SimulatorState

__all__ = ["SimulatorApp", "create_app"]

_JSON = b"application/json; charset=utf-8"
_GLOBALS = {
    "zoneinformation": "ZoneInformation",
    "thresholdinformation": "ThresholdInformation",
    "version": "Version",
    "entityinformation": "EntityInformation",
}
_META = {"fields": "fields", "userdefinedfields": "userDefinedFields"}
_WRITE_METHODS = {"POST": "create", "PATCH": "update", "PUT": "replace"}


@dataclass
class Match:
    """A resolved API route."""

    operation: (
        str  # entity op name, or meta / zone / threshold / version / versions / entities / next
    )
    endpoint: (
        str  # thread-limit key: the entity collection (the child for child URLs) or global name
    )
    entity: EntityMeta | None = None
    item_id: int | None = None
    parent: tuple[ParentRoute, int] | None = None
    meta: str | None = None  # entityInformation | fields | userDefinedFields
    list_path: str | None = None  # child collection path (for paging URLs)


def _not_found(state: SimulatorState, path: str) -> ApiError:
    if state.config.html_not_found:
        body = (
            b"<!DOCTYPE html><html><head><title>404 - File or directory not found.</title></head>"
            b"<body><h2>404 - File or directory not found.</h2></body></html>"
        )
        return ApiError(404, body=body, outcome="not_found")
    return ApiError(
        404,
        f"No HTTP resource was found that matches the request URI '{path}'.",
        outcome="not_found",
    )


def _not_allowed(method: str) -> ApiError:
    return ApiError(
        405,
        f"The requested resource does not support http method '{method}'.",
        outcome="not_allowed",
    )


def _as_id(text: str) -> int | None:
    if text.isdigit() or (text.startswith("-") and text[1:].isdigit()):
        return int(text)
    return None


def resolve(state: SimulatorState, method: str, segs: list[str], path: str) -> Match:
    """Map ``V1.0/...`` path segments (already split) to an operation, or raise 404/405."""
    schema = state.schema
    low = [s.lower() for s in segs]
    n = len(segs)
    if n == 0:
        raise _not_found(state, path)
    if n == 1 and low[0] in _GLOBALS:
        if method != "GET":
            raise _not_allowed(method)
        name = _GLOBALS[low[0]]
        op = {
            "ZoneInformation": "zone",
            "ThresholdInformation": "threshold",
            "Version": "version",
            "EntityInformation": "entities",
        }[name]
        return Match(op, name)
    if n in (3, 4, 5) and _as_id(segs[1]) is not None and low[1:2] != ["query"]:
        found = schema.child(segs[0], segs[2])
        if found is None:
            raise _not_found(state, path)
        child, route = found
        parent = (route, int(segs[1]))
        list_path = f"V1.0/{route.parent}/{segs[1]}/{route.child}"
        ops = route.operations
        if n == 3:
            if method == "GET":
                op = "list"
            elif method in _WRITE_METHODS:
                op = _WRITE_METHODS[method]
            else:
                raise _not_allowed(method)
            if op not in ops:
                raise _not_allowed(method)
            return Match(op, child.name, child, parent=parent, list_path=list_path)
        if low[3] == "entityinformation":
            if n == 5 and low[4] not in _META:
                raise _not_found(state, path)
            if method != "GET":
                raise _not_allowed(method)
            return Match(
                "meta",
                child.name,
                child,
                parent=parent,
                meta=_META[low[4]] if n == 5 else "entityInformation",
            )
        if n == 5:
            raise _not_found(state, path)
        item = _as_id(segs[3])
        if item is None:
            raise _not_found(state, path)
        if method == "GET" and "get" in ops:
            return Match("get", child.name, child, item_id=item, parent=parent)
        if method == "DELETE" and "delete" in ops:
            return Match("delete", child.name, child, item_id=item, parent=parent)
        raise _not_allowed(method)
    entity = schema.entity(segs[0])
    if entity is None:
        raise _not_found(state, path)
    root_ops = entity.root_operations
    # /{E}/entityInformation[/fields|/userDefinedFields] (root and child entities alike)
    if n >= 2 and low[1] == "entityinformation" and n <= 3:
        if n == 3 and low[2] not in _META:
            raise _not_found(state, path)
        if method != "GET":
            raise _not_allowed(method)
        return Match(
            "meta", entity.name, entity, meta=_META[low[2]] if n == 3 else "entityInformation"
        )
    if root_ops is None:
        raise _not_found(state, path)
    if n == 1:
        if method in _WRITE_METHODS and _WRITE_METHODS[method] in root_ops:
            return Match(_WRITE_METHODS[method], entity.name, entity)
        raise _not_allowed(method)
    if low[1] == "query":
        if n == 2:
            kind = "query"
        elif n == 3 and low[2] == "count":
            kind = "count"
        elif n == 3 and low[2] == "next":
            kind = "next"
        else:
            raise _not_found(state, path)
        needed = "count" if kind == "count" else "query"
        if needed not in root_ops:
            raise _not_found(state, path)
        if method not in ("GET", "POST"):
            raise _not_allowed(method)
        return Match(kind, entity.name, entity)
    if n == 2:
        item = _as_id(segs[1])
        if item is None:
            raise _not_found(state, path)
        if method == "GET" and "get" in root_ops:
            return Match("get", entity.name, entity, item_id=item)
        if method == "DELETE" and "delete" in root_ops:
            return Match("delete", entity.name, entity, item_id=item)
        raise _not_allowed(method)
    raise _not_found(state, path)


class SimulatorApp:
    """ASGI entry point: ``/ATServicesRest/...`` (any case) goes to the API, the rest to Starlette."""

    def __init__(self, state: SimulatorState) -> None:
        self.state = state
        self.control = _control_app(state)
        # per request (id of its journal entry): releases the thread slot and stamps finished_at, once
        self._finishers: dict[int, Callable[[], None]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].lower().startswith("/atservicesrest"):
            await self.api(scope, receive, send)
        else:
            await self.control(scope, receive, send)

    # -- API -------------------------------------------------------------------------------------
    async def api(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = self.state
        cfg = state.config
        method = scope["method"].upper()
        path: str = scope["path"]
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        body = await _read_body(receive)
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        base = self._base_url(scope, headers)
        started = time.time()
        entry = state.journal.start(
            method=method,
            path=path,
            entity=None,
            operation=None,
            integration_code=_header(headers, "apiintegrationcode"),
            username=_header(headers, "username"),
            started_at=started,
            virtual_started_at=state.clock.time(),
        )
        slot: tuple[str, str] | None = None

        def finish() -> None:
            # Called when the response is ready, before its body goes out: a client that reads
            # the journal (or sends its next request) as soon as it has the response must find
            # this request finished and its thread slot free.
            nonlocal slot
            if slot is not None:
                state.threads.leave(slot)
                slot = None
            if not entry.finished_at:
                entry.finished_at = time.time()

        self._finishers[id(entry)] = finish
        try:
            rest = path.strip("/").split("/")[1:]  # drop "ATServicesRest"
            if len(rest) == 1 and rest[0].lower() == "versioninformation":
                if method != "GET":
                    raise _not_allowed(method)
                entry.operation = "versions"
                await self._send(
                    send, entry, Reply(orjson.dumps({"apiVersions": list(cfg.api_versions)}))
                )
                return
            if not rest or rest[0].lower() != "v1.0":
                raise _not_found(state, path)
            match = resolve(state, method, rest[1:], path)
            entry.entity = match.entity.name if match.entity else match.endpoint
            entry.operation = match.operation
            if match.operation == "zone":
                await self._send(send, entry, self._zone(query, base))
                return
            caller = self._authenticate(headers)
            accepted, prior = state.budget.acquire()
            if not accepted:
                raise ApiError(
                    cfg.budget_exceeded_status,
                    "Request threshold exceeded: the limit of "
                    f"{state.budget.threshold} requests per {state.budget.timeframe_minutes} minutes "
                    "for this database has been reached. Try again later.",
                    headers=_retry_after(cfg.retry_after_seconds),
                    outcome="rejected_budget",
                )
            key = (entry.integration_code or "", match.endpoint.lower())
            admitted, inflight = state.threads.try_enter(key, cfg.thread_limit)
            entry.in_flight_at_start = inflight
            if not admitted:
                raise ApiError(
                    cfg.thread_limit_status,
                    "Thread Threshold Exceeded: the maximum of "
                    f"{cfg.thread_limit} concurrent requests for this API tracking identifier and "
                    f"endpoint '{match.endpoint}' was reached. (Itgenatr005)",
                    headers=_retry_after(cfg.retry_after_seconds),
                    outcome="rejected_thread",
                )
            slot = key
            delay = 0.0
            if state.budget.threshold > 0:
                for fraction, seconds in cfg.usage_latency:
                    if prior >= fraction * state.budget.threshold:
                        delay = max(delay, seconds)
            entry.budget_latency = delay
            latencies, terminal, fired = state.faults.pick(
                method, entry.entity, match.operation, path
            )
            if fired:
                entry.outcome = "fault:" + ",".join(fired)
            pre = delay + sum(
                state.faults.latency_seconds(e) for e in latencies if not e.get("per_record")
            )
            await state.clock.sleep(pre)
            pre_terminal = terminal is not None and not terminal["type"].startswith("commit_then")
            if (
                terminal is not None
                and pre_terminal
                and await self._pre_fault(send, entry, terminal)
            ):
                return
            reply = self._dispatch(match, method, body, query, base, caller)
            per_record = [e for e in latencies if e.get("per_record")]
            if per_record:
                await state.clock.sleep(
                    sum(state.faults.latency_seconds(e, reply.records or 0) for e in per_record)
                )
            if terminal is not None:
                entry.item_ids = reply.item_ids
                entry.record_count = reply.records
                await self._post_fault(send, entry, terminal, reply)
                return
            await self._send(send, entry, reply)
        except ApiError as exc:
            if exc.outcome != "error" or entry.outcome == "ok":
                entry.outcome = exc.outcome
            entry.error = "; ".join(exc.errors) if exc.errors else None
            await self._send(
                send,
                entry,
                Reply(
                    exc.body,
                    status=exc.status,
                    content_type=_JSON if not exc.body.startswith(b"<") else b"text/html",
                ),
                extra=exc.headers,
            )
        except Exception as exc:  # never crash: answer like an opaque Autotask 500
            entry.outcome = "crash"
            entry.error = repr(exc)
            await self._send(
                send,
                entry,
                Reply(
                    orjson.dumps(
                        {"errors": [f"An unexpected error occurred: {type(exc).__name__}."]}
                    ),
                    status=500,
                ),
            )
        finally:
            self._finishers.pop(id(entry), None)
            finish()

    def _base_url(self, scope: Scope, headers: dict[str, str]) -> str:
        if self.state.config.public_base_url:
            base = self.state.config.public_base_url
            return base if base.endswith("/") else base + "/"
        host = headers.get("host")
        if not host:
            server = scope.get("server") or ("127.0.0.1", 80)
            host = f"{server[0]}:{server[1]}"
        return f"{scope.get('scheme', 'http')}://{host}/ATServicesRest/"

    def _zone(self, query: dict[str, list[str]], base: str) -> Reply:
        cfg = self.state.config
        user = (query.get("user") or [""])[0]
        if not user:
            raise ApiError(cfg.validation_status, "The user parameter is required.")
        if cfg.user(user) is None:
            raise ApiError(
                cfg.unknown_user_status, f"Zone information could not be found for user {user}."
            )
        return Reply(
            orjson.dumps(
                {"zoneName": cfg.zone_name, "url": base, "webUrl": cfg.web_url, "ci": cfg.ci}
            )
        )

    def _authenticate(self, headers: dict[str, str]) -> Caller:
        cfg = self.state.config
        code = _header(headers, "apiintegrationcode")
        username = _header(headers, "username")
        secret = _header(headers, "secret")
        if not username and not secret and not code:
            raise ApiError(
                cfg.bad_secret_status,
                "Authentication failed: credentials were not supplied.",
                outcome="auth",
            )
        user = cfg.user(username)
        if user is None:
            raise ApiError(
                cfg.unknown_user_status,
                "Invalid user name or the user is not an API user.",
                outcome="auth",
            )
        if secret != user.secret:
            raise ApiError(
                cfg.bad_secret_status,
                "Authentication failed: invalid user name or secret.",
                outcome="auth",
            )
        if not code or code not in cfg.integration_codes:
            raise ApiError(
                cfg.bad_integration_code_status,
                "Invalid ApiIntegrationCode: the API tracking identifier is missing or not valid.",
                outcome="auth",
            )
        imp_raw = _header(headers, "impersonationresourceid")
        impersonated: int | None = None
        if imp_raw:
            try:
                impersonated = int(imp_raw.strip())
            except ValueError:
                raise ApiError(
                    cfg.validation_status, f"Invalid ImpersonationResourceId '{imp_raw}'."
                ) from None
        return Caller(user.resource_id, impersonated)

    def _dispatch(
        self,
        m: Match,
        method: str,
        body: bytes,
        query: dict[str, list[str]],
        base: str,
        caller: Caller,
    ) -> Reply:
        state = self.state
        ops = state.ops
        op = m.operation
        if op == "threshold":
            return Reply(
                orjson.dumps(
                    {
                        "externalRequestThreshold": state.budget.threshold,
                        "requestThresholdTimeframe": state.budget.timeframe_minutes,
                        "currentTimeframeRequestCount": state.budget.current(),
                    }
                )
            )
        if op == "version":
            major, minor, build = state.config.app_version
            return Reply(
                orjson.dumps(
                    {
                        "majorVersion": str(major),
                        "minorVersion": str(minor),
                        "build": str(build),
                        "customerType": "Production",
                    }
                )
            )
        if op == "entities":
            return Reply(state.entity_descriptions())
        entity = m.entity
        assert entity is not None
        if op == "meta":
            return Reply(entity.raw(m.meta or "entityInformation"))
        if op in ("query", "count"):
            q = self._query_body(method, body, query)
            if op == "count":
                return ops.count(entity, q)
            return ops.query(entity, q, method=method, base_url=base)
        if op == "next":
            paging = self._paging(query)
            origin = str(paging.get("method") or method).upper()
            if state.config.next_page_method == "same" and origin != method:
                raise _not_allowed(method)
            q = None
            if method == "POST" and body.strip():
                q = _json_body(state, body)
            if q is None:
                q = self._query_body("GET", b"", query)
            return ops.query(entity, q, method=origin, base_url=base, paging=paging)
        if op == "list":
            list_paging = self._paging(query) if "paging" in query else None
            return ops.query(
                entity,
                None,
                method="GET",
                base_url=base,
                paging=list_paging,
                parent=m.parent,
                list_url=base + (m.list_path or ""),
            )
        if op == "get":
            assert m.item_id is not None
            return ops.get(entity, m.item_id, m.parent)
        if op == "delete":
            assert m.item_id is not None
            return ops.delete(entity, m.item_id, caller, m.parent)
        data = _json_body(state, body)
        if op == "create":
            return ops.create(entity, data, caller, m.parent)
        return ops.update(entity, data, caller, m.parent, replace=(op == "replace"))

    def _query_body(self, method: str, body: bytes, query: dict[str, list[str]]) -> Any:
        if method == "POST":
            return _json_body(self.state, body)
        search = query.get("search")
        if not search or not search[0].strip():
            raise ApiError(self.state.config.validation_status, "The search parameter is required.")
        try:
            return orjson.loads(search[0])
        except orjson.JSONDecodeError:
            raise ApiError(
                self.state.config.validation_status, "The search parameter is not valid JSON."
            ) from None

    def _paging(self, query: dict[str, list[str]]) -> dict[str, Any]:
        raw = (query.get("paging") or [""])[0]
        try:
            paging = orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            paging = None
        if not isinstance(paging, dict):
            raise ApiError(
                self.state.config.validation_status, "The paging parameter is missing or invalid."
            )
        return paging

    # -- sending ---------------------------------------------------------------------------------
    async def _send(
        self,
        send: Send,
        entry: JournalEntry,
        reply: Reply,
        extra: list[tuple[bytes, bytes]] | None = None,
    ) -> None:
        entry.status = reply.status
        if reply.item_ids:
            entry.item_ids = reply.item_ids
        if reply.records is not None:
            entry.record_count = reply.records
        headers = [
            (b"content-type", reply.content_type),
            (b"content-length", str(len(reply.body)).encode()),
        ]
        headers.extend(extra or [])
        finish = self._finishers.pop(id(entry), None)
        if finish is not None:
            finish()
        await send({"type": "http.response.start", "status": reply.status, "headers": headers})
        await send({"type": "http.response.body", "body": reply.body})

    async def _pre_fault(self, send: Send, entry: JournalEntry, effect: dict[str, Any]) -> bool:
        """Apply a fault that replaces the response. Returns True when the request is finished."""
        kind = effect["type"]
        cfg = self.state.config
        if kind == "status":
            status = int(effect["status"])
            if "body" in effect:
                raw = effect["body"]
                data = raw.encode() if isinstance(raw, str) else orjson.dumps(raw)
            else:
                errors = effect.get("errors") or [f"Simulated HTTP {status} error."]
                data = orjson.dumps({"errors": list(errors)})
            await self._send(
                send,
                entry,
                Reply(data, status=status),
                extra=_retry_after(effect.get("retry_after")),
            )
        elif kind == "throttle":
            data = orjson.dumps(
                {
                    "errors": [
                        "Thread Threshold Exceeded: the maximum of "
                        f"{cfg.thread_limit} concurrent requests for this API tracking identifier and "
                        f"endpoint was reached. (Itgenatr005)"
                    ]
                }
            )
            await self._send(
                send,
                entry,
                Reply(data, status=int(effect.get("status", 429))),
                extra=_retry_after(effect.get("retry_after")),
            )
        elif kind == "validation":
            msg = effect.get("message") or "Simulated validation error: the request was rejected."
            await self._send(
                send,
                entry,
                Reply(orjson.dumps({"errors": [msg]}), status=int(effect.get("status", 500))),
            )
        elif kind == "opaque":
            data = (
                b"<html><head><title>Runtime Error</title></head><body><h1>Server Error in '/ATServicesRest' "
                b"Application.</h1></body></html>"
            )
            await self._send(
                send,
                entry,
                Reply(data, status=int(effect.get("status", 500)), content_type=b"text/html"),
            )
        elif kind == "malformed":
            await self._send(
                send, entry, Reply(b'{"items":[{"id":1,"title":"unterminated', status=200)
            )
        elif kind == "empty":
            await self._send(send, entry, Reply(b"", status=200))
        elif kind == "truncated":
            reply = Reply(
                b'{"items":[],"pageDetails":{"count":0,"requestCount":500,"prevPageUrl":null,"nextPageUrl":null}}'
            )
            await self._truncate(send, entry, reply)
        elif kind == "reset":
            entry.status = 0
            await _abort(send)
        else:
            return False
        return True

    async def _post_fault(
        self, send: Send, entry: JournalEntry, effect: dict[str, Any], reply: Reply
    ) -> None:
        if effect["type"] == "commit_then_drop":
            entry.status = 0
            await _abort(send)
            return
        if effect["type"] == "commit_then_delay":
            await self.state.clock.sleep(float(effect.get("seconds", 30.0)))
            await self._send(send, entry, reply)
            return
        await self._pre_fault(send, entry, effect)

    async def _truncate(self, send: Send, entry: JournalEntry, reply: Reply) -> None:
        entry.status = reply.status
        body = reply.body
        await send(
            {
                "type": "http.response.start",
                "status": reply.status,
                "headers": [
                    (b"content-type", reply.content_type),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send(
            {
                "type": "http.response.body",
                "body": body[: max(1, len(body) // 2)],
                "more_body": True,
            }
        )
        await _abort(send)


async def _abort(send: Send) -> None:
    """Close the client connection without (completing) a response."""
    cycle = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is not None:
        transport.abort()
        for _ in range(3):
            await asyncio.sleep(0)
        return
    raise ConnectionAbortedError("simulated connection reset")


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    return b"".join(chunks)


def _header(headers: dict[str, str], name: str) -> str | None:
    value = headers.get(name)
    return value.strip() if value is not None else None


def _retry_after(seconds: Any) -> list[tuple[bytes, bytes]]:
    if seconds is None:
        return []
    return [(b"retry-after", str(int(seconds)).encode())]


def _json_body(state: SimulatorState, body: bytes) -> Any:
    if not body.strip():
        raise ApiError(state.config.validation_status, "The request body is empty.")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ApiError(
            state.config.validation_status, f"The request body is not valid JSON: {exc}."
        ) from None


# -- control plane ---------------------------------------------------------------------------------
def _control_app(state: SimulatorState) -> Starlette:
    async def _json(request: Request) -> dict[str, Any]:
        raw = await request.body()
        if not raw.strip():
            return {}
        data = orjson.loads(raw)
        if not isinstance(data, dict):
            raise ValueError("expected a JSON object")
        return data

    def _bad(msg: str, status: int = 400) -> JSONResponse:
        return JSONResponse({"errors": [msg]}, status_code=status)

    async def reset(request: Request) -> Response:
        data = await _json(request)
        # like Simulator.reset(): let requests still being served (abandoned by a finished test)
        # end first, so they neither hold thread slots nor land in the new journal
        try:
            drain = float(data.get("drainTimeout", 10.0))
        except (TypeError, ValueError):
            return _bad("drainTimeout must be a number of seconds")
        deadline = time.monotonic() + max(0.0, drain)
        while state.threads.snapshot() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        state.reset(
            keep_faults=bool(data.get("keepFaults", False)), reseed=bool(data.get("reseed", True))
        )
        return JSONResponse({"ok": True, "records": state.store.counts()})

    async def seed(request: Request) -> Response:
        data = await _json(request)
        try:
            loaded = state.load_seed(
                data.get("profile"), data.get("seed"), data.get("counts"), data.get("messy")
            )
        except SeedUnavailableError as exc:
            return _bad(str(exc), 501)
        except ValueError as exc:
            return _bad(str(exc))
        return JSONResponse({"loaded": loaded})

    async def clock(request: Request) -> Response:
        if request.method == "POST":
            data = await _json(request)
            try:
                if "set" in data:
                    when = datetime_or_none(data["set"], naive=True)
                    if when is None:
                        return _bad("'set' must be an ISO datetime")
                    state.clock.set_time(when)
                if "scale" in data:
                    state.clock.set_scale(float(data["scale"]))
                if "advance" in data:
                    state.clock.advance(float(data["advance"]))
            except (TypeError, ValueError) as exc:
                return _bad(str(exc))
        return JSONResponse(state.clock.to_dict())

    async def threshold(request: Request) -> Response:
        if request.method == "POST":
            data = await _json(request)
            if "threshold" in data:
                state.budget.threshold = int(data["threshold"])
            if data.get("reset"):
                state.budget.reset()
            if "count" in data:
                state.budget.preload(int(data["count"]), float(data.get("ageSeconds", 0.0)))
        return JSONResponse(
            {
                "externalRequestThreshold": state.budget.threshold,
                "requestThresholdTimeframe": state.budget.timeframe_minutes,
                "currentTimeframeRequestCount": state.budget.current(),
            }
        )

    async def faults(request: Request) -> Response:
        if request.method == "POST":
            data = orjson.loads(await request.body() or b"{}")
            rules = data if isinstance(data, list) else [data]
            try:
                added = [state.faults.add(FaultRule.from_dict(r)) for r in rules]
            except (ValueError, TypeError) as exc:
                return _bad(str(exc))
            return JSONResponse([r.to_dict() for r in added])
        if request.method == "DELETE":
            state.faults.clear()
            return JSONResponse({"ok": True})
        return JSONResponse([r.to_dict() for r in state.faults.rules()])

    async def fault_item(request: Request) -> Response:
        ok = state.faults.remove(request.path_params["rule_id"])
        return JSONResponse({"ok": ok}, status_code=200 if ok else 404)

    async def journal(request: Request) -> Response:
        if request.method == "DELETE":
            state.journal.clear()
            return JSONResponse({"ok": True})
        p = request.query_params
        status = p.get("status")
        since = p.get("since")
        entries = state.journal.entries(
            method=p.get("method"),
            entity=p.get("entity"),
            operation=p.get("operation"),
            status=int(status) if status else None,
            outcome=p.get("outcome"),
            since=int(since) if since else None,
            path_contains=p.get("path"),
        )
        return Response(orjson.dumps([e.to_dict() for e in entries]), media_type="application/json")

    async def changes(request: Request) -> Response:
        since = int(request.query_params.get("since", "0"))
        events = state.changes.since(since, request.query_params.get("entity"))
        return Response(orjson.dumps([e.to_dict() for e in events]), media_type="application/json")

    async def webhooks(request: Request) -> Response:
        engine = state.webhooks
        if request.method == "DELETE":
            engine.reset()
            return JSONResponse({"ok": True})
        if request.method == "POST":
            data = await _json(request)
            names = {
                "delay": "delay",
                "duplicate": "duplicate",
                "outOfOrder": "out_of_order",
                "drop": "drop",
                "sign": "sign",
                "ciEntityType": "ci_entity_type",
                "delivery": "delivery",
                "paused": "paused",
                "seed": "seed",
            }
            unknown = sorted(k for k in data if k not in names)
            if unknown:
                return _bad(
                    f"unknown webhook setting(s) {', '.join(unknown)}; use {', '.join(names)}"
                )
            try:
                engine.configure(**{names[k]: v for k, v in data.items()})
            except (TypeError, ValueError) as exc:
                return _bad(str(exc))
        query = request.query_params
        try:
            since = int(query["since"]) if "since" in query else None
            wid = int(query["webhookId"]) if "webhookId" in query else None
        except ValueError:
            return _bad("since and webhookId must be integers")
        items = engine.deliveries(webhook_id=wid, outcome=query.get("outcome"), since_change=since)
        return Response(
            orjson.dumps(
                {"settings": engine.settings(), "deliveries": [d.to_dict() for d in items]}
            ),
            media_type="application/json",
        )

    async def state_view(request: Request) -> Response:
        return Response(orjson.dumps(state.describe()), media_type="application/json")

    async def not_found(request: Request, exc: Exception) -> Response:
        return JSONResponse(
            {
                "errors": [
                    f"No HTTP resource was found that matches the request URI '{request.url.path}'."
                ]
            },
            status_code=404,
        )

    async def server_error(request: Request, exc: Exception) -> Response:
        return JSONResponse({"errors": [f"{type(exc).__name__}: {exc}"]}, status_code=400)

    routes = [
        Route("/_sim/reset", reset, methods=["POST"]),
        Route("/_sim/seed", seed, methods=["POST"]),
        Route("/_sim/clock", clock, methods=["GET", "POST"]),
        Route("/_sim/threshold", threshold, methods=["GET", "POST"]),
        Route("/_sim/faults", faults, methods=["GET", "POST", "DELETE"]),
        Route("/_sim/faults/{rule_id}", fault_item, methods=["DELETE"]),
        Route("/_sim/journal", journal, methods=["GET", "DELETE"]),
        Route("/_sim/changes", changes, methods=["GET"]),
        Route("/_sim/state", state_view, methods=["GET"]),
        Route("/_sim/webhooks", webhooks, methods=["GET", "POST", "DELETE"]),
    ]
    return Starlette(routes=routes, exception_handlers={404: not_found, ValueError: server_error})


def create_app(state: SimulatorState) -> SimulatorApp:
    """The ASGI app for a simulator state (also usable with ``httpx.ASGITransport``)."""
    return SimulatorApp(state)
