"""Writing data to stdout: ``-o table|json|jsonl|csv``."""

from __future__ import annotations

import csv
import enum
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import IO, Any

__all__ = ["OutputFormat", "cell", "write_records"]


class OutputFormat(str, enum.Enum):
    table = "table"
    json = "json"
    jsonl = "jsonl"
    csv = "csv"


def cell(value: Any) -> str:
    """A value as text for tables and CSV (lists/dicts as compact JSON, None as empty)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return json.dumps(value, separators=(",", ":"), sort_keys=True, default=str)
    return str(value)


def _columns(records: Sequence[Mapping[str, Any]], fields: Sequence[str] | None) -> list[str]:
    if fields:
        return list(fields)
    cols: list[str] = []
    seen: set[str] = set()
    for rec in records:
        for key in rec:
            if key not in seen:
                seen.add(key)
                cols.append(key)
    if "id" in seen:
        cols.remove("id")
        cols.insert(0, "id")
    return cols


def write_records(
    records: Iterable[Mapping[str, Any]],
    fmt: OutputFormat | str,
    *,
    fields: Sequence[str] | None = None,
    title: str | None = None,
    out: IO[str] | None = None,
    max_table_columns: int = 12,
) -> int:
    """Write records; returns how many were written. ``table`` shows at most
    ``max_table_columns`` columns unless ``fields`` names them."""
    stream = out or sys.stdout
    fmt = OutputFormat(fmt)
    if fmt is OutputFormat.jsonl:
        n = 0
        for rec in records:
            if fields:
                rec = {f: _get(rec, f) for f in fields}
            stream.write(json.dumps(rec, default=str, ensure_ascii=False) + "\n")
            n += 1
        stream.flush()
        return n
    items = list(records)
    if fields:
        items = [{f: _get(rec, f) for f in fields} for rec in items]
    if fmt is OutputFormat.json:
        stream.write(json.dumps(items, default=str, ensure_ascii=False, indent=2) + "\n")
        stream.flush()
        return len(items)
    cols = _columns(items, fields)
    if fmt is OutputFormat.csv:
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(cols)
        for rec in items:
            writer.writerow([cell(rec.get(c)) for c in cols])
        stream.flush()
        return len(items)
    from rich.console import Console
    from rich.table import Table

    shown = cols if fields else cols[:max_table_columns]
    table = Table(title=title, show_lines=False)
    for c in shown:
        table.add_column(c, overflow="fold")
    for rec in items:
        table.add_row(*[cell(rec.get(c)) for c in shown])
    probe = Console(file=stream)
    console = Console(file=stream, width=probe.width if probe.is_terminal else 200)
    console.print(table)
    if len(shown) < len(cols):
        console.print(
            f"[dim]{len(cols) - len(shown)} more columns; choose with --fields or use -o json[/dim]"
        )
    return len(items)


def _get(rec: Mapping[str, Any], name: str) -> Any:
    if name in rec:
        return rec[name]
    low = name.lower()
    for key, value in rec.items():
        if key.lower() == low:
            return value
    if low.startswith("udf."):
        udf = low[4:].strip('"')
        for entry in rec.get("userDefinedFields") or []:
            if isinstance(entry, Mapping) and str(entry.get("name", "")).lower() == udf:
                return entry.get("value")
    return None
