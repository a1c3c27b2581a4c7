"""A streaming SpreadsheetML (.xlsx) writer whose cells are built by Arrow compute kernels.

Every cell of a record batch is rendered column by column with ``pyarrow.compute`` string kernels
(no Python code runs per cell or per row), the cells of a row are joined with
``binary_join_element_wise`` and the rows' bytes go straight into the sheet's part of the zip
(``ZipFile.open(name, "w")``, deflate), so a sheet is never held in memory: one chunk of at most
:data:`CHUNK_ROWS` rows (and about :data:`CHUNK_BYTES` of Arrow input) is.

Format choices (the SpreadsheetML parts every reader needs, nothing else):

* Rows carry their number (``<row r="7">``), cells no reference: a cell is the next column, so a
  null (or an empty text) is an empty ``<c/>``. Cell references (``r="B7"``, optional in the
  format) made the sheet XML 20% larger, the zip 40% larger and the writer 30% slower on 20,000
  Tickets. openpyxl (both modes) and pandas read cells in order without them (tested here); so do
  Excel, LibreOffice, Apache POI, calamine and DuckDB's reader (their sources and trackers: many
  enterprise exporters omit them). Row numbers stay: a few readers need those.
* Integers are ``<v>`` decimal text (exact for all of int64, though Excel itself keeps 15 digits),
  floats the shortest text that round-trips (Arrow's cast); NaN and infinities are empty cells (as
  openpyxl wrote them). Booleans are ``t="b"`` cells of 0 or 1.
* Datetimes (naive UTC) and dates are serial numbers of Excel's 1900 date system with a
  ``yyyy-mm-dd h:mm:ss`` / ``yyyy-mm-dd`` number format (style 1 / 2). Days before 1900-03-01 get
  one less than their day count, as openpyxl writes and reads them (Excel's serial 60 is the
  1900-02-29 that never was); a datetime's serial keeps its microseconds (readers round to ms).
* Text is an inline string (``t="inlineStr"``, ``xml:space="preserve"``) with ``&``, ``<`` and
  ``>`` escaped, never a shared string (that table would have to be held in memory until the end).
  Characters XML 1.0 cannot hold (C0 controls but tab, LF and CR; U+FFFE, U+FFFF) are removed and
  text longer than :data:`MAX_CELL_CHARS` is cut, both counted for the caller's warnings. CR is
  written as is, so readers see CR LF (and a lone CR) as LF, as with openpyxl.
* A text starting with ``=`` (and more) is a formula (``<f>``, no cached value) only with
  ``formulas=True``; otherwise every text is a typed string, which spreadsheets never evaluate.
* Parts are written without Zip64 extensions (Excel refuses some entries that carry them needlessly,
  and a streamed entry would have to announce them up front), so a sheet whose XML would pass
  :data:`SHEET_XML_LIMIT` bytes is continued on a further sheet, as one with more rows than a sheet
  may hold is.
"""

from __future__ import annotations

import datetime as _dt
import os
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO, Final
from xml.sax.saxutils import escape, quoteattr

import pyarrow as pa
import pyarrow.compute as pc

from ._arrow import POOL, null, scalar, text

__all__ = [
    "CHUNK_BYTES",
    "CHUNK_ROWS",
    "MAX_CELL_CHARS",
    "SHEET_XML_LIMIT",
    "TableStats",
    "Workbook",
]

#: Most characters Excel keeps in one cell.
MAX_CELL_CHARS: Final = 32_767
#: Rows rendered together: batches are coalesced (or sliced) to at most this many rows...
#: (100k Tickets rows: 2048 add 40 MB to the peak RSS and 8192 110 MB, for 5% less CPU)
CHUNK_ROWS: Final = 2048
#: ... and about this many bytes of Arrow input.
CHUNK_BYTES: Final = 4 << 20
#: Most bytes of one sheet's XML: the zip entry limit without Zip64 extensions.
SHEET_XML_LIMIT: Final = zipfile.ZIP64_LIMIT
#: Deflate level. Measured on the sheet of 20,000 Tickets (38 MB of XML), CPU s and MB per 100k
#: rows: level 1 1.7 s 36 MB, 2 1.7 s 33 MB, 3 2.2 s 30 MB, 4 2.5 s 30 MB, 6 3.8 s 26 MB
#: (openpyxl's file was 37 MB).
COMPRESS_LEVEL: Final = 2

#: RE2 class of the characters XML 1.0 cannot hold.
_ILLEGAL: Final = r"[\x00-\x08\x0B\x0C\x0E-\x1F\x{FFFE}\x{FFFF}]"
_NS: Final = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL: Final = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG: Final = "http://schemas.openxmlformats.org/package/2006"
_OFFICE: Final = "application/vnd.openxmlformats-officedocument"
_HEAD: Final = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_SHEET_OPEN: Final = f'{_HEAD}<worksheet xmlns="{_NS}"><sheetData>'.encode()
_SHEET_CLOSE: Final = b"</sheetData></worksheet>"
#: Days from 1899-12-30 (serial 0 of Excel's 1900 system, once its leap-year bug is allowed for)
#: to 1970-01-01.
_EPOCH_DAYS: Final = 25_569
_US_PER_DAY: Final = 86_400_000_000
#: Zip entry timestamp (what ``ZipFile.open`` gives a streamed entry; core.xml has the real time).
_ZIP_TIME: Final = (1980, 1, 1, 0, 0, 0)
_STYLES: Final = (
    f'<styleSheet xmlns="{_NS}">'
    '<numFmts count="2"><numFmt numFmtId="164" formatCode="yyyy-mm-dd h:mm:ss"/>'
    '<numFmt numFmtId="165" formatCode="yyyy-mm-dd"/></numFmts>'
    '<fonts count="1"><font><sz val="11"/><color theme="1"/><name val="Calibri"/>'
    '<family val="2"/><scheme val="minor"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="3"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    "</cellXfs>"
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)


@dataclass
class TableStats:
    """What writing one table did: data rows, sheet titles, texts cleaned and texts cut."""

    rows: int = 0
    titles: list[str] = field(default_factory=list)
    removed: int = 0
    truncated: int = 0


class Workbook:
    """An .xlsx package written as it goes: :meth:`add_table` streams sheets one after another,
    :meth:`close` adds the workbook, styles and package parts (or :meth:`abort` just closes)."""

    def __init__(
        self, file: str | os.PathLike[str] | IO[bytes], *, compresslevel: int = COMPRESS_LEVEL
    ) -> None:
        self.level = compresslevel
        self.zip = zipfile.ZipFile(
            file, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=compresslevel
        )
        self.titles: list[str] = []
        self._closed = False

    def add_table(
        self,
        header: Sequence[str],
        batches: Iterable[pa.RecordBatch],
        title: Callable[[], str],
        *,
        max_rows: int,
        formulas: bool = False,
    ) -> TableStats:
        """A sheet of the header row and the batches' rows, continued on a further sheet (titled by
        calling ``title`` again) whenever it holds ``max_rows`` rows (header included) or
        :data:`SHEET_XML_LIMIT` bytes. Each column's Arrow type decides its cells."""
        if max_rows < 2:
            raise ValueError("a sheet holds the header and at least one row")
        stats = TableStats()
        per_sheet = max_rows - 1
        sheet = self._sheet(title(), header, stats)
        try:
            for batch in _chunks(batches):
                chunk = _Chunk(batch, formulas, stats)
                start = 0
                while start < chunk.num_rows:
                    if sheet.rows == per_sheet:
                        sheet.close()
                        sheet = self._sheet(title(), header, stats)
                    length = min(chunk.num_rows - start, per_sheet - sheet.rows)
                    rows = chunk.render(start, length, sheet.rows + 2)
                    if sheet.rows and not sheet.fits(rows):
                        sheet.close()
                        sheet = self._sheet(title(), header, stats)
                        rows = chunk.render(start, length, 2)
                    sheet.write_rows(rows, length)
                    stats.rows += length
                    start += length
                del chunk
        except BaseException:
            sheet.stream.close()
            raise
        sheet.close()
        return stats

    def _sheet(self, title: str, header: Sequence[str], stats: TableStats) -> _Sheet:
        self.titles.append(title)
        stats.titles.append(title)
        # opened by name: dated 1980-01-01 like the other parts, the zip's deflate level
        return _Sheet(self.zip.open(f"xl/worksheets/sheet{len(self.titles)}.xml", "w"), header)

    def close(self) -> None:
        """Write the workbook parts and close the file (a workbook needs a sheet: an empty
        ``Sheet`` is added when no table was)."""
        if self._closed:
            return
        self._closed = True
        try:
            if not self.titles:
                self._sheet("Sheet", [], TableStats()).close()
            self._write_parts()
        finally:
            self.zip.close()

    def abort(self) -> None:
        """Close the file without finishing the package (after an error)."""
        if not self._closed:
            self._closed = True
            self.zip.close()

    def _part(self, name: str, xml: str) -> None:
        info = zipfile.ZipInfo(name, _ZIP_TIME)
        data = (_HEAD + xml).encode()
        self.zip.writestr(info, data, zipfile.ZIP_DEFLATED, self.level)

    def _write_parts(self) -> None:
        n = len(self.titles)
        overrides = "".join(
            f'<Override PartName="/xl/worksheets/sheet{i}.xml" '
            f'ContentType="{_OFFICE}.spreadsheetml.worksheet+xml"/>'
            for i in range(1, n + 1)
        )
        self._part(
            "[Content_Types].xml",
            f'<Types xmlns="{_PKG}/content-types">'
            '<Default Extension="rels" '
            'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" '
            f'ContentType="{_OFFICE}.spreadsheetml.sheet.main+xml"/>'
            f'<Override PartName="/xl/styles.xml" ContentType="{_OFFICE}.spreadsheetml.styles+xml"/>'
            '<Override PartName="/docProps/core.xml" '
            'ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>'
            '<Override PartName="/docProps/app.xml" '
            f'ContentType="{_OFFICE}.extended-properties+xml"/>'
            f"{overrides}</Types>",
        )
        self._part(
            "_rels/.rels",
            f'<Relationships xmlns="{_PKG}/relationships">'
            f'<Relationship Id="rId1" Type="{_REL}/officeDocument" Target="xl/workbook.xml"/>'
            f'<Relationship Id="rId2" Type="{_PKG}/relationships/metadata/core-properties" '
            'Target="docProps/core.xml"/>'
            f'<Relationship Id="rId3" Type="{_REL}/extended-properties" '
            'Target="docProps/app.xml"/></Relationships>',
        )
        now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        self._part(
            "docProps/core.xml",
            f'<cp:coreProperties xmlns:cp="{_PKG}/metadata/core-properties" '
            'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
            "<dc:creator>py-autotask</dc:creator>"
            f'<dcterms:created xsi:type="dcterms:W3CDTF">{now}</dcterms:created>'
            f'<dcterms:modified xsi:type="dcterms:W3CDTF">{now}</dcterms:modified>'
            "</cp:coreProperties>",
        )
        self._part(
            "docProps/app.xml",
            '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/'
            'extended-properties"><Application>py-autotask</Application></Properties>',
        )
        sheets = "".join(
            f'<sheet name={quoteattr(_legal(t))} sheetId="{i}" r:id="rId{i}"/>'
            for i, t in enumerate(self.titles, 1)
        )
        self._part(
            "xl/workbook.xml",
            f'<workbook xmlns="{_NS}" xmlns:r="{_REL}">'
            f"<bookViews><workbookView/></bookViews><sheets>{sheets}</sheets></workbook>",
        )
        rels = "".join(
            f'<Relationship Id="rId{i}" Type="{_REL}/worksheet" Target="worksheets/sheet{i}.xml"/>'
            for i in range(1, n + 1)
        )
        self._part(
            "xl/_rels/workbook.xml.rels",
            f'<Relationships xmlns="{_PKG}/relationships">{rels}'
            f'<Relationship Id="rId{n + 1}" Type="{_REL}/styles" Target="styles.xml"/>'
            "</Relationships>",
        )
        self._part("xl/styles.xml", _STYLES)


class _Sheet:
    """One sheet's part, streamed: the header row on opening, then rows, then the closing tags."""

    def __init__(self, stream: IO[bytes], header: Sequence[str]) -> None:
        self.stream = stream
        self.rows = 0
        self.size = 0
        cells = "".join(
            f'<c t="inlineStr"><is><t xml:space="preserve">{escape(_legal(name))}</t></is></c>'
            for name in header
        )
        self._write(_SHEET_OPEN + f'<row r="1">{cells}</row>'.encode())

    def fits(self, rows: pa.Array) -> bool:
        return self.size + _byte_size(rows) + len(_SHEET_CLOSE) <= SHEET_XML_LIMIT

    def write_rows(self, rows: pa.Array, count: int) -> None:
        self._write(_string_bytes(rows))
        self.rows += count

    def _write(self, data: bytes | memoryview) -> None:
        self.stream.write(data)
        self.size += len(data)

    def close(self) -> None:
        self._write(_SHEET_CLOSE)
        self.stream.close()


class _Chunk:
    """A chunk's cells, built once (text cleaned, escaped and counted; every column's cell XML);
    :meth:`render` lays out any range of its rows at any sheet row."""

    def __init__(self, batch: pa.RecordBatch, formulas: bool, stats: TableStats) -> None:
        self.num_rows = batch.num_rows
        self.cells = [_cells(column, formulas, stats) for column in batch.columns]

    def render(self, start: int, length: int, first_row: int) -> pa.Array:
        """The XML of rows ``start : start + length``, numbered from ``first_row``: a string per
        row (never null; a null cell is an empty ``<c/>``)."""
        ones = pa.repeat(_int(1), length)
        counted = pc.cumulative_sum(ones, memory_pool=POOL)
        numbers = pc.cast(
            pc.add(counted, _int(first_row - 1), memory_pool=POOL), pa.string(), memory_pool=POOL
        )
        return pc.binary_join_element_wise(
            text('<row r="'),
            numbers,
            text('">'),
            *(c.slice(start, length) for c in self.cells),
            text("</row>"),
            text(""),
            null_handling="replace",
            null_replacement="<c/>",
            memory_pool=POOL,
        )


def _cells(array: pa.Array, formulas: bool, stats: TableStats) -> pa.Array:
    """The cell XML of every value of a column (null where the cell is empty)."""
    typ = array.type
    if pa.types.is_string(typ) or pa.types.is_large_string(typ):
        return _text(array, formulas, stats)
    if pa.types.is_boolean(typ):
        return _wrap(
            '<c t="b"><v>', pc.if_else(array, text("1"), text("0"), memory_pool=POOL), "</v></c>"
        )
    if pa.types.is_timestamp(typ):
        stamps = pc.cast(array, pa.timestamp("us", typ.tz), safe=False, memory_pool=POOL)
        micros = pc.cast(stamps, pa.int64(), memory_pool=POOL)
        micros = pc.add(micros, _int(_EPOCH_DAYS * _US_PER_DAY), memory_pool=POOL)
        # whole days (floored) and the microseconds into the day, so the serial is exact to the
        # last bit for every year (a float of the microseconds since 1899 is not past 2185)
        days = pc.divide(micros, _int(_US_PER_DAY), memory_pool=POOL)  # truncates toward zero
        rest = pc.subtract(micros, pc.multiply(days, _int(_US_PER_DAY), memory_pool=POOL))
        before = pc.cast(pc.less(rest, _int(0), memory_pool=POOL), pa.int64())
        days = _leap_bug(pc.subtract(days, before, memory_pool=POOL))
        rest = pc.add(rest, pc.multiply(before, _int(_US_PER_DAY), memory_pool=POOL))
        day_us = scalar(float(_US_PER_DAY), pa.float64())
        fraction = pc.divide(
            pc.cast(rest, pa.float64(), memory_pool=POOL), day_us, memory_pool=POOL
        )
        serial = pc.add(pc.cast(days, pa.float64(), memory_pool=POOL), fraction, memory_pool=POOL)
        return _wrap('<c s="1"><v>', serial, "</v></c>")
    if pa.types.is_date(typ):
        days = pc.cast(pc.cast(array, pa.date32(), memory_pool=POOL), pa.int32())
        serial = _leap_bug(pc.add(pc.cast(days, pa.int64(), memory_pool=POOL), _int(_EPOCH_DAYS)))
        return _wrap('<c s="2"><v>', serial, "</v></c>")
    if pa.types.is_floating(typ):
        finite = pc.if_else(pc.is_finite(array, memory_pool=POOL), array, null(typ))
        return _wrap("<c><v>", finite, "</v></c>")
    if pa.types.is_integer(typ) or pa.types.is_decimal(typ):
        return _wrap("<c><v>", array, "</v></c>")
    raise TypeError(f"no Excel cell for Arrow type {typ}")


def _wrap(head: str, values: pa.Array, tail: str) -> pa.Array:
    """``head + value + tail`` for every value (as text; null stays null)."""
    return pc.binary_join_element_wise(
        text(head),
        pc.cast(values, pa.string(), memory_pool=POOL),
        text(tail),
        text(""),
        memory_pool=POOL,
    )


def _int(value: int) -> pa.Scalar:
    return scalar(value, pa.int64())


def _leap_bug(days: pa.Array) -> pa.Array:
    """Serial day of ``days`` after 1899-12-30: one less from 1899-12-31 to 1900-02-28, as
    openpyxl writes it (Excel counts a 1900-02-29 that never was, serial 60)."""
    early = pc.and_(
        pc.greater_equal(days, _int(1), memory_pool=POOL),
        pc.less_equal(days, _int(60), memory_pool=POOL),
        memory_pool=POOL,
    )
    return pc.subtract(days, pc.cast(early, pa.int64(), memory_pool=POOL), memory_pool=POOL)


def _text(array: pa.Array, formulas: bool, stats: TableStats) -> pa.Array:
    if pa.types.is_large_string(array.type):
        array = pc.cast(array, pa.string(), memory_pool=POOL)
    removed = pc.sum(pc.match_substring_regex(array, _ILLEGAL, memory_pool=POOL)).as_py() or 0
    if removed:
        stats.removed += removed
        array = pc.replace_substring_regex(array, _ILLEGAL, "", memory_pool=POOL)
    long = pc.greater(pc.utf8_length(array, memory_pool=POOL), _int(MAX_CELL_CHARS))
    truncated = pc.sum(long).as_py() or 0
    if truncated:
        stats.truncated += truncated
        cut = pc.utf8_slice_codeunits(array, 0, MAX_CELL_CHARS, memory_pool=POOL)
        array = pc.if_else(long, cut, array, memory_pool=POOL)
    # an empty text is an empty cell (there is no empty inline string to read back)
    sizes = pc.binary_length(array, memory_pool=POOL)
    array = pc.if_else(pc.greater(sizes, _int(0), memory_pool=POOL), array, null(pa.string()))
    escaped = pc.replace_substring(array, "&", "&amp;", memory_pool=POOL)
    escaped = pc.replace_substring(escaped, "<", "&lt;", memory_pool=POOL)
    escaped = pc.replace_substring(escaped, ">", "&gt;", memory_pool=POOL)
    cells = _wrap('<c t="inlineStr"><is><t xml:space="preserve">', escaped, "</t></is></c>")
    if formulas:
        starts = pc.starts_with(array, "=", memory_pool=POOL)
        longer = pc.greater(sizes, _int(1), memory_pool=POOL)
        formula = pc.coalesce(
            pc.and_(starts, longer, memory_pool=POOL), scalar(False, pa.bool_()), memory_pool=POOL
        )
        if pc.any(formula).as_py():
            body = pc.utf8_slice_codeunits(escaped, 1, memory_pool=POOL)
            cells = pc.if_else(formula, _wrap("<c><f>", body, "</f></c>"), cells, memory_pool=POOL)
    return cells


def _chunks(batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """The batches coalesced (or sliced) to at most :data:`CHUNK_ROWS` rows and about
    :data:`CHUNK_BYTES` of input each."""
    pending: list[pa.RecordBatch] = []
    rows = size = 0
    for batch in batches:
        if not batch.num_rows:
            continue
        step = max(1, min(CHUNK_ROWS, CHUNK_BYTES * batch.num_rows // max(1, batch.nbytes)))
        for start in range(0, batch.num_rows, step):
            part = batch.slice(start, step)
            if pending and (rows + part.num_rows > CHUNK_ROWS or size + part.nbytes > CHUNK_BYTES):
                yield _combine(pending)
                pending, rows, size = [], 0, 0
            pending.append(part)
            rows += part.num_rows
            size += part.nbytes
    if pending:
        yield _combine(pending)


def _combine(batches: list[pa.RecordBatch]) -> pa.RecordBatch:
    if len(batches) == 1:
        return batches[0]
    return pa.Table.from_batches(batches).combine_chunks(memory_pool=POOL).to_batches()[0]


def _bounds(array: pa.Array) -> tuple[memoryview, int, int]:
    _, offsets, data = array.buffers()
    ends = memoryview(offsets).cast("i")
    return memoryview(data), ends[array.offset], ends[array.offset + len(array)]


def _byte_size(array: pa.Array) -> int:
    _, start, end = _bounds(array)
    return end - start


def _string_bytes(array: pa.Array) -> memoryview:
    """The UTF-8 bytes of every value of a string array without nulls, concatenated (no copy)."""
    data, start, end = _bounds(array)
    return data[start:end]


def _legal(text: str) -> str:
    """``text`` without the characters XML 1.0 cannot hold."""
    return "".join(c for c in text if c >= " " or c in "\t\n\r").translate(
        {0xFFFE: None, 0xFFFF: None}
    )
