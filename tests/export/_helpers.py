"""What the simulator holds, read independently of the exporter, and readers for every format.

Expected rows are read with plain httpx (``POST {Entity}/query`` following ``nextPageUrl``) and
normalised per column kind; written files are read back with each format's own reader and normalised
the same way, so a comparison checks ids, values, types and nulls.

Every reader streams (a block, batch, line or row at a time); ``read_*`` collect a small export
into ``{id: row}``. A big export is compared without holding either side: the expected rows as one
digest per id (:func:`expected_digests`), the written rows streamed past them
(:func:`assert_rows_match`), so a 50,000-ticket comparison needs megabytes, not gigabytes.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import sqlite3
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
import orjson

from tests._digest import row_digest

UTC = dt.timezone.utc

Row = dict[str, Any]
RowsOf = Callable[[str], Iterator[Row]]


def raw_pages(
    sim: Any, entity: str, flt: list[dict[str, Any]] | None = None
) -> Iterator[list[dict[str, Any]]]:
    """The pages of ``entity`` as the API returns them (ascending id), one at a time."""
    body = {"filter": flt or [{"op": "gte", "field": "id", "value": 0}], "MaxRecords": 500}
    with httpx.Client(headers=sim.headers, timeout=60) as http:
        url: str | None = sim.url + f"{entity}/query"
        while url:
            r = http.post(url, json=body)
            r.raise_for_status()
            data = r.json()
            yield data["items"]
            url = data["pageDetails"]["nextPageUrl"]


def raw_rows(
    sim: Any, entity: str, flt: list[dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """Every row of ``entity`` as the API returns it (ascending id)."""
    return [item for page in raw_pages(sim, entity, flt) for item in page]


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


class _Expected:
    """Turns API items into ``{column: value}`` rows for the manifest's column list (names,
    sources, kinds from metadata; UDF values by name; label columns from picklist metadata)."""

    def __init__(self, sim: Any, entity: str, columns: list[Mapping[str, Any]]) -> None:
        fields = {f["name"]: f for f in metadata(sim, entity, "fields")}
        udfs = {u["name"]: u for u in metadata(sim, entity, "userDefinedFields")}
        # (name, source, udf, kind, labels of a label column or None)
        self.columns: list[tuple[str, str, bool, str, dict[str, Any] | None]] = []
        for col in columns:
            labels = None
            if col["label_of"]:
                meta = (udfs if col["udf"] else fields).get(col["source"]) or {}
                labels = {str(p["value"]): p["label"] for p in meta.get("picklistValues") or []}
            kind = kind_of_type(col["type"])
            self.columns.append((col["name"], col["source"], col["udf"], kind, labels))

    def row(self, item: Mapping[str, Any]) -> Row:
        udf_values = {u["name"]: u["value"] for u in item.get("userDefinedFields") or []}
        row: Row = {}
        for name, source, udf, kind, labels in self.columns:
            raw = udf_values.get(source) if udf else item.get(source)
            if labels is not None:
                row[name] = None if raw is None else labels.get(str(raw))
            else:
                row[name] = norm(raw, kind)
        return row


def expected_rows(
    sim: Any, entity: str, columns: list[Mapping[str, Any]], ids: Iterable[int] | None = None
) -> dict[int, Row]:
    """``{id: {column: value}}`` from the simulator, for the manifest's column list (see
    :class:`_Expected`)."""
    wanted = set(ids) if ids is not None else None
    make = _Expected(sim, entity, columns)
    out: dict[int, Row] = {}
    for page in raw_pages(sim, entity):
        for item in page:
            if wanted is None or item["id"] in wanted:
                out[item["id"]] = make.row(item)
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


# --- comparing big exports: one digest per expected row, written rows streamed past them ----------


def round_ms(row: Mapping[str, Any]) -> Row:
    """``row`` with datetimes rounded to the millisecond (what Excel keeps)."""

    def r(v: Any) -> Any:
        if isinstance(v, dt.datetime):
            return v.replace(microsecond=round(v.microsecond / 1000) * 1000 % 1_000_000)
        return v

    return {k: r(v) for k, v in row.items()}


@dataclass
class ExpectedRows:
    """What the simulator holds for one entity of an export, as a digest per id (exact and at
    millisecond precision); :meth:`row` reads one full expected row again for a failure's diff."""

    sim: Any
    entity: str
    columns: list[Mapping[str, Any]]
    exact: dict[int, bytes] = field(default_factory=dict)
    ms: dict[int, bytes] = field(default_factory=dict)

    def row(self, item_id: int, *, ms: bool = False) -> Row | None:
        flt = [{"op": "eq", "field": "id", "value": item_id}]
        items = raw_rows(self.sim, self.entity, flt)
        if not items:
            return None
        row = _Expected(self.sim, self.entity, self.columns).row(items[0])
        return round_ms(row) if ms else row


def expected_digests(
    sim: Any,
    entity: str,
    columns: list[Mapping[str, Any]],
    ids: Iterable[int] | None = None,
    *,
    seen: Callable[[Mapping[str, Any]], None] | None = None,
) -> ExpectedRows:
    """:class:`ExpectedRows` of ``entity`` (only ``ids`` when given), read page by page;
    ``seen`` is shown every item as the API returned it."""
    wanted = set(ids) if ids is not None else None
    make = _Expected(sim, entity, columns)
    out = ExpectedRows(sim, entity, columns)
    for page in raw_pages(sim, entity):
        for item in page:
            if seen is not None:
                seen(item)
            if wanted is None or item["id"] in wanted:
                row = make.row(item)
                out.exact[item["id"]] = row_digest(row)
                out.ms[item["id"]] = row_digest(round_ms(row))
    return out


def assert_rows_match(rows: Iterable[Row], expected: ExpectedRows, *, ms: bool = False) -> int:
    """Every row of ``rows`` equals the expected row of its id, each id once, and no expected id
    is missing (compared at millisecond precision with ``ms``). Returns the rows compared."""
    want = expected.ms if ms else expected.exact
    seen: set[int] = set()
    for row in rows:
        i = row["id"]
        assert i not in seen, f"{expected.entity} id {i} is written twice"
        seen.add(i)
        got = round_ms(row) if ms else row
        if want.get(i) != row_digest(got):
            full = expected.row(i, ms=ms)
            if full is None:
                raise AssertionError(f"{expected.entity} id {i} is not in the simulator")
            diff = {k: (got.get(k), v) for k, v in full.items() if got.get(k) != v}
            raise AssertionError(f"{expected.entity} id {i} differs (got, want): {diff}")
    missing = sorted(set(want) - seen)
    assert not missing, f"{expected.entity}: {len(missing)} rows missing, ids {missing[:10]}"
    return len(seen)


# --- readers: rows normalised by the manifest's kinds, streamed -----------------------------------


def _normalised(
    rows: Iterable[Mapping[str, Any]], columns: list[Mapping[str, Any]], *, csv: bool = False
) -> Iterator[Row]:
    kinds = [(c["name"], kind_of_type(c["type"])) for c in columns]
    for r in rows:
        row = {}
        for name, kind in kinds:
            v = r[name]
            if csv:
                v = unneutralize(v)
            row[name] = norm(v, kind)
        yield row


def _by_id(rows: Iterable[Row]) -> dict[int, Row]:
    return {row["id"]: row for row in rows}


def iter_csv(source: IO[bytes], columns: list[Mapping[str, Any]]) -> Iterator[Row]:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    types = {c["name"]: pa.string() for c in columns}
    reader = pacsv.open_csv(
        source,
        convert_options=pacsv.ConvertOptions(
            column_types=types, strings_can_be_null=True, quoted_strings_can_be_null=False
        ),
        parse_options=pacsv.ParseOptions(newlines_in_values=True),
    )
    assert reader.schema.names == [c["name"] for c in columns]
    for batch in reader:
        yield from _normalised(batch.to_pylist(), columns, csv=True)


def _checked_keys(rows: Iterable[Any], columns: list[Mapping[str, Any]]) -> Iterator[Any]:
    names = [c["name"] for c in columns]
    for r in rows:
        assert list(r) == names
        yield r


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _json_array_items(source: IO[bytes], chunk: int = 1 << 20) -> Iterator[Any]:
    """The items of the JSON array in ``source``, parsed one at a time (strict JSON: no NaN or
    Infinity, no control characters in strings, nothing after the array)."""
    decoder = json.JSONDecoder(parse_constant=_reject_constant)
    stream = io.TextIOWrapper(source, encoding="utf-8")
    buf, pos, eof = "", 0, False

    def fill() -> bool:
        nonlocal buf, pos, eof
        more = stream.read(chunk)
        eof = not more
        buf, pos = buf[pos:] + more, 0
        return bool(more)

    def skip_ws() -> None:
        nonlocal pos
        while True:
            while pos < len(buf) and buf[pos] in " \t\r\n":
                pos += 1
            if pos < len(buf) or not fill():
                return

    skip_ws()
    assert buf[pos : pos + 1] == "[", "not a JSON array"
    pos += 1
    first = True
    while True:
        skip_ws()
        assert pos < len(buf), "the JSON array is not closed"
        if buf[pos] == "]":
            pos += 1
            break
        if not first:
            assert buf[pos] == ",", f"expected ',' in the JSON array, got {buf[pos : pos + 20]!r}"
            pos += 1
            skip_ws()
        first = False
        while True:
            try:
                item, end = decoder.raw_decode(buf, pos)
            except json.JSONDecodeError:
                if eof or not fill():
                    raise
                continue
            # a number that reaches the end of the buffer may go on in the next chunk
            if not eof and not buf[end:].strip("0123456789+-.eE") and fill():
                continue
            break
        pos = end
        yield item
    skip_ws()
    assert pos == len(buf) and eof, "text after the JSON array"


def iter_json(source: IO[bytes], columns: list[Mapping[str, Any]]) -> Iterator[Row]:
    yield from _normalised(_checked_keys(_json_array_items(source), columns), columns)


def iter_jsonl(source: IO[bytes], columns: list[Mapping[str, Any]]) -> Iterator[Row]:
    lines = (orjson.loads(line) for line in source if line.strip())
    yield from _normalised(_checked_keys(lines, columns), columns)


def iter_parquet(source: IO[bytes], columns: list[Mapping[str, Any]]) -> Iterator[Row]:
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(source)
    assert [str(f.type) for f in pf.schema_arrow] == [c["type"] for c in columns]
    for batch in pf.iter_batches(batch_size=2000):
        yield from _normalised(batch.to_pylist(), columns)


ITER_READERS: dict[str, Callable[[IO[bytes], list[Mapping[str, Any]]], Iterator[Row]]] = {
    "csv": iter_csv,
    "json": iter_json,
    "jsonl": iter_jsonl,
    "parquet": iter_parquet,
}


def _collect(
    reader: Callable[[IO[bytes], list[Mapping[str, Any]]], Iterator[Row]],
) -> Callable[[bytes, list[Mapping[str, Any]]], dict[int, Row]]:
    return lambda data, columns: _by_id(reader(io.BytesIO(data), columns))


read_csv = _collect(iter_csv)
read_json = _collect(iter_json)
read_jsonl = _collect(iter_jsonl)
read_parquet = _collect(iter_parquet)

FILE_READERS = {"csv": read_csv, "json": read_json, "jsonl": read_jsonl, "parquet": read_parquet}


@contextlib.contextmanager
def export_files(path: Path, fmt: str) -> Iterator[tuple[dict[str, Any], RowsOf]]:
    """``(manifest, rows)`` of a folder or zip export; ``rows(entity)`` streams its file."""
    with contextlib.ExitStack() as stack:
        opener: Callable[[str], IO[bytes]]
        if zipfile.is_zipfile(path):
            zf = stack.enter_context(zipfile.ZipFile(path))
            opener = zf.open
        else:
            opener = lambda name: open(path / name, "rb")  # noqa: E731, SIM115
        with opener("manifest.json") as f:
            manifest = json.loads(f.read())

        def rows(entity: str) -> Iterator[Row]:
            info = manifest["entities"][entity]
            with opener(info["location"]) as f:
                yield from ITER_READERS[fmt](f, info["columns"])

        yield manifest, rows


def read_files(path: Path, fmt: str) -> tuple[dict[str, Any], dict[str, dict[int, Row]]]:
    """``(manifest, {entity: rows})`` of a folder or zip export."""
    with export_files(path, fmt) as (manifest, rows):
        return manifest, {entity: _by_id(rows(entity)) for entity in manifest["entities"]}


@contextlib.contextmanager
def excel_rows(path: Path, manifest: dict[str, Any]) -> Iterator[RowsOf]:
    """``rows(entity)`` streams the entity's sheet(s) of the workbook."""
    from openpyxl import load_workbook

    wb = load_workbook(path, read_only=True)

    def rows(entity: str) -> Iterator[Row]:
        info = manifest["entities"][entity]
        columns = info["columns"]

        def cells() -> Iterator[dict[str, Any]]:
            for title in info["location"].split(", "):
                it = wb[title].iter_rows(values_only=True)
                header = list(next(it))
                assert header == [c["name"] for c in columns]
                # read-only openpyxl trims trailing empty cells of a row
                for r in it:
                    yield dict(zip(header, (*r, *[None] * (len(header) - len(r))), strict=True))

        yield from _normalised(cells(), columns)

    try:
        yield rows
    finally:
        wb.close()


def read_excel(path: Path, manifest: dict[str, Any]) -> dict[str, dict[int, Row]]:
    with excel_rows(path, manifest) as rows:
        return {entity: _by_id(rows(entity)) for entity in manifest["entities"]}


@contextlib.contextmanager
def sql_rows(kind: str, target: Any, manifest: dict[str, Any]) -> Iterator[RowsOf]:
    """``rows(entity)`` streams the entity's table (ascending id) from SQLite, DuckDB or
    PostgreSQL."""
    if kind == "sqlite":
        conn: Any = sqlite3.connect(target)
    elif kind == "duckdb":
        import duckdb

        conn = duckdb.connect(str(target), read_only=True)
    else:
        import psycopg

        conn = psycopg.connect(target)

    def rows(entity: str) -> Iterator[Row]:
        info = manifest["entities"][entity]
        columns = info["columns"]
        names = [c["name"] for c in columns]
        quoted = ", ".join('"' + n + '"' for n in names)
        sql = f'SELECT {quoted} FROM "{info["location"]}" ORDER BY "id"'
        with contextlib.ExitStack() as stack:
            if kind in ("sqlite", "duckdb"):
                cur = conn.execute(sql)
            else:  # a server-side cursor: rows come as they are fetched, not all at once
                cur = stack.enter_context(conn.cursor(name="rows"))
                cur.execute(sql)

            def fetched() -> Iterator[dict[str, Any]]:
                while batch := cur.fetchmany(2000):
                    for r in batch:
                        yield dict(zip(names, r, strict=True))

            yield from _normalised(fetched(), columns)

    try:
        yield rows
    finally:
        conn.close()


def read_sql(kind: str, target: Any, manifest: dict[str, Any]) -> dict[str, dict[int, Row]]:
    with sql_rows(kind, target, manifest) as rows:
        return {entity: _by_id(rows(entity)) for entity in manifest["entities"]}
