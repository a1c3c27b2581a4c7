"""Reading values that do not match their declared type, without losing any (issue 13).

Real tenants send values their own metadata does not announce: a ZIP code as a number where the
field is text, ``"m"`` in an integer picklist, ``""`` for an empty datetime, numbers as text,
``1.0`` for an integer, booleans as ``0``/``1``. The export, the sync and the DataFrames read them
with one rule, :func:`read_value`:

- a value of the declared JSON type is **clean**;
- an off-type value that converts without loss is **converted** (``"42"`` -> 42, ``1.0`` -> 1,
  ``""`` -> null for numbers, datetimes and booleans, ``0``/``1`` and ``"true"``/``"false"`` ->
  booleans, a number or boolean in a text field -> its text, ``90210`` -> ``"90210"``);
- anything else (``"m"`` for an integer, ``1.5`` for an integer, ``"N/A"`` for a datetime) is
  **kept** as received: the column holding it becomes text for the whole output, every other value
  of that column written as the text of its typed value (:func:`typed_text`), the kept one exactly
  as sent (:func:`received_text`).

Every off-type value is counted per field (:class:`OffTypeCount`) and reported once per (entity,
field) (:class:`OffTypeReport`); ``strict=True`` raises :class:`OffTypeValueError` at the first one
instead. The rule itself is :func:`py_autotask._values.read_wire`, the one the client's models use.
Datetimes hold microseconds: a 7th fractional digit (.NET ticks) is below what Arrow, Python and
PostgreSQL store and is cut, as Python's ``fromisoformat`` cuts it (not counted as off-type).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import orjson

from .._values import CLEAN, CONVERTED, KEPT, Kind, read_wire
from ..exceptions import AutotaskOffTypeValueError

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "CLEAN",
    "CONVERTED",
    "DROPPED",
    "KEPT",
    "OffTypeCount",
    "OffTypeReport",
    "OffTypeValueError",
    "count_off_type",
    "expected_name",
    "read_value",
    "received_text",
    "typed_text",
]

#: a UDF entry that is not a ``{name, value}`` object: there is no column to keep it in
DROPPED: Final = 3

_INT64: Final = (-(2**63), 2**63 - 1)
_INTEGER_TEXT: Final = re.compile(r"[+-]?[0-9]+")
_NUMBER_TEXT: Final = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_DATETIME_TEXT: Final = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2})(?::(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?)?"
    r"\s*(Z|z|[+-]\d{2}:?\d{2})?"
)
_TRUE: Final = frozenset({"true", "1", "yes", "y", "t"})
_FALSE: Final = frozenset({"false", "0", "no", "n", "f"})
_UTC: Final = _dt.timezone.utc

#: readable names of the column kinds, for messages
_EXPECTED: Final = {
    "int": "integer",
    "float": "decimal",
    "bool": "boolean",
    "datetime": "datetime",
    "date": "date",
    "string": "string",
    "str": "string",
}


def expected_name(kind: str) -> str:
    return _EXPECTED.get(kind, kind)


class OffTypeValueError(AutotaskOffTypeValueError, ValueError):
    """The client's :class:`~py_autotask.AutotaskOffTypeValueError` as an export, sync or
    DataFrame raises it with ``strict=True``: a value does not match its field's declared type."""

    def __init__(self, entity: str, record_id: Any, field: str, kind: str, value: Any) -> None:
        expected = expected_name(kind)
        shown = _preview(value)
        super().__init__(
            f"{entity} id {record_id}: field {field!r} is declared {expected} but Autotask "
            f"sent {shown} ({type(value).__name__}); strict=True refuses off-type values (without "
            "strict the value is converted when that loses nothing, else kept as text, and "
            "reported)",
            entity=entity,
            record_id=record_id,
            field=field,
            expected=expected,
            value=value,
            status_code=200,
        )


def _preview(value: Any, limit: int = 60) -> str:
    text = repr(value) if isinstance(value, str) else received_text(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --- one value ------------------------------------------------------------------------------------


def received_text(value: Any) -> str:
    """A JSON value as text, as it was sent: strings unchanged, everything else as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return orjson.dumps(value).decode()


#: the column kinds of the export -> the kinds of :func:`py_autotask._values.read_wire`
_KIND: Final[Mapping[str, Kind]] = {
    "int": "integer",
    "float": "number",
    "bool": "boolean",
    "datetime": "datetime",
    "date": "date",
    "string": "string",
    "str": "string",
}


def read_value(kind: str, value: Any) -> tuple[Any, int]:
    """``(typed value, CLEAN | CONVERTED | KEPT)`` of one non-null JSON ``value`` for a column of
    ``kind`` (``int float bool datetime date string``), by the one rule of
    :func:`py_autotask._values.read_wire`; the typed value is None when KEPT (the caller keeps
    :func:`received_text`) or when an empty text means null. Datetimes are aware UTC."""
    read, status = read_wire(_KIND[kind], value)
    return (None, KEPT) if status == KEPT else (read, status)


# --- counts and reports ---------------------------------------------------------------------------


@dataclass
class OffTypeCount:
    """Off-type values of one field: converted without loss, kept as received text, or left out
    (only a UDF entry that is not a ``{name, value}`` object has nowhere to go)."""

    converted: int = 0
    kept: int = 0
    dropped: int = 0
    example: str | None = None  # the first kept (else converted) value, as received

    def add(self, status: int, value: Any) -> None:
        if status == KEPT:
            if not self.kept:
                self.example = _preview(value)
            self.kept += 1
        elif status == CONVERTED:
            if self.example is None:
                self.example = _preview(value)
            self.converted += 1
        else:
            if self.example is None:
                self.example = _preview(value)
            self.dropped += 1

    def merge(self, other: OffTypeCount) -> None:
        if (other.kept and not self.kept) or self.example is None:
            self.example = other.example
        self.converted += other.converted
        self.kept += other.kept
        self.dropped += other.dropped

    @property
    def total(self) -> int:
        return self.converted + self.kept + self.dropped

    def to_json(self) -> list[Any]:
        return [self.converted, self.kept, self.dropped, self.example]

    @classmethod
    def from_json(cls, data: Iterable[Any]) -> OffTypeCount:
        converted, kept, dropped, example = list(data)
        return cls(int(converted), int(kept), int(dropped), example)


def count_off_type(
    counts: dict[str, OffTypeCount],
    field: str,
    status: int,
    value: Any,
    *,
    strict: bool,
    entity: str,
    record_id: Any,
    expected: str,
) -> None:
    """Count one off-type ``value`` of ``field`` in ``counts`` (export and sync alike), or, with
    ``strict``, raise :class:`OffTypeValueError` naming it."""
    if strict:
        raise OffTypeValueError(entity, record_id, field, expected, value)
    count = counts.get(field)
    if count is None:
        count = counts[field] = OffTypeCount()
    count.add(status, value)


def merge_counts(
    into: dict[str, OffTypeCount], more: Mapping[str, OffTypeCount] | None
) -> dict[str, OffTypeCount]:
    for key, count in (more or {}).items():
        mine = into.get(key)
        if mine is None:
            into[key] = mine = OffTypeCount()
        mine.merge(count)
    return into


def counts_to_json(counts: Mapping[str, OffTypeCount]) -> dict[str, list[Any]]:
    return {k: v.to_json() for k, v in sorted(counts.items())}


def counts_from_json(data: Mapping[str, Any] | None) -> dict[str, OffTypeCount]:
    return {k: OffTypeCount.from_json(v) for k, v in (data or {}).items()}


@dataclass(frozen=True)
class OffTypeReport:
    """Off-type values of one (entity, field), as reported in export and sync summaries.

    ``field`` is the API field (or UDF) name, ``column`` the output column, ``expected`` the
    declared type; ``promoted`` says the column was written as text because of ``kept`` values."""

    entity: str
    field: str
    column: str
    expected: str
    converted: int
    kept_as_text: int
    dropped: int = 0
    example: str | None = None
    promoted: bool = False

    @property
    def values(self) -> int:
        return self.converted + self.kept_as_text + self.dropped

    def __str__(self) -> str:
        parts = []
        if self.kept_as_text:
            parts.append(
                f"{self.kept_as_text} kept as received text"
                + (f" (e.g. {self.example})" if self.example else "")
                + (f", so column {self.column} is text" if self.promoted else "")
            )
        if self.converted:
            text = f"{self.converted} converted without loss"
            if not self.kept_as_text and self.example:
                text += f" (e.g. {self.example})"
            parts.append(text)
        if self.dropped:
            parts.append(f"{self.dropped} unreadable UDF entries left out")
        return (
            f"{self.entity}.{self.field}: {self.values} value(s) not {self.expected} as declared: "
            + "; ".join(parts)
        )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# --- arrays ---------------------------------------------------------------------------------------


def typed_text(array: pa.Array, kind: str) -> pa.Array:
    """The text of a typed column's values once it holds text: integers ``42``, decimals as Arrow
    prints them (``12.5``, ``1e+20``), booleans ``true``/``false``, datetimes
    ``2024-01-31T10:00:00.871Z`` (UTC, fraction without trailing zeros), dates ``2024-01-31``."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from ._arrow import text

    if pa.types.is_string(array.type):
        return array
    if kind == "datetime" or pa.types.is_timestamp(array.type):
        naive = array.cast(pa.timestamp("us", tz="UTC")).cast(pa.timestamp("us"))
        day = pc.cast(pc.cast(naive, pa.date32()), pa.string())
        clock = pc.cast(pc.cast(naive, pa.time64("us")), pa.string())
        clock = pc.replace_substring_regex(clock, r"0+$", "")
        clock = pc.replace_substring_regex(clock, r"\.$", "")
        return pc.binary_join_element_wise(day, text("T"), clock, text("Z"), text(""))
    return pc.cast(array, pa.string())
