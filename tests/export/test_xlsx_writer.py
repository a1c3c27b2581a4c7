"""The streaming .xlsx writer (``_xlsx`` behind ``ExcelBook``/``write_excel``): real workbooks
written and read back with openpyxl (read-only and normal mode) and pandas; values, types and
nulls of every column kind, hostile and long text, formula neutralisation, sheet splits, many
batches, bounded memory, and the package's parts. A differential test checks that openpyxl reads
the same values from this writer's file as from one openpyxl itself wrote the old way."""

from __future__ import annotations

import datetime as dt
import random
import re
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from py_autotask.export import _writers, _xlsx
from py_autotask.export._columns import Column, arrow_schema

openpyxl = pytest.importorskip("openpyxl")
from openpyxl.utils.datetime import from_excel, to_excel  # noqa: E402

UTC = dt.timezone.utc
KINDS = ["int", "float", "bool", "datetime", "date", "string"]
COLUMNS = [Column(f"c_{k}", f"c_{k}", k) for k in KINDS]
NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}


def _batches(
    columns: Sequence[Column], rows: Sequence[dict[str, Any]], size: int = 500
) -> list[pa.RecordBatch]:
    schema = arrow_schema(columns)
    return [
        pa.RecordBatch.from_pylist(list(rows[i : i + size]), schema=schema)
        for i in range(0, len(rows), size)
    ]


def _write(
    path: Path,
    columns: Sequence[Column],
    rows: Sequence[dict[str, Any]],
    *,
    neutralize: bool = True,
    name: str = "Tickets",
    size: int = 500,
) -> tuple[int, list[str], list[str]]:
    sheets, warnings = _writers.write_excel(
        path, [(name, columns, _batches(columns, rows, size))], neutralize=neutralize
    )
    rows_written, titles = sheets[name]
    return rows_written, titles, warnings


def _read(path: Path, title: str, *, read_only: bool = True) -> list[tuple[Any, ...]]:
    wb = openpyxl.load_workbook(path, read_only=read_only)
    try:
        width = None
        out = []
        for row in wb[title].iter_rows(values_only=True):
            width = width or len(row)
            out.append((*row, *[None] * (width - len(row))))  # read-only trims trailing blanks
        return out
    finally:
        wb.close()


def _sheet_xml(path: Path, index: int = 1) -> str:
    with zipfile.ZipFile(path) as zf:
        return zf.read(f"xl/worksheets/sheet{index}.xml").decode()


# -- values of every kind ------------------------------------------------------------------------

VALUES: list[dict[str, Any]] = [
    {
        "c_int": 1,
        "c_float": 0.1,
        "c_bool": True,
        "c_datetime": dt.datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=UTC),
        "c_date": dt.date(2024, 2, 29),
        "c_string": "plain",
    },
    {
        "c_int": 2**63 - 1,
        "c_float": 1e-300,
        "c_bool": False,
        "c_datetime": dt.datetime(1900, 3, 1, tzinfo=UTC),
        "c_date": dt.date(1900, 3, 1),
        "c_string": " padded\t",
    },
    {
        "c_int": -(2**63),
        "c_float": 1.7976931348623157e308,
        "c_bool": None,
        "c_datetime": dt.datetime(1900, 2, 28, 23, 59, 59, 999000, tzinfo=UTC),
        "c_date": dt.date(1900, 2, 28),
        "c_string": None,
    },
    {
        "c_int": None,
        "c_float": 5e-324,
        "c_bool": True,
        "c_datetime": dt.datetime(1900, 1, 1, 12, tzinfo=UTC),
        "c_date": dt.date(1900, 1, 1),
        "c_string": "",
    },
    {
        "c_int": 0,
        "c_float": None,
        "c_bool": False,
        "c_datetime": None,
        "c_date": None,
        "c_string": "0",
    },
    {
        "c_int": -42,
        "c_float": 0.30000000000000004,
        "c_bool": None,
        "c_datetime": dt.datetime(1850, 6, 15, 6, 30, 0, 250000, tzinfo=UTC),
        "c_date": dt.date(1850, 6, 15),
        "c_string": "last",
    },
    {
        "c_int": 9_007_199_254_740_993,
        "c_float": -2.5e15,
        "c_bool": True,
        "c_datetime": dt.datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC),
        "c_date": dt.date(9999, 12, 31),
        "c_string": "1e5",
    },
]


def _expected_cell(kind: str, value: Any) -> Any:
    """What openpyxl reads back for a value of a kind (None for a null or an empty text)."""
    if value is None or value == "":
        return None
    if kind == "datetime":
        return from_excel(to_excel(value.replace(tzinfo=None)))
    if kind == "date":
        return from_excel(to_excel(value))
    return value


@pytest.mark.parametrize("read_only", [True, False])
def test_every_kind_reads_back_with_its_type_and_nulls(tmp_path: Path, read_only: bool) -> None:
    path = tmp_path / "kinds.xlsx"
    assert _write(path, COLUMNS, VALUES) == (len(VALUES), ["Tickets"], [])
    header, *rows = _read(path, "Tickets", read_only=read_only)
    assert list(header) == [c.name for c in COLUMNS]
    assert len(rows) == len(VALUES)
    for got, want in zip(rows, VALUES, strict=True):
        for value, col in zip(got, COLUMNS, strict=True):
            expected = _expected_cell(col.kind, want[col.name])
            assert value == expected, (col.name, want[col.name])
            if expected is None:
                continue
            if col.kind == "int":
                assert type(value) is int
            elif col.kind == "float":
                # exact, not approximately (a whole number without exponent reads as an int)
                assert type(value) in (int, float) and float(value) == want[col.name]
            elif col.kind == "bool":
                assert type(value) is bool
            elif col.kind == "string":
                assert type(value) is str
            else:
                assert isinstance(value, dt.datetime)


def test_datetimes_read_back_at_millisecond_precision_as_naive_utc(tmp_path: Path) -> None:
    cols = [Column("id", "id", "int"), Column("at", "at", "datetime")]
    rng = random.Random(7)
    values = [
        dt.datetime(1900, 3, 1, tzinfo=UTC)
        + dt.timedelta(milliseconds=rng.randrange(0, 300 * 365 * 86_400_000))
        for _ in range(2000)
    ]
    values += [dt.datetime(2024, 5, 6, 7, 8, 9, us, tzinfo=UTC) for us in (1, 499, 999_499)]
    path = tmp_path / "dt.xlsx"
    _write(path, cols, [{"id": i, "at": v} for i, v in enumerate(values)])
    rows = _read(path, "Tickets")[1:]
    for (_, got), want in zip(rows, values, strict=True):
        assert isinstance(got, dt.datetime) and got.tzinfo is None
        assert abs(got - want.replace(tzinfo=None)) <= dt.timedelta(microseconds=500)
    # the cells carry the datetime / date number formats
    wb = openpyxl.load_workbook(path)
    assert wb["Tickets"]["B2"].number_format == "yyyy-mm-dd h:mm:ss"
    wb.close()


def test_serials_before_1900_03_01_match_openpyxl(tmp_path: Path) -> None:
    """Excel's 1900 leap-year bug: the serials are openpyxl's own ``to_excel`` (one less for
    1899-12-31 to 1900-02-28), so openpyxl reads back what it would have written."""
    days = [dt.date(1899, 12, 30) + dt.timedelta(days=n) for n in range(-3, 66)]
    days += [dt.date(1, 1, 1), dt.date(1800, 1, 1), dt.date(2000, 1, 1)]
    cols = [Column("at", "at", "datetime"), Column("day", "day", "date")]
    rows = [
        {"at": dt.datetime.combine(d, dt.time(18, 30, 15, 125000), UTC), "day": d} for d in days
    ]
    path = tmp_path / "early.xlsx"
    _write(path, cols, rows)
    sheet = ET.fromstring(_sheet_xml(path))
    written = [
        [float(v.text or "") for v in row.iter(f"{{{NS['m']}}}v")]
        for row in sheet.iter(f"{{{NS['m']}}}row")
    ][1:]
    for (at, day), want in zip(written, rows, strict=True):
        assert at == pytest.approx(to_excel(want["at"].replace(tzinfo=None)), abs=1e-9)
        assert day == to_excel(want["day"])
        assert day != 60  # Excel's 1900-02-29, which never was
    back = _read(path, "Tickets")[1:]
    for (at, day), want in zip(back, rows, strict=True):
        assert at == from_excel(to_excel(want["at"].replace(tzinfo=None)))
        assert day == from_excel(to_excel(want["day"]))


def test_pandas_reads_the_values(tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")
    path = tmp_path / "pd.xlsx"
    rows = [dict(r) for r in VALUES]
    for r in rows:  # pandas keeps int64 columns without nulls exact; the extremes are tested above
        r["c_int"] = 7 if r["c_int"] is None else r["c_int"] % 1000
    _write(path, COLUMNS, rows)
    frame = pd.read_excel(path, sheet_name="Tickets")
    assert list(frame.columns) == [c.name for c in COLUMNS]
    assert frame["c_int"].tolist() == [r["c_int"] for r in rows]
    assert str(frame["c_int"].dtype) == "int64"
    floats = frame["c_float"].tolist()
    for got, want in zip(floats, [r["c_float"] for r in rows], strict=True):
        assert (pd.isna(got) and want is None) or got == want
    assert frame["c_string"].tolist()[:2] == ["plain", " padded\t"]
    assert pd.isna(frame["c_string"][2]) and pd.isna(frame["c_string"][3])
    assert frame["c_datetime"][0] == pd.Timestamp("2024-01-02 03:04:05.678")
    assert pd.isna(frame["c_datetime"][4])
    assert frame["c_bool"].tolist()[:2] == [True, False]
    every = pd.read_excel(path, sheet_name=None)
    assert list(every) == ["Tickets"]


def test_non_finite_floats_are_empty_cells(tmp_path: Path) -> None:
    cols = [Column("id", "id", "int"), Column("x", "x", "float")]
    rows = [
        {"id": i, "x": v} for i, v in enumerate([float("nan"), float("inf"), -float("inf"), 1.5])
    ]
    path = tmp_path / "nan.xlsx"
    _write(path, cols, rows)
    assert [r[1] for r in _read(path, "Tickets")[1:]] == [None, None, None, 1.5]


# -- text ----------------------------------------------------------------------------------------

HOSTILE = [
    "\"double\" and 'single' quotes, commas, ; semicolons",
    "line one\nline two\r\nline three\rfour",
    "unicode ✓ 日本語 café 🎉 \U0001f600 \U00010348 \u200b zero-width",
    "]]> <![CDATA[ x ]]>",
    "&amp; literal, &lt;tag&gt; and &#13; stay text",
    "<b>bold</b> & <i/>",
    "  leading and trailing spaces  ",
    "\ttab first",
    "a\x00b\x01c\x08d\x0be\x0cf\x1fg",
    "not\ufffea\uffffchar",
    "\x7f\x80\x9f are legal in XML 1.0",
    "\x00",
]


def _expected_text(value: str) -> str | None:
    cleaned = re.sub("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]", "", value)
    return cleaned.replace("\r\n", "\n").replace("\r", "\n") or None


@pytest.mark.parametrize("read_only", [True, False])
def test_hostile_text_reads_back(tmp_path: Path, read_only: bool) -> None:
    cols = [Column("id", "id", "int"), Column("text", "text", "string")]
    path = tmp_path / "hostile.xlsx"
    n, _, warnings = _write(path, cols, [{"id": i, "text": t} for i, t in enumerate(HOSTILE)])
    assert n == len(HOSTILE)
    got = {r[0]: r[1] for r in _read(path, "Tickets", read_only=read_only)[1:]}
    assert got == {i: _expected_text(t) for i, t in enumerate(HOSTILE)}
    assert warnings == [
        "Tickets: 3 text value(s) had control characters Excel cannot store; removed"
    ]


def test_long_text_is_truncated_at_the_cell_limit(tmp_path: Path) -> None:
    limit = _writers.EXCEL_MAX_CELL
    assert limit == 32_767
    texts = [
        "x" * limit,
        "y" * (limit + 1),
        "é&<" * 20_000,  # escaping makes it longer in XML, not in the cell
        "\U0001f600" * (limit + 5),  # astral characters count as one
        ("0123456789abcdef\n" * 1900),
    ]
    cols = [Column("id", "id", "int"), Column("text", "text", "string")]
    path = tmp_path / "long.xlsx"
    _, _, warnings = _write(path, cols, [{"id": i, "text": t} for i, t in enumerate(texts)])
    got = [r[1] for r in _read(path, "Tickets")[1:]]
    assert got == [t[:limit] for t in texts]
    assert warnings == [
        f"Tickets: 3 text value(s) longer than {limit} characters truncated (Excel cell limit)"
    ]


FORMULAS = ['=HYPERLINK("http://evil.example","click")', "=1+1", "+1+1", "-2", "@SUM(A1)", "="]


def test_neutralized_formulas_are_typed_strings(tmp_path: Path) -> None:
    cols = [Column("id", "id", "int"), Column("text", "text", "string")]
    path = tmp_path / "safe.xlsx"
    _write(path, cols, [{"id": i, "text": t} for i, t in enumerate(FORMULAS)])
    ws = openpyxl.load_workbook(path)["Tickets"]
    cells = [row[1] for row in ws.iter_rows(min_row=2)]
    assert [c.value for c in cells] == FORMULAS
    assert all(c.data_type == "s" for c in cells)
    assert "<f>" not in _sheet_xml(path)


def test_formulas_kept_when_not_neutralized(tmp_path: Path) -> None:
    cols = [Column("id", "id", "int"), Column("text", "text", "string")]
    path = tmp_path / "formulas.xlsx"
    _write(path, cols, [{"id": i, "text": t} for i, t in enumerate(FORMULAS)], neutralize=False)
    ws = openpyxl.load_workbook(path)["Tickets"]
    cells = [row[1] for row in ws.iter_rows(min_row=2)]
    assert [c.value for c in cells] == FORMULAS
    # like openpyxl: only a text starting with "=" (and more) is a formula
    assert [c.data_type for c in cells] == ["f", "f", "s", "s", "s", "s"]
    assert '<f>HYPERLINK("http://evil.example","click")</f>' in _sheet_xml(path)
    ro = _read(path, "Tickets")
    assert [r[1] for r in ro[1:]] == FORMULAS


# -- sheets, batches, memory -----------------------------------------------------------------------


def _id_rows(n: int) -> list[dict[str, Any]]:
    return [{"id": i, "name": f"row {i}" if i % 3 else None} for i in range(n)]


ID_COLUMNS = [Column("id", "id", "int"), Column("name", "name", "string")]


@pytest.mark.parametrize("chunk_rows", [2, 3, 8192])
def test_sheets_split_at_the_row_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk_rows: int
) -> None:
    monkeypatch.setattr(_writers, "EXCEL_MAX_ROWS", 4)  # header + 3 rows a sheet
    monkeypatch.setattr(_xlsx, "CHUNK_ROWS", chunk_rows)
    path = tmp_path / "split.xlsx"
    n, titles, _ = _write(path, ID_COLUMNS, _id_rows(10), size=4)
    assert n == 10
    assert titles == ["Tickets", "Tickets (2)", "Tickets (3)", "Tickets (4)"]
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == titles
    ids = []
    for title, count in zip(titles, [3, 3, 3, 1], strict=True):
        ws = wb[title]
        assert ws.max_row == count + 1
        assert [c.value for c in ws[1]] == ["id", "name"]
        assert [c.row for c in ws["A"]] == list(range(1, count + 2))
        ids += [c.value for c in ws["A"][1:]]
    assert ids == list(range(10))
    # the test helper reads the manifest's comma-joined locations the same way
    assert [r[0] for t in titles for r in _read(path, t)[1:]] == list(range(10))
    # a full last sheet is not followed by an empty one
    n, titles, _ = _write(tmp_path / "full.xlsx", ID_COLUMNS, _id_rows(9), size=4)
    assert (n, titles) == (9, ["Tickets", "Tickets (2)", "Tickets (3)"])


def test_sheets_split_before_the_sheet_xml_passes_the_zip_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_xlsx, "SHEET_XML_LIMIT", 4000)
    monkeypatch.setattr(_xlsx, "CHUNK_ROWS", 16)
    path = tmp_path / "bytes.xlsx"
    n, titles, _ = _write(path, ID_COLUMNS, _id_rows(300), size=7)
    assert n == 300 and len(titles) > 3
    with zipfile.ZipFile(path) as zf:
        for i in range(1, len(titles) + 1):
            info = zf.getinfo(f"xl/worksheets/sheet{i}.xml")
            assert info.file_size <= 4000
        # no Zip64 extra fields (Excel refuses some entries that carry them needlessly)
        assert all(info.extract_version < 45 and not info.extra for info in zf.infolist())
    assert [r[0] for t in titles for r in _read(path, t)[1:]] == list(range(300))


def test_many_batches_of_every_size(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_xlsx, "CHUNK_ROWS", 1000)
    schema = arrow_schema(COLUMNS)
    rng = random.Random(3)
    rows = [
        {**VALUES[i % len(VALUES)], "c_int": i, "c_string": f"v{i}" if i % 5 else None}
        for i in range(20_000)
    ]
    batches, i = [], 0
    while i < len(rows):
        size = rng.choice([0, 1, 2, 7, 499, 500, 1500, 4000])
        batches.append(pa.RecordBatch.from_pylist(rows[i : i + size], schema=schema))
        i += size
    path = tmp_path / "many.xlsx"
    sheets, _ = _writers.write_excel(path, [("Tickets", COLUMNS, iter(batches))])
    assert sheets == {"Tickets": (20_000, ["Tickets"])}
    back = _read(path, "Tickets")[1:]
    assert [r[0] for r in back] == list(range(20_000))
    assert [r[5] for r in back] == [f"v{i}" if i % 5 else None for i in range(20_000)]
    assert back[1234][1:5] == tuple(
        _expected_cell(c.kind, rows[1234][c.name]) for c in COLUMNS[1:5]
    )


def test_memory_stays_at_a_chunk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows stream into the zip: Arrow memory while writing stays near one chunk's cells, far
    below the sheet's XML."""
    monkeypatch.setattr(_xlsx, "CHUNK_ROWS", 1000)
    cols = [Column("id", "id", "int"), Column("text", "text", "string")]
    schema = arrow_schema(cols)
    peak = 0

    def batches() -> Iterator[pa.RecordBatch]:
        nonlocal peak
        for start in range(0, 60_000, 500):
            peak = max(peak, pa.total_allocated_bytes())
            ids = range(start, start + 500)
            yield pa.RecordBatch.from_pydict(
                {"id": list(ids), "text": [f"{i:08d}" + "t&xt " * 40 for i in ids]},
                schema=schema,
            )

    base = pa.total_allocated_bytes()
    path = tmp_path / "big.xlsx"
    _writers.write_excel(path, [("Tickets", cols, batches())])
    with zipfile.ZipFile(path) as zf:
        xml_size = zf.getinfo("xl/worksheets/sheet1.xml").file_size
    assert xml_size > 15_000_000
    assert peak - base < 4_000_000


def test_empty_entity_has_a_sheet_with_its_header(tmp_path: Path) -> None:
    path = tmp_path / "empty.xlsx"
    empty = pa.RecordBatch.from_pylist([], schema=arrow_schema(COLUMNS))
    sheets, warnings = _writers.write_excel(
        path,
        [("Tickets", COLUMNS, []), ("Contacts", COLUMNS, [empty, empty]), ("Notes", COLUMNS, [])],
    )
    assert sheets == {
        "Tickets": (0, ["Tickets"]),
        "Contacts": (0, ["Contacts"]),
        "Notes": (0, ["Notes"]),
    }
    assert warnings == []
    for title in ("Tickets", "Contacts", "Notes"):
        assert _read(path, title) == [tuple(c.name for c in COLUMNS)]
        assert _read(path, title, read_only=False) == [tuple(c.name for c in COLUMNS)]


def test_excel_book_without_a_path_saves_a_copy(tmp_path: Path) -> None:
    book = _writers.ExcelBook(neutralize=False)
    assert book.add("Tickets", ID_COLUMNS, _batches(ID_COLUMNS, _id_rows(5))) == (5, ["Tickets"])
    assert book.add("Tickets", ID_COLUMNS, []) == (0, ["Tickets (2)"])
    assert book.warnings == []
    book.save(tmp_path / "saved.xlsx")
    assert openpyxl.load_workbook(tmp_path / "saved.xlsx").sheetnames == ["Tickets", "Tickets (2)"]


def test_a_failing_source_leaves_no_open_file(tmp_path: Path) -> None:
    def broken() -> Iterator[pa.RecordBatch]:
        yield from _batches(ID_COLUMNS, _id_rows(3))
        raise RuntimeError("page failed")

    with pytest.raises(RuntimeError, match="page failed"):
        _writers.write_excel(tmp_path / "broken.xlsx", [("Tickets", ID_COLUMNS, broken())])


# -- the package ---------------------------------------------------------------------------------


def test_package_parts_are_well_formed_and_sheet_names_escaped(tmp_path: Path) -> None:
    path = tmp_path / "parts.xlsx"
    names = ['R&D <"quoted"> \'s', "Tickets", "A" * 40]
    sheets, _ = _writers.write_excel(
        path, [(n, ID_COLUMNS, _batches(ID_COLUMNS, _id_rows(3))) for n in names]
    )
    titles = [t for n in names for t in sheets[n][1]]
    assert titles == ['R&D <"quoted"> \'s', "Tickets", "A" * 31]
    with zipfile.ZipFile(path) as zf:
        assert zf.testzip() is None
        parts = set(zf.namelist())
        assert {
            "[Content_Types].xml",
            "_rels/.rels",
            "docProps/core.xml",
            "docProps/app.xml",
            "xl/workbook.xml",
            "xl/_rels/workbook.xml.rels",
            "xl/styles.xml",
            "xl/worksheets/sheet1.xml",
            "xl/worksheets/sheet2.xml",
            "xl/worksheets/sheet3.xml",
        } == parts
        for part in parts:
            ET.fromstring(zf.read(part))  # well-formed XML
        types = zf.read("[Content_Types].xml").decode()
        assert all(f'PartName="/xl/worksheets/sheet{i}.xml"' in types for i in (1, 2, 3))
        assert "R&amp;D &lt;&quot;quoted&quot;&gt; 's" in zf.read("xl/workbook.xml").decode()
    for read_only in (True, False):
        wb = openpyxl.load_workbook(path, read_only=read_only)
        assert wb.sheetnames == titles
        wb.close()
    pd = pytest.importorskip("pandas")
    frames = pd.read_excel(path, sheet_name=None)
    assert list(frames) == titles
    assert frames["Tickets"]["id"].tolist() == [0, 1, 2]


def test_duckdb_reads_the_workbook_when_its_excel_extension_is_installed(tmp_path: Path) -> None:
    duckdb = pytest.importorskip("duckdb")
    conn = duckdb.connect()
    try:
        conn.execute("LOAD excel")
    except Exception:
        pytest.skip("DuckDB's excel extension is not installed (it is not downloaded here)")
    path = tmp_path / "duck.xlsx"
    _write(path, ID_COLUMNS, _id_rows(10))
    got = conn.execute(f"SELECT id, name FROM read_xlsx('{path}') ORDER BY id").fetchall()
    assert [(int(i), name) for i, name in got] == [(r["id"], r["name"]) for r in _id_rows(10)]


# -- the same values as openpyxl's own writer ------------------------------------------------------

_OLD_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _openpyxl_reference(
    path: Path, columns: Sequence[Column], rows: Sequence[dict[str, Any]], neutralize: bool
) -> None:
    """The workbook as the openpyxl write-only writer this module replaced wrote it."""
    from openpyxl.cell import WriteOnlyCell

    wb = openpyxl.Workbook(write_only=True)
    ws = wb.create_sheet("Tickets")
    ws.append([c.name for c in columns])
    for row in rows:
        out: list[Any] = []
        for col in columns:
            value = row[col.name]
            if isinstance(value, dt.datetime):
                value = value.replace(tzinfo=None)
            elif isinstance(value, str):
                value = _OLD_ILLEGAL.sub("", value)[:32_767]
                if neutralize or not value.startswith("="):
                    cell = WriteOnlyCell(ws, value=value)
                    cell.data_type = "s"
                    value = cell
            out.append(value)
        ws.append(out)
    wb.save(str(path))


def _random_rows(n: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    alphabet = "ab Z9 &<>\"'=+-@\t\n\r]]>;é✓日🎉\x01\x1f" + "\U0001f600"

    def maybe(value: Any) -> Any:
        return None if rng.random() < 0.2 else value

    start = dt.datetime(1899, 12, 25, tzinfo=UTC)
    rows = []
    for i in range(n):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 30)))
        rows.append(
            {
                "c_int": maybe(rng.randrange(-(10**15), 10**15)),
                "c_float": maybe(round(rng.uniform(-1e6, 1e6), rng.randrange(0, 7))),
                "c_bool": maybe(rng.random() < 0.5),
                "c_datetime": maybe(
                    start + dt.timedelta(milliseconds=rng.randrange(0, 400 * 365 * 86_400_000))
                ),
                "c_date": maybe(dt.date(1899, 12, 20) + dt.timedelta(days=rng.randrange(0, 90))),
                "c_string": maybe(("=" if i % 7 == 0 else "") + text),
            }
        )
    return rows


@pytest.mark.parametrize("neutralize", [True, False])
@pytest.mark.parametrize("read_only", [True, False])
def test_reads_back_what_openpyxl_wrote(tmp_path: Path, neutralize: bool, read_only: bool) -> None:
    rows = _random_rows(3000, seed=11 + neutralize)
    ours, theirs = tmp_path / "ours.xlsx", tmp_path / "theirs.xlsx"
    _write(ours, COLUMNS, rows, neutralize=neutralize)
    _openpyxl_reference(theirs, COLUMNS, rows, neutralize)
    got = _read(ours, "Tickets", read_only=read_only)
    want = _read(theirs, "Tickets", read_only=read_only)
    assert len(got) == len(want) == 3001

    def typed(value: Any, kind: str) -> Any:
        if kind == "float" and value is not None:
            return float(value)  # openpyxl wrote 1e+15 as 1000000000000000 (an int)
        return (type(value).__name__, value)

    assert got[0] == want[0]
    for g, w in zip(got[1:], want[1:], strict=True):
        for kind, a, b in zip(KINDS, g, w, strict=True):
            assert typed(a, kind) == typed(b, kind)
    if not read_only:
        wb_ours = openpyxl.load_workbook(ours)["Tickets"]
        wb_theirs = openpyxl.load_workbook(theirs)["Tickets"]
        ours_types = [
            c.data_type for row in wb_ours.iter_rows() for c in row if c.value is not None
        ]
        their_types = [
            c.data_type for row in wb_theirs.iter_rows() for c in row if c.value is not None
        ]
        assert ours_types == their_types
