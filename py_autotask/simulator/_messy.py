"""Off-type values as real Autotask tenants send them, for seeded records (``SimulatorConfig.messy``).

Real response bodies do not always match the metadata (issue 13; the shapes come from other clients'
published test fixtures, and Autotask documents none of them, so every one is UNCONFIRMED): a ZIP
code as a number where the field is a string, ``"m"`` in an integer picklist, ``""`` for an empty
datetime, numbers as text, ``1.0`` for an integer, booleans as ``0``/``1``, ``userDefinedFields: {}``
on a get by id. With ``messy=f`` a fraction ``f`` of the seeded records of every collection carries
such values: each eligible field of a chosen record gets one of the shapes of its declared type with
probability :data:`FIELD_PROBABILITY`. The draws come from their own random stream per collection, so
the clean records (and the clean fields of the messy ones) are the same as with ``messy=0``.

Kept clean on purpose: ``id``, references and parent id fields (relationships and child routes keep
working), creation and change-tracking datetimes (incremental sync and date filters keep working).

The store keeps every value the way SQL Server would hold it once converted to the declared type
(:func:`~py_autotask.simulator._store.column_value`), so filters see ``90210`` as ``'90210'`` and
``"1.0"`` as ``1``; a value that cannot convert (``"m"`` for an integer) is NULL to the query engine,
like ``TRY_CONVERT``: it matches no comparison and ``notExist`` finds it. The documents (what every
read returns) keep the off-type value. See docs/simulator.md ("Messy data").
"""

from __future__ import annotations

import random
import re
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from .._values import value_kind

__all__ = [
    "FIELD_PROBABILITY",
    "SHAPES",
    "SKIP",
    "UDF_EMPTY_PROBABILITY",
    "Apply",
    "MessyRecord",
    "Shape",
    "coded_picklist",
    "field_shapes",
    "mess",
    "udf_object_on_get",
    "udf_shapes",
]

#: Chance that one eligible field of a messy record gets an off-type value.
FIELD_PROBABILITY: Final = 0.5

_DIGITS = re.compile(r"[1-9][0-9]{0,17}")
_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")

#: ``apply(value, rng)`` returns the off-type value, or :data:`SKIP` when the shape does not fit it.
Apply = Callable[[Any, random.Random], Any]
SKIP: Final = object()


class MessyRecord(dict[str, Any]):
    """A seeded record that carries off-type values. Serialises like a dict (orjson writes dict
    subclasses as objects); the store converts its query columns value by value."""

    __slots__ = ()


@dataclass(frozen=True)
class Shape:
    """One real-world form of a value of a declared type (documented in docs/simulator.md)."""

    name: str
    declared: str  # integer | decimal | boolean | datetime | string | udf
    example: str
    source: str
    apply: Apply


def _numeric_text(value: Any, _rng: random.Random) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return SKIP
    return str(value)


def _integral_float(value: Any, _rng: random.Random) -> Any:
    if isinstance(value, bool) or not isinstance(value, int):
        return SKIP
    return float(value)


def _empty_text(value: Any, _rng: random.Random) -> Any:
    return "" if value is None else SKIP


def _bool_flag(value: Any, _rng: random.Random) -> Any:
    return int(value) if isinstance(value, bool) else SKIP


def _bool_text(value: Any, _rng: random.Random) -> Any:
    return ("true" if value else "false") if isinstance(value, bool) else SKIP


def _digits_as_number(value: Any, _rng: random.Random) -> Any:
    if isinstance(value, str) and _DIGITS.fullmatch(value):
        return int(value)
    return SKIP


def _picklist_code(codes: Mapping[int, str]) -> Apply:
    def apply(value: Any, _rng: random.Random) -> Any:
        if isinstance(value, bool) or not isinstance(value, int):
            return SKIP
        return codes.get(value, SKIP)

    return apply


SHAPES: Final[tuple[Shape, ...]] = (
    Shape(
        "digits-as-number",
        "string",
        '"postalCode": 90210 (metadata: string)',
        "issue 13 (a ZIP code as an int); only text of digits without a leading zero",
        _digits_as_number,
    ),
    Shape(
        "picklist-code",
        "integer",
        '"contractPeriodType": "m" (metadata: integer picklist)',
        "issue 13; the first letter of the value's label, lower case, in about a quarter of the "
        "integer picklists (chosen by name) and contractPeriodType",
        _picklist_code({}),
    ),
    Shape(
        "numeric-text",
        "integer",
        '"priority": "2"',
        "issue 13 (numeric strings)",
        _numeric_text,
    ),
    Shape(
        "integral-float",
        "integer",
        '"priority": 2.0',
        "issue 13 (1.0 for ints)",
        _integral_float,
    ),
    Shape(
        "numeric-text",
        "decimal",
        '"estimatedHours": "12.5"',
        "issue 13 (numeric strings)",
        _numeric_text,
    ),
    Shape(
        "empty-text",
        "integer/decimal",
        '"estimatedHours": ""',
        "extrapolated from the empty datetime (issue 13); UNCONFIRMED for numbers",
        _empty_text,
    ),
    Shape(
        "int-flag",
        "boolean",
        '"isActive": 1',
        "issue 13 (booleans as 0/1)",
        _bool_flag,
    ),
    Shape(
        "text-flag",
        "boolean",
        '"isActive": "true"',
        "extrapolated; UNCONFIRMED",
        _bool_text,
    ),
    Shape(
        "empty-text",
        "datetime",
        '"hireDate": ""',
        "issue 13 (hireDate)",
        _empty_text,
    ),
    Shape(
        "udf-number",
        "udf",
        '{"name": "Score", "value": 42} (UDF values are text on the wire)',
        "extrapolated from numeric strings; UNCONFIRMED",
        _digits_as_number,
    ),
    Shape(
        "udf-empty-text",
        "udf",
        '{"name": "Agreed Start Date", "value": ""}',
        "extrapolated from the empty datetime; UNCONFIRMED",
        _empty_text,
    ),
)

_BY_KEY = {(s.name, s.declared): s for s in SHAPES}


def _codes(picklist_values: Sequence[Mapping[str, Any]] | None) -> dict[int, str]:
    codes: dict[int, str] = {}
    for pv in picklist_values or ():
        label = str(pv.get("label") or "")
        letter = next((c.lower() for c in label if c.isalpha()), "")
        try:
            value = int(str(pv.get("value")))
        except ValueError:
            continue
        if letter:
            codes[value] = letter
    return codes


def coded_picklist(entity: str, name: str) -> bool:
    """Whether the integer picklist ``entity.name`` is one whose values a tenant sends as letter
    codes: about a quarter of them (a stable choice by name), and ``contractPeriodType`` always
    (the field issue 13 saw). Real tenants show it for some fields, not all."""
    if name.lower() == "contractperiodtype":
        return True
    return zlib.crc32(f"{entity}.{name}".encode()) % 4 == 0


def field_shapes(f: Mapping[str, Any], entity: str = "") -> tuple[Apply, ...]:
    """The shapes a field of this metadata can take (empty: the field stays clean)."""
    dt = str(f.get("dataType") or "string").lower()
    if value_kind(dt) == "integer":
        shapes = [
            _BY_KEY["numeric-text", "integer"].apply,
            _BY_KEY["integral-float", "integer"].apply,
            _BY_KEY["empty-text", "integer/decimal"].apply,
        ]
        coded = f.get("isPickList") and coded_picklist(entity, str(f.get("name")))
        codes = _codes(f.get("picklistValues")) if coded else {}
        if codes:
            shapes.append(_picklist_code(codes))
        return tuple(shapes)
    if value_kind(dt) == "number":
        return (
            _BY_KEY["numeric-text", "decimal"].apply,
            _BY_KEY["empty-text", "integer/decimal"].apply,
        )
    if dt == "boolean":
        return (_BY_KEY["int-flag", "boolean"].apply, _BY_KEY["text-flag", "boolean"].apply)
    if dt in ("datetime", "date"):
        return (_BY_KEY["empty-text", "datetime"].apply,)
    if dt == "string" and not f.get("isPickList"):
        return (_BY_KEY["digits-as-number", "string"].apply,)
    return ()


def udf_shapes(u: Mapping[str, Any]) -> tuple[Apply, ...]:
    """The shapes the value of a UDF of this definition can take (UDF values are text on the
    wire: a number is off-type, and ``""`` is off-type for a datetime or number UDF)."""
    dt = str(u.get("type") or u.get("dataType") or "string").lower()
    number = _BY_KEY["udf-number", "udf"].apply
    if dt == "string":
        return () if u.get("isPickList") else (number,)
    return (number, _BY_KEY["udf-empty-text", "udf"].apply)


#: the whole UDF list of a messy record: emptied (a get by id then answers ``{}``, see
#: :func:`udf_object_on_get`) with this probability
UDF_EMPTY_PROBABILITY: Final = 0.3


def mess(
    record: dict[str, Any],
    fields: Sequence[tuple[str, tuple[Apply, ...]]],
    udfs: Mapping[str, tuple[Apply, ...]],
    rng: random.Random,
) -> MessyRecord:
    """``record`` with off-type values (see the module docstring); a :class:`MessyRecord`.
    ``fields`` are ``(field, shapes)`` pairs, ``udfs`` the shapes per UDF name."""
    r = rng.random
    for name, shapes in fields:
        if r() >= FIELD_PROBABILITY:
            continue
        value = shapes[int(r() * len(shapes))](record.get(name), rng)
        if value is not SKIP:
            record[name] = value
    entries = record.get("userDefinedFields")
    if isinstance(entries, list) and entries:
        if r() < UDF_EMPTY_PROBABILITY:
            record["userDefinedFields"] = []
        else:
            for entry in entries:
                shapes = udfs.get(entry.get("name"), ())
                if not shapes or r() >= FIELD_PROBABILITY:
                    continue
                value = shapes[int(r() * len(shapes))](entry.get("value"), rng)
                if value is not SKIP:
                    entry["value"] = value
    return MessyRecord(record)


_EMPTY_UDFS: Final = b'"userDefinedFields":[]'


def udf_object_on_get(doc: bytes) -> bytes:
    """A get by id of a record without UDF values answers ``"userDefinedFields": {}`` (issue 13:
    the object form seen on get-by-id), where a query answers ``[]``."""
    return doc.replace(_EMPTY_UDFS, b'"userDefinedFields":{}', 1)
