"""Turn input rows (CSV strings, SQL values, DataFrame cells, dicts) into API bodies, and check them.

Pure functions, no I/O. Structure (type, length, required, read-only, reference type) comes from the
generated :class:`~py_autotask._spec.EntitySpec`; tenant facts (picklist values and labels, UDF
names) from :class:`TenantFields`, built from the tenant's own ``entityInformation/fields`` and
``userDefinedFields`` answers.

Values are converted by the one converter, :func:`py_autotask._values.to_wire` (``"12"`` -> 12 for
integer fields, ``"1.5"`` -> 1.5, yes/no/true/false/1/0 for booleans, ISO 8601 datetimes sent as
``YYYY-MM-DDTHH:MM:SS.fffZ`` in UTC with naive times taken as UTC, date-only text as the date,
numbers -> text); picklists take the value (``"2"``) or the tenant's label (``"High"``, any case,
:func:`py_autotask._values.resolve_label`).

An empty cell means "not given" (left out of the body); the ``null_value`` marker (``<null>`` by
default) means "set to null". The empty string itself (a quoted ``""`` in a CSV, see
:mod:`py_autotask._csv`, or ``""`` in a dict or a SQL row) is sent as ``""`` to a text field and
means "not given" for any other field; blank text (spaces only) is "not given" everywhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .._spec import EntitySpec, FieldSpec
from .._validation import validate_record
from .._values import (
    length_problem,
    looks_like_label,
    plain_value,
    resolve_label,
    resolve_udf_choice,
    to_wire,
    udf_text,
    value_kind,
)
from ._results import RowProblem

__all__ = [
    "DEFAULT_NULL_VALUE",
    "EXPECTED_PREFIX",
    "ConvertOptions",
    "PreparedRow",
    "TenantFields",
    "column_problems",
    "prepare_row",
]

DEFAULT_NULL_VALUE = "<null>"
#: Columns named ``expected.<field>`` carry the value the caller saw (for ``conflict_resolution="skip"``).
EXPECTED_PREFIX = "expected."
#: Columns the failure CSV adds; ignored when such a file is fed back.
META_COLUMNS = frozenset({"_row", "_field", "_error"})


@dataclass(frozen=True)
class _Picklist:
    items: tuple[Mapping[str, Any], ...]  # the tenant's picklistValues
    values: Mapping[str, str]  # active value -> label


@dataclass
class TenantFields:
    """Tenant metadata for one or more entities: picklists (values and labels) and UDF names.

    Implements :class:`py_autotask._validation.TenantMetadata`. Build it with :meth:`add` from the
    bodies of ``GET {Entity}/entityInformation/fields`` and ``.../userDefinedFields``.
    """

    _picklists: dict[tuple[str, str], _Picklist] = field(default_factory=dict)
    _udfs: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    _loaded: set[str] = field(default_factory=set)

    def add(
        self, entity: str, fields_body: Mapping[str, Any] | None, udf_body: Mapping[str, Any] | None
    ) -> None:
        key = entity.lower()
        self._loaded.add(key)
        for obj in (fields_body or {}).get("fields") or []:
            if isinstance(obj, Mapping) and obj.get("isPickList"):
                self._picklists[(key, str(obj.get("name")).lower())] = _picklist(obj)
        udfs: dict[str, dict[str, Any]] = {}
        for obj in (udf_body or {}).get("fields") or []:
            if isinstance(obj, Mapping) and obj.get("name"):
                udfs[str(obj["name"]).lower()] = dict(obj)
                if obj.get("isPickList"):
                    self._picklists[(key, "udf:" + str(obj["name"]).lower())] = _picklist(obj)
        self._udfs[key] = udfs

    def has(self, entity: str) -> bool:
        return entity.lower() in self._loaded

    # TenantMetadata protocol
    def picklist_values(self, entity: str, field: str) -> Mapping[str, str] | None:
        pl = self._picklists.get((entity.lower(), field.lower()))
        # a picklist the tenant reports without values cannot be checked
        return None if pl is None or not pl.items else pl.values

    def udf_names(self, entity: str) -> frozenset[str] | None:
        udfs = self._udfs.get(entity.lower())
        return None if udfs is None else frozenset(str(u["name"]) for u in udfs.values())

    # extras
    def picklist(self, entity: str, field: str) -> _Picklist | None:
        return self._picklists.get((entity.lower(), field.lower()))

    def udf(self, entity: str, name: str) -> dict[str, Any] | None:
        return (self._udfs.get(entity.lower()) or {}).get(name.lower())


def _picklist(obj: Mapping[str, Any]) -> _Picklist:
    items = tuple(p for p in obj.get("picklistValues") or [] if isinstance(p, Mapping))
    values = {
        str(p.get("value")): str(p.get("label") or p.get("value"))
        for p in items
        if p.get("isActive", True)
    }
    return _Picklist(items, values)


@dataclass(frozen=True)
class ConvertOptions:
    null_value: str | None = DEFAULT_NULL_VALUE
    drop_read_only: bool = False  # silently drop read-only columns instead of reporting them
    ignore_columns: frozenset[str] = frozenset()


@dataclass
class PreparedRow:
    """One input row made ready: the API body, the caller's snapshot values and the problems."""

    row: int
    body: dict[str, Any]
    expected: dict[str, Any]
    snapshot: Any
    problems: list[RowProblem]
    source: dict[str, Any]

    @property
    def record_id(self) -> int | None:
        value = self.body.get("id")
        return value if isinstance(value, int) and not isinstance(value, bool) else None


def _lookup(spec: EntitySpec) -> dict[str, FieldSpec]:
    table: dict[str, FieldSpec] = {}
    for fld in spec.fields.values():
        table.setdefault(fld.py_name.lower(), fld)
        for alias in fld.soap_aliases:
            table.setdefault(alias.lower(), fld)
    for fld in spec.fields.values():
        table[fld.api_name.lower()] = fld
    return table


def _is_empty(value: Any) -> bool:
    value = plain_value(value)  # NaN, NaT and pd.NA are None
    return value is None or (isinstance(value, str) and not value.strip())


def _holds_text(data_type: Any, picklist: bool = False) -> bool:
    """Whether a field of ``data_type`` takes the empty string as a value (text, not a picklist)."""
    return (
        value_kind(str(data_type) if data_type is not None else None) == "string" and not picklist
    )


def column_problems(
    spec: EntitySpec,
    columns: Iterable[str],
    mode: str,
    tenant: TenantFields | None,
    options: ConvertOptions,
) -> list[str]:
    """Problems with the set of columns itself (unknown fields; a missing ``id`` for updates and
    deletes). Any of these stops the whole job before a request is sent."""
    table = _lookup(spec)
    problems: list[str] = []
    names = [c for c in columns if c not in META_COLUMNS and c not in options.ignore_columns]
    lowered = {c.strip().lower() for c in names}
    if mode in ("update", "delete") and "id" not in lowered:
        problems.append(
            f"the input has no 'id' column; every {mode} row needs the {spec.name} record id "
            f"(columns found: {', '.join(names) or 'none'})"
        )
    for col in names:
        key = col.strip()
        if key.lower().startswith(EXPECTED_PREFIX):
            target = key[len(EXPECTED_PREFIX) :]
            if target.lower() not in table and not target.lower().startswith("udf:"):
                problems.append(f"column {col!r}: {target!r} is not a {spec.name} field")
            continue
        if key.lower() == "userdefinedfields" or key.lower().startswith("udf:"):
            if not spec.has_udfs:
                problems.append(f"column {col!r}: {spec.name} has no user-defined fields")
            elif key.lower().startswith("udf:") and tenant is not None:
                names_known = tenant.udf_names(spec.name)
                if names_known is not None and tenant.udf(spec.name, key[4:]) is None:
                    problems.append(
                        f"column {col!r}: the tenant has no {spec.name} user-defined field "
                        f"named {key[4:]!r}"
                    )
            continue
        if key.lower() not in table:
            problems.append(f"column {col!r} is not a {spec.name} field (unknown field)")
    return problems


def _convert(
    fld: FieldSpec, value: Any, entity: str, tenant: TenantFields | None
) -> tuple[Any, str | None]:
    if fld.is_picklist and tenant is not None and looks_like_label(fld.data_type, value):
        pl = tenant.picklist(entity, fld.api_name)
        if pl is not None and pl.items:
            value, problem = resolve_label(fld.data_type, value, pl.items)
            if problem:
                return value, problem
    return to_wire(fld.data_type, value)


def prepare_row(
    spec: EntitySpec,
    row: int,
    values: Mapping[str, Any],
    mode: str,
    tenant: TenantFields | None,
    options: ConvertOptions,
    *,
    validate: bool = True,
) -> PreparedRow:
    """Convert one input row into a ``mode`` body and collect every problem with it.

    ``mode`` is ``create``, ``update`` or ``delete``. Unknown columns are reported by
    :func:`column_problems` once per file, not here. For updates the entity's change-tracking field
    (``lastActivityDate``...) is taken as the caller's snapshot, and ``expected.<field>`` columns as
    the values the caller expects on the server; neither is sent.
    """
    table = _lookup(spec)
    body: dict[str, Any] = {}
    expected: dict[str, Any] = {}
    snapshot: Any = None
    problems: list[RowProblem] = []
    udfs: list[dict[str, Any]] = []
    tracking = (spec.change_tracking_field or "").lower()
    source = {k: v for k, v in values.items() if k not in META_COLUMNS}

    def add(fld: str | None, reason: str) -> None:
        problems.append(RowProblem(row, fld, reason))

    for raw_key, raw_value in values.items():
        if raw_key in META_COLUMNS or raw_key in options.ignore_columns:
            continue
        key = str(raw_key).strip()
        # the empty string is kept for text fields (checked below); other blanks are "not given"
        empty_text = isinstance(raw_value, str) and raw_value == ""
        if _is_empty(raw_value) and not empty_text:
            continue
        is_null = options.null_value is not None and raw_value == options.null_value
        low = key.lower()
        if low.startswith(EXPECTED_PREFIX):
            target = key[len(EXPECTED_PREFIX) :]
            fld = table.get(target.lower())
            if fld is None or (empty_text and not _holds_text(fld.data_type, fld.is_picklist)):
                continue
            if is_null:
                expected[fld.api_name] = None
                continue
            converted, error = _convert(fld, raw_value, spec.name, tenant)
            if error:
                add(key, error)
            else:
                expected[fld.api_name] = converted
            continue
        if low == "userdefinedfields":
            if empty_text:
                continue
            if isinstance(raw_value, list):
                udfs.extend(raw_value)
            else:
                add(key, 'expects a list of {"name": ..., "value": ...}')
            continue
        if low.startswith("udf:"):
            name = key[4:]
            meta = tenant.udf(spec.name, name) if tenant is not None else None
            udf_name = str(meta["name"]) if meta else name
            if (
                empty_text
                and meta
                and not _holds_text(meta.get("type"), bool(meta.get("isPickList")))
            ):
                continue
            if is_null:
                udfs.append({"name": udf_name, "value": None})
                continue
            udf_value, problem = udf_text(raw_value)
            if problem:
                add(key, problem)
                continue
            if meta and meta.get("isPickList") and tenant is not None:
                pl = tenant.picklist(spec.name, "udf:" + name)
                if pl is not None and pl.items:
                    udf_value, problem = resolve_udf_choice(udf_value, pl.items)
                    if problem:
                        add(key, problem)
            problem = length_problem(int(meta.get("length") or 0) if meta else 0, udf_value)
            if problem:
                add(key, problem)
            udfs.append({"name": udf_name, "value": udf_value})
            continue
        fld = table.get(low)
        if fld is None:
            continue  # reported once by column_problems
        if empty_text and (
            not _holds_text(fld.data_type, fld.is_picklist)
            or (mode == "update" and fld.api_name.lower() == tracking)
        ):
            continue
        if mode == "update" and fld.api_name.lower() == tracking and fld.read_only:
            snapshot, error = to_wire("datetime", raw_value)
            if error:
                add(fld.api_name, error)
                snapshot = None
            continue
        if fld.read_only and fld.api_name != "id" and options.drop_read_only:
            continue
        if is_null:
            body[fld.api_name] = None
            continue
        converted, error = _convert(fld, raw_value, spec.name, tenant)
        if error:
            add(fld.api_name, error)
            continue
        body[fld.api_name] = converted
    if udfs:
        body["userDefinedFields"] = udfs
    if mode == "delete":
        if "id" not in body and not any(p.field == "id" for p in problems):
            add("id", "a delete needs the record's id")
        return PreparedRow(
            row, {"id": body["id"]} if "id" in body else {}, {}, None, problems, source
        )
    if validate or mode == "update":
        bad_fields = {p.field for p in problems}
        checked = validate_record(spec, body, "update" if mode == "update" else "create", tenant)
        for p in checked:
            if p.field in bad_fields:
                continue
            if p.field == "userDefinedFields" and "udf values" in p.reason.lower():
                continue
            if not validate and p.field != "id":
                continue
            add(p.field, p.reason)
    if mode == "update" and "id" in body and len(body) == 1 and not problems:
        add(None, "no field to update (the row only has an id)")
    return PreparedRow(row, body, expected, snapshot, problems, source)


def fields_of(rows: Sequence[PreparedRow]) -> list[str]:
    names: set[str] = set()
    for r in rows:
        names.update(k for k in r.body if k != "userDefinedFields")
        names.update(r.expected)
    return sorted(names)
