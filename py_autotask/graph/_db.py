"""GraphQL over a sync mirror: a :class:`~py_autotask.graph.GraphSource` reading the SQLite or
PostgreSQL database that ``py-autotask sync`` (``Syncer.sync_to_database``) writes, with zero API
requests.

The mirror, as the syncer lays it out (``py_autotask/sync/_db.py``): one table per collection named
by :func:`py_autotask._registry.table_name` (``Tickets`` -> ``tickets``), one column per API field
named exactly as the API spells it, the UDFs as JSON text in a ``userDefinedFields`` column (the
API's list form), deleted records removed, datetimes as ``TIMESTAMPTZ`` (PostgreSQL) or ISO 8601
UTC text with ``Z`` (SQLite), and the tenant's picklists in the ``autotask_picklists`` table.

:meth:`DatabaseSource.find` compiles the Autotask filter JSON the executor sends (``eq``,
``noteq``, ``gt``/``gte``/``lt``/``lte``, ``in``, ``notIn``, ``contains``/``beginsWith``/
``endsWith``, ``exist``/``notExist``, ``and``/``or`` nesting) to parameterized SQL with SQLAlchemy
Core (UDF conditions over the stored JSON list), with the API's semantics (text compared case-insensitively, a comparison with a null never
matching), selects only the wanted columns and reads the rows back into the values the API source
gives (:func:`py_autotask._values.read_wire`): so one query gives one result over either source.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import json
from collections.abc import Mapping, Sequence
from typing import Any

from .._registry import spec_for, table_name
from .._sqlurl import check_sqlalchemy_url, database_problem, shown_url, sqlalchemy_url
from .._values import KEPT, Kind, read_wire, value_kind
from ..exceptions import AutotaskConfigError, AutotaskInputError

__all__ = ["PICKLIST_TABLE", "UDF_COLUMN", "DatabaseSource", "MirrorError", "open_source"]

#: The mirror's picklist table and UDF column, as ``py_autotask.sync`` names them
#: (``sync._db.PICKLIST_TABLE``, ``sync._syncer.UDF_COLUMN``; a sibling feature, so not imported:
#: tests/graph/test_graph_db.py checks the two stay equal).
PICKLIST_TABLE = "autotask_picklists"
UDF_COLUMN = "userDefinedFields"

_COMPARE = ("eq", "noteq", "gt", "gte", "lt", "lte")
_LIKE = ("beginsWith", "endsWith", "contains")
_OPS: dict[str, str] = {
    op.lower(): op for op in (*_COMPARE, *_LIKE, "in", "notIn", "exist", "notExist", "and", "or")
}
#: the text of a value of each kind in a PostgreSQL column turned into text (as the sync writes
#: it: ``42``, ``12.5``, ``true``, ``2024-01-31 10:00:00.871+00``); other text is never cast
_TEXT_FORMS: dict[str, str] = {
    "integer": r"^\s*[-+]?[0-9]+\s*$",
    "number": r"^\s*[-+]?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?\s*$",
    "boolean": r"^(true|false)$",
    "datetime": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}([ T][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?)?([+-][0-9]{2}(:?[0-9]{2})?|Z)?$",
}
_TEXT_FORMS["date"] = _TEXT_FORMS["datetime"]
_PICKLIST_COLUMNS = (
    "value",
    "label",
    "isActive",
    "isDefaultValue",
    "sortOrder",
    "parentValue",
)


class MirrorError(AutotaskInputError):
    """A query the mirror cannot answer: a collection or field it does not hold, a filter it
    cannot run. The message says what to do (which ``py-autotask sync`` to run)."""


def _sqlite_text(value: _dt.datetime) -> str:
    """A datetime as the SQLite mirror holds it (``2023-02-07T02:43:19.145000Z``), so text
    comparisons order like the instants."""
    return value.astimezone(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class DatabaseSource:
    """The records of a sync mirror (``sqlite:///autotask.db``, a plain file path, or
    ``postgresql://USER:PASSWORD@HOST/DATABASE``), for :class:`~py_autotask.query.GraphQLQuery`."""

    def __init__(self, url: str) -> None:
        text = str(url).strip()
        if not text:
            raise AutotaskConfigError(
                "a database URL is required: e.g. sqlite:///autotask.db or "
                "postgresql://USER@HOST/DATABASE (the mirror `py-autotask sync --db` writes)"
            )
        if "://" not in text:
            if text.lower().endswith((".duckdb", ".ddb")):
                text = "duckdb:///" + text  # refused below, by name
            else:
                text = "sqlite:///" + text
        self.url = text
        self.shown = shown_url(text)
        backend = text.split("://", 1)[0].partition("+")[0].lower()
        backend = "postgresql" if backend == "postgres" else backend
        if backend not in ("sqlite", "postgresql"):
            raise AutotaskConfigError(
                f"unsupported mirror {self.shown!r}: GraphQL reads the SQLite or PostgreSQL "
                "database `py-autotask sync --db` writes (sqlite:///FILE.db or "
                "postgresql://USER@HOST/DATABASE)"
            )
        parsed = check_sqlalchemy_url(text, what="querying a sync mirror", memory=None)
        import sqlalchemy as sa

        self._sa: Any = sa
        self.name: str = backend
        self._sqlite = backend == "sqlite"
        if self._sqlite and parsed.database not in (None, "", ":memory:"):
            from pathlib import Path

            if not Path(parsed.database).is_file():
                raise AutotaskConfigError(
                    f"no sync mirror at {self.shown!r}: the database file does not exist; create it with "
                    f"`py-autotask sync Tickets Companies ... --db {self.shown}`"
                )
        self.engine: Any = sa.create_engine(sqlalchemy_url(text), future=True)
        self._columns: dict[str, dict[str, str]] = {}
        #: columns declared as text (PostgreSQL turns a typed column into text when a sync meets
        #: a value its type cannot hold)
        self._text: dict[str, set[str]] = {}

    # -- the GraphSource protocol ------------------------------------------------------------------
    async def find(
        self,
        entity: str,
        filter: list[dict[str, Any]],
        fields: Sequence[str] | None,
        first: int | None,
    ) -> list[dict[str, Any]]:
        """The rows of ``entity``'s table matching ``filter``, ordered by id (as the API pages
        them), as records keyed by API field names (see :class:`~py_autotask.graph.GraphSource`).
        The database is read in a worker thread, never on the event loop."""
        return await asyncio.to_thread(self._find, entity, filter, fields, first)

    def _find(
        self,
        entity: str,
        filter: list[dict[str, Any]],
        fields: Sequence[str] | None,
        first: int | None,
    ) -> list[dict[str, Any]]:
        sa = self._sa
        spec = spec_for(entity)
        table = table_name(spec.name)
        columns = self._table_columns(spec.name, table)
        kinds = self._kinds(spec.name, columns)
        if fields is None:
            wanted = list(columns.values())
        else:
            wanted = ["id"]
            for name in fields:
                column = self._column(spec.name, columns, name)
                if column not in wanted:
                    wanted.append(column)
        t = sa.table(table, *(sa.column(c) for c in columns.values()))
        stmt = sa.select(*(t.c[c] for c in wanted))
        if filter:
            stmt = stmt.where(
                sa.and_(*(self._condition(spec.name, t, columns, kinds, x) for x in filter))
            )
        stmt = stmt.order_by(t.c["id"])
        if first is not None:
            stmt = stmt.limit(max(int(first), 0))
        try:
            with self.engine.connect() as conn:
                rows = conn.execute(stmt).all()
        except Exception as exc:
            problem = database_problem(exc, self.url)
            if problem is None:
                raise
            raise MirrorError(problem) from None
        return [
            {c: self._read(kinds.get(c, "string"), v) for c, v in zip(wanted, row, strict=True)}
            for row in rows
        ]

    async def picklist(self, entity: str, field: str) -> list[dict[str, Any]] | None:
        """The picklist values the sync stored for ``entity``'s ``field`` (``None`` when the
        mirror holds no picklist metadata for the entity: a database synced by another tool, or
        the picklist table missing)."""
        return await asyncio.to_thread(self._picklist, entity, field)

    def _picklist(self, entity: str, field: str) -> list[dict[str, Any]] | None:
        sa = self._sa
        spec = spec_for(entity)
        if not self._has_table(PICKLIST_TABLE):
            return None
        t = sa.table(
            PICKLIST_TABLE, *(sa.column(c) for c in ("entity", "field", *_PICKLIST_COLUMNS))
        )
        stmt = sa.select(t.c["field"], *(t.c[c] for c in _PICKLIST_COLUMNS)).where(
            t.c["entity"] == spec.name
        )
        with self.engine.connect() as conn:
            rows = conn.execute(stmt).all()
        if not rows:
            return None
        wanted = field.lower()
        values: list[dict[str, Any]] = []
        for row in rows:
            if str(row[0]).lower() != wanted:
                continue
            item = dict(zip(_PICKLIST_COLUMNS, row[1:], strict=True))
            for flag in ("isActive", "isDefaultValue"):
                item[flag] = None if item[flag] is None else bool(item[flag])
            values.append(item)
        values.sort(key=lambda p: (p["sortOrder"] is None, p["sortOrder"] or 0, str(p["value"])))
        return values

    def missing_picklists_hint(self, entity: str) -> str:
        """What to tell a user whose label argument cannot be resolved over this mirror."""
        name = spec_for(entity).name
        return (
            f"the mirror {self.shown!r} holds no picklist labels for {name}: pass the values "
            f"instead, or sync it with py-autotask (`py-autotask sync {name} --db {self.shown}`), "
            "which stores the tenant's picklists in its autotask_picklists table"
        )

    def close(self) -> None:
        self.engine.dispose()

    # -- catalog -----------------------------------------------------------------------------------
    def _has_table(self, table: str) -> bool:
        return bool(self._sa.inspect(self.engine).has_table(table))

    def _table_columns(self, entity: str, table: str) -> dict[str, str]:
        """``lowered name -> column name`` of ``table`` (read once), or :class:`MirrorError`
        saying to sync the entity."""
        found = self._columns.get(table)
        if found is not None:
            return found
        try:
            insp = self._sa.inspect(self.engine)
            present = insp.has_table(table)
            reflected = insp.get_columns(table) if present else []
            names = [str(c["name"]) for c in reflected]
        except Exception as exc:
            problem = database_problem(exc, self.url)
            if problem is None:
                raise
            raise MirrorError(problem) from None
        if not present:
            raise MirrorError(
                f"the mirror {self.shown!r} has no {entity} (no table {table!r}): sync it first "
                f"with `py-autotask sync {entity} --db {self.shown}`"
            )
        found = {n.lower(): n for n in names}
        self._columns[table] = found
        self._text[table] = {
            str(c["name"])
            for c in reflected
            if str(c["type"]).split("(")[0].strip().upper() in ("TEXT", "VARCHAR")
        }
        return found

    @staticmethod
    def _kinds(entity: str, columns: Mapping[str, str]) -> dict[str, Kind]:
        """``column -> value kind`` from the entity's metadata (columns it does not name: text)."""
        spec = spec_for(entity)
        by_lower = {name.lower(): f.data_type for name, f in spec.fields.items()}
        kinds: dict[str, Kind] = {}
        for low, column in columns.items():
            if low == "id":
                kinds[column] = "integer"
            elif low == UDF_COLUMN.lower():
                kinds[column] = "udfs"
            else:
                kinds[column] = value_kind(by_lower.get(low))
        return kinds

    def _column(self, entity: str, columns: Mapping[str, str], name: str) -> str:
        column = columns.get(str(name).lower())
        if column is None:
            raise MirrorError(
                f"the mirror {self.shown!r} has no field {name!r} for {entity}: check the name, "
                f"or sync again (`py-autotask sync {entity} --db {self.shown}`) if the tenant "
                "added it since"
            )
        return column

    # -- filters -----------------------------------------------------------------------------------
    def _condition(
        self,
        entity: str,
        t: Any,
        columns: Mapping[str, str],
        kinds: Mapping[str, Kind],
        item: Any,
    ) -> Any:
        sa = self._sa
        if not isinstance(item, Mapping):
            raise MirrorError(f"a filter item must be an object, not {item!r}")
        raw_op = str(item.get("op") or "")
        op = _OPS.get(raw_op.lower())
        if op is None:
            raise MirrorError(
                f"unknown filter operator {raw_op!r}: use one of {', '.join(sorted(_OPS.values()))}"
            )
        if op in ("and", "or"):
            items = item.get("items")
            if not isinstance(items, list) or not items:
                raise MirrorError(f"the {op!r} filter item needs a non-empty list of items")
            parts = [self._condition(entity, t, columns, kinds, x) for x in items]
            return sa.and_(*parts) if op == "and" else sa.or_(*parts)
        if item.get("udf"):
            return self._udf_condition(entity, t, columns, op, item)
        column = self._column(entity, columns, str(item.get("field") or ""))
        kind = kinds.get(column, "string")
        col = t.c[column]
        if op not in ("exist", "notExist"):
            col = self._typed(t, column, kind)
        if op == "exist":
            return col.is_not(None)
        if op == "notExist":
            return col.is_(None)
        value = item.get("value")
        if op in ("in", "notIn"):
            if not isinstance(value, list) or not value:
                raise MirrorError(
                    f"the {op!r} filter on {column!r} needs a non-empty list of values"
                )
            values = [self._param(entity, column, kind, v) for v in value]
            if kind == "string":
                lowered = sa.func.lower(col)
                values = [str(v).lower() for v in values]
                return lowered.in_(values) if op == "in" else lowered.not_in(values)
            return col.in_(values) if op == "in" else col.not_in(values)
        if op in _LIKE:
            if kind != "string":
                raise MirrorError(
                    f"the {op!r} operator needs a text field; {column!r} holds {kind} values"
                )
            text = str(value).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            pattern = {"beginsWith": text + "%", "endsWith": "%" + text, "contains": f"%{text}%"}[
                op
            ]
            return col.ilike(pattern, escape="\\")
        param = self._param(entity, column, kind, value)
        left = col
        if kind == "string":
            left, param = sa.func.lower(col), str(param).lower()
        return {
            "eq": lambda: left == param,
            "noteq": lambda: left != param,
            "gt": lambda: left > param,
            "gte": lambda: left >= param,
            "lt": lambda: left < param,
            "lte": lambda: left <= param,
        }[op]()

    def _udf_condition(
        self, entity: str, t: Any, columns: Mapping[str, str], op: str, item: Mapping[str, Any]
    ) -> Any:
        """A condition on one UDF, over the JSON list the mirror stores (``[{"name", "value"}]``):
        ``EXISTS`` an element of that name whose value matches. The mirror keeps no UDF types,
        so values compare as text, case-insensitively (as Autotask compares text); a number
        given for ``gt``/``gte``/``lt``/``lte`` compares numerically."""
        sa = self._sa
        column = columns.get(UDF_COLUMN.lower())
        if column is None:
            raise MirrorError(
                f"the mirror {self.shown!r} holds no UDFs for {entity}: sync it again "
                f"(`py-autotask sync {entity} --db {self.shown}`)"
            )
        name = str(item.get("field") or "")
        if self._sqlite:
            j = sa.func.json_each(t.c[column]).table_valued("value").alias("udf_item")
            udf_name = sa.func.json_extract(j.c.value, "$.name")
            udf_value = sa.func.json_extract(j.c.value, "$.value")
        else:
            from sqlalchemy.dialects.postgresql import JSONB

            j = (
                sa.func.jsonb_array_elements(sa.cast(t.c[column], JSONB))
                .table_valued("value")
                .alias("udf_item")
            )
            udf_name = sa.func.jsonb_extract_path_text(j.c.value, "name")
            udf_value = sa.func.jsonb_extract_path_text(j.c.value, "value")

        def element(*conditions: Any) -> Any:
            found = sa.select(sa.literal(1)).select_from(j)
            return found.where(sa.func.lower(udf_name) == name.lower(), *conditions).exists()

        if op == "exist":
            return element(udf_value.is_not(None))
        if op == "notExist":
            return sa.not_(element(udf_value.is_not(None)))
        value = item.get("value")
        text = sa.func.lower(sa.cast(udf_value, sa.String))
        if op in ("in", "notIn"):
            if not isinstance(value, list) or not value:
                raise MirrorError(f"the {op!r} filter on UDF {name!r} needs a non-empty list")
            lowered = [str(v).lower() for v in value]
            return element(text.in_(lowered) if op == "in" else text.not_in(lowered))
        if value is None:
            raise MirrorError(
                f"a null value for UDF {name!r}: filter with exist/notExist to match (non-)empty "
                "fields"
            )
        if op in _LIKE:
            escaped = str(value).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            pattern = {
                "beginsWith": escaped + "%",
                "endsWith": "%" + escaped,
                "contains": f"%{escaped}%",
            }[op]
            return element(text.like(pattern.lower(), escape="\\"))
        left: Any = text
        param: Any = str(value).lower()
        numeric_value = isinstance(value, (int, float)) and not isinstance(value, bool)
        if op in ("gt", "gte", "lt", "lte") and numeric_value:
            # only values that are numbers (SQLite would read "n/a" as 0, PostgreSQL refuse it)
            if self._sqlite:
                trimmed = sa.func.trim(sa.cast(udf_value, sa.String))
                is_number = sa.and_(
                    trimmed.op("GLOB")("*[0-9]*"), sa.not_(trimmed.op("GLOB")("*[^0-9.+-]*"))
                )
            else:
                is_number = udf_value.op("~")(r"^\s*[-+]?[0-9]+(\.[0-9]+)?\s*$")
            numeric = sa.case((is_number, sa.cast(udf_value, sa.Float)), else_=None)
            left, param = numeric, float(value)
        return element(
            {
                "eq": lambda: left == param,
                "noteq": lambda: left != param,
                "gt": lambda: left > param,
                "gte": lambda: left >= param,
                "lt": lambda: left < param,
                "lte": lambda: left <= param,
            }[op]()
        )

    def _typed(self, t: Any, column: str, kind: Kind) -> Any:
        """``column`` as a comparable value of ``kind``: a value the sync kept as received text
        (``"m"`` for an integer: the column holds it as it came) is null, so it never matches a
        typed comparison, as over the API. SQLite keeps each value's own type (datetimes are
        ISO text); a PostgreSQL column turned into text holds every value as text, cast back."""
        sa = self._sa
        col = t.c[column]
        if kind == "string" or column.lower() == "id":
            return col
        if self._sqlite:
            if kind in ("datetime", "date"):
                ok = col.op("GLOB")("[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T*Z")
            elif kind in ("integer", "number", "boolean"):
                ok = sa.func.typeof(col).in_(["integer", "real"])
            else:
                return col
            return sa.case((ok, col), else_=None)
        if column not in self._text.get(t.name, set()):
            return col
        pattern = _TEXT_FORMS.get(kind)
        if pattern is None:
            return col
        target = {
            "integer": sa.BigInteger,
            "number": sa.Float,
            "boolean": sa.Boolean,
        }.get(kind, sa.DateTime(timezone=True))
        return sa.case((col.op("~")(pattern), sa.cast(col, target)), else_=None)

    def _param(self, entity: str, column: str, kind: Kind, value: Any) -> Any:
        """A filter value as the column holds it (read with the API's rule; datetimes in the
        SQLite mirror's text form)."""
        if value is None:
            raise MirrorError(
                f"a null value for {column!r}: filter with exist/notExist to match (non-)empty fields"
            )
        typed, status = read_wire(kind, value)
        if status == KEPT or typed is None:
            spec_field = spec_for(entity).fields.get(column)
            if spec_field is not None and spec_field.is_picklist and isinstance(value, str):
                # a label the executor could not resolve: the mirror has no picklists for it
                raise MirrorError(
                    f"{value!r} is not a value of {spec_for(entity).name}.{column} and labels "
                    f"cannot be resolved: {self.missing_picklists_hint(entity)}"
                )
            raise MirrorError(f"{value!r} is not a valid {kind} value for {column!r}")
        if isinstance(typed, _dt.datetime):
            return _sqlite_text(typed) if self._sqlite else typed
        if isinstance(typed, _dt.date):
            moment = _dt.datetime(typed.year, typed.month, typed.day, tzinfo=_dt.timezone.utc)
            return _sqlite_text(moment) if self._sqlite else moment
        return typed

    # -- values ------------------------------------------------------------------------------------
    @staticmethod
    def _read(kind: Kind, value: Any) -> Any:
        """A stored value -> the Python value the API source gives for it."""
        if value is None:
            return None
        if isinstance(value, _dt.datetime):  # PostgreSQL's timestamptz
            moment = (
                value.replace(tzinfo=_dt.timezone.utc)
                if value.tzinfo is None
                else value.astimezone(_dt.timezone.utc)
            )
            return moment.date() if kind == "date" else moment
        if kind == "udfs" and isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                return value
        typed, status = read_wire(kind, value)
        return typed if status != KEPT else value


def open_source(url: str) -> DatabaseSource:
    """The GraphSource of the sync mirror at ``url`` (what ``GraphQLQuery(db=url)`` and
    ``py-autotask graphql --db`` use)."""
    return DatabaseSource(url)
