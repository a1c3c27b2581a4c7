"""Text forms of values shared by the query engine, the store and the write validators (datetimes
are parsed by the one parser, :func:`py_autotask._values.parse_datetime`)."""

from __future__ import annotations

from datetime import datetime, timezone

__all__ = ["ascii_lower", "column_datetime", "format_datetime"]

_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def ascii_lower(text: str) -> str:
    """Lower-case ASCII letters only (SQLite NOCASE semantics)."""
    return text.translate(_ASCII_LOWER)


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
