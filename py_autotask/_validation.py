"""Validate create and update bodies against entity metadata before anything is sent.

Structure (required, read-only, type, length, reference type) comes from the generated
:class:`~py_autotask._spec.EntitySpec`; tenant facts (picklist values, UDF names) from a
:class:`TenantMetadata` read at runtime, because they differ per Autotask tenant.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from py_autotask._spec import EntitySpec, FieldSpec
from py_autotask._values import check_value, picklist_problem

__all__ = ["Problem", "TenantMetadata", "validate_record"]

Mode = Literal["create", "update", "replace"]


@dataclass(frozen=True, slots=True)
class Problem:
    """One reason a body would be rejected (or silently changed) by Autotask."""

    entity: str
    field: str | None
    reason: str
    row: int | None = None

    def __str__(self) -> str:
        where = f"{self.entity}.{self.field}" if self.field else self.entity
        prefix = f"row {self.row}: " if self.row is not None else ""
        return f"{prefix}{where}: {self.reason}"


class TenantMetadata(Protocol):
    """Tenant-specific metadata (picklists, UDF definitions), usually cached from the API."""

    def picklist_values(self, entity: str, field: str) -> Mapping[str, str] | None:
        """Active picklist values (value -> label) for a field; None when unknown."""
        ...

    def udf_names(self, entity: str) -> frozenset[str] | None:
        """Names of the entity's user-defined fields; None when unknown."""
        ...


def _lookup(spec: EntitySpec) -> dict[str, FieldSpec]:
    table: dict[str, FieldSpec] = {}
    for fld in spec.fields.values():
        table[fld.api_name.lower()] = fld
        table[fld.py_name.lower()] = fld
        for alias in fld.soap_aliases:
            table[alias.lower()] = fld
    return table


def validate_record(
    spec: EntitySpec,
    data: Mapping[str, Any],
    mode: Mode,
    metadata: TenantMetadata | None = None,
    *,
    row: int | None = None,
) -> list[Problem]:
    """Every problem with ``data`` as a ``mode`` body for ``spec``; empty when it is valid."""
    problems: list[Problem] = []
    table = _lookup(spec)
    given: dict[str, Any] = {}

    def add(fld: str | None, reason: str) -> None:
        problems.append(Problem(spec.name, fld, reason, row))

    for key, value in data.items():
        if key == "userDefinedFields":
            _check_udfs(spec, value, metadata, add)
            continue
        fld = table.get(key.lower())
        if fld is None:
            add(key, f"unknown field (not in the {spec.name} metadata)")
            continue
        given[fld.api_name] = value
    if mode in ("update", "replace"):
        record_id = given.get("id")
        if record_id is None:
            add("id", f"an {mode} needs the record's id")
        elif isinstance(record_id, bool) or not isinstance(record_id, int):
            add("id", f"expects an integer id, got {record_id!r}")
    for api_name, value in given.items():
        fld = spec.fields[api_name]
        if api_name == "id":
            continue
        if fld.read_only:
            add(api_name, "is read-only: Autotask ignores it; remove it from the body")
            continue
        if value is None:
            if fld.required and mode != "update":
                add(api_name, "is required and cannot be null")
            continue
        problem = check_value(fld.data_type, value, fld.length)
        if problem:
            add(api_name, problem)
            continue
        if fld.is_picklist and metadata is not None:
            values = metadata.picklist_values(spec.name, api_name)
            if values is not None:
                choices = [{"value": v, "label": label} for v, label in values.items()]
                problem = picklist_problem(value, choices)
                if problem:
                    add(api_name, problem)
    if mode in ("create", "replace"):
        for fld in spec.fields.values():
            if (
                fld.required
                and not fld.read_only
                and fld.api_name != "id"
                and fld.api_name not in given
            ):
                add(fld.api_name, "is required")
    return problems


def _check_udfs(spec: EntitySpec, value: Any, metadata: TenantMetadata | None, add: Any) -> None:
    if not spec.has_udfs:
        add("userDefinedFields", f"{spec.name} has no user-defined fields")
        return
    if not isinstance(value, list):
        add("userDefinedFields", 'expects a list of {"name": ..., "value": ...}')
        return
    names = metadata.udf_names(spec.name) if metadata is not None else None
    for item in value:
        if not isinstance(item, Mapping) or "name" not in item:
            add("userDefinedFields", f'expects {{"name": ..., "value": ...}} items, got {item!r}')
            continue
        if names is not None and item["name"] not in names:
            add("userDefinedFields", f"unknown user-defined field {item['name']!r}")
        if item.get("value") is not None and not isinstance(item.get("value"), str):
            add("userDefinedFields", f"UDF {item['name']!r} values are strings on the wire")
