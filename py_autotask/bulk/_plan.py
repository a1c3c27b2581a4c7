"""The I/O-free decisions of a bulk job, shared by the sync and async managers.

Batch sizing, request estimates, the correlation field a create writes its token into, how a
failed write is classified, and what an update sends under each conflict-resolution mode.
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from .._spec import EntitySpec, FieldSpec
from .._values import datetime_or_none
from ..exceptions import (
    AutotaskAmbiguousWriteError,
    AutotaskAPIError,
    AutotaskAuthError,
    AutotaskBudgetExhaustedError,
    AutotaskCircuitOpenError,
    AutotaskConfigError,
    AutotaskConnectionError,
    AutotaskError,
    AutotaskMethodNotAllowedError,
    AutotaskNotFoundError,
    AutotaskOperationNotSupportedError,
    AutotaskPermissionError,
    AutotaskRateLimitError,
    AutotaskValidationError,
)
from ..query import F, Filter, and_
from ._convert import PreparedRow, TenantFields

__all__ = [
    "CORRELATION_UDF",
    "BulkEstimate",
    "ConflictResolution",
    "Correlation",
    "UpdateDecision",
    "auto_batch_size",
    "choose_correlation",
    "classify_error",
    "decide_update",
    "estimate_requests",
]

ConflictResolution = Literal["merge", "overwrite", "skip"]
ErrorKind = Literal["retry", "ambiguous", "failed", "stop"]

#: Autotask's largest page and its ``in`` list limit: the unit of prefetch and reconciliation.
MAX_IN = 500
#: A tenant UDF with this name (any case) is the preferred home of create correlation tokens.
CORRELATION_UDF = "py_autotask_op_id"
DEFAULT_ENDPOINT_LIMIT = 3
DEFAULT_HOURLY_THRESHOLD = 10_000


# --- batch sizing and estimates ---------------------------------------------------------------------


def auto_batch_size(operation: str, rows: int, concurrency: int) -> int:
    """Rows per unit. A unit is prefetched with one ``id in [...]`` query (updates), its intents are
    journaled in one transaction, and progress is reported per unit. Updates use the largest
    ``in`` list (500: one prefetch request per 500 rows); creates and deletes need no prefetch, so
    smaller units give finer checkpoints and progress (about 20 per job, 50..500 rows each, and at
    least 8 rounds of ``concurrency`` requests so the pool stays full)."""
    if operation == "update":
        return max(1, min(MAX_IN, rows))
    target = max(50, concurrency * 8, math.ceil(rows / 20))
    return max(1, min(MAX_IN, target, rows))


def check_batch_size(batch_size: int | str, operation: str, rows: int, concurrency: int) -> int:
    if batch_size == "auto":
        return auto_batch_size(operation, rows, concurrency)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise AutotaskConfigError(
            f"batch_size must be a positive int or 'auto', got {batch_size!r}"
        )
    return batch_size


@dataclass(frozen=True)
class BulkEstimate:
    """What a bulk job will cost before it runs.

    ``requests`` = ``writes`` + ``prefetch`` + ``metadata`` (+ ``reference_checks``). ``seconds`` is
    the larger of two bounds: the per-endpoint concurrency bound (``requests * latency /
    concurrency``) and the hourly-budget bound (``requests / (budget_fraction * threshold) *
    3600``). ``budget_share`` is the fraction of the tenant's hourly threshold the job uses.
    """

    entity: str
    operation: str
    rows: int
    writes: int
    prefetch: int
    metadata: int
    reference_checks: int
    requests: int
    concurrency: int
    latency: float
    budget_fraction: float
    hourly_threshold: int
    seconds_concurrency_bound: float
    seconds_budget_bound: float
    current_usage: int | None = None

    @property
    def seconds(self) -> float:
        return max(self.seconds_concurrency_bound, self.seconds_budget_bound)

    @property
    def requests_per_record(self) -> float:
        return self.requests / self.rows if self.rows else 0.0

    @property
    def budget_share(self) -> float:
        return self.requests / self.hourly_threshold if self.hourly_threshold else 0.0

    def __str__(self) -> str:
        minutes = self.seconds / 60
        text = (
            f"{self.operation} {self.rows:,} {self.entity}: {self.requests:,} requests "
            f"({self.writes:,} writes, {self.prefetch:,} prefetch, {self.metadata} metadata"
            + (f", {self.reference_checks} reference checks" if self.reference_checks else "")
            + f"; {self.requests_per_record:.3f} per record); about {minutes:,.1f} min "
            f"(concurrency bound {self.seconds_concurrency_bound:,.0f}s at {self.concurrency} x "
            f"{self.latency:g}s, budget bound {self.seconds_budget_bound:,.0f}s at "
            f"{self.budget_fraction:.0%} of {self.hourly_threshold:,}/h); "
            f"{self.budget_share:.1%} of the hourly threshold"
        )
        if self.current_usage is not None:
            text += f"; {self.current_usage:,} requests already used in this window"
        return text


def estimate_requests(
    spec: EntitySpec,
    operation: str,
    rows: int,
    *,
    concurrency: int = DEFAULT_ENDPOINT_LIMIT,
    latency: float = 0.3,
    budget_fraction: float = 0.5,
    hourly_threshold: int = DEFAULT_HOURLY_THRESHOLD,
    batch_size: int | str = "auto",
    validate: bool = True,
    reference_fields: int = 0,
    current_usage: int | None = None,
) -> BulkEstimate:
    if operation not in ("create", "update", "delete"):
        raise AutotaskConfigError(f"operation must be create, update or delete, not {operation!r}")
    size = check_batch_size(batch_size, operation, max(rows, 1), concurrency)
    writes = rows
    prefetch = math.ceil(rows / min(size, MAX_IN)) if operation == "update" else 0
    metadata = (2 if spec.has_udfs else 1) if validate and operation != "delete" else 0
    refs = reference_fields * math.ceil(rows / MAX_IN) if rows else 0
    requests = writes + prefetch + metadata + refs
    rate = budget_fraction * hourly_threshold / 3600.0
    return BulkEstimate(
        entity=spec.name,
        operation=operation,
        rows=rows,
        writes=writes,
        prefetch=prefetch,
        metadata=metadata,
        reference_checks=refs,
        requests=requests,
        concurrency=concurrency,
        latency=latency,
        budget_fraction=budget_fraction,
        hourly_threshold=hourly_threshold,
        seconds_concurrency_bound=requests * latency / max(concurrency, 1),
        seconds_budget_bound=requests / rate if rate > 0 else 0.0,
        current_usage=current_usage,
    )


# --- correlation ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Correlation:
    """Where a create's token goes and how it is found again: a field or a UDF (``udf=True``), or
    a natural key (``natural_key``: field names whose values identify the record)."""

    field: str | None = None
    udf: bool = False
    natural_key: tuple[str, ...] = ()
    max_length: int = 0

    @property
    def label(self) -> str:
        if self.field:
            return f"udf:{self.field}" if self.udf else self.field
        if self.natural_key:
            return "natural key " + "+".join(self.natural_key)
        return "none"

    def to_meta(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "udf": self.udf,
            "natural_key": list(self.natural_key),
            "max_length": self.max_length,
        }

    @classmethod
    def from_meta(cls, data: Mapping[str, Any] | None) -> Correlation | None:
        if not data:
            return None
        return cls(
            field=data.get("field"),
            udf=bool(data.get("udf")),
            natural_key=tuple(data.get("natural_key") or ()),
            max_length=int(data.get("max_length") or 0),
        )

    def token(self, job_id: str, row: int) -> str:
        return f"pyat-{job_id}-{row}"

    def apply(self, body: dict[str, Any], token: str) -> dict[str, Any]:
        """``body`` with the token written into the correlation field (a copy)."""
        if not self.field:
            return body
        out = dict(body)
        if self.udf:
            udfs = [
                u
                for u in out.get("userDefinedFields") or []
                if str(u.get("name")).lower() != self.field.lower()
            ]
            udfs.append({"name": self.field, "value": token})
            out["userDefinedFields"] = udfs
        else:
            out[self.field] = token
        return out

    def value_of(self, record: Mapping[str, Any]) -> Any:
        if not self.field:
            return None
        if self.udf:
            for u in record.get("userDefinedFields") or []:
                if str(u.get("name")).lower() == self.field.lower():
                    return u.get("value")
            return None
        return _get(record, self.field)

    def lookup_filter(self, tokens: Sequence[str]) -> Filter:
        assert self.field
        f = F.udf(self.field) if self.udf else F(self.field)
        return f.eq(tokens[0]) if len(tokens) == 1 else f.in_(list(tokens))

    def natural_filter(self, payload: Mapping[str, Any]) -> Filter | None:
        if not self.natural_key:
            return None
        conds: list[Filter] = []
        for name in self.natural_key:
            value = _get(payload, name)
            if value is None:
                return None
            conds.append(F(name).eq(value))
        return conds[0] if len(conds) == 1 else and_(*conds)


def _get(record: Mapping[str, Any], name: str) -> Any:
    if name in record:
        return record[name]
    low = name.lower()
    for k, v in record.items():
        if k.lower() == low:
            return v
    return None


def _external_reference_field(spec: EntitySpec, token_length: int) -> FieldSpec | None:
    candidates = []
    for fld in spec.fields.values():
        name = fld.api_name.lower()
        if (
            fld.data_type == "string"
            and not fld.read_only
            and fld.queryable
            and not fld.is_picklist
            and not fld.reference_entity
            and (fld.length == 0 or fld.length >= token_length)
            and ("externalid" in name or "externalreference" in name)
        ):
            candidates.append(fld)
    candidates.sort(key=lambda f: (f.api_name.lower() != "externalid", f.api_name))
    return candidates[0] if candidates else None


def choose_correlation(
    spec: EntitySpec,
    tenant: TenantFields | None,
    given_fields: set[str],
    requested: str | None,
    natural_key: Sequence[str] | None,
    token_length: int,
) -> Correlation | None:
    """The correlation for a create job.

    ``requested``: ``"auto"`` (the tenant UDF ``py_autotask_op_id`` if it exists, else a writable,
    queryable external-reference string field of the entity found in its metadata, such as
    ``externalID``, provided no input row sets it), a field name, ``"udf:<name>"``, or ``None`` /
    ``"none"`` (no token: nothing is written into the records). ``natural_key``: fields whose
    values identify a record (opt-in heuristic), used when no token field is available.
    """
    if requested is not None and requested.strip().lower() == "none":
        requested = None
    lowered = {g.lower() for g in given_fields}
    key = tuple(natural_key or ())
    for name in key:
        if name.lower() not in {f.lower() for f in spec.fields}:
            raise AutotaskConfigError(f"natural_key field {name!r} is not a {spec.name} field")
    if requested is None:
        return Correlation(natural_key=key) if key else None
    if requested == "auto":
        if spec.has_udfs and tenant is not None:
            meta = tenant.udf(spec.name, CORRELATION_UDF)
            if meta is not None and not meta.get("isReadOnly") and meta.get("isQueryable", True):
                length = int(meta.get("length") or 0)
                if length == 0 or length >= token_length:
                    return Correlation(
                        str(meta["name"]), udf=True, natural_key=key, max_length=length
                    )
        fld = _external_reference_field(spec, token_length)
        if fld is not None and fld.api_name.lower() not in lowered:
            return Correlation(fld.api_name, natural_key=key, max_length=fld.length)
        return Correlation(natural_key=key) if key else None
    if requested.lower().startswith("udf:"):
        name = requested[4:]
        if not spec.has_udfs:
            raise AutotaskConfigError(f"{spec.name} has no user-defined fields for correlation")
        meta = tenant.udf(spec.name, name) if tenant is not None else None
        if tenant is not None and tenant.udf_names(spec.name) is not None and meta is None:
            raise AutotaskConfigError(
                f"the tenant has no {spec.name} user-defined field {name!r} to hold correlation "
                "tokens; create it (text, 50+ characters) or pick another field"
            )
        if "udf:" + name.lower() in lowered:
            raise AutotaskConfigError(f"the input sets udf:{name}, the correlation field")
        return Correlation(str(meta["name"]) if meta else name, udf=True, natural_key=key)
    match = next((f for f in spec.fields.values() if f.api_name.lower() == requested.lower()), None)
    if match is None:
        raise AutotaskConfigError(f"correlation field {requested!r} is not a {spec.name} field")
    if match.read_only or match.data_type != "string" or not match.queryable:
        raise AutotaskConfigError(
            f"correlation field {match.api_name!r} must be a writable, queryable string field"
        )
    if match.length and match.length < token_length:
        raise AutotaskConfigError(
            f"correlation field {match.api_name!r} holds {match.length} characters; tokens need "
            f"{token_length}"
        )
    if match.api_name.lower() in lowered:
        raise AutotaskConfigError(
            f"the input sets {match.api_name}, the correlation field; pick another one"
        )
    return Correlation(match.api_name, natural_key=key, max_length=match.length)


# --- error classification ---------------------------------------------------------------------------

_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def classify_error(exc: BaseException, operation: str) -> ErrorKind:
    """What a failed write means.

    - ``retry``: rejected before processing (429 / ``Itgenatr005``, a connection that never opened):
      safe to resend after a pause;
    - ``failed``: Autotask refused it (validation and business rules, 403/404/405, bad input);
    - ``ambiguous``: it may have been applied (a dropped connection after sending, a timeout, a
      gateway 502/503/504, an opaque 500, an unreadable 200). A create is looked up by its
      correlation value before anything else; updates and deletes are idempotent and resent;
    - ``stop``: nothing more can succeed now (bad credentials, the hourly budget is used up, the
      client's circuit breaker is open); the job stops with its rows resumable.
    """
    if isinstance(exc, (AutotaskBudgetExhaustedError, AutotaskCircuitOpenError)):
        return "stop"  # nothing was sent; the job pauses and `resume` continues it later
    if isinstance(exc, AutotaskRateLimitError):
        return "retry"  # rejected before processing: safe for every method
    if isinstance(exc, AutotaskAmbiguousWriteError):
        return "ambiguous"
    if isinstance(exc, AutotaskConnectionError):
        return "retry" if isinstance(exc.__cause__, _NOT_SENT) else "ambiguous"
    if isinstance(exc, AutotaskAuthError):
        return "stop"
    if isinstance(
        exc,
        (
            AutotaskValidationError,
            AutotaskPermissionError,
            AutotaskNotFoundError,
            AutotaskMethodNotAllowedError,
            AutotaskOperationNotSupportedError,
        ),
    ):
        return "failed"
    if isinstance(exc, AutotaskAPIError):
        if 400 <= exc.status_code < 500 and exc.status_code not in (408, 409):
            return "failed"
        return "ambiguous"
    if isinstance(exc, (AutotaskConfigError, ValueError)):
        return "failed"
    if isinstance(exc, AutotaskError):
        return "ambiguous"
    return "ambiguous"


def error_text(exc: BaseException) -> str:
    if isinstance(exc, AutotaskAPIError):
        if exc.errors:
            return "; ".join(exc.errors)
        return exc.message or str(exc)
    return str(exc) or type(exc).__name__


def is_missing_record(exc: BaseException) -> bool:
    """A delete/update answered "does not exist": after an ambiguous first attempt, done."""
    text = error_text(exc).lower()
    return isinstance(exc, AutotaskAPIError) and (
        exc.status_code == 404 or "does not exist" in text or "not found" in text
    )


# --- updates ----------------------------------------------------------------------------------------


@dataclass
class UpdateDecision:
    action: Literal["send", "skip", "fail"]
    body: dict[str, Any] = field(default_factory=dict)
    previous: dict[str, Any] = field(default_factory=dict)
    changed: tuple[str, ...] = ()
    reason: str | None = None
    field: str | None = None


def same_value(fld: FieldSpec | None, server: Any, new: Any) -> bool:
    """Whether ``new`` (converted input) equals ``server`` (as the API returned it)."""
    if server is None or new is None:
        return (server is None or server == "") and (new is None or new == "")
    kind = fld.data_type if fld else "string"
    if kind in ("datetime",):
        a, b = datetime_or_none(server), datetime_or_none(new)
        return a is not None and b is not None and a == b
    if kind == "date":
        return str(server)[:10] == str(new)[:10]
    if kind in ("integer", "long", "short", "double", "decimal", "float"):
        try:
            return math.isclose(float(server), float(new), rel_tol=0, abs_tol=1e-9)
        except (TypeError, ValueError):
            return False
    if kind == "boolean":
        return bool(server) == bool(new)
    return str(server) == str(new)


def _udf_map(record: Mapping[str, Any]) -> dict[str, Any]:
    return {
        str(u.get("name")).lower(): u.get("value")
        for u in record.get("userDefinedFields") or []
        if isinstance(u, Mapping)
    }


def decide_update(
    spec: EntitySpec,
    prepared: PreparedRow,
    current: Mapping[str, Any] | None,
    mode: ConflictResolution,
    snapshot_time: _dt.datetime | None = None,
) -> UpdateDecision:
    """What to send for one update row given the server's current record.

    - ``merge``: only the fields whose value differs from the server's; a row with no difference is
      skipped ("no change") and costs no request;
    - ``overwrite``: every given field, equal or not (a PATCH: fields not given are untouched);
    - ``skip``: like merge, but the row is skipped when the record changed on the server since the
      caller's snapshot: its change-tracking field (``lastActivityDate`` / ``lastModifiedDateTime``)
      is later than the row's own value of that field or than ``snapshot_time``, or an
      ``expected.<field>`` value differs from the server's.

    ``previous`` holds the server's values of the fields sent (for undo).
    """
    record_id = prepared.record_id
    if current is None:
        return UpdateDecision(
            "fail",
            reason=f"{spec.singular} {record_id} does not exist (or is not visible to this API user)",
            field="id",
        )
    fields = {k.lower(): v for k, v in current.items()}
    if mode == "skip":
        tracking = spec.change_tracking_field
        server_ts = datetime_or_none(fields.get(tracking.lower())) if tracking else None
        snap = datetime_or_none(prepared.snapshot) if prepared.snapshot is not None else None
        for label, limit in (
            ("the row's", snap),
            ("the snapshot time", datetime_or_none(snapshot_time)),
        ):
            if limit is not None and server_ts is not None and server_ts > limit:
                return UpdateDecision(
                    "skip",
                    reason=(
                        f"changed on the server since the snapshot: {tracking} is "
                        f"{fields.get((tracking or '').lower())}, later than {label} "
                        f"{limit.isoformat()}"
                    ),
                    field=tracking,
                )
        for name, expected in prepared.expected.items():
            server_value = fields.get(name.lower())
            if not same_value(spec.fields.get(name), server_value, expected):
                return UpdateDecision(
                    "skip",
                    reason=(
                        f"changed on the server since the snapshot: {name} is {server_value!r}, "
                        f"expected {expected!r}"
                    ),
                    field=name,
                )
    body: dict[str, Any] = {"id": record_id}
    previous: dict[str, Any] = {}
    changed: list[str] = []
    for name, value in prepared.body.items():
        if name == "id":
            continue
        if name == "userDefinedFields":
            server_udfs = _udf_map(current)
            send_udfs = []
            prev_udfs = []
            for u in value:
                uname = str(u.get("name"))
                old = server_udfs.get(uname.lower())
                if mode == "overwrite" or not same_value(None, old, u.get("value")):
                    send_udfs.append({"name": uname, "value": u.get("value")})
                    prev_udfs.append({"name": uname, "value": old})
                    changed.append(f"udf:{uname}")
            if send_udfs:
                body["userDefinedFields"] = send_udfs
                previous["userDefinedFields"] = prev_udfs
            continue
        old = fields.get(name.lower())
        if mode == "overwrite" or not same_value(spec.fields.get(name), old, value):
            body[name] = value
            previous[name] = old
            changed.append(name)
    if len(body) == 1:
        return UpdateDecision("skip", reason="no change: the record already has these values")
    return UpdateDecision("send", body, previous, tuple(changed))
