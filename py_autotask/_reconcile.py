"""Exactly-once creates without idempotency keys.

Autotask has no ``Idempotency-Key``: a ``POST`` whose connection drops after the server committed
it may have created the record, and a blind resend duplicates it. Every create therefore carries a
**correlation token** (``pyat-<uuid4 hex>``, 37 characters, one per logical create) in a queryable
field. When the transport reports an ambiguous outcome (:class:`AutotaskAmbiguousWriteError`), the
create path looks the record up by that token *before* any resend:

- found -> the id is adopted (the caller gets it as if the first answer had arrived);
- not found -> the create is resent once with the same token (``strict=True``: the ambiguous
  error is raised instead, carrying the token in ``correlation_value``).

Where the token goes, per entity (first match wins):

1. ``ReconcileConfig.correlation_fields[entity]``: a field name, ``CorrelationUdf("<udf name>")``,
   or ``None`` (no token for this entity).
2. With ``auto_correlation`` (default on): the entity's ``externalID`` field, when its metadata
   (the generated :class:`~py_autotask._spec.EntitySpec`) says it is a writable, queryable string
   long enough for the token. In the 2026 schema: Tickets, Tasks, Contacts, Phases, Services,
   ServiceBundles. Fields that carry business numbers (``externalProductID``,
   ``externalPONumber``, ``externalQuoteNumber``) are never picked automatically.

If the caller already put a value in the correlation field, that value is the key (it is not
overwritten). The caller's data is never mutated: the token is added to the request body copy.

Entities without a correlation field can opt into a **natural key**
(``natural_keys={"Contacts": ("emailAddress", "companyID")}``): a record with those values counts as
the one just created. This is a heuristic (it can adopt a record that existed before), hence opt-in.
With neither, an ambiguous create is raised unchanged (nothing is resent).

Until the resilient transport raises :class:`AutotaskAmbiguousWriteError` itself, a POST that
failed after the request was sent (read timeout, connection reset, protocol error) or that got a
gateway 502/503/504 or a non-JSON 500 is classified as ambiguous here.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final

from ._core import ApiRequest, ApiResponse, ClientCore, PreparedRequest, _lookup
from ._sender import Flow, pause, request
from ._spec import EntitySpec
from .exceptions import AutotaskAmbiguousWriteError, AutotaskConfigError, AutotaskConnectionError

__all__ = [
    "TOKEN_LENGTH",
    "CorrelationUdf",
    "CreatePlan",
    "ReconcileConfig",
    "exactly_once",
    "plan_create",
]

logger = logging.getLogger("py_autotask.reconcile")

_AUTO_FIELD: Final = "externalid"
_DEFAULT_PREFIX: Final = "pyat-"
#: Length of a default token: ``pyat-`` + 32 hex digits.
TOKEN_LENGTH: Final = len(_DEFAULT_PREFIX) + 32


@dataclass(frozen=True)
class CorrelationUdf:
    """Write the correlation token into this user-defined field (a text UDF you created, e.g.
    ``py_autotask_op_id``). Autotask allows one UDF per query, which the lookup respects."""

    name: str


CorrelationTarget = str | CorrelationUdf | None


@dataclass(frozen=True)
class ReconcileConfig:
    """How creates stay exactly-once when their outcome is unknown.

    Attributes:
        enabled: tag creates with a correlation token and reconcile ambiguous outcomes.
        strict: never resend: adopt the record if the lookup finds it, else raise
            :class:`AutotaskAmbiguousWriteError` (with ``correlation_value``).
        correlation_fields: per collection name (``"Tickets"``): a field name, a
            :class:`CorrelationUdf`, or ``None`` to switch the token off for that entity.
        auto_correlation: use the entity's writable, queryable ``externalID`` string field when
            ``correlation_fields`` does not name one.
        natural_keys: per collection name, fields whose values identify the record
            (opt-in heuristic, used when there is no correlation field).
        token_prefix: prefix of the generated tokens.
        lookup_delays: seconds to wait before each lookup; more than one entry re-checks a
            "not found" (a timed-out create may still be committing) before resending.
    """

    enabled: bool = True
    strict: bool = False
    correlation_fields: Mapping[str, CorrelationTarget] = field(default_factory=dict)
    auto_correlation: bool = True
    natural_keys: Mapping[str, Sequence[str]] = field(default_factory=dict)
    token_prefix: str = _DEFAULT_PREFIX
    lookup_delays: Sequence[float] = (0.0, 2.0)

    def __post_init__(self) -> None:
        if not self.lookup_delays or any(d < 0 for d in self.lookup_delays):
            raise AutotaskConfigError("lookup_delays needs at least one delay, none negative")
        for entity, target in self.correlation_fields.items():
            if target is not None and not isinstance(target, (str, CorrelationUdf)):
                raise AutotaskConfigError(
                    f"correlation_fields[{entity!r}] must be a field name, CorrelationUdf or None"
                )
        for entity, keys in self.natural_keys.items():
            if isinstance(keys, str) or not keys:
                raise AutotaskConfigError(
                    f"natural_keys[{entity!r}] must be a non-empty sequence of field names"
                )

    def _entry(self, table: Mapping[str, Any], entity: str) -> tuple[bool, Any]:
        if entity in table:
            return True, table[entity]
        for key, value in table.items():
            if key.lower() == entity.lower():
                return True, value
        return False, None

    def correlation_target(self, spec: EntitySpec) -> CorrelationTarget:
        """The field (or UDF) the token goes into for ``spec``, or ``None``."""
        found, target = self._entry(self.correlation_fields, spec.name)
        if found:
            return target  # type: ignore[no-any-return]
        if not self.auto_correlation:
            return None
        token_length = len(self.token_prefix) + 32
        for f in spec.fields.values():
            if (
                f.api_name.lower() == _AUTO_FIELD
                and f.data_type == "string"
                and not f.read_only
                and f.queryable
                and (f.length == 0 or f.length >= token_length)
            ):
                return f.api_name
        return None

    def natural_key(self, spec: EntitySpec) -> tuple[str, ...]:
        _found, keys = self._entry(self.natural_keys, spec.name)
        return tuple(keys) if keys else ()

    def new_token(self) -> str:
        return f"{self.token_prefix}{uuid.uuid4().hex}"


@dataclass(frozen=True)
class CreatePlan:
    """One logical create: the request to send (token included) and how to find its record."""

    request: ApiRequest
    entity: str
    correlation_field: str | None = None
    correlation_udf: bool = False
    correlation_value: str | None = None
    natural_key: tuple[tuple[str, Any], ...] = ()
    queryable: bool = True

    @property
    def label(self) -> str | None:
        """``externalID`` or ``udf:<name>`` (what the error reports), or ``None``."""
        if self.correlation_field is None:
            return None
        return f"udf:{self.correlation_field}" if self.correlation_udf else self.correlation_field

    def lookup_filter(self) -> list[dict[str, Any]] | None:
        if self.correlation_field is not None and self.correlation_value is not None:
            cond: dict[str, Any] = {
                "op": "eq",
                "field": self.correlation_field,
                "value": self.correlation_value,
            }
            if self.correlation_udf:
                cond["udf"] = True
            return [cond]
        if self.natural_key:
            return [
                {"op": "eq", "field": name, "value": value}
                if value is not None
                else {"op": "notExist", "field": name}
                for name, value in self.natural_key
            ]
        return None

    def describe(self) -> str:
        if self.correlation_field is not None:
            return f"{self.label} = {self.correlation_value!r}"
        return " and ".join(f"{k} = {v!r}" for k, v in self.natural_key) or "(no key)"


def _udf_value(body: Mapping[str, Any], name: str) -> str | None:
    found, udfs = _lookup(body, "userDefinedFields")
    if not found or not isinstance(udfs, list):
        return None
    for item in udfs:
        if isinstance(item, Mapping) and str(item.get("name", "")).lower() == name.lower():
            value = item.get("value")
            return str(value) if value not in (None, "") else None
    return None


def plan_create(config: ReconcileConfig, spec: EntitySpec, request: ApiRequest) -> CreatePlan:
    """Add the correlation token to a copy of ``request``'s body and say how to look it up."""
    queryable = "query" in spec.root_operations
    body = request.json
    if not config.enabled or not isinstance(body, Mapping):
        return CreatePlan(request, spec.name, queryable=queryable)
    target = config.correlation_target(spec)
    if isinstance(target, CorrelationUdf):
        existing = _udf_value(body, target.name)
        value = existing or config.new_token()
        new_body = dict(body)
        if existing is None:
            _found, udfs = _lookup(body, "userDefinedFields")
            kept = [
                dict(u)
                for u in (udfs if isinstance(udfs, list) else [])
                if not (
                    isinstance(u, Mapping) and str(u.get("name", "")).lower() == target.name.lower()
                )
            ]
            for key in [k for k in new_body if k.lower() == "userdefinedfields"]:
                del new_body[key]
            new_body["userDefinedFields"] = [*kept, {"name": target.name, "value": value}]
        return CreatePlan(
            _with_body(request, new_body),
            spec.name,
            correlation_field=target.name,
            correlation_udf=True,
            correlation_value=value,
            queryable=queryable,
        )
    if isinstance(target, str):
        found, existing = _lookup(body, target)
        if found and existing not in (None, ""):
            return CreatePlan(
                request,
                spec.name,
                correlation_field=target,
                correlation_value=str(existing),
                queryable=queryable,
            )
        value = config.new_token()
        new_body = {k: v for k, v in body.items() if k.lower() != target.lower()}
        new_body[target] = value
        return CreatePlan(
            _with_body(request, new_body),
            spec.name,
            correlation_field=target,
            correlation_value=value,
            queryable=queryable,
        )
    keys = config.natural_key(spec)
    if keys:
        pairs = []
        for name in keys:
            found, value = _lookup(body, name)
            if not found:
                # The key is incomplete for this record: no safe lookup possible.
                return CreatePlan(request, spec.name, queryable=queryable)
            pairs.append((name, value))
        return CreatePlan(request, spec.name, natural_key=tuple(pairs), queryable=queryable)
    return CreatePlan(request, spec.name, queryable=queryable)


def _with_body(request: ApiRequest, body: dict[str, Any]) -> ApiRequest:
    return replace(request, json=body)


# --- classifying an ambiguous create (shim until the resilient transport raises it) -------------

_AMBIGUOUS_STATUSES: Final = frozenset({502, 503, 504})


def _sent(exc: AutotaskConnectionError) -> bool:
    """Whether the failed exchange may have reached the server (anything but a refused/failed
    connect or a pool timeout)."""
    import httpx

    cause = exc.__cause__
    if cause is None:
        return True
    return not isinstance(cause, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout))


def _ambiguous_from_connection(
    plan: CreatePlan, exc: AutotaskConnectionError
) -> AutotaskAmbiguousWriteError:
    error = AutotaskAmbiguousWriteError(
        f"{exc}; the create may have been applied",
        method=exc.method or plan.request.method,
        url=exc.url,
        entity=plan.entity,
        operation="create",
    )
    error.__cause__ = exc
    return error


def _ambiguous_response(
    plan: CreatePlan, response: ApiResponse
) -> AutotaskAmbiguousWriteError | None:
    status = response.status_code
    body = response.content.lstrip()
    if status in _AMBIGUOUS_STATUSES or (status == 500 and body[:1] not in (b"{", b"[", b'"')):
        return AutotaskAmbiguousWriteError(
            f"HTTP {status} from {response.request.method} (gateway or opaque server error); "
            "the create may have been applied",
            method=response.request.method,
            url="",
            entity=plan.entity,
            operation="create",
            status_code=status,
        )
    return None


def _final_error(
    plan: CreatePlan, cause: AutotaskAmbiguousWriteError, detail: str
) -> AutotaskAmbiguousWriteError:
    error = AutotaskAmbiguousWriteError(
        f"{plan.request.method} {plan.entity} create: outcome unknown ({cause}); {detail}",
        method=cause.method or plan.request.method,
        url=cause.url,
        entity=plan.entity,
        operation="create",
        status_code=getattr(cause, "status_code", None),
        errors=getattr(cause, "errors", ()),
        correlation_field=plan.label,
        correlation_value=plan.correlation_value,
    )
    return error


def _lookup_request(plan: CreatePlan, flt: list[dict[str, Any]]) -> ApiRequest:
    return ApiRequest(
        "POST",
        f"{plan.entity}/query",
        json={"filter": flt, "IncludeFields": ["id"], "MaxRecords": 2},
        entity=plan.entity,
        operation="lookup",
    )


def _ids(data: Any) -> list[int]:
    items = data.get("items") if isinstance(data, Mapping) else None
    out: list[int] = []
    for item in items or []:
        if isinstance(item, Mapping) and isinstance(item.get("id"), int):
            out.append(int(item["id"]))
    return out


class _Unresolvable(Exception):
    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def _decide(plan: CreatePlan, ids: list[int]) -> int | None:
    if len(ids) == 1:
        return ids[0]
    if len(ids) > 1:
        raise _Unresolvable(
            f"{len(ids)} {plan.entity} records match {plan.describe()}; cannot tell which one this "
            "create made, so nothing was resent"
        )
    return None


# --- the create, as one flow ---------------------------------------------------------------------


def _send_create(reader: ClientCore, plan: CreatePlan) -> Flow[ApiResponse]:
    try:
        response = yield from request(plan.request)
    except AutotaskConnectionError as exc:
        if plan.request.method == "POST" and _sent(exc):
            raise _ambiguous_from_connection(plan, exc) from exc
        raise
    ambiguous = _ambiguous_response(plan, response)
    if ambiguous is not None:
        ambiguous.url = reader.safe_url(response.request.url)
        raise ambiguous
    return response


def _find(reader: ClientCore, plan: CreatePlan, config: ReconcileConfig) -> Flow[int | None]:
    flt = plan.lookup_filter()
    assert flt is not None
    for delay in config.lookup_delays:
        yield from pause(delay)
        response = yield from request(_lookup_request(plan, flt))
        found = _decide(plan, _ids(reader.read_json(response)))
        if found is not None:
            return found
    return None


def _adopted(plan: CreatePlan, cause: AutotaskAmbiguousWriteError, record_id: int) -> ApiResponse:
    """The answer the lost response would have been: ``{"itemId": <the record found>}``."""
    sent = PreparedRequest(
        plan.request.method, cause.url or plan.request.path, {}, None, plan.request
    )
    body = json.dumps({"itemId": record_id}).encode()
    return ApiResponse(200, {"Content-Type": "application/json"}, body, sent)


def exactly_once(config: ReconcileConfig, reader: ClientCore, req: ApiRequest) -> Flow[ApiResponse]:
    """Send a create; on an ambiguous outcome find the record (its id is returned as the create's
    ``{"itemId": n}`` answer), else resend once (see the module). Requests without a spec, those
    whose sender correlates them itself (``own_correlation``: bulk jobs), and every create when
    ``config.enabled`` is off, are sent once as they are."""
    spec = req.spec
    if not config.enabled or spec is None or req.own_correlation:
        return (yield from request(req))
    plan = plan_create(config, spec, req)
    for attempt in (1, 2):
        try:
            return (yield from _send_create(reader, plan))
        except AutotaskAmbiguousWriteError as exc:
            if plan.lookup_filter() is None or not plan.queryable:
                raise _final_error(
                    plan, exc, "no correlation field or natural key to look it up; not resent"
                ) from exc
            try:
                found = yield from _find(reader, plan, config)
            except _Unresolvable as unresolved:
                raise _final_error(plan, exc, unresolved.detail) from exc
            except Exception as lookup_exc:
                raise _final_error(
                    plan, exc, f"the lookup by {plan.describe()} failed ({lookup_exc}); not resent"
                ) from lookup_exc
            if found is not None:
                logger.info(
                    "%s create was applied despite the lost answer; adopted id %s (%s)",
                    plan.entity,
                    found,
                    plan.label or "natural key",
                )
                return _adopted(plan, exc, found)
            if config.strict or attempt == 2:
                why = (
                    "strict mode: not resent"
                    if config.strict
                    else "it failed again after one resend"
                )
                raise _final_error(
                    plan, exc, f"no {plan.entity} record with {plan.describe()} exists; {why}"
                ) from exc
            logger.info("%s create was not applied; resending it once", plan.entity)
    raise AssertionError("unreachable")  # pragma: no cover
