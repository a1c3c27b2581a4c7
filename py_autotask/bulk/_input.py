"""Read bulk input: lists of dicts, CSV files, pandas DataFrames, SQL tables or queries.

Every reader returns ``(columns, rows)`` where ``rows`` is a list of ``(row_number, values)`` and
row numbers are 1-based data rows (a CSV's first row after the header is row 1, on line 2).
Problems with the input as a whole (wrong encoding, no header, a row with more cells than the
header) raise :class:`BulkInputError` before anything is sent.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._csv import CsvSyntaxError, read_records
from .._sqlurl import check_sqlalchemy_url, database_problem
from ..exceptions import AutotaskConfigError

__all__ = ["BulkInputError", "SqlSource", "read_csv", "read_rows", "read_sql"]

Rows = list[tuple[int, dict[str, Any]]]


class BulkInputError(AutotaskConfigError):
    """The bulk input cannot be used as a whole; nothing was sent. ``problems`` lists every reason."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        self.problems = list(problems or [message])
        text = message
        if problems and len(problems) > 1:
            text += ":\n" + "\n".join(f"  - {p}" for p in problems)
        elif problems and problems[0] != message:
            text += f": {problems[0]}"
        super().__init__(text)


@dataclass(frozen=True)
class SqlSource:
    """Rows from a SQL database: ``url`` is a SQLAlchemy URL (``postgresql+psycopg://...``,
    ``sqlite:///file.db``); give a ``table`` name or a ``query`` (a SELECT)."""

    url: str
    table: str | None = None
    query: str | None = None
    schema: str | None = None

    def __post_init__(self) -> None:
        if (self.table is None) == (self.query is None):
            raise AutotaskConfigError("SqlSource needs exactly one of table=... or query=...")


_SELECT_RE = re.compile(r"^\s*(select|with)\b", re.IGNORECASE)


def sql_source(url: str, table_or_query: str) -> SqlSource:
    """A :class:`SqlSource` from a table name or a SELECT statement."""
    if _SELECT_RE.match(table_or_query):
        return SqlSource(url, query=table_or_query)
    return SqlSource(url, table=table_or_query)


def read_csv(
    path: str | Path, *, encoding: str = "utf-8-sig", delimiter: str | None = None
) -> tuple[list[str], Rows]:
    """Read a CSV file with a header row. Strict decoding: a byte that is not valid in ``encoding``
    raises :class:`BulkInputError` naming the line (pass ``encoding="cp1252"`` etc. for files saved
    by Excel in a legacy code page). Cells follow the project's CSV convention
    (:mod:`py_autotask._csv`): an empty unquoted cell is ``None`` (no value), a quoted ``""`` the
    empty string, so a file written by ``export`` or a failures CSV reads back as it was."""
    path = Path(path)
    if not path.is_file():
        raise BulkInputError(f"no such CSV file: {path}")
    raw = path.read_bytes()
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise BulkInputError(
            f"{path} is not valid {encoding}: byte 0x{raw[exc.start]:02x} at line {line} "
            f"(offset {exc.start}); re-save the file as UTF-8 or pass the file's encoding "
            "(--encoding cp1252 / encoding='cp1252')"
        ) from exc
    except LookupError as exc:
        raise BulkInputError(f"unknown encoding {encoding!r}") from exc
    if "\x00" in text:
        raise BulkInputError(
            f"{path} contains NUL bytes: it is binary or UTF-16; save it as UTF-8 CSV"
        )
    if not text.strip():
        raise BulkInputError(f"{path} is empty")
    if delimiter is None:
        try:
            delimiter = csv.Sniffer().sniff(text.split("\n", 1)[0], delimiters=",;\t|").delimiter
        except csv.Error:
            delimiter = ","
    records = read_records(text, delimiter)
    try:
        _line, header = next(records)
    except StopIteration as exc:  # pragma: no cover - empty handled above
        raise BulkInputError(f"{path} has no header row") from exc
    except CsvSyntaxError as exc:
        raise BulkInputError(f"cannot read {path}", [f"{path} {exc}"]) from exc
    columns = [(h or "").strip() for h in header]
    problems: list[str] = []
    if any(not c for c in columns):
        problems.append(f"{path}: the header has an empty column name (columns: {columns})")
    dupes = sorted({c for c in columns if columns.count(c) > 1})
    if dupes:
        problems.append(f"{path}: duplicate column names in the header: {', '.join(dupes)}")
    rows: Rows = []
    try:
        for index, (line, cells) in enumerate(records, start=1):
            if not any(c and c.strip() for c in cells):
                continue
            if len(cells) > len(columns):
                problems.append(
                    f"row {index} (line {line}): {len(cells)} cells but the header "
                    f"has {len(columns)} columns"
                )
                continue
            rows.append((index, {c: v for c, v in zip(columns, cells, strict=False) if c}))
    except CsvSyntaxError as exc:
        problems.append(f"{path} {exc}")
    if problems:
        raise BulkInputError(f"cannot read {path}", problems)
    return columns, rows


def read_sql(source: SqlSource) -> tuple[list[str], Rows]:
    """Rows of a table or a SELECT, through SQLAlchemy (extra ``[sql]``)."""
    parsed = check_sqlalchemy_url(
        source.url, what="reading rows from SQL", memory="it holds no rows to read"
    )
    import sqlalchemy as sa

    engine = sa.create_engine(parsed)
    try:
        with engine.connect() as conn:
            if source.table is not None:
                table = sa.Table(
                    source.table, sa.MetaData(), schema=source.schema, autoload_with=conn
                )
                statement: Any = sa.select(table)
            else:
                statement = sa.text(str(source.query))
            result = conn.execute(statement)
            columns = [str(c) for c in result.keys()]  # noqa: SIM118 - a Result, not a dict
            rows: Rows = [
                (i, dict(zip(columns, record, strict=True)))
                for i, record in enumerate(result, start=1)
            ]
    except sa.exc.SQLAlchemyError as exc:
        problem = database_problem(exc, source.url)
        detail = problem or f"{exc.__class__.__name__}: {str(exc).splitlines()[0]}"
        raise BulkInputError(f"cannot read rows from SQL: {detail}") from exc
    finally:
        engine.dispose()
    return columns, rows


def _records_of(data: Any) -> Iterable[Any] | None:
    """DataFrames and objects with ``.records()`` (the exporter's ``from_dataframe``) as records."""
    if type(data).__name__ == "DataFrame" and hasattr(data, "to_dict"):
        frame = data.astype(object).where(data.notna(), None)
        records: list[Any] = frame.to_dict(orient="records")
        return records
    records_method = getattr(data, "records", None)
    if callable(records_method):
        result: Iterable[Any] = records_method()
        return result
    return None


def read_rows(data: Any, *, encoding: str = "utf-8-sig") -> tuple[list[str], Rows]:
    """Any supported input as ``(columns, rows)``: a CSV path, a :class:`SqlSource`, a DataFrame,
    an object with ``.records()``, or an iterable of dicts / models."""
    if isinstance(data, (str, Path)):
        text = str(data)
        if isinstance(data, str) and "://" in text:
            raise BulkInputError(
                "a database URL needs a table or query: use py_autotask.bulk.SqlSource(url, "
                "table=...) or sql_source(url, 'SELECT ...')"
            )
        return read_csv(data, encoding=encoding)
    if isinstance(data, SqlSource):
        return read_sql(data)
    records = _records_of(data)
    if records is None:
        if isinstance(data, Mapping) or not isinstance(data, Iterable):
            raise BulkInputError(
                "bulk input must be a list of dicts, a CSV path, a DataFrame, a SqlSource or an "
                f"object with .records(); got {type(data).__name__}"
            )
        records = data
    columns: list[str] = []
    seen: set[str] = set()
    rows: Rows = []
    problems: list[str] = []
    for index, item in enumerate(records, start=1):
        if hasattr(item, "to_api_dict"):
            item = item.to_api_dict()
        if not isinstance(item, Mapping):
            problems.append(
                f"row {index}: expected a dict of field -> value, got {type(item).__name__}"
            )
            continue
        values = {str(k): v for k, v in item.items()}
        for key in values:
            if key not in seen:
                seen.add(key)
                columns.append(key)
        rows.append((index, values))
    if problems:
        raise BulkInputError("cannot read the bulk input", problems)
    return columns, rows
