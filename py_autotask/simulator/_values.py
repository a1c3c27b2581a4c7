"""Value conversions shared by the query engine, the store and the write validators."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

__all__ = ["ascii_lower", "column_datetime", "format_datetime", "parse_datetime"]

_DT_RE = re.compile(
    r"^\s*(\d{4})-(\d{1,2})-(\d{1,2})"
    r"(?:[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,7}))?)?)?"
    r"\s*(Z|[+-]\d{2}:?\d{2})?\s*$",
    re.IGNORECASE,
)

_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def ascii_lower(text: str) -> str:
    """Lower-case ASCII letters only (SQLite NOCASE semantics)."""
    return text.translate(_ASCII_LOWER)


def parse_datetime(text: str) -> datetime | None:
    """Parse the date forms Autotask accepts; returns naive UTC or None when unparseable."""
    m = _DT_RE.match(text)
    if m is None:
        return None
    year, month, day, hh, mm, ss, frac, tz = m.groups()
    try:
        micro = int((frac or "0")[:6].ljust(6, "0"))
        value = datetime(
            int(year), int(month), int(day), int(hh or 0), int(mm or 0), int(ss or 0), micro
        )
    except ValueError:
        return None
    if tz and tz.upper() != "Z":
        sign = 1 if tz[0] == "+" else -1
        digits = tz[1:].replace(":", "")
        offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        value = value - sign * offset
    return value


def format_datetime(value: datetime) -> str:
    """Autotask wire format: UTC, no offset, up to millisecond precision, trailing zeros dropped."""
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc).replace(tzinfo=None)
    base = value.strftime("%Y-%m-%dT%H:%M:%S")
    ms = value.microsecond // 1000
    if ms:
        return base + ("." + f"{ms:03d}").rstrip("0")
    return base


def column_datetime(value: datetime) -> str:
    """Sortable text form stored in SQLite columns and used for comparisons."""
    return value.strftime("%Y-%m-%dT%H:%M:%S.%f")
