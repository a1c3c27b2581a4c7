"""The one value converter/validator and the one datetime parser (no I/O).

Everything that turns a value into what Autotask takes, checks a value against a field's metadata,
or reads a value Autotask sent back comes through here, driven by the field's ``dataType`` (from
:class:`~py_autotask._spec.FieldSpec`) and, for picklists, the tenant's ``picklistValues``:

- :func:`parse_datetime` reads every datetime form Autotask uses: naive UTC
  (``2016-03-30T13:10:35.563``), ``Z`` or an offset, 1-7 fraction digits (.NET sends 7; Python keeps
  6), a space instead of ``T``, a bare date; ``""`` means no value. :func:`format_wire_datetime`
  writes Autotask's form (UTC, milliseconds, ``Z``).
- :func:`to_wire` converts one value for a write body (bulk rows, client write validation) and
  :func:`check_value` says what is wrong with a value as it stands (the generated validators).
- :func:`from_wire` is tolerant reading: an off-type value Autotask sent (``90210`` for a string
  field, ``""`` for a datetime, ``{}`` for a UDF list) converted only where nothing is lost.
- :func:`resolve_label` / :func:`picklist_problem` turn a picklist label into the tenant's value and
  check membership, naming the choices.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, Final, Literal

__all__ = [
    "Kind",
    "check_value",
    "choices_text",
    "datetime_or_none",
    "format_wire_datetime",
    "from_wire",
    "integer_bounds",
    "is_date_text",
    "length_problem",
    "looks_like_label",
    "number_bound",
    "parse_date",
    "parse_datetime",
    "picklist_problem",
    "plain_value",
    "read_wire",
    "resolve_label",
    "resolve_udf_choice",
    "show",
    "to_wire",
    "udf_text",
    "value_kind",
]

Kind = Literal["integer", "number", "boolean", "datetime", "date", "string", "udfs", "object"]

#: Autotask ``dataType`` (fields) and UDF ``type`` spellings, by kind.
_KINDS: Final[Mapping[str, Kind]] = {
    "integer": "integer",
    "int": "integer",
    "long": "integer",
    "short": "integer",
    "byte": "integer",
    "int32": "integer",
    "int64": "integer",
    "double": "number",
    "decimal": "number",
    "float": "number",
    "number": "number",
    "currency": "number",
    "boolean": "boolean",
    "bool": "boolean",
    "datetime": "datetime",
    "date": "date",
    "time": "datetime",
    "string": "string",
    "udfs": "udfs",
    "object": "object",
}

#: How a store keeps each kind (the sync mirror's columns, the simulator's query columns).
_STORAGE: Final[Mapping[str, str]] = {
    "integer": "int",
    "number": "float",
    "boolean": "bool",
    "datetime": "datetime",
    "date": "datetime",
}


def storage_kind(data_type: str | None) -> str:
    """``int | float | bool | datetime | str``: the column type a store gives an Autotask
    ``dataType`` (or UDF ``type``); dates are kept as datetimes, everything else as text."""
    return _STORAGE.get(value_kind(data_type), "str")


_INT_RE: Final = re.compile(r"[+-]?\d+")
_DATE_RE: Final = re.compile(r"\d{4}-\d{2}-\d{2}")
#: The fallback datetime grammar (Python 3.10's ``fromisoformat`` knows neither ``Z`` nor fraction
#: lengths other than 3 and 6): date, optional time with any fraction, optional ``Z``/offset.
_DT_RE: Final = re.compile(
    r"(\d{4})-(\d{1,2})-(\d{1,2})"
    r"(?:[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?"
    r"\s*(Z|[+-]\d{2}(?::?\d{2})?)?",
    re.IGNORECASE,
)
_INT64: Final = (-(2**63), 2**63 - 1)
_TRUE: Final = frozenset({"true", "1", "yes", "y", "t", "on"})
_FALSE: Final = frozenset({"false", "0", "no", "n", "f", "off"})
_MAX_CHOICES: Final = 25
_MAX_SHOWN: Final = 80


#: The whole numbers each integer ``dataType`` holds (Autotask's columns are SQL Server's ``tinyint``,
#: ``smallint``, ``int`` and ``bigint``; ``id`` is a ``long``, most foreign keys ``integer``).
_INTEGER_BOUNDS: Final[Mapping[str, tuple[int, int]]] = {
    "byte": (0, 2**8 - 1),
    "short": (-(2**15), 2**15 - 1),
    "integer": (-(2**31), 2**31 - 1),
    "int": (-(2**31), 2**31 - 1),
    "int32": (-(2**31), 2**31 - 1),
    "long": (-(2**63), 2**63 - 1),
    "int64": (-(2**63), 2**63 - 1),
}
#: ``decimal`` is SQL Server's ``decimal``/``numeric``: at most 38 digits, so a value must be
#: below 10**38 in size; other number types are doubles (any finite value).
_DECIMAL_BOUND: Final = 10**38


def integer_bounds(data_type: str | None) -> tuple[int, int]:
    """``(smallest, largest)`` whole number a field of an integer ``data_type`` holds (64 bits
    for an integer type this table does not name)."""
    return _INTEGER_BOUNDS.get((data_type or "").strip().lower(), _INT64)


def number_bound(data_type: str | None) -> int | None:
    """The exclusive bound on the size of a value of a number ``data_type`` (``decimal``:
    10**38), or ``None`` when any finite value fits (``double``, ``float``)."""
    return _DECIMAL_BOUND if (data_type or "").strip().lower() == "decimal" else None


def value_kind(data_type: str | None) -> Kind:
    """The kind of an Autotask ``dataType`` (or UDF ``type``); unknown types are text."""
    return _KINDS.get((data_type or "string").strip().lower(), "string")


def show(value: Any) -> str:
    """``type value`` for a message, the repr cut to a readable length."""
    text = repr(value)
    if len(text) > _MAX_SHOWN:
        text = text[: _MAX_SHOWN - 3] + "..."
    return f"{type(value).__name__} {text}"


# --- datetimes ------------------------------------------------------------------------------------


def _as_utc(value: datetime, naive: bool) -> datetime:
    if value.tzinfo is None:
        return value if naive else value.replace(tzinfo=timezone.utc)
    value = value.astimezone(timezone.utc)
    return value.replace(tzinfo=None) if naive else value


def _parse_text(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        pass
    m = _DT_RE.fullmatch(text)
    if m is None:
        raise ValueError(f"{text!r} is not an ISO 8601 date or datetime")
    year, month, day, hh, mm, ss, frac, tz = m.groups()
    micro = int((frac or "0")[:6].ljust(6, "0"))
    try:
        value = datetime(
            int(year), int(month), int(day), int(hh or 0), int(mm or 0), int(ss or 0), micro
        )
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a valid date or datetime ({exc})") from None
    if tz and tz.upper() != "Z":
        digits = tz[1:].replace(":", "")
        offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:] or 0))
        value = value.replace(tzinfo=timezone(offset if tz[0] == "+" else -offset))
    elif tz:
        value = value.replace(tzinfo=timezone.utc)
    return value


def parse_datetime(value: Any, *, naive: bool = False) -> datetime | None:
    """The one reader of Autotask datetimes: a UTC ``datetime`` (aware, or naive with ``naive``).

    ``None``, ``""`` and blank text give ``None``. A ``datetime`` is converted (naive ones are UTC,
    as Autotask sends them); a ``date`` is its midnight UTC. Text is ISO 8601: a date, or a date and
    time with ``T`` or a space, any number of fraction digits (more than 6 are cut), and ``Z``,
    ``+HH:MM``, ``+HHMM`` or ``+HH`` (none means UTC). Anything else raises ``ValueError``.
    """
    if value is None:
        return None
    if isinstance(value, datetime):
        return _as_utc(value, naive)
    if isinstance(value, date):
        midnight = datetime(value.year, value.month, value.day)
        return midnight if naive else midnight.replace(tzinfo=timezone.utc)
    if not isinstance(value, str):
        raise ValueError(f"{show(value)} is not a date or datetime")
    text = value.strip()
    if not text:
        return None
    return _as_utc(_parse_text(text), naive)


def datetime_or_none(value: Any, *, naive: bool = False) -> datetime | None:
    """:func:`parse_datetime`, with ``None`` instead of ``ValueError`` for what is not one."""
    try:
        return parse_datetime(value, naive=naive)
    except ValueError:
        return None


def parse_date(value: Any) -> date | None:
    """A ``date`` from a date, a datetime (its UTC date) or ISO text; ``None`` for no value."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    parsed = parse_datetime(value)
    return None if parsed is None else parsed.date()


def is_date_text(value: Any) -> bool:
    """Whether ``value`` is date-only ISO text (``2024-05-31``), which means a whole day."""
    return isinstance(value, str) and _DATE_RE.fullmatch(value.strip()) is not None


def format_wire_datetime(value: datetime) -> str:
    """Autotask's wire format: UTC, milliseconds, ``Z`` (naive values are taken as UTC)."""
    value = _as_utc(value, naive=True)
    # not strftime: its %Y gives "999" for the year 999 (glibc), which no ISO parser reads back
    return (
        f"{value.year:04d}-{value.month:02d}-{value.day:02d}T"
        f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}.{value.microsecond // 1000:03d}Z"
    )


# --- plain values ---------------------------------------------------------------------------------


def plain_value(value: Any) -> Any:
    """A numpy/pandas scalar as the plain Python value (``int``, ``float``, ``bool``,
    ``datetime``); NaN, NaT and ``pd.NA`` as ``None``; anything else unchanged. Needs neither
    library installed."""
    if value is None:
        return None
    kind = type(value)
    if kind is str or kind is int or kind is bool:
        return value
    if kind is float:
        return None if value != value else value
    name = kind.__name__
    if name in ("NAType", "NaTType"):
        return None
    if hasattr(value, "to_pydatetime"):  # pandas Timestamp
        return value.to_pydatetime()
    if name == "datetime64":
        import numpy as np

        return None if np.isnat(value) else value.astype("datetime64[us]").item()
    if hasattr(value, "dtype") and callable(getattr(value, "item", None)):  # numpy scalar
        item = value.item()
        return None if isinstance(item, float) and item != item else item
    return value


# --- writes: value -> what Autotask takes ---------------------------------------------------------


def _integral(value: Any) -> int | None:
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    if isinstance(value, Decimal):
        if value.is_finite() and value == value.to_integral_value():
            return int(value)
        return None
    if isinstance(value, str):
        text = value.strip()
        if _INT_RE.fullmatch(text):
            return int(text)
        try:
            number = Decimal(text)
        except InvalidOperation:
            return None
        return _integral(number)
    return None


def _number(value: Any) -> int | float | None:
    if isinstance(value, Decimal):
        return float(value) if value.is_finite() else None
    if isinstance(value, str):
        text = value.strip()
        if _INT_RE.fullmatch(text):
            return int(text)
        try:
            number = float(text)
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def _datetime_to_wire(kind: Kind, value: Any) -> tuple[Any, str | None]:
    if hasattr(value, "to_pydatetime"):
        value = value.to_pydatetime()
    if isinstance(value, datetime):
        return (
            format_wire_datetime(value) if kind == "datetime" else value.date().isoformat()
        ), None
    if isinstance(value, date):
        return value.isoformat(), None
    if isinstance(value, str):
        text = value.strip()
        try:
            if is_date_text(text):
                # date-only: a whole day, sent as given (no time-zone shift)
                return date.fromisoformat(text).isoformat(), None
            parsed = parse_datetime(text)
        except ValueError:
            parsed = None
        if parsed is not None:
            return (
                format_wire_datetime(parsed) if kind == "datetime" else parsed.date().isoformat()
            ), None
    if kind == "date":
        return value, f"expects a date (ISO 8601 such as 2024-01-31), got {show(value)}"
    return value, (
        "expects a datetime (ISO 8601 such as 2024-01-31T09:30:00Z, or a datetime), "
        f"got {show(value)}"
    )


def to_wire(data_type: str, value: Any, *, lenient: bool = True) -> tuple[Any, str | None]:
    """``(value as Autotask takes it, None)``, or ``(value, problem)`` for one non-null value of a
    field of ``data_type``.

    Datetimes (objects or ISO text) always go out as ``YYYY-MM-DDTHH:MM:SS.fffZ`` in UTC (naive means
    UTC); date-only text and ``date`` objects as ``YYYY-MM-DD``. With ``lenient`` (the default)
    values are converted where the intent is clear: ``"12"``/``"12.0"``/``12.0`` -> 12 for
    integers, ``"1.5"`` -> 1.5 for numbers, true/false/yes/no/y/n/t/f/on/off/1/0 for booleans,
    numbers -> text for strings (``12.0`` -> ``"12"``), numpy/pandas scalars -> Python values.
    Without it only the exact type passes (an ``int`` is still a number).
    """
    kind = value_kind(data_type)
    if lenient:
        value = plain_value(value)
    if kind in ("datetime", "date"):
        return _datetime_to_wire(kind, value)
    if kind == "integer":
        if isinstance(value, int) and not isinstance(value, bool):
            return value, None
        if lenient and not isinstance(value, bool):
            number = _integral(value)
            if number is not None:
                return number, None
        return value, f"expects an integer ({data_type}), got {show(value)}"
    if kind == "number":
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if isinstance(value, float) and not math.isfinite(value):
                return value, f"expects a finite number ({data_type}), got {show(value)}"
            return value, None
        if lenient and not isinstance(value, bool):
            converted = _number(value)
            if converted is not None:
                return converted, None
        return value, f"expects a number ({data_type}), got {show(value)}"
    if kind == "boolean":
        if isinstance(value, bool):
            return value, None
        if lenient:
            if isinstance(value, (int, float)) and value in (0, 1):
                return bool(value), None
            if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
                return value.strip().lower() in _TRUE, None
        return value, f"expects true or false, got {show(value)}"
    if kind == "string":
        if isinstance(value, str):
            return value, None
        if lenient and isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
            if isinstance(value, float) and value.is_integer():
                return str(int(value)), None
            return str(value), None
        return value, f"expects a string, got {show(value)}"
    return value, None


def length_problem(length: int | None, value: Any) -> str | None:
    """The problem with text longer than a field's ``length`` (0/None: no limit)."""
    if length and isinstance(value, str) and len(value) > length:
        return f"is {len(value)} characters long; the maximum is {length}; shorten it"
    return None


def check_value(data_type: str, value: Any, length: int | None = None) -> str | None:
    """What is wrong with a non-null value as it stands (no conversion): its type, or its length."""
    _value, problem = to_wire(data_type, value, lenient=False)
    return problem or length_problem(length, value)


def udf_text(value: Any, *, lenient: bool = True) -> tuple[Any, str | None]:
    """A user-defined field value as the text Autotask stores (UDF values are strings on the wire):
    datetimes in the wire format, and with ``lenient`` dates, numbers and booleans as text."""
    if value is None or isinstance(value, str):
        return value, None
    if lenient:
        value = plain_value(value)
    if isinstance(value, datetime):
        return format_wire_datetime(value), None
    if lenient:
        if isinstance(value, date):
            return value.isoformat(), None
        if isinstance(value, bool):
            return str(value), None
        converted, problem = to_wire("string", value)
        if problem is None:
            return converted, None
    return value, f"UDF values are text on the wire, got {type(value).__name__}"


# --- reads: tolerant, lossless only ---------------------------------------------------------------


def _lossless_text(value: Any) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and math.isfinite(value):
        return repr(value)
    return None


def _udf_items(value: Any) -> list[Any] | None:
    if isinstance(value, Mapping):
        if not value:
            return []
        if "name" in value:
            value = [value]
        else:
            return None
    if not isinstance(value, list):
        return None
    items: list[Any] = []
    for item in value:
        if not isinstance(item, Mapping):
            return None
        fixed = dict(item)
        for key in ("name", "value"):
            part = fixed.get(key)
            if part is not None and not isinstance(part, str):
                text = _lossless_text(part)
                if text is None:
                    return None
                fixed[key] = text
        items.append(fixed)
    return items


#: Statuses of :func:`read_wire`: the value already had the declared type / an off-type value
#: converted without loss / an off-type value kept as received (no lossless conversion).
CLEAN: Final = 0
CONVERTED: Final = 1
KEPT: Final = 2

_NUMBER_TEXT: Final = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def _read_integer(value: Any) -> tuple[Any, int]:
    if type(value) is int:
        return (value, CLEAN) if _INT64[0] <= value <= _INT64[1] else (value, KEPT)
    number: int | None = None
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        number = int(value)
    elif isinstance(value, str):
        text = value.strip()
        if _INT_RE.fullmatch(text):
            number = int(text)
        elif _NUMBER_TEXT.fullmatch(text):
            exact = Decimal(text)
            if exact == exact.to_integral_value():
                number = int(exact)  # "12.0", "1e3"
    if number is not None and _INT64[0] <= number <= _INT64[1]:
        return number, CONVERTED
    return value, KEPT  # "m", 1.5, true: no integer says the same


def _read_number(value: Any) -> tuple[Any, int]:
    if type(value) is float:
        return value, CLEAN
    if type(value) is int:
        return (float(value), CLEAN) if float(value) == value else (value, KEPT)
    if isinstance(value, str) and _NUMBER_TEXT.fullmatch(value.strip()):
        text = value.strip()
        number = float(text)
        # lossless: the text names exactly the number its shortest repr names ("12.50" -> 12.5)
        if math.isfinite(number) and Decimal(text) == Decimal(repr(number)):
            return number, CONVERTED
    return value, KEPT


def _read_boolean(value: Any) -> tuple[Any, int]:
    if type(value) is bool:
        return value, CLEAN
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value in (0, 1):
        return bool(value), CONVERTED
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE, CONVERTED
    return value, KEPT


def _read_datetime(value: Any, as_date: bool) -> tuple[Any, int]:
    if not isinstance(value, str):
        return value, KEPT
    parsed = datetime_or_none(value)
    if parsed is None:
        return value, KEPT
    if not as_date:
        return parsed, CLEAN
    if parsed.timetz().replace(tzinfo=None) != datetime.min.time():
        return value, KEPT  # a time of day a date would drop
    return parsed.date(), CLEAN


def _read_string(value: Any) -> tuple[Any, int]:
    if type(value) is str:
        return value, CLEAN
    text = _lossless_text(value)
    return (text, CONVERTED) if text is not None else (value, KEPT)


def read_wire(kind: Kind, value: Any) -> tuple[Any, int]:
    """The one rule for reading a value Autotask sent for a field of ``kind``:
    ``(value, CLEAN | CONVERTED | KEPT)``.

    - a value of the declared type is CLEAN (datetime text is parsed: aware UTC; digits below the
      microsecond, which .NET can send and no Python, Arrow or database type holds, are cut, as
      Python's own ``fromisoformat`` cuts them: the one precision limit, not an off-type value);
    - ``""`` is no value for every non-text kind (``(None, CONVERTED)``);
    - an off-type value is CONVERTED when nothing is lost: text gets whole and finite numbers
      (``90210`` -> ``"90210"``); integers get integral floats and text (``1.0``, ``"5"``,
      ``"12.0"``) within 64 bits; numbers get numeric text whose float is exact (``"12.50"``);
      booleans get 0/1 and true/false/yes/no/on/off/t/f/y/n; a UDF list gets ``{}`` (no UDFs) and
      a single ``{"name", "value"}`` object;
    - anything else is KEPT as received (``"m"`` for an integer picklist, ``1.5`` for an integer,
      a boolean for a number, ``"N/A"`` for a datetime).
    """
    if kind != "string" and isinstance(value, str) and value.strip() == "":
        return None, CONVERTED
    if kind == "integer":
        return _read_integer(value)
    if kind == "number":
        return _read_number(value)
    if kind == "boolean":
        return _read_boolean(value)
    if kind in ("datetime", "date"):
        return _read_datetime(value, kind == "date")
    if kind == "udfs":
        if isinstance(value, list) and value == _udf_items(value):
            return value, CLEAN
        items = _udf_items(value)
        return (items, CONVERTED) if items is not None else (value, KEPT)
    if kind == "string":
        return _read_string(value)
    return value, KEPT


def from_wire(data_type: str, value: Any) -> tuple[Any, bool]:
    """:func:`read_wire` for a field ``dataType`` (or ``"udfs"``, a ``userDefinedFields`` list):
    ``(converted, True)`` when nothing is lost, else ``(value, False)`` (keep it as received)."""
    read, status = read_wire(value_kind(data_type), value)
    return (read, True) if status != KEPT else (value, False)


# --- picklists ------------------------------------------------------------------------------------


def _active(item: Mapping[str, Any]) -> bool:
    return bool(item.get("isActive", True))


def choices_text(values: Sequence[Mapping[str, Any]]) -> str:
    """``value (label), ...`` of picklist values, the first 25 and how many more."""
    shown = ", ".join(f"{v.get('value')} ({v.get('label')})" for v in values[:_MAX_CHOICES])
    more = len(values) - _MAX_CHOICES
    return shown + (f" and {more} more" if more > 0 else "")


def looks_like_label(data_type: str, value: Any) -> bool:
    """Whether ``value`` given for a picklist field is a label rather than a value: text, except
    whole-number text for an integer picklist."""
    if not isinstance(value, str):
        return False
    if value_kind(data_type) == "integer":
        return not _INT_RE.fullmatch(value.strip())
    return True


def _label_matches(
    text: str, values: Sequence[Mapping[str, Any]], parent_value: Any
) -> tuple[list[Mapping[str, Any]], list[Mapping[str, Any]]]:
    """The picklist values labelled ``text`` (any case), and the active ones among them (narrowed
    by ``parent_value`` when several match)."""
    wanted = text.strip().lower()
    matches = [v for v in values if str(v.get("label", "")).strip().lower() == wanted]
    active = [v for v in matches if _active(v)]
    if parent_value is not None and len(active) > 1:
        narrowed = [v for v in active if str(v.get("parentValue", "")) == str(parent_value)]
        active = narrowed or active
    return matches, active


def resolve_label(
    data_type: str,
    label: str,
    values: Sequence[Mapping[str, Any]] | None,
    *,
    parent_value: Any = None,
) -> tuple[Any, str | None]:
    """``(the tenant's value, None)`` for a picklist ``label`` (any case; a text picklist's exact
    value passes as is), or ``(label, problem)`` naming the choices. ``values`` is the field's
    ``picklistValues`` (``None``: the tenant's picklist could not be read). ``parent_value``
    narrows a dependent picklist (``subIssueType`` by its ``issueType``)."""
    if values is None:
        return label, (
            f"{label!r} looks like a picklist label but the tenant's picklist could not be "
            "read; pass the numeric value"
        )
    integer = value_kind(data_type) == "integer"
    text = label.strip()
    if not integer and any(str(v.get("value")) == text for v in values):
        return text, None
    matches, active = _label_matches(text, values, parent_value)
    if len(active) == 1:
        raw = str(active[0]["value"])
        return (int(raw) if integer and _INT_RE.fullmatch(raw) else raw), None
    if len(active) > 1:
        return label, (
            f"label {label!r} is ambiguous in the tenant's picklist: it matches "
            f"{choices_text(active)}; pass the value instead"
        )
    if matches:
        return label, (
            f"label {label!r} is inactive in the tenant's picklist ({choices_text(matches)}); "
            "choose an active value"
        )
    live = [v for v in values if _active(v)]
    return label, f"unknown label {label!r}; the tenant's choices are: {choices_text(live)}"


def picklist_problem(value: Any, values: Sequence[Mapping[str, Any]] | None) -> str | None:
    """The problem with a picklist ``value`` that is not an active value of the tenant's
    ``picklistValues`` (``None`` or empty: cannot be checked, no problem)."""
    if not values:
        return None
    found = [v for v in values if str(v.get("value")) == str(value)]
    if not found:
        live = [v for v in values if _active(v)]
        return (
            f"value {value!r} is not in the tenant's picklist; choose one of: {choices_text(live)}"
        )
    if not _active(found[0]):
        return f"value {value!r} ({found[0].get('label')}) is inactive in the tenant's picklist"
    return None


def resolve_udf_choice(
    text: str, values: Sequence[Mapping[str, Any]], *, labels: bool = True
) -> tuple[Any, str | None]:
    """The value of a picklist UDF (UDF values are text): an active value of the tenant's
    ``picklistValues`` as is, or with ``labels`` its label (any case) resolved; else a problem
    naming the choices."""
    if any(str(v.get("value")) == text for v in values):
        return text, picklist_problem(text, values)
    if labels and _label_matches(text, values, None)[0]:
        return resolve_label("string", text, values)
    live = [v for v in values if _active(v)]
    return (
        text,
        f"{text!r} is not a value of this picklist UDF; choose one of: {choices_text(live)}",
    )
