"""The I/O-free validation and conversion pipeline for write bodies and query filters.

Structure (types, lengths, required, read-only, SOAP-era aliases) comes from the generated
:class:`~py_autotask._spec.EntitySpec`; tenant facts (picklist values and labels, UDF definitions)
from a metadata view backed by :class:`~py_autotask.caching.TenantMetadataProvider`.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Mapping
from typing import Any, Final, Literal, Protocol

from .._spec import EntitySpec, FieldSpec
from .._validation import Problem
from .._values import (
    format_wire_datetime,
    length_problem,
    looks_like_label,
    picklist_problem,
    resolve_label,
    resolve_udf_choice,
    to_wire,
    udf_text,
)
from .._warn import warn_deprecated
from ..exceptions import AutotaskError, AutotaskInputError
from ._config import ValidationConfig, ValidationContext

__all__ = [
    "MetadataView",
    "format_wire_datetime",
    "metadata_needs",
    "prepare_write",
    "resolve_field",
    "rewrite_query",
]

WriteOp = Literal["create", "update", "replace"]

_UDF_KEY: Final = "userdefinedfields"
_LABEL_OPS: Final = frozenset({"eq", "noteq", "in", "notin"})

logger = logging.getLogger("py_autotask.validation")


class MetadataView(Protocol):
    """Loaded tenant metadata, by collection name (see ``TenantMetadataProvider``)."""

    def loaded_field(self, entity: str, name: str) -> dict[str, Any] | None: ...

    def loaded_udfs(self, entity: str) -> list[dict[str, Any]] | None: ...


def _field_info(metadata: MetadataView | None, entity: str, name: str) -> dict[str, Any] | None:
    """A field's tenant metadata; None when it cannot be read (then labels cannot be resolved and
    are reported as such, and picklist membership is left to Autotask)."""
    if metadata is None:
        return None
    try:
        return metadata.loaded_field(entity, name)
    except AutotaskError as exc:
        logger.warning(
            "tenant metadata of %s unavailable (%s); skipping picklist checks", entity, exc
        )
        return None


def _udf_defs(metadata: MetadataView | None, entity: str) -> list[dict[str, Any]] | None:
    if metadata is None:
        return None
    try:
        return metadata.loaded_udfs(entity)
    except AutotaskError as exc:
        logger.warning("UDF definitions of %s unavailable (%s); UDF names not checked", entity, exc)
        return None


# --- deprecation warnings at the caller's line ------------------------------------------------------

# --- field names --------------------------------------------------------------------------------

#: Per spec object (kept alive here, so its id is never reused): every spelling -> field.
_TABLES: dict[int, tuple[EntitySpec, dict[str, tuple[FieldSpec, str]]]] = {}


def _table(spec: EntitySpec) -> dict[str, tuple[FieldSpec, str]]:
    cached = _TABLES.get(id(spec))
    table = cached[1] if cached is not None else None
    if table is None:
        table = {}
        for fld in spec.fields.values():
            for alias in fld.soap_aliases:
                table.setdefault(alias.lower(), (fld, "soap"))
        for fld in spec.fields.values():
            table[fld.py_name.lower()] = (fld, "py")
        for fld in spec.fields.values():
            table[fld.api_name.lower()] = (fld, "api")
        _TABLES[id(spec)] = (spec, table)
    return table


def resolve_field(spec: EntitySpec, key: str) -> tuple[FieldSpec | None, bool]:
    """``(field, is_soap_alias)`` for an API name, Python name or SOAP-era name (any case)."""
    found = _table(spec).get(key.lower())
    if found is None:
        return None, False
    return found[0], found[1] == "soap"


def _soap_warning(spec: EntitySpec, old: str, new: str) -> None:
    warn_deprecated(
        f"{spec.name} field {old!r} is the SOAP-era name; use {new!r} (the REST field name)"
    )


def _suggest(name: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(name, choices, n=3, cutoff=0.6)
    return f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""


# --- values (the rules live in py_autotask._values) --------------------------------------------


def _convert(fld: FieldSpec, value: Any, config: ValidationConfig) -> tuple[Any, str | None]:
    """``(converted value, problem)`` for one non-null value."""
    return to_wire(fld.data_type, value, lenient=config.auto_convert and not config.strict_types)


def _picklist_values(info: Mapping[str, Any] | None) -> list[dict[str, Any]] | None:
    """A field's tenant ``picklistValues``; ``None`` when its metadata could not be read."""
    if info is None or not info.get("isPickList"):
        return None
    return [dict(v) for v in info.get("picklistValues") or []]


def _resolve_label(
    fld: FieldSpec, label: str, info: Mapping[str, Any] | None, parent_value: Any
) -> tuple[Any, str | None]:
    return resolve_label(fld.data_type, label, _picklist_values(info), parent_value=parent_value)


# --- metadata needs ---------------------------------------------------------------------------------


def metadata_needs(
    spec: EntitySpec, body: Mapping[str, Any], config: ValidationConfig | None
) -> set[str]:
    """Which metadata kinds (``fields``, ``userDefinedFields``) validating ``body`` reads."""
    needs: set[str] = set()
    if config is None:
        return needs
    for key, value in body.items():
        if key.lower() == _UDF_KEY:
            if value:
                needs.add("userDefinedFields")
            continue
        fld, _soap = resolve_field(spec, key)
        if fld is None or not fld.is_picklist or value is None:
            continue
        if (
            config.picklist_labels and looks_like_label(fld.data_type, value)
        ) or config.validate_picklists:
            needs.add("fields")
    return needs


def filter_metadata_needs(
    spec: EntitySpec, body: Mapping[str, Any], config: ValidationConfig | None
) -> set[str]:
    """``{"fields"}`` when a query filter compares a picklist field with a label."""
    if config is None or not config.picklist_labels:
        return set()
    found = False

    def walk(items: Any) -> None:
        nonlocal found
        if not isinstance(items, list):
            return
        for item in items:
            if not isinstance(item, Mapping):
                continue
            low = {str(k).lower(): v for k, v in item.items()}
            walk(low.get("items"))
            if low.get("udf") or not isinstance(low.get("field"), str):
                continue
            fld, _soap = resolve_field(spec, low["field"])
            if fld is None or not fld.is_picklist:
                continue
            raw = low.get("value")
            values = raw if isinstance(raw, list) else [raw]
            if any(looks_like_label(fld.data_type, v) for v in values):
                found = True

    for key, value in body.items():
        if key.lower() == "filter":
            walk(value)
    return {"fields"} if found else set()


# --- write bodies ---------------------------------------------------------------------------------


def prepare_write(
    spec: EntitySpec,
    body: Mapping[str, Any],
    op: WriteOp,
    config: ValidationConfig | None,
    metadata: MetadataView | None,
    *,
    parent_field: str | None = None,
) -> dict[str, Any]:
    """The body to send for ``op``, or :class:`AutotaskInputError` listing every problem.

    Without ``config`` only SOAP-era field names are renamed (with a ``DeprecationWarning``).
    With it, values are converted, labels resolved, UDFs checked by name and every rule of
    :class:`ValidationConfig` applied. ``parent_field`` is the child's parent-id field when the
    write goes through a parent route (the URL supplies it).
    """
    problems: list[Problem] = []

    def add(fld: str | None, reason: str) -> None:
        problems.append(Problem(spec.name, fld, reason))

    out: dict[str, Any] = {}
    given_as: dict[str, str] = {}
    udf_value: Any = None
    has_udfs = False
    for key, value in body.items():
        if key.lower() == _UDF_KEY:
            udf_value, has_udfs = value, True
            continue
        fld, soap = resolve_field(spec, key)
        if fld is None:
            if config is not None and config.reject_unknown_fields and spec.fields:
                add(
                    key,
                    f"unknown field: {spec.name} has no field {key!r}"
                    + _suggest(key, sorted(spec.fields)),
                )
            out[key] = value
            continue
        if soap:
            _soap_warning(spec, key, fld.api_name)
        if fld.api_name in given_as:
            add(
                fld.api_name,
                f"given twice (as {given_as[fld.api_name]!r} and {key!r}); keep one",
            )
            continue
        given_as[fld.api_name] = key
        out[fld.api_name] = value
    if config is None:
        if has_udfs:
            out["userDefinedFields"] = udf_value
        return out

    # picklist parents first, so a dependent label (subIssueType) can be narrowed by its parent
    order = sorted(
        (name for name in list(out) if name in spec.fields),
        key=lambda n: spec.fields[n].picklist_parent is not None,
    )
    for name in order:
        fld = spec.fields[name]
        value = out[name]
        if value is None:
            if fld.required and name != "id" and not fld.read_only:
                add(name, "is required and cannot be null; give it a value")
            continue
        if name == "id":
            converted, problem = _convert(fld, value, config)
            if problem:
                add(name, problem)
            out[name] = converted
            continue
        info = _field_info(metadata, spec.name, name) if fld.is_picklist else None
        if fld.is_picklist and config.picklist_labels and looks_like_label(fld.data_type, value):
            parent_value = None
            if fld.picklist_parent:
                parent, _soap = resolve_field(spec, fld.picklist_parent)
                parent_value = out.get(parent.api_name) if parent is not None else None
            value, problem = _resolve_label(fld, value, info, parent_value)
            if problem:
                add(name, problem)
                continue
        value, problem = _convert(fld, value, config)
        if problem:
            add(name, problem + ("" if config.strict_types else "; pass a value of that type"))
            continue
        failed = False
        for validator in config.validators_for(spec.name, name):
            try:
                value = validator(value, ValidationContext(spec.name, name, op, out))
            except (ValueError, TypeError) as exc:
                add(name, f"rejected by a custom validator: {exc}")
                failed = True
                break
        if failed:
            continue
        out[name] = value
        if config.validate_lengths and fld.data_type == "string":
            problem = length_problem(fld.length, value)
            if problem:
                add(name, problem)
        if fld.is_picklist and config.validate_picklists:
            problem = picklist_problem(value, _picklist_values(info))
            if problem:
                add(name, problem)

    if has_udfs:
        udfs = _prepare_udfs(spec, udf_value, config, metadata, add)
        if udfs is not None:
            out["userDefinedFields"] = udfs

    if config.validate_required and op in ("create", "replace"):
        for fld in spec.fields.values():
            if (
                fld.required
                and not fld.read_only
                and fld.api_name != "id"
                and fld.api_name not in out
                and fld.api_name != parent_field
            ):
                add(fld.api_name, f"is required for a {op}; add it to the data")
    if op in ("update", "replace") and out.get("id") is None:
        add("id", f"an {op} needs the record's id")

    if problems:
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        raise AutotaskInputError(f"{spec.name} {op} was not sent: {count} in the data", problems)
    return out


def _prepare_udfs(
    spec: EntitySpec,
    value: Any,
    config: ValidationConfig,
    metadata: MetadataView | None,
    add: Any,
) -> list[dict[str, Any]] | None:
    if isinstance(value, Mapping):
        items: list[Any] = [{"name": k, "value": v} for k, v in value.items()]
    elif isinstance(value, (list, tuple)):
        items = list(value)
    else:
        add("userDefinedFields", 'expects a list of {"name": ..., "value": ...} or a dict')
        return None
    if not spec.has_udfs:
        add("userDefinedFields", f"{spec.name} has no user-defined fields; remove them")
        return None
    defs = _udf_defs(metadata, spec.name)
    by_name = {str(d.get("name", "")).lower(): d for d in defs or []}
    out: list[dict[str, Any]] = []
    for item in items:
        if not isinstance(item, Mapping) or "name" not in item:
            add("userDefinedFields", f'expects {{"name": ..., "value": ...}} items, got {item!r}')
            continue
        name = str(item["name"])
        udf_val = item.get("value")
        definition = by_name.get(name.lower())
        if defs is not None and definition is None:
            add(
                f"userDefinedFields[{name}]",
                "unknown user-defined field for this tenant"
                + (
                    _suggest(name, sorted(str(d.get("name")) for d in defs))
                    or f"; the tenant's UDFs are: {', '.join(sorted(str(d.get('name')) for d in defs))}"
                ),
            )
            continue
        if definition is not None:
            name = str(definition.get("name"))
        where = f"userDefinedFields[{name}]"
        udf_val, problem = udf_text(
            udf_val, lenient=config.auto_convert and not config.strict_types
        )
        if problem:
            add(where, problem)
            continue
        if definition is not None and udf_val is not None:
            if definition.get("isPickList"):
                udf_val, problem = resolve_udf_choice(
                    udf_val, _picklist_values(definition) or [], labels=config.picklist_labels
                )
                if problem:
                    add(where, problem)
                    continue
            problem = length_problem(int(definition.get("length") or 0), udf_val)
            if config.validate_lengths and problem:
                add(where, problem)
                continue
        for validator in config.validators_for(spec.name, name):
            try:
                udf_val = validator(udf_val, ValidationContext(spec.name, name, "udf", {}))
            except (ValueError, TypeError) as exc:
                add(where, f"rejected by a custom validator: {exc}")
                break
        out.append({"name": name, "value": udf_val})
    return out


# --- query bodies ---------------------------------------------------------------------------------


def rewrite_query(
    spec: EntitySpec,
    body: Mapping[str, Any],
    config: ValidationConfig | None,
    metadata: MetadataView | None,
) -> dict[str, Any]:
    """``body`` with SOAP-era field names renamed (warned) in filters and IncludeFields, and,
    when ``config.picklist_labels``, picklist labels in eq/noteq/in/notIn filters resolved."""
    problems: list[Problem] = []

    def field_name(name: str) -> str:
        fld, soap = resolve_field(spec, name)
        if fld is not None and soap:
            _soap_warning(spec, name, fld.api_name)
            return fld.api_name
        return name

    def walk(items: Any) -> Any:
        if not isinstance(items, list):
            return items
        out = []
        for item in items:
            if not isinstance(item, Mapping):
                out.append(item)
                continue
            new = dict(item)
            keys = {str(k).lower(): k for k in item}
            if "items" in keys:
                new[keys["items"]] = walk(item[keys["items"]])
            fkey = keys.get("field")
            udf = bool(item.get(keys["udf"])) if "udf" in keys else False
            if fkey is not None and isinstance(item[fkey], str) and not udf:
                name = field_name(item[fkey])
                new[fkey] = name
                fld, _soap = resolve_field(spec, name)
                op = str(item.get(keys.get("op", "op"), "")).lower()
                vkey = keys.get("value")
                if (
                    config is not None
                    and config.picklist_labels
                    and fld is not None
                    and fld.is_picklist
                    and op in _LABEL_OPS
                    and vkey is not None
                ):
                    new[vkey] = resolve_values(fld, item[vkey])
            out.append(new)
        return out

    def resolve_values(fld: FieldSpec, raw: Any) -> Any:
        values = raw if isinstance(raw, list) else [raw]
        if not any(looks_like_label(fld.data_type, v) for v in values):
            return raw
        info = _field_info(metadata, spec.name, fld.api_name)
        resolved = []
        for v in values:
            if looks_like_label(fld.data_type, v):
                v, problem = _resolve_label(fld, v, info, None)
                if problem:
                    problems.append(Problem(spec.name, fld.api_name, problem))
            resolved.append(v)
        return resolved if isinstance(raw, list) else resolved[0]

    result: dict[str, Any] = {}
    for key, value in body.items():
        low = key.lower()
        if low == "filter":
            result[key] = walk(value)
        elif low == "includefields" and isinstance(value, list):
            result[key] = [field_name(v) if isinstance(v, str) else v for v in value]
        else:
            result[key] = value
    if problems:
        raise AutotaskInputError(f"{spec.name} query was not sent: invalid filter", problems)
    return result
