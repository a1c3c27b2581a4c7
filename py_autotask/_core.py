"""The I/O-free core: request building, routing, response parsing and error mapping.

The sync and async clients only *send* what this module builds and hand the raw response back to it.
Nothing here performs I/O or sleeps, so every rule (root vs ``Parent/{parentId}/Child`` routing,
QueryModel bodies, ``nextPageUrl`` following, error classification) is written once and tested
without a network.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from typing import Any, Final, Literal, TypeAlias, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pydantic

from ._config import Credentials, normalize_api_url
from ._model import (
    AutotaskModel,
    CountResult,
    OffTypeValue,
    OperationResult,
    Page,
    ReadStats,
    read_item,
    read_page,
)
from ._observe import Observers
from ._spec import EntitySpec, RouteSpec
from ._values import show
from ._version import __version__
from .exceptions import (
    AutotaskAPIError,
    AutotaskAuthError,
    AutotaskConfigError,
    AutotaskMethodNotAllowedError,
    AutotaskNotFoundError,
    AutotaskOffTypeValueError,
    AutotaskOperationNotSupportedError,
    AutotaskPermissionError,
    AutotaskRateLimitError,
    AutotaskServerError,
    AutotaskValidationError,
    scrub_secrets,
)
from .query import to_api_value

__all__ = [
    "PROTECTED_HEADERS",
    "READ_OPERATIONS",
    "WRITE_OPERATIONS",
    "ApiRequest",
    "ApiResponse",
    "ClientCore",
    "HeaderHook",
    "NextPageMethod",
    "PreparedRequest",
    "RecordHook",
    "WriteData",
    "WriteOperation",
    "child_delete_request",
    "child_get_request",
    "child_list_request",
    "child_write_request",
    "count_request",
    "create_request",
    "delete_request",
    "error_from_response",
    "get_request",
    "next_page_request",
    "parse_retry_after",
    "query_request",
    "redact_url",
    "replace_request",
    "update_request",
]

logger = logging.getLogger("py_autotask")

M = TypeVar("M", bound=AutotaskModel)

NextPageMethod = Literal["POST", "GET"]

#: ``ApiRequest.operation`` of requests that only read (safe to repeat, never invalidate a cache):
#: ``meta`` is entityInformation, ``lookup`` the exactly-once lookup of a create's record,
#: ``threshold`` the ThresholdInformation poll.
READ_OPERATIONS: Final = frozenset(
    {"get", "query", "count", "next", "list", "meta", "threshold", "lookup"}
)
#: ``ApiRequest.operation`` of writes.
WRITE_OPERATIONS: Final = frozenset({"create", "update", "replace", "delete"})
WriteOperation = Literal["create", "update", "replace"]

#: What write methods accept: a params TypedDict / mapping of API field names, or a model instance
#: (only its set fields are sent).
WriteData: TypeAlias = Mapping[str, Any] | AutotaskModel


# --- request / response values --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ApiRequest:
    """A request before credentials and the base URL are applied.

    ``path`` is relative to the REST base (``"Tickets/query"``) or an absolute URL
    (``pageDetails.nextPageUrl``). ``entity``/``operation`` name what is being done, for error
    messages and for per-endpoint pacing in the transport layer. ``spec`` is the entity's
    :class:`~py_autotask._spec.EntitySpec` when the request was built from one (every builder in
    this module sets it, and following a page keeps it), so no layer re-resolves the name.
    ``own_correlation`` marks a create whose sender keeps it exactly-once itself (a bulk job, with
    its own token or none by choice): the client's exactly-once layer sends it unchanged, adding
    no token of its own.
    """

    method: str
    path: str
    json: Any = None
    params: Mapping[str, str] | None = None
    entity: str | None = None
    operation: str | None = None
    spec: EntitySpec | None = field(default=None, repr=False, compare=False)
    own_correlation: bool = False


@dataclass(frozen=True, slots=True)
class PreparedRequest:
    """A fully resolved request. ``headers`` carry credentials and are left out of ``repr``."""

    method: str
    url: str
    headers: Mapping[str, str] = field(repr=False)
    content: bytes | None = field(default=None, repr=False)
    source: ApiRequest | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class ApiResponse:
    """What a shell hands back: status, headers, the raw body bytes and the request sent."""

    status_code: int
    headers: Mapping[str, str] = field(repr=False)
    content: bytes = field(repr=False)
    request: PreparedRequest

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300


# --- URLs -----------------------------------------------------------------------------------------

_SECRET_QUERY_KEYS: Final = frozenset(
    {"user", "username", "secret", "apiintegrationcode", "password"}
)


def redact_url(url: str, secrets: Sequence[str] = ()) -> str:
    """``url`` with credential-bearing query values (``user=``, ``password=``), the password of
    ``scheme://user:PASSWORD@host`` (a database URL) and any known secret masked."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable url>"
    userinfo, at, host = parts.netloc.rpartition("@")
    if at and ":" in userinfo:
        # a password may hold an unencoded '@'; a host never does: userinfo ends at the last one
        parts = parts._replace(netloc=f"{userinfo.split(':', 1)[0]}:***@{host}")
        url = urlunsplit(parts)
    if parts.query:
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        if any(k.lower() in _SECRET_QUERY_KEYS for k, _ in pairs):
            query = urlencode(
                [(k, "***" if k.lower() in _SECRET_QUERY_KEYS else v) for k, v in pairs],
                safe="*",
            )
            url = urlunsplit(parts._replace(query=query))
    return scrub_secrets(url, secrets)


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return (parts.scheme.lower(), parts.netloc.lower())


# --- errors ---------------------------------------------------------------------------------------

_THREAD_LIMIT_RE: Final = re.compile(r"itgenatr005|thread\s+(threshold|limit)", re.IGNORECASE)
_AUTH_RE: Final = re.compile(
    r"(integration\s*code|tracking\s+identifier|user\s*name|api\s+user|credentials?)"
    r"[^.;]{0,40}?\b(is\s+)?(invalid|not\s+valid|incorrect|not\s+found|unknown|does\s+not\s+exist)"
    r"|\b(invalid|incorrect|unknown)\s+(api\s+)?(integration\s*code|tracking\s+identifier|"
    r"user\s*name|username|credentials?|api\s+user)"
    r"|authentication\s+failed|unauthori[sz]ed",
    re.IGNORECASE,
)
_VALIDATION_RE: Final = re.compile(
    r"required|invalid|not\s+valid|does\s+not\s+exist|must\s+|cannot|can\s*not|unable\s+to\s+find"
    r"|not\s+allowed|already\s+exists|unique|read[-\s]?only|exceed|maximum|too\s+long|length"
    r"|conversion\s+failed|error\s+converting|out\s+of\s+range|picklist|maxrecords|query\s+syntax"
    r"|you\s+must"
    r"|not\s+supported|is\s+not\s+a\s+valid|duplicate",
    re.IGNORECASE,
)
_HTML_TITLE_RE: Final = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_TAG_RE: Final = re.compile(r"<[^>]+>")
_SPACE_RE: Final = re.compile(r"\s+")


def _body_text(body: bytes) -> str:
    return body.decode("utf-8", errors="replace")


def _parse_error_body(body: bytes) -> tuple[list[str], str, bool]:
    """``(errors, message, is_json)`` from an error body; never raises."""
    text = _body_text(body).strip()
    if not text:
        return [], "", True
    try:
        data = json.loads(text)
    except ValueError:
        title = _HTML_TITLE_RE.search(text)
        snippet = title.group(1) if title else _TAG_RE.sub(" ", text)
        snippet = _SPACE_RE.sub(" ", snippet).strip()
        if len(snippet) > 300:
            snippet = snippet[:297] + "..."
        return [], f"non-JSON response body: {snippet}" if snippet else "", False
    errors: list[str] = []
    if isinstance(data, Mapping):
        for key, value in data.items():
            if str(key).lower() in ("errors", "message", "exceptionmessage", "error"):
                if isinstance(value, list):
                    errors.extend(v if isinstance(v, str) else json.dumps(v) for v in value)
                elif isinstance(value, str):
                    errors.append(value)
                elif value is not None:
                    errors.append(json.dumps(value))
    elif isinstance(data, list):
        errors.extend(v if isinstance(v, str) else json.dumps(v) for v in data)
    elif isinstance(data, str):
        errors.append(data)
    message = "; ".join(errors)
    if not message:
        message = text if len(text) <= 300 else text[:297] + "..."
    return errors, message, True


#: Error bodies are small; a success body larger than this is data, never a disguised rejection.
_MAX_ERROR_BODY: Final = 64 * 1024


def _is_thread_limit_body(body: bytes) -> bool:
    try:
        data = json.loads(body)
    except ValueError:
        return False
    if not isinstance(data, Mapping) or "item" in data or "items" in data:
        return False
    errors, _message, _is_json = _parse_error_body(body)
    return bool(errors) and any(_THREAD_LIMIT_RE.search(e) for e in errors)


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date)."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if now is None:
            import time

            now = time.time()
        seconds = when.timestamp() - now
    return max(0.0, seconds)


def _header(headers: Mapping[str, str] | None, name: str) -> str | None:
    if not headers:
        return None
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return value
    return None


def _validation_hint(text: str) -> str:
    lowered = text.lower()
    if "read-only" in lowered or "read only" in lowered or "readonly" in lowered:
        return "a field in the payload is read-only; remove it"
    if "conversion failed" in lowered or "error converting" in lowered:
        return "a value has the wrong type for its field (e.g. text for an integer picklist)"
    if "unable to find" in lowered:
        return "a field name is unknown to this entity; check IncludeFields/filter field names"
    if "maxrecords" in lowered:
        return "MaxRecords must be between 1 and 500"
    if "does not exist or is invalid" in lowered:
        return "a referenced record id does not exist (or the API user cannot see it)"
    if "required" in lowered:
        return "supply the required field(s) named above"
    if "already exists" in lowered or "unique" in lowered:
        return "a record with this unique value exists already; update it instead"
    return "fix the request data; validation errors are not retried"


def error_from_response(
    status: int,
    body: bytes,
    method: str,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    secrets: Sequence[str] = (),
    now: float | None = None,
) -> AutotaskAPIError:
    """Build the right :class:`AutotaskAPIError` subclass for a failed response.

    Classification uses the body as well as the status: ``Itgenatr005`` anywhere in the body means a
    thread-limit rejection whatever the status; a 500 that says the user name or integration code is
    invalid is an auth error; 400/500 with validation wording is a validation error. ``secrets`` are
    scrubbed from every text of the error.
    """
    errors, message, is_json = _parse_error_body(body)
    if not message:
        try:
            message = f"{HTTPStatus(status).phrase} (empty body)"
        except ValueError:
            message = "(empty body)"
    safe_url = redact_url(url, secrets)
    method = method.upper()
    raw_text = _body_text(body)
    joined = " ".join(errors) or message
    common: dict[str, Any] = {
        "status_code": status,
        "errors": errors,
        "method": method,
        "url": safe_url,
    }

    error: AutotaskAPIError
    thread_limit = bool(_THREAD_LIMIT_RE.search(raw_text))
    if status == 429 or thread_limit:
        retry_after = parse_retry_after(_header(headers, "Retry-After"), now=now)
        if thread_limit:
            hint = (
                "Autotask's thread limit was hit (few concurrent requests allowed per endpoint "
                "and integration code, 3 for new integrations); reduce concurrency and retry"
            )
        else:
            hint = (
                "Autotask's request threshold was hit (10,000 requests per rolling hour per "
                "database, shared by all integrations); slow down and retry later"
            )
        if retry_after is not None:
            hint += f" (Retry-After: {retry_after:g}s)"
        error = AutotaskRateLimitError(
            message, hint=hint, retry_after=retry_after, thread_limit=thread_limit, **common
        )
    elif status == 401:
        error = AutotaskAuthError(
            message,
            hint="check UserName and Secret; the user needs the 'API User (API-only)' "
            "security level",
            **common,
        )
    elif status == 403:
        error = AutotaskPermissionError(
            message,
            hint="the API user's security level does not allow this entity or operation",
            **common,
        )
    elif status == 404:
        if not is_json:
            hint = "no such route on this host: check api_url (zone) and the entity/URL"
        else:
            hint = "the record or route does not exist"
        if method == "PATCH":
            hint += "; some zones reject collection-level PATCH, replace() (PUT) may work"
        error = AutotaskNotFoundError(message, hint=hint, **common)
    elif status == 405:
        error = AutotaskMethodNotAllowedError(
            message,
            hint=f"Autotask does not accept {method} on this URL (updates go to the collection "
            "URL with 'id' in the body; child records are written and deleted through the "
            "parent URL)",
            **common,
        )
    elif status in (400, 500) and _AUTH_RE.search(joined):
        error = AutotaskAuthError(
            message,
            hint="check the user name and ApiIntegrationCode (the API tracking identifier); "
            "Autotask answers 500, not 401, for these",
            **common,
        )
    elif status in (400, 500) and errors and _VALIDATION_RE.search(joined):
        error = AutotaskValidationError(message, hint=_validation_hint(joined), **common)
    elif status >= 500:
        error = AutotaskServerError(
            message,
            hint="Autotask reported a server error; retrying may help if it is transient",
            **common,
        )
    else:
        error = AutotaskAPIError(message, hint="Autotask rejected the request", **common)
    error._redact(secrets)
    return error


# --- routing --------------------------------------------------------------------------------------


def _route_label(route: RouteSpec) -> str:
    return f"{route.parent}/{{parentId}}/{route.child}"


def _supported(spec: EntitySpec) -> str:
    parts: list[str] = []
    if spec.root_operations:
        parts.append(f"{', '.join(sorted(spec.root_operations))} at {spec.name}")
    for route in spec.parent_routes:
        if route.operations:
            parts.append(f"{', '.join(sorted(route.operations))} at {_route_label(route)}")
    return "; ".join(parts) if parts else "nothing"


def _not_supported(spec: EntitySpec, op: str) -> AutotaskOperationNotSupportedError:
    return AutotaskOperationNotSupportedError(
        f"{spec.name} does not support '{op}'. Supported: {_supported(spec)}"
    )


def _check_id(value: Any, what: str = "id") -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise AutotaskConfigError(f"{what} must be an integer, got {value!r}")
    if value < 0:
        raise AutotaskConfigError(f"{what} must not be negative, got {value}")
    return value


def _lookup(data: Mapping[str, Any], name: str) -> tuple[bool, Any]:
    """Case-insensitive key lookup (Autotask field names are case-insensitive)."""
    if name in data:
        return True, data[name]
    lowered = name.lower()
    for key, value in data.items():
        if key.lower() == lowered:
            return True, value
    return False, None


def _write_body(data: WriteData) -> dict[str, Any]:
    if isinstance(data, AutotaskModel):
        return data.to_api_dict()
    if not isinstance(data, Mapping):
        raise AutotaskConfigError(
            f"write data must be a dict of API field names or a model, not {type(data).__name__}"
        )
    body = to_api_value(data)
    assert isinstance(body, dict)
    return body


def _select_parent_route(
    spec: EntitySpec,
    op: str,
    body: Mapping[str, Any] | None,
    parent_id: int | None,
    parent: str | None,
) -> tuple[RouteSpec, int]:
    candidates = [r for r in spec.parent_routes if op in r.operations]
    if parent is not None:
        candidates = [r for r in candidates if r.parent.lower() == parent.lower()]
        if not candidates:
            raise _not_supported(spec, f"{op} under {parent}")
    if not candidates:
        raise _not_supported(spec, op)
    if parent_id is not None:
        _check_id(parent_id, "parent_id")
        if len(candidates) == 1:
            return candidates[0], parent_id
        if body is not None:
            for route in candidates:
                if route.parent_id_field and _lookup(body, route.parent_id_field)[0]:
                    return route, parent_id
        raise AutotaskConfigError(
            f"{spec.name} {op}: parent_id={parent_id} is ambiguous between "
            + ", ".join(_route_label(r) for r in candidates)
            + "; pass parent=<parent collection name>"
        )
    if body is not None:
        for route in candidates:
            if route.parent_id_field:
                _found, value = _lookup(body, route.parent_id_field)
                if value is not None:
                    return route, _check_id(value, route.parent_id_field)
    needs = " or ".join(
        f"{_route_label(r)} (field {r.parent_id_field!r})" if r.parent_id_field else _route_label(r)
        for r in candidates
    )
    raise AutotaskConfigError(
        f"{spec.name} {op} must go through its parent: {needs}. Pass parent_id=..."
        + (" or set the parent id field in the data" if body is not None else "")
    )


def _check_parent_field(route: RouteSpec, body: Mapping[str, Any], parent_id: int) -> None:
    if not route.parent_id_field:
        return
    _found, value = _lookup(body, route.parent_id_field)
    if value is not None and value != parent_id:
        raise AutotaskConfigError(
            f"{route.parent_id_field}={value!r} in the data does not match parent_id={parent_id} "
            f"of {_route_label(route)}"
        )


def get_request(
    spec: EntitySpec, id: int, *, parent_id: int | None = None, parent: str | None = None
) -> ApiRequest:
    """``GET {Entity}/{id}``; through ``{Parent}/{parentId}/{Child}/{id}`` when the root lacks get."""
    _check_id(id)
    if "get" in spec.root_operations:
        return ApiRequest("GET", f"{spec.name}/{id}", entity=spec.name, spec=spec, operation="get")
    route, pid = _select_parent_route(spec, "get", None, parent_id, parent)
    return child_get_request(spec, route, pid, id)


def query_request(spec: EntitySpec, body: Mapping[str, Any]) -> ApiRequest:
    """``POST {Entity}/query`` with a QueryModel body (never ``?search=``)."""
    if "query" not in spec.root_operations:
        raise _not_supported(spec, "query")
    return ApiRequest(
        "POST", f"{spec.name}/query", json=body, entity=spec.name, spec=spec, operation="query"
    )


def count_request(spec: EntitySpec, body: Mapping[str, Any]) -> ApiRequest:
    """``POST {Entity}/query/count`` -> ``{"queryCount": n}``."""
    if "count" not in spec.root_operations:
        raise _not_supported(spec, "count")
    return ApiRequest(
        "POST",
        f"{spec.name}/query/count",
        json=body,
        entity=spec.name,
        spec=spec,
        operation="count",
    )


def next_page_request(
    entity: str | None,
    next_page_url: str,
    body: Mapping[str, Any] | None,
    method: NextPageMethod = "POST",
    *,
    spec: EntitySpec | None = None,
) -> ApiRequest:
    """Follow an absolute ``pageDetails.nextPageUrl``: POST with the same QueryModel body (default,
    what Autotask expects after a POST query) or GET; child-collection lists always use GET."""
    if method not in ("POST", "GET"):
        raise AutotaskConfigError(f"next page method must be 'POST' or 'GET', not {method!r}")
    if body is None or method == "GET":
        return ApiRequest("GET", next_page_url, entity=entity, spec=spec, operation="next")
    return ApiRequest("POST", next_page_url, json=body, entity=entity, spec=spec, operation="next")


def _write_request(
    spec: EntitySpec,
    op: WriteOperation,
    data: WriteData,
    parent_id: int | None,
    parent: str | None,
) -> ApiRequest:
    body = _write_body(data)
    if op in ("update", "replace"):
        found, id_value = _lookup(body, "id")
        if not found or id_value is None:
            raise AutotaskConfigError(f"{spec.name} {op} needs 'id' in the data")
        _check_id(id_value)
    method = {"create": "POST", "update": "PATCH", "replace": "PUT"}[op]
    if op in spec.root_operations and parent is None:
        return ApiRequest(method, spec.name, json=body, entity=spec.name, spec=spec, operation=op)
    route, pid = _select_parent_route(spec, op, body, parent_id, parent)
    return child_write_request(spec, route, pid, op, body)


def create_request(
    spec: EntitySpec, data: WriteData, *, parent_id: int | None = None, parent: str | None = None
) -> ApiRequest:
    """``POST {Entity}`` or ``POST {Parent}/{parentId}/{Child}`` -> ``{"itemId": n}``."""
    return _write_request(spec, "create", data, parent_id, parent)


def update_request(
    spec: EntitySpec, data: WriteData, *, parent_id: int | None = None, parent: str | None = None
) -> ApiRequest:
    """``PATCH`` on the collection URL with ``id`` in the body; only the keys given are sent."""
    return _write_request(spec, "update", data, parent_id, parent)


def replace_request(
    spec: EntitySpec, data: WriteData, *, parent_id: int | None = None, parent: str | None = None
) -> ApiRequest:
    """``PUT`` on the collection URL with ``id`` in the body (full replace)."""
    return _write_request(spec, "replace", data, parent_id, parent)


def delete_request(
    spec: EntitySpec, id: int, *, parent_id: int | None = None, parent: str | None = None
) -> ApiRequest:
    """``DELETE {Entity}/{id}`` or ``DELETE {Parent}/{parentId}/{Child}/{id}``."""
    _check_id(id)
    if "delete" in spec.root_operations and parent is None:
        return ApiRequest(
            "DELETE", f"{spec.name}/{id}", entity=spec.name, spec=spec, operation="delete"
        )
    route, pid = _select_parent_route(spec, "delete", None, parent_id, parent)
    return child_delete_request(spec, route, pid, id)


def _require_route_op(spec: EntitySpec, route: RouteSpec, op: str) -> None:
    if op not in route.operations:
        raise AutotaskOperationNotSupportedError(
            f"{_route_label(route)} ({spec.name}) does not support '{op}'. "
            f"Supported: {_supported(spec)}"
        )


def child_list_request(spec: EntitySpec, route: RouteSpec, parent_id: int) -> ApiRequest:
    """``GET {Parent}/{parentId}/{Child}`` (paged through ``nextPageUrl``)."""
    _require_route_op(spec, route, "list")
    path = route.path(_check_id(parent_id, "parent_id"))
    return ApiRequest("GET", path, entity=spec.name, spec=spec, operation="list")


def child_get_request(spec: EntitySpec, route: RouteSpec, parent_id: int, id: int) -> ApiRequest:
    """``GET {Parent}/{parentId}/{Child}/{id}``."""
    _require_route_op(spec, route, "get")
    path = f"{route.path(_check_id(parent_id, 'parent_id'))}/{_check_id(id)}"
    return ApiRequest("GET", path, entity=spec.name, spec=spec, operation="get")


def child_write_request(
    spec: EntitySpec,
    route: RouteSpec,
    parent_id: int,
    op: WriteOperation,
    data: WriteData,
) -> ApiRequest:
    """POST/PATCH/PUT on ``{Parent}/{parentId}/{Child}``."""
    _require_route_op(spec, route, op)
    body = _write_body(data)
    pid = _check_id(parent_id, "parent_id")
    _check_parent_field(route, body, pid)
    if op in ("update", "replace"):
        found, id_value = _lookup(body, "id")
        if not found or id_value is None:
            raise AutotaskConfigError(f"{spec.name} {op} needs 'id' in the data")
        _check_id(id_value)
    method = {"create": "POST", "update": "PATCH", "replace": "PUT"}[op]
    return ApiRequest(method, route.path(pid), json=body, entity=spec.name, spec=spec, operation=op)


def child_delete_request(spec: EntitySpec, route: RouteSpec, parent_id: int, id: int) -> ApiRequest:
    """``DELETE {Parent}/{parentId}/{Child}/{id}``."""
    _require_route_op(spec, route, "delete")
    path = f"{route.path(_check_id(parent_id, 'parent_id'))}/{_check_id(id)}"
    return ApiRequest("DELETE", path, entity=spec.name, spec=spec, operation="delete")


# --- the core object ------------------------------------------------------------------------------


class _Unset:
    """No per-context impersonation override."""

    def __repr__(self) -> str:
        return "<unset>"


_UNSET: Final = _Unset()

#: headers no hook may set or replace: credentials, impersonation, and what the client itself
#: decides (lower-case)
PROTECTED_HEADERS: Final = frozenset(
    {
        "username",
        "secret",
        "apiintegrationcode",
        "impersonationresourceid",
        "authorization",
        "proxy-authorization",
        "cookie",
        "host",
        "content-type",
        "content-length",
        "transfer-encoding",
        "accept",
        "user-agent",
    }
)

#: ``hook(request, url)`` -> headers to add to a request being prepared; ``url`` is the
#: request's URL without its query string. The hook sees no header the client set.
HeaderHook: TypeAlias = Callable[["ApiRequest", str], Mapping[str, str] | None]
#: ``hook(entity, record)`` -> the record to read instead (a JSON object as Autotask sent it)
RecordHook: TypeAlias = Callable[[str, dict[str, Any]], dict[str, Any]]
_HEADER_NAME_RE: Final = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


class ClientCore:
    """Credentials + base URL + the rules to turn :class:`ApiRequest` into wire requests and raw
    responses into results or errors. Shared by the sync and async clients.

    Reading is tolerant unless ``strict``: a value that does not match its declared type is
    converted where lossless or kept as received (see :mod:`py_autotask._model`), counted in
    :attr:`stats` and logged once per (entity, field); with ``strict=True`` it raises
    :class:`~py_autotask.exceptions.AutotaskOffTypeValueError`."""

    def __init__(
        self,
        credentials: Credentials,
        *,
        next_page_method: NextPageMethod = "POST",
        user_agent: str | None = None,
        strict: bool = False,
    ) -> None:
        if next_page_method not in ("POST", "GET"):
            raise AutotaskConfigError(
                f"next_page_method must be 'POST' or 'GET', not {next_page_method!r}"
            )
        self.credentials = credentials
        self.next_page_method: NextPageMethod = next_page_method
        self.user_agent = user_agent or f"py-autotask/{__version__}"
        self.base_url: str | None = credentials.api_url
        self.strict = strict
        self.stats = ReadStats()
        #: what the pipeline and the jobs report to (metrics, traces, plugins): :mod:`._observe`
        self.observers = Observers()
        #: called (last added first) when the client closes: what attached itself to this client
        #: and must let go with it (a plugin manager's event-bus subscriptions)
        self.on_close: list[Callable[[], object]] = []
        #: header hooks run on every request prepared (plugins' ``before_request``); they can
        #: only add headers, never set a :data:`PROTECTED_HEADERS` one or read the client's
        self.header_hooks: tuple[HeaderHook, ...] = ()
        #: one record hook applied to every record read (plugins' opt-in ``on_record``)
        self.record_hook: RecordHook | None = None
        #: how many plugin managers want the old values of this client's updates: while it is
        #: not 0, each update or replace of a record with get-by-id reads the record first (one
        #: more request) and publishes ``record.updating`` with its old values
        self.update_watchers = 0
        # Per-client, per-context impersonation override (``client.impersonating(...)``): a
        # ContextVar so concurrent threads / asyncio tasks each see their own value.
        self.impersonation: ContextVar[int | _Unset | None] = ContextVar(
            f"py_autotask_impersonation_{id(self):x}", default=_UNSET
        )

    def closed(self) -> None:
        """The client closed: call :attr:`on_close` (each failure logged, the others still run)."""
        while self.on_close:
            callback = self.on_close.pop()
            try:
                callback()
            except Exception:
                logger.exception("a close callback of the client failed")

    # URL and header building

    def set_base_url(self, url: str) -> None:
        self.base_url = normalize_api_url(url)

    def resolve_url(self, path: str, params: Mapping[str, str] | None = None) -> str:
        """Absolute URL for ``path``. Absolute URLs on another origin are re-based onto the
        configured API origin so credentials never leave for a host the user did not configure."""
        base = self.base_url
        if base is None:
            raise AutotaskConfigError("api_url is not resolved yet (zone discovery has not run)")
        if path[:8].lower().startswith(("http://", "https://")):
            if _origin(path) == _origin(base):
                url = path
            else:
                parts = urlsplit(path)
                marker = parts.path.lower().find("/atservicesrest/")
                if marker < 0:
                    raise AutotaskConfigError(
                        f"refusing to send credentials to {redact_url(path)}: it is not on the "
                        f"configured API host {base}"
                    )
                base_parts = urlsplit(base)
                rest = parts.path[marker + len("/atservicesrest/") :]
                if rest.lower().startswith("v1.0/"):
                    new_path = base_parts.path + rest[len("v1.0/") :]  # base ends in /V1.0/
                else:
                    base_marker = base_parts.path.lower().find("/atservicesrest/")
                    new_path = base_parts.path[:base_marker] + "/ATServicesRest/" + rest
                url = urlunsplit((base_parts.scheme, base_parts.netloc, new_path, parts.query, ""))
                logger.debug("re-based %s onto %s", redact_url(path), base)
        else:
            url = base + path.lstrip("/")
        if params:
            url += ("&" if urlsplit(url).query else "?") + urlencode(params)
        return url

    def auth_headers(self) -> dict[str, str]:
        """The credential headers for a request made now: the client's credentials plus the
        ``ImpersonationResourceId`` in effect (``client.impersonating(...)`` overrides the
        client-wide ``impersonation_resource_id``; ``impersonating(None)`` removes it)."""
        headers = self.credentials.auth_headers()
        override = self.impersonation.get()
        if not isinstance(override, _Unset):
            headers.pop("ImpersonationResourceId", None)
            if override is not None:
                headers["ImpersonationResourceId"] = str(override)
        return headers

    def headers(self, *, has_body: bool) -> dict[str, str]:
        headers = {"Accept": "application/json", "User-Agent": self.user_agent}
        headers.update(self.auth_headers())
        if has_body:
            headers["Content-Type"] = "application/json"
        return headers

    def prepare(self, request: ApiRequest, *, hooks: bool = True) -> PreparedRequest:
        """The wire request; ``hooks=False`` leaves out the :attr:`header_hooks` (a cache key)."""
        content = None
        if request.json is not None:
            content = json.dumps(request.json, separators=(",", ":"), ensure_ascii=False).encode()
        url = self.resolve_url(request.path, request.params)
        headers = self.headers(has_body=content is not None)
        if hooks and self.header_hooks:
            self._hook_headers(request, url, headers)
        return PreparedRequest(
            method=request.method,
            url=url,
            headers=headers,
            content=content,
            source=request,
        )

    def _hook_headers(self, request: ApiRequest, url: str, headers: dict[str, str]) -> None:
        """Add the headers the hooks give; a protected, already-set or malformed one is dropped
        with a warning (a hook can neither replace credentials nor inject a header line)."""
        taken = {name.lower() for name in headers}
        bare = redact_url(url.split("?", 1)[0])
        for hook in self.header_hooks:
            extra = hook(request, bare)
            for name, value in (extra or {}).items():
                ok = (
                    isinstance(name, str)
                    and isinstance(value, str)
                    and _HEADER_NAME_RE.match(name) is not None
                    and "\r" not in value
                    and "\n" not in value
                )
                if not ok or name.lower() in PROTECTED_HEADERS or name.lower() in taken:
                    logger.warning(
                        "a before_request hook's header %r was not added: only new, "
                        "well-formed headers other than %s may be added",
                        name if isinstance(name, str) else type(name).__name__,
                        "credentials, impersonation, Accept, Content-Type and User-Agent",
                    )
                    continue
                headers[name] = value
                taken.add(name.lower())

    # errors

    def error(self, response: ApiResponse) -> AutotaskAPIError:
        return error_from_response(
            response.status_code,
            response.content,
            response.request.method,
            response.request.url,
            headers=response.headers,
            secrets=self.credentials.secret_values(),
        )

    def raise_for_status(self, response: ApiResponse) -> None:
        if not response.is_success:
            raise self.error(response)
        # A thread-limit rejection may arrive under a non-error status; only an error-shaped body
        # counts (a record whose text mentions the code must not).
        content = response.content
        if (
            len(content) <= _MAX_ERROR_BODY
            and (b"tgenatr005" in content or b"TGENATR005" in content)
            and _is_thread_limit_body(content)
        ):
            raise self.error(response)

    def safe_url(self, url: str) -> str:
        return redact_url(url, self.credentials.secret_values())

    def _bad_body(self, response: ApiResponse, expected: str, exc: Exception) -> AutotaskAPIError:
        if isinstance(exc, pydantic.ValidationError):
            details = exc.errors()
            if details:
                where = ".".join(str(p) for p in details[0]["loc"])
                detail = f"{where}: {details[0]['msg']}" if where else details[0]["msg"]
            else:
                detail = str(exc)
        else:
            detail = str(exc)
        _errors, snippet, _is_json = _parse_error_body(response.content[:2000])
        error = AutotaskAPIError(
            f"response is not a valid {expected} ({detail})"
            + (f"; body starts: {snippet[:200]}" if snippet else ""),
            status_code=response.status_code,
            method=response.request.method,
            url=response.request.url,
            hint="the response did not have the documented shape; check api_url and the entity",
        )
        error._redact(self.credentials.secret_values())
        return error

    # response readers (each raises for a failed status first)

    def read_item(self, model: type[M], response: ApiResponse) -> M | None:
        """Get-by-id: ``{"item": {...}}`` -> model; ``{"item": null}`` or a JSON/empty 404 -> None.
        A 404 with a non-JSON (IIS HTML) body means the route does not exist and raises."""
        if response.status_code == 404:
            _errors, _message, is_json = _parse_error_body(response.content)
            if is_json:
                return None
        self.raise_for_status(response)
        content = self._hooked(response, "item") if self.record_hook else response.content
        try:
            record, off_type = read_item(model, content)
        except (pydantic.ValidationError, ValueError) as exc:
            raise self._bad_body(response, f"{model.__name__} item", exc) from exc
        if off_type and record is not None:
            self._off_type(response, model, [record])
        return record

    def read_page(self, model: type[M], response: ApiResponse) -> Page[M]:
        """Query/list page, validated in one ``model_validate_json`` call (record by record, tolerant
        of off-type values, only when that fails)."""
        self.raise_for_status(response)
        content = self._hooked(response, "items") if self.record_hook else response.content
        try:
            page, off_type = read_page(model, content)
        except (pydantic.ValidationError, ValueError) as exc:
            raise self._bad_body(response, f"page of {model.__name__}", exc) from exc
        if off_type:
            self._off_type(response, model, off_type)
        return page

    def _hooked(self, response: ApiResponse, key: Literal["item", "items"]) -> bytes:
        """The body with :attr:`record_hook` applied to its record(s); a body that is not the
        expected JSON is handed on unchanged (the reader reports it)."""
        hook = self.record_hook
        source = response.request.source
        entity = source.entity if source is not None else None
        if hook is None or not entity:
            return response.content
        try:
            body = json.loads(response.content)
        except ValueError:
            return response.content
        if not isinstance(body, dict):
            return response.content
        found = body.get(key)
        if key == "item" and isinstance(found, dict):
            body["item"] = hook(entity, found)
        elif key == "items" and isinstance(found, list):
            body["items"] = [hook(entity, r) if isinstance(r, dict) else r for r in found]
        else:
            return response.content
        return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()

    def _off_type(
        self, response: ApiResponse, model: type[AutotaskModel], records: Sequence[AutotaskModel]
    ) -> None:
        """Count and log (once per entity and field) the off-type values of ``records``, or raise
        for the first one when ``strict``."""
        source = response.request.source
        entity = (source.entity if source is not None else None) or model.__name__
        secrets = self.credentials.secret_values()
        for record in records:
            record_id = record.get("id")
            for value in record.off_type_fields.values():
                if self.strict:
                    raise self._off_type_error(response, entity, record_id, value)
                if self.observers:
                    self.observers.off_type(entity, value.field)
                if self.stats.record(entity, value):
                    logger.warning(
                        scrub_secrets(_off_type_text(entity, record_id, value), secrets)
                        + f"; later off-type {entity}.{value.field} values are only counted "
                        "(client.stats.off_type)"
                    )

    def _off_type_error(
        self, response: ApiResponse, entity: str, record_id: Any, value: OffTypeValue
    ) -> AutotaskOffTypeValueError:
        error = AutotaskOffTypeValueError(
            _off_type_text(entity, record_id, value, strict=True),
            entity=entity,
            record_id=record_id,
            field=value.field,
            expected=value.expected,
            value=value.received,
            status_code=response.status_code,
            method=response.request.method,
            url=response.request.url,
            hint="strict=True refuses values that do not match the entity metadata; without it "
            "they are converted where lossless or kept as received, and counted in client.stats",
        )
        error._redact(self.credentials.secret_values())
        return error

    def follow(self, response: ApiResponse, next_url: str | None) -> ApiRequest | None:
        """The request for the page after ``response`` given its ``pageDetails.nextPageUrl``, or
        ``None`` on the last page.

        A query (sent with a QueryModel body) is followed with :attr:`next_page_method` and the
        same body; a child-collection list with GET. The request keeps the entity and its spec. A
        ``nextPageUrl`` equal to the URL just fetched can only repeat the same page forever, so
        it raises instead of looping.
        """
        if not next_url:
            return None
        sent = response.request
        if self.resolve_url(next_url) == sent.url:
            error = AutotaskAPIError(
                "nextPageUrl points at the page just fetched; stopping instead of looping",
                status_code=response.status_code,
                method=sent.method,
                url=sent.url,
                hint="the server's paging cursor did not advance; results would repeat forever",
            )
            error._redact(self.credentials.secret_values())
            raise error
        source = sent.source
        body = source.json if source is not None and isinstance(source.json, Mapping) else None
        method: NextPageMethod = self.next_page_method if body is not None else "GET"
        return next_page_request(
            source.entity if source is not None else None,
            next_url,
            body,
            method,
            spec=source.spec if source is not None else None,
        )

    def read_count(self, response: ApiResponse) -> int:
        self.raise_for_status(response)
        try:
            return CountResult.model_validate_json(response.content).query_count
        except (pydantic.ValidationError, ValueError) as exc:
            raise self._bad_body(response, "count result", exc) from exc

    def read_item_id(self, response: ApiResponse, *, fallback: int | None = None) -> int:
        """``{"itemId": n}`` of a write; ``fallback`` (the record id) when the body has none."""
        self.raise_for_status(response)
        try:
            result = (
                OperationResult.model_validate_json(response.content)
                if response.content.strip()
                else OperationResult()
            )
        except (pydantic.ValidationError, ValueError) as exc:
            raise self._bad_body(response, "operation result", exc) from exc
        if result.item_id is not None:
            return result.item_id
        if fallback is not None:
            return fallback
        raise self._bad_body(response, "operation result", ValueError("no itemId in the response"))

    def read_json(self, response: ApiResponse) -> Any:
        """Parsed JSON body (``None`` for an empty body)."""
        self.raise_for_status(response)
        if not response.content.strip():
            return None
        try:
            return json.loads(response.content)
        except ValueError as exc:
            raise self._bad_body(response, "JSON body", exc) from exc

    def read_none(self, response: ApiResponse) -> None:
        """For deletes: succeed on 2xx whatever the body."""
        self.raise_for_status(response)


def _expected_text(expected: str) -> str:
    return 'a list of {"name", "value"} user-defined fields' if expected == "udfs" else expected


def _off_type_text(
    entity: str, record_id: Any, value: OffTypeValue, *, strict: bool = False
) -> str:
    where = f"{entity} record {record_id}" if record_id is not None else f"a {entity} record"
    text = (
        f"{where}: field {value.field} is declared {_expected_text(value.expected)} but Autotask "
        f"sent {show(value.received)}"
    )
    if strict:
        return text
    if value.converted:
        return text + f" (read as {show(value.value)})"
    return text + " (kept as received)"


def record_id(data: WriteData) -> int | None:
    """The ``id`` of write data, if present."""
    body = data.to_api_dict() if isinstance(data, AutotaskModel) else data
    _found, value = _lookup(body, "id")
    return value if isinstance(value, int) and not isinstance(value, bool) else None
