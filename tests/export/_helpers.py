"""What the simulator holds, read independently of the exporter, and readers for every format.

Expected rows are read with plain httpx (``POST {Entity}/query`` following ``nextPageUrl``) and
normalised per column kind; written files are read back with each format's own reader and normalised
the same way, so a comparison checks ids, values, types and nulls.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import sqlite3
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import httpx
import orjson

UTC = dt.timezone.utc


def raw_rows(
    sim: Any, entity: str, flt: list[dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """Every row of ``entity`` as the API returns it (ascending id)."""
    body = {"filter": flt or [{"op": "gte", "field": "id", "value": 0}], "MaxRecords": 500}
    out: list[dict[str, Any]] = []
    with httpx.Client(headers=sim.headers, timeout=60) as http:
        url: str | None = sim.url + f"{entity}/query"
        while url:
            r = http.post(url, json=body)
            r.raise_for_status()
            data = r.json()
            out.extend(data["items"])
            url = data["pageDetails"]["nextPageUrl"]
    return out


def metadata(sim: Any, entity: str, what: str) -> list[dict[str, Any]]:
    with httpx.Client(headers=sim.headers, timeout=60) as http:
        r = http.get(sim.url + f"{entity}/entityInformation/{what}")
        r.raise_for_status()
        fields: list[dict[str, Any]] = r.json()["fields"]
        return fields


def parse_dt(value: Any) -> dt.datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        d = value
    else:
        text = str(value).strip().replace(" ", "T")
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        d = dt.datetime.fromisoformat(text)
    return d.replace(tzinfo=UTC) if d.tzinfo is None else d.astimezone(UTC)


def norm(value: Any, kind: str) -> Any:
    """Canonical Python value of ``value`` for a column kind."""
    if value is None:
        return None
    if kind == "int":
        return int(value)
    if kind == "float":
        return float(value)
    if kind == "bool":
        if isinstance(value, str):
            return {"true": True, "false": False, "1": True, "0": False}[value.lower()]
        return bool(value)
    if kind == "datetime":
        return parse_dt(value)
    if kind == "date":
        return dt.date.fromisoformat(str(value)[:10])
    return value if isinstance(value, str) else str(value)


def expected_rows(
    sim: Any, entity: str, columns: list[Mapping[str, Any]], ids: Iterable[int] | None = None
) -> dict[int, dict[str, Any]]:
    """``{id: {column: value}}`` from the simulator, for the manifest's column list (names,
    sources, kinds from metadata; UDF values by name; label columns from picklist metadata)."""
    rows = raw_rows(sim, entity)
    wanted = set(ids) if ids is not None else None
    fields = {f["name"]: f for f in metadata(sim, entity, "fields")}
    udfs = {u["name"]: u for u in metadata(sim, entity, "userDefinedFields")}
    out: dict[int, dict[str, Any]] = {}
    for item in rows:
        if wanted is not None and item["id"] not in wanted:
            continue
        udf_values = {u["name"]: u["value"] for u in item.get("userDefinedFields") or []}
        row: dict[str, Any] = {}
        for col in columns:
            kind = kind_of_type(col["type"])
            source = col["source"]
            if col["label_of"]:
                raw = udf_values.get(source) if col["udf"] else item.get(source)
                meta = udfs.get(source) if col["udf"] else fields.get(source)
                labels = {
                    str(p["value"]): p["label"] for p in (meta or {}).get("picklistValues") or []
                }
                row[col["name"]] = None if raw is None else labels.get(str(raw))
            elif col["udf"]:
                row[col["name"]] = norm(udf_values.get(source), kind)
            else:
                row[col["name"]] = norm(item.get(source), kind)
        out[item["id"]] = row
    return out


def kind_of_type(arrow_type: str) -> str:
    if arrow_type == "int64":
        return "int"
    if arrow_type == "double":
        return "float"
    if arrow_type == "bool":
        return "bool"
    if arrow_type.startswith("timestamp"):
        return "datetime"
    if arrow_type.startswith("date32"):
        return "date"
    return "string"


def unneutralize(value: Any) -> Any:
    if (
        isinstance(value, str)
        and value[:1] == "'"
        and value[1:2] in ("=", "+", "-", "@", "\t", "\r")
    ):
        return value[1:]
    return value


# --- readers: {id: {column: value}} normalised by the manifest's kinds ------------------------------


def _by_id(
    rows: Iterable[Mapping[str, Any]], columns: list[Mapping[str, Any]], *, csv: bool = False
) -> dict[int, dict[str, Any]]:
    out: dict[int, dict[str, Any]] = {}
    for r in rows:
        row = {}
        for c in columns:
            v = r[c["name"]]
            if csv:
                v = unneutralize(v)
            row[c["name"]] = norm(v, kind_of_type(c["type"]))
        out[row["id"]] = row
    return out


def read_csv(data: bytes, columns: list[Mapping[str, Any]]) -> dict[int, dict[str, Any]]:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    types = {c["name"]: pa.string() for c in columns}
    table = pacsv.read_csv(
        io.BytesIO(data),
        convert_options=pacsv.ConvertOptions(
            column_types=types, strings_can_be_null=True, quoted_strings_can_be_null=False
        ),
        parse_options=pacsv.ParseOptions(newlines_in_values=True),
    )
    assert table.column_names == [c["name"] for c in columns]
    return _by_id(table.to_pylist(), columns, csv=True)


def read_json(data: bytes, columns: list[Mapping[str, Any]]) -> dict[int, dict[str, Any]]:
    rows = orjson.loads(data)
    assert all(list(r) == [c["name"] for c in columns] for r in rows)
    return _by_id(rows, columns)


def read_jsonl(data: bytes, columns: list[Mapping[str, Any]]) -> dict[int, dict[str, Any]]:
    return read_json(b"[" + b",".join(line for line in data.splitlines() if line) + b"]", columns)


def read_parquet(data: bytes, columns: list[Mapping[str, Any]]) -> dict[int, dict[str, Any]]:
    import pyarrow.parquet as pq

    table = pq.read_table(io.BytesIO(data))
    assert [str(f.type) for f in table.schema] == [c["type"] for c in columns]
    return _by_id(table.to_pylist(), columns)


FILE_READERS = {"csv": read_csv, "json": read_json, "jsonl": read_jsonl, "parquet": read_parquet}


def read_files(path: Path, fmt: str) -> tuple[dict[str, Any], dict[str, dict[int, dict[str, Any]]]]:
    """``(manifest, {entity: rows})`` of a folder or zip export."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            files = {n: zf.read(n) for n in zf.namelist()}
    else:
        files = {p.name: p.read_bytes() for p in path.iterdir()}
    manifest = json.loads(files["manifest.json"])
    out = {}
    for entity, info in manifest["entities"].items():
        out[entity] = FILE_READERS[fmt](files[info["location"]], info["columns"])
    return manifest, out


def read_excel(path: Path, manifest: dict[str, Any]) -> dict[str, dict[int, dict[str, Any]]]:
    from openpyxl import load_workbook

    wb = load_workbook(path, read_only=True)
    out = {}
    for entity, info in manifest["entities"].items():
        columns = info["columns"]
        rows: list[dict[str, Any]] = []
        for title in info["location"].split(", "):
            it = wb[title].iter_rows(values_only=True)
            header = list(next(it))
            assert header == [c["name"] for c in columns]
            # read-only openpyxl trims trailing empty cells of a row
            rows.extend(
                dict(zip(header, (*r, *[None] * (len(header) - len(r))), strict=True)) for r in it
            )
        out[entity] = _by_id(rows, columns)
    wb.close()
    return out


def read_sql(
    kind: str, target: Any, manifest: dict[str, Any]
) -> dict[str, dict[int, dict[str, Any]]]:
    out = {}
    if kind == "sqlite":
        conn: Any = sqlite3.connect(target)
    elif kind == "duckdb":
        import duckdb

        conn = duckdb.connect(str(target), read_only=True)
    else:
        import psycopg

        conn = psycopg.connect(target)
    try:
        for entity, info in manifest["entities"].items():
            columns = info["columns"]
            names = ", ".join('"' + c["name"] + '"' for c in columns)
            cur = conn.execute(f'SELECT {names} FROM "{info["location"]}" ORDER BY "id"')
            rows = [dict(zip([c["name"] for c in columns], r, strict=True)) for r in cur.fetchall()]
            out[entity] = _by_id(rows, columns)
    finally:
        conn.close()
    return out
