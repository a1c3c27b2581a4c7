"""File writers: one file per entity (CSV, JSON, JSON Lines, Parquet) or one workbook (Excel).

Writers read staged Arrow batches (see :mod:`._stage`) and never hold more than one row group
(Parquet, about 50k rows) or one batch (the others) in memory. Text in CSV and Excel that a
spreadsheet would run as a formula (starting with ``= + - @``, tab or carriage return) is
neutralised by default: CSV cells get a leading ``'``; Excel cells are written as typed strings,
which spreadsheets never evaluate (so the text itself is unchanged). CSV keeps null (an empty
unquoted field) and the empty string (``""``) apart, as every CSV of the project does
(:mod:`py_autotask._csv`).
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Final

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from . import _xlsx
from ._arrow import POOL, empty_batch, null, scalar, text
from ._columns import Column, arrow_schema

__all__ = [
    "EXCEL_MAX_CELL",
    "FILE_FORMATS",
    "ROW_GROUP_SIZE",
    "neutralize_formulas",
    "write_csv",
    "write_excel",
    "write_json",
    "write_jsonl",
    "write_parquet",
]

#: Rows per Parquet row group in the final file. A row group is held in memory (its Arrow data
#: and the encoder's pages) until it is written: 10,000 rows and dictionary pages of at most
#: 128 KB cost ~35 MB, 20,000 rows with 1 MB dictionaries ~80 MB, for the same file size.
ROW_GROUP_SIZE: Final = 10000
#: Most bytes of a column chunk's dictionary before the column falls back to plain encoding.
DICTIONARY_PAGE_BYTES: Final = 128 * 1024
#: Most characters Excel keeps in one cell.
EXCEL_MAX_CELL: Final = _xlsx.MAX_CELL_CHARS
EXCEL_MAX_ROWS: Final = 1_048_576
FORMULA_PATTERN: Final = r"^[=+\-@\t\r]"
#: Formats written as one file per entity, and their file suffix.
FILE_FORMATS: Final = {"csv": ".csv", "json": ".json", "jsonl": ".jsonl", "parquet": ".parquet"}


def neutralize_formulas(array: pa.Array) -> pa.Array:
    """Prefix ``'`` to strings a spreadsheet would evaluate as a formula."""
    matches = pc.match_substring_regex(array, FORMULA_PATTERN, memory_pool=POOL)
    mask = pc.coalesce(matches, scalar(False, pa.bool_()), memory_pool=POOL)
    if not pc.any(mask).as_py():
        return array
    prefixed = pc.binary_join_element_wise(text("'"), array, text(""), memory_pool=POOL)
    return pc.if_else(mask, prefixed, array, memory_pool=POOL)


def iso_utc(
    array: pa.Array, before: str = "", after: str = "Z", *, drop_zero_fraction: bool = False
) -> pa.Array:
    """A UTC ``timestamp[us]`` array as ISO 8601 text, ``before + 2024-01-31T10:00:00.871000 +
    after`` (nulls stay null). Built from date32 and time64 casts, about 3x cheaper than
    ``pc.strftime``; same text as ``strftime("%Y-%m-%dT%H:%M:%S")`` (``.000000`` dropped with
    ``drop_zero_fraction``)."""
    naive = array.cast(pa.timestamp(array.type.unit), memory_pool=POOL)
    day = pc.cast(pc.cast(naive, pa.date32(), memory_pool=POOL), pa.string())
    clock = pc.cast(pc.cast(naive, pa.time64("us"), memory_pool=POOL), pa.string())
    if drop_zero_fraction:
        clock = pc.replace_substring_regex(clock, r"\.000000$", "", memory_pool=POOL)
    return pc.binary_join_element_wise(
        text(before), day, text("T"), clock, text(after), text(""), memory_pool=POOL
    )


def _csv_batch(batch: pa.RecordBatch, neutralize: bool) -> pa.RecordBatch:
    arrays = []
    fields = []
    for f, col in zip(batch.schema, batch.columns, strict=True):
        if pa.types.is_timestamp(f.type) and f.type.unit == "us":
            col = iso_utc(col)
            f = pa.field(f.name, pa.string())
        elif pa.types.is_timestamp(f.type):
            col = pc.strftime(col, format="%Y-%m-%dT%H:%M:%SZ", memory_pool=POOL)
            f = pa.field(f.name, pa.string())
        elif neutralize and pa.types.is_string(f.type):
            col = neutralize_formulas(col)
        arrays.append(col)
        fields.append(f)
    return pa.RecordBatch.from_arrays(arrays, schema=pa.schema(fields))


def write_csv(
    path: Path,
    columns: Sequence[Column],
    batches: Iterable[pa.RecordBatch],
    *,
    neutralize: bool = True,
) -> int:
    """CSV with a header row in the project's convention (:mod:`py_autotask._csv`): every string
    is quoted (an empty string is ``""``), null is an empty unquoted field, numbers and booleans
    (``true``/``false``) are bare, datetimes are quoted ISO 8601 UTC with ``Z``. (pyarrow's
    ``quoting_style="needed"`` quotes every string value and no null.)"""
    schema = _csv_batch(empty_batch(arrow_schema(columns)), neutralize).schema
    rows = 0
    import pyarrow.csv as pacsv

    with pacsv.CSVWriter(
        str(path), schema, write_options=pacsv.WriteOptions(quoting_style="needed")
    ) as writer:
        for batch in batches:
            writer.write_batch(_csv_batch(batch, neutralize))
            rows += batch.num_rows
    return rows


_JSON_OPTS: Final = orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC
#: JSON escapes of the control characters (what orjson writes)
_CONTROL_ESCAPES: Final = {
    chr(c): {8: "\\b", 9: "\\t", 10: "\\n", 12: "\\f", 13: "\\r"}.get(c, f"\\u{c:04x}")
    for c in range(32)
}


def _json_text(array: pa.Array) -> pa.Array:
    """Strings -> JSON string literals (quoted, escaped), computed in Arrow (no Python per value)."""
    escaped = pc.replace_substring(array, "\\", "\\\\", memory_pool=POOL)
    escaped = pc.replace_substring(escaped, '"', '\\"', memory_pool=POOL)
    if pc.any(pc.match_substring_regex(escaped, "[\\x00-\\x1f]", memory_pool=POOL)).as_py():
        for char, escape in _CONTROL_ESCAPES.items():
            if pc.any(pc.match_substring(escaped, char, memory_pool=POOL)).as_py():
                escaped = pc.replace_substring(escaped, char, escape, memory_pool=POOL)
    return pc.binary_join_element_wise(text('"'), escaped, text('"'), text(""), memory_pool=POOL)


def _json_values(array: pa.Array) -> pa.Array:
    """One column -> the JSON text of each value (``null`` for nulls), as a string array."""
    typ = array.type
    if pa.types.is_string(typ) or pa.types.is_large_string(typ):
        out = _json_text(array)
    elif pa.types.is_integer(typ):
        out = pc.cast(array, pa.string(), memory_pool=POOL)
    elif pa.types.is_boolean(typ):
        out = pc.if_else(array, text("true"), text("false"), memory_pool=POOL)
    elif pa.types.is_floating(typ):
        digits = pc.cast(array, pa.string(), memory_pool=POOL)
        # 1.0 stays a float in JSON ("1.0", like orjson); NaN and infinities are null
        integral = pc.match_substring_regex(digits, r"^-?\d+$", memory_pool=POOL)
        dotted = pc.binary_join_element_wise(digits, text(".0"), text(""), memory_pool=POOL)
        digits = pc.if_else(integral, dotted, digits, memory_pool=POOL)
        out = pc.if_else(pc.is_finite(array, memory_pool=POOL), digits, null(pa.string()))
    elif pa.types.is_timestamp(typ) and typ.tz is not None and typ.unit == "us":
        # "2024-01-31T10:00:00.871000Z"; whole seconds without a fraction (as orjson writes them)
        out = iso_utc(array, '"', 'Z"', drop_zero_fraction=True)
    elif pa.types.is_date32(typ):
        day = pc.strftime(array, format="%Y-%m-%d", memory_pool=POOL)
        out = pc.binary_join_element_wise(text('"'), day, text('"'), text(""), memory_pool=POOL)
    else:  # anything else: orjson per value (not used by the exporter's column types)
        out = pa.array(
            [orjson.dumps(v, option=_JSON_OPTS).decode() for v in array.to_pylist()], pa.string()
        )
    return pc.coalesce(out, text("null"), memory_pool=POOL)  # fill_null, from POOL


def _json_lines(batch: pa.RecordBatch, before: str, after: str) -> pa.Array:
    """``before + {"field": value, ...} + after`` per row, assembled column-wise in Arrow."""
    parts: list[pa.Array | pa.Scalar] = []
    for i, (name, column) in enumerate(zip(batch.schema.names, batch.columns, strict=True)):
        key = orjson.dumps(name).decode() + ":"
        parts.append(text((before + "{" if i == 0 else ",") + key))
        parts.append(_json_values(column))
    if not parts:
        parts.append(text(before + "{"))
    parts.append(text("}" + after))
    joined = pc.binary_join_element_wise(*parts, text(""), memory_pool=POOL)
    if not isinstance(joined, pa.Array):  # a batch without columns: one object per row
        joined = pa.repeat(joined, batch.num_rows)
    return joined


#: rows encoded together by the JSON writers (fewer, larger Arrow kernel calls; ~5 MB of text,
#: and about as much again for the columns' text before it is joined)
JSON_CHUNK_ROWS: Final = 2000


def _chunks(
    batches: Iterable[pa.RecordBatch], rows: int = JSON_CHUNK_ROWS
) -> Iterator[pa.RecordBatch]:
    """Regroup staged batches (a page each) into batches of about ``rows`` rows."""
    pending: list[pa.RecordBatch] = []
    count = 0
    for batch in batches:
        if not batch.num_rows:
            continue
        pending.append(batch)
        count += batch.num_rows
        if count >= rows:
            yield _combine(pending)
            pending, count = [], 0
    if pending:
        yield _combine(pending)


def _combine(batches: list[pa.RecordBatch]) -> pa.RecordBatch:
    if len(batches) == 1:
        return batches[0]
    table = pa.Table.from_batches(batches).combine_chunks(memory_pool=POOL)
    return table.to_batches(max_chunksize=table.num_rows)[0]


def _string_bytes(array: pa.Array, skip: int = 0) -> memoryview:
    """The concatenated UTF-8 bytes of a string array without nulls (zero-copy)."""
    offsets = array.buffers()[1]
    data = array.buffers()[2]
    first = int.from_bytes(
        memoryview(offsets)[array.offset * 4 : array.offset * 4 + 4], "little", signed=True
    )
    end_at = (array.offset + len(array)) * 4
    last = int.from_bytes(memoryview(offsets)[end_at : end_at + 4], "little", signed=True)
    return memoryview(data)[first + skip : last]


def write_jsonl(path: Path, columns: Sequence[Column], batches: Iterable[pa.RecordBatch]) -> int:
    """One JSON object per line (UTF-8, datetimes ISO 8601 with ``Z``, nulls as ``null``)."""
    rows = 0
    with open(path, "wb") as f:
        for batch in _chunks(batches):
            f.write(_string_bytes(_json_lines(batch, "", "\n")))
            rows += batch.num_rows
    return rows


def write_json(path: Path, columns: Sequence[Column], batches: Iterable[pa.RecordBatch]) -> int:
    """A JSON array of objects, one per line, streamed (never built in memory)."""
    rows = 0
    with open(path, "wb") as f:
        f.write(b"[")
        for batch in _chunks(batches):
            # every row is ",\n{...}"; the file's first row drops its comma
            f.write(_string_bytes(_json_lines(batch, ",\n", ""), skip=1 if rows == 0 else 0))
            rows += batch.num_rows
        f.write(b"\n]\n")
    return rows


def write_parquet(path: Path, columns: Sequence[Column], batches: Iterable[pa.RecordBatch]) -> int:
    """zstd Parquet with row groups of :data:`ROW_GROUP_SIZE` rows (re-chunked from the pages)."""
    schema = arrow_schema(columns)
    rows = 0
    buffer: list[pa.RecordBatch] = []
    buffered = 0
    # imported here: pyarrow.parquet brings pyarrow.fs and its cloud filesystems (~11 MB)
    import pyarrow.parquet as pq

    with pq.ParquetWriter(
        str(path),
        schema,
        compression="zstd",
        dictionary_pagesize_limit=DICTIONARY_PAGE_BYTES,
        memory_pool=POOL,
    ) as writer:
        for batch in batches:
            buffer.append(batch)
            buffered += batch.num_rows
            while buffered >= ROW_GROUP_SIZE:
                table = pa.Table.from_batches(buffer, schema=schema)
                writer.write_table(table.slice(0, ROW_GROUP_SIZE), row_group_size=ROW_GROUP_SIZE)
                rest = table.slice(ROW_GROUP_SIZE)
                buffer = rest.to_batches()
                buffered = rest.num_rows
                rows += ROW_GROUP_SIZE
                del table, rest
                pa.default_memory_pool().release_unused()
        if buffered or rows == 0:
            writer.write_table(
                pa.Table.from_batches(buffer, schema=schema), row_group_size=ROW_GROUP_SIZE
            )
            rows += buffered
    return rows


def sheet_title(name: str, taken: set[str]) -> str:
    base = re.sub(r"[\[\]:*?/\\]", "_", name)[:31] or "Sheet"
    title, n = base, 2
    while title.lower() in taken:
        suffix = f" ({n})"
        title, n = base[: 31 - len(suffix)] + suffix, n + 1
    taken.add(title.lower())
    return title


class ExcelBook:
    """A workbook with a sheet per entity (a further sheet when an entity has more rows than Excel
    allows), streamed by :class:`._xlsx.Workbook`: into ``path`` when given, else into a temporary
    file that :meth:`save` copies. Datetimes are written as naive UTC; XML turns CR LF into LF and
    an empty text is an empty cell; text longer than Excel's 32,767-character cell limit is
    truncated and reported; characters XML cannot hold are dropped and reported."""

    def __init__(self, *, neutralize: bool = True, path: Path | None = None) -> None:
        self.neutralize = neutralize
        self.path = path
        self._file: IO[bytes] | None = None
        target: Path | IO[bytes]
        if path is None:
            # closed by save() or abort()
            target = self._file = tempfile.TemporaryFile()  # noqa: SIM115
        else:
            target = path
        self.book = _xlsx.Workbook(target)
        self.taken: set[str] = set()
        self.warnings: list[str] = []

    def add(
        self, name: str, columns: Sequence[Column], batches: Iterable[pa.RecordBatch]
    ) -> tuple[int, list[str]]:
        stats = self.book.add_table(
            [c.name for c in columns],
            batches,
            lambda: sheet_title(name, self.taken),
            max_rows=EXCEL_MAX_ROWS,
            formulas=not self.neutralize,
        )
        if stats.truncated:
            self.warnings.append(
                f"{name}: {stats.truncated} text value(s) longer than {EXCEL_MAX_CELL} characters truncated (Excel cell limit)"
            )
        if stats.removed:
            self.warnings.append(
                f"{name}: {stats.removed} text value(s) had control characters Excel cannot store; removed"
            )
        return stats.rows, stats.titles

    def save(self, path: Path) -> None:
        self.book.close()
        if self._file is not None:
            self._file.seek(0)
            with open(path, "wb") as out:
                shutil.copyfileobj(self._file, out)
            self._file.close()
            self._file = None
        elif self.path is not None and Path(path) != self.path:
            shutil.copyfile(self.path, path)

    def abort(self) -> None:
        """Close the file unfinished (after an error)."""
        self.book.abort()
        if self._file is not None:
            self._file.close()
            self._file = None


def write_excel(
    path: Path,
    entities: Iterable[tuple[str, Sequence[Column], Iterable[pa.RecordBatch]]],
    *,
    neutralize: bool = True,
) -> tuple[dict[str, tuple[int, list[str]]], list[str]]:
    """An .xlsx workbook of the entities, streamed into ``path`` (see :class:`ExcelBook`)."""
    book = ExcelBook(neutralize=neutralize, path=path)
    try:
        out = {name: book.add(name, columns, batches) for name, columns, batches in entities}
    except BaseException:
        book.abort()
        raise
    book.save(path)
    return out, book.warnings
