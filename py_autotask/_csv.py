"""The one CSV convention of py-autotask: null and the empty string stay apart.

Every CSV the project writes (``export`` files, the CLI's ``-o csv``, a bulk job's failures CSV)
and every CSV ``bulk`` reads follows PostgreSQL's ``COPY ... CSV`` rule, which pyarrow reads the
same way with ``strings_can_be_null=True, quoted_strings_can_be_null=False``:

- **null** (no value) is an empty, *unquoted* field: ``1,,3``;
- **text** is always quoted, so the empty string is ``""``: ``1,"",3``; a ``"`` inside text is
  doubled;
- numbers are unquoted (``42``, ``12.5``), booleans are ``true`` / ``false``, datetimes are
  ISO 8601 UTC text with ``Z`` (quoted, as text);
- a header row of quoted names, ``,`` between fields, UTF-8; the export ends lines with ``\\n``.

A spreadsheet shows both null and ``""`` as an empty cell and saves both as an empty unquoted
field (which then reads as null); a program reading the file (pyarrow, PostgreSQL ``COPY``,
``bulk``) keeps them apart. Python's :mod:`csv` module reads both as ``""``, hence
:func:`read_records` here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any

__all__ = ["CsvSyntaxError", "csv_field", "csv_line", "read_records"]


class CsvSyntaxError(ValueError):
    """The text is not CSV (a quoted field is never closed); ``line`` is where that field began."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.line = line


def csv_field(value: Any) -> str:
    """One value as a CSV field (see the module): ``None`` -> nothing, text -> quoted, numbers
    and booleans bare, lists and dicts as their compact JSON text, datetimes as ISO text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, Decimal)):
        return str(value)
    text: str
    if isinstance(value, (list, dict)):
        text = json.dumps(value, separators=(",", ":"), sort_keys=True, default=str)
    elif isinstance(value, (datetime, date)):
        text = value.isoformat()
    else:
        text = str(value)
    return '"' + text.replace('"', '""') + '"'


def csv_line(values: Iterable[Any]) -> str:
    """A record of :func:`csv_field` values, ending in ``\\n``."""
    return ",".join(csv_field(v) for v in values) + "\n"


def read_records(text: str, delimiter: str = ",") -> Iterator[tuple[int, list[str | None]]]:
    """``(line, cells)`` per record of ``text`` (``line``: 1-based, where the record starts):
    an empty unquoted field is ``None``, a quoted one its text (``""`` -> ``""``). Quoted fields
    may hold delimiters, doubled quotes and line breaks; a quote inside an unquoted field is
    kept as it is (as :mod:`csv` does). A blank line is a record of one ``None``. Raises
    :class:`CsvSyntaxError` for a quoted field that is never closed."""
    if len(delimiter) != 1 or delimiter in '"\r\n':
        raise ValueError(f"unusable CSV delimiter {delimiter!r}")
    bare = re.compile(f"[^{re.escape(delimiter)}\r\n]*")
    quoted = re.compile(r'"((?:[^"]|"")*)"')
    pos, line, end = 0, 1, len(text)
    while pos < end:
        newline = text.find("\n", pos)
        stop = end if newline < 0 else newline
        chunk = text[pos:stop]
        if chunk.endswith("\r"):
            chunk = chunk[:-1]
        if '"' not in chunk and "\r" not in chunk:
            # the common record: one line, no quotes
            yield line, [cell or None for cell in chunk.split(delimiter)]
            pos, line = stop + 1, line + 1
            continue
        start_line = line
        cells: list[str | None] = []
        while True:
            if pos < end and text[pos] == '"':
                m = quoted.match(text, pos)
                if m is None:
                    raise CsvSyntaxError(
                        f'line {line}: a quoted field is never closed (a missing " ?)', line
                    )
                value = m.group(1).replace('""', '"')
                line += m.group(0).count("\n")
                pos = m.end()
                rest = bare.match(text, pos)
                assert rest is not None
                value += rest.group(0)  # text after the closing quote, kept as csv does
                pos = rest.end()
                cells.append(value)
            else:
                m = bare.match(text, pos)
                assert m is not None
                cells.append(m.group(0) or None)
                pos = m.end()
            if pos < end and text[pos] == delimiter:
                pos += 1
                continue
            break
        if text.startswith("\r\n", pos):
            pos += 2
        elif pos < end:  # "\n" or "\r"
            pos += 1
        line += 1
        yield start_line, cells
