"""Autotask query model: parse and validate a QueryModel, compile its filter to SQL.

Kept apart from the store so a differential test can check the compiled SQL against an
independent evaluator. Semantics follow SQL Server as Autotask exposes it: comparisons on a null
value never match, string comparisons are case-insensitive, top-level items are ANDed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from .._values import datetime_or_none
from ._metadata import EntityMeta, FieldInfo
from ._values import column_datetime

__all__ = [
    "CANONICAL_OPS",
    "Condition",
    "Group",
    "ParsedQuery",
    "QueryError",
    "compile_sql",
    "convert_value",
    "parse_query",
]

COMPARISON_OPS = ("eq", "noteq", "gt", "gte", "lt", "lte", "beginsWith", "endsWith", "contains")
STRING_OPS = frozenset({"beginsWith", "endsWith", "contains"})
EXIST_OPS = frozenset({"exist", "notExist"})
LIST_OPS = frozenset({"in", "notIn"})
GROUP_OPS = frozenset({"and", "or"})
CANONICAL_OPS: dict[str, str] = {
    op.lower(): op for op in (*COMPARISON_OPS, "exist", "notExist", "in", "notIn", "and", "or")
}

_SQL_COMPARE = {"eq": "=", "noteq": "<>", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
_SQL_TYPE_NAME = {"int": "int", "float": "numeric", "datetime": "datetime", "bool": "bit"}


class QueryError(Exception):
    """A query the API would reject; ``messages`` become the ``errors`` array."""

    def __init__(self, *messages: str) -> None:
        super().__init__("; ".join(messages))
        self.messages = list(messages)


@dataclass(frozen=True, slots=True)
class Condition:
    field: FieldInfo
    op: str  # canonical spelling, e.g. "beginsWith"
    value: Any  # converted: scalar, tuple for in/notIn, None for exist/notExist


@dataclass(frozen=True, slots=True)
class Group:
    op: str  # "and" | "or"
    items: tuple[Node, ...]


Node = Condition | Group


@dataclass(frozen=True, slots=True)
class ParsedQuery:
    filter: Group
    max_records: int | None
    include_fields: tuple[str, ...] | None  # canonical field / UDF names
    include_udfs: bool


def _lower_keys(obj: dict[str, Any]) -> dict[str, Any]:
    return {str(k).lower(): v for k, v in obj.items()}


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


_INT64 = (-(2**63), 2**63 - 1)


def convert_value(field: FieldInfo, value: Any) -> Any:
    """Convert one filter value to the column representation, or raise QueryError."""
    converted = _convert(field, value)
    if isinstance(converted, int) and not _INT64[0] <= converted <= _INT64[1]:
        raise QueryError("Arithmetic overflow error converting expression to data type bigint.")
    return converted


def _convert(field: FieldInfo, value: Any) -> Any:
    kind = field.kind
    if value is None:
        raise QueryError(f"A value is required for field '{field.name}'.")
    if isinstance(value, (list, dict)):
        raise QueryError(f"Invalid value for field '{field.name}': expected a single value.")
    if kind == "bool":
        if isinstance(value, bool):
            return 1 if value else 0
        raise QueryError(
            f"Invalid value '{_describe(value)}' for boolean field '{field.name}'. "
            "Boolean values must be true or false."
        )
    if kind == "int":
        if isinstance(value, bool):
            raise QueryError(
                f"Conversion failed when converting the bit value '{_describe(value)}' to data type int."
            )
        if isinstance(value, int):
            return value
        if isinstance(value, float):
            if math.isfinite(value) and value.is_integer():
                return int(value)
            raise QueryError(
                f"Conversion failed when converting the numeric value '{value}' to data type int."
            )
        text = str(value).strip()
        try:
            return int(text)
        except ValueError:
            raise QueryError(
                f"Conversion failed when converting the varchar value '{value}' to data type int."
            ) from None
    if kind == "float":
        if isinstance(value, bool):
            raise QueryError("Error converting data type bit to numeric.")
        if isinstance(value, (int, float)):
            if isinstance(value, float) and not math.isfinite(value):
                raise QueryError("Error converting data type varchar to numeric.")
            return float(value)
        try:
            number = float(str(value).strip())
        except ValueError:
            raise QueryError("Error converting data type varchar to numeric.") from None
        if not math.isfinite(number):
            raise QueryError("Error converting data type varchar to numeric.")
        return number
    if kind == "datetime":
        parsed = datetime_or_none(value, naive=True) if isinstance(value, str) else None
        if parsed is None:
            raise QueryError(
                "Conversion failed when converting date and/or time from character string."
            )
        return column_datetime(parsed)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class _Parser:
    def __init__(self, entity: EntityMeta, max_or: int) -> None:
        self.entity = entity
        self.max_or = max_or
        self.leaf_count = 0
        self.or_count = 0
        self.udf_fields: set[str] = set()

    def node(self, raw: Any) -> Node | None:
        if not isinstance(raw, dict):
            raise QueryError("Invalid filter: each filter item must be an object.")
        item = _lower_keys(raw)
        op_raw = item.get("op")
        if not isinstance(op_raw, str) or op_raw.lower() not in CANONICAL_OPS:
            raise QueryError(f"Invalid filter operator: '{_describe(op_raw)}'.")
        op = CANONICAL_OPS[op_raw.lower()]
        if op in GROUP_OPS:
            children = item.get("items")
            if not isinstance(children, list):
                raise QueryError(f"The '{op}' operator requires an 'items' array of filters.")
            nodes = [n for n in (self.node(c) for c in children) if n is not None]
            if op == "or":
                self.or_count += len(nodes)
                if self.or_count > self.max_or:
                    raise QueryError(
                        "Invalid query syntax. Queries are limited to "
                        f"{self.max_or} or fewer 'OR' conditions."
                    )
            if not nodes:
                return None
            return Group(op, tuple(nodes))
        return self.leaf(item, op)

    def leaf(self, item: dict[str, Any], op: str) -> Condition:
        name = item.get("field")
        if not isinstance(name, str) or not name.strip():
            raise QueryError(f"The '{op}' operator requires a field name.")
        udf_flag = item.get("udf", False)
        if udf_flag is None:
            udf_flag = False
        if not isinstance(udf_flag, bool):
            raise QueryError(
                f"Invalid value '{_describe(udf_flag)}' for 'udf'. Boolean values must be true or false."
            )
        singular = self.entity.singular
        if udf_flag:
            if not self.entity.udf_capable:
                raise QueryError(f"The {singular} Entity does not support user defined fields.")
            field = self.entity.udfs.get(name.lower())
            if field is None:
                raise QueryError(
                    f"Unable to find {name} in the {singular} Entity user defined fields."
                )
            self.udf_fields.add(field.name.lower())
            if len(self.udf_fields) > 1:
                raise QueryError("Only one user defined field may be used in a query.")
        else:
            maybe = self.entity.field(name)
            if maybe is None:
                raise QueryError(f"Unable to find {name} in the {singular} Entity")
            field = maybe
        if not field.queryable:
            raise QueryError(f"Field {field.name} in the {singular} Entity is not queryable.")
        self.leaf_count += 1
        value = item.get("value")
        if op in EXIST_OPS:
            return Condition(field, op, None)
        if op in LIST_OPS:
            if not isinstance(value, list):
                raise QueryError(
                    f"The '{op}' operator requires an array value for field '{field.name}'."
                )
            if not value:
                raise QueryError(
                    f"The '{op}' operator requires at least one value for field '{field.name}'."
                )
            return Condition(field, op, tuple(convert_value(field, v) for v in value))
        if op in STRING_OPS and field.kind != "str":
            raise QueryError(
                f"The '{op}' operator is not valid for field '{field.name}' of type {field.data_type}."
            )
        return Condition(field, op, convert_value(field, value))


def parse_query(
    entity: EntityMeta, body: Any, *, max_or: int = 500, max_records: int = 500
) -> ParsedQuery:
    """Validate a QueryModel (property names case-insensitive) against the entity metadata."""
    if not isinstance(body, dict):
        raise QueryError("Invalid query: the query must be a JSON object.")
    model = _lower_keys(body)
    raw_max = model.get("maxrecords")
    limit: int | None = None
    if raw_max is not None:
        if isinstance(raw_max, bool):
            raise QueryError("MaxRecords must be an integer between 1 and 500.")
        try:
            limit = int(raw_max) if not isinstance(raw_max, float) or raw_max.is_integer() else -1
        except (TypeError, ValueError):
            raise QueryError("MaxRecords must be an integer between 1 and 500.") from None
        if not 1 <= limit <= max_records:
            raise QueryError(f"MaxRecords must be between 1 and {max_records}.")
    include: tuple[str, ...] | None = None
    include_udfs = True
    raw_include = model.get("includefields")
    if raw_include is not None:
        if not isinstance(raw_include, list) or not all(isinstance(x, str) for x in raw_include):
            raise QueryError("IncludeFields must be an array of field names.")
        if raw_include:
            names: list[str] = []
            include_udfs = False
            for x in raw_include:
                f = entity.field(x)
                if f is not None:
                    names.append(f.name)
                    continue
                u = entity.udfs.get(x.lower())
                if u is not None or (x.lower() == "userdefinedfields" and entity.udf_capable):
                    include_udfs = True
                    continue
                raise QueryError(f"Unable to find {x} in the {entity.singular} Entity")
            include = tuple(dict.fromkeys(names))
    raw_filter = model.get("filter")
    if raw_filter is None:
        raw_filter = []
    if isinstance(raw_filter, dict):
        raw_filter = [raw_filter]
    if not isinstance(raw_filter, list):
        raise QueryError("Invalid query: 'filter' must be an array of filter objects.")
    parser = _Parser(entity, max_or)
    nodes = tuple(n for n in (parser.node(x) for x in raw_filter) if n is not None)
    if parser.leaf_count == 0:
        raise QueryError("A query must contain at least one filter condition.")
    return ParsedQuery(Group("and", nodes), limit, include, include_udfs)


def _expr(field: FieldInfo) -> str:
    if field.is_udf:
        key = field.name.replace('"', '""').replace("'", "''")
        return f"json_extract(e.udf, '$.\"{key}\"')"
    return field.column


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


RANGE_OPS = frozenset({"gt", "gte", "lt", "lte"})


def compile_sql(node: Node, *, scan_ranges: bool = False) -> tuple[str, list[Any]]:
    """Compile a filter tree to an SQLite boolean expression with parameters.

    ``scan_ranges`` marks range comparisons on indexed columns as not index-usable (unary ``+``),
    so SQLite walks the table in id order and stops after one page instead of sorting every
    match of a wide range. Results are identical either way.
    """
    params: list[Any] = []
    sql = _compile(node, params, scan_ranges)
    return sql, params


def _compile(node: Node, params: list[Any], scan_ranges: bool) -> str:
    if isinstance(node, Group):
        joiner = " AND " if node.op == "and" else " OR "
        return "(" + joiner.join(_compile(n, params, scan_ranges) for n in node.items) + ")"
    f = node.field
    expr = _expr(f)
    if scan_ranges and node.op in RANGE_OPS and not f.is_udf and f.name.lower() != "id":
        expr = "+" + expr
    collate = " COLLATE NOCASE" if f.kind == "str" and f.is_udf else ""
    op = node.op
    if op == "exist":
        return f"({expr} IS NOT NULL)"
    if op == "notExist":
        return f"({expr} IS NULL)"
    if op in LIST_OPS:
        params.extend(node.value)
        marks = ",".join("?" * len(node.value))
        neg = "NOT " if op == "notIn" else ""
        return f"({expr}{collate} {neg}IN ({marks}))"
    if op in STRING_OPS:
        text = _like_escape(str(node.value))
        pattern = {"beginsWith": text + "%", "endsWith": "%" + text, "contains": "%" + text + "%"}[
            op
        ]
        params.append(pattern)
        return f"({expr} LIKE ? ESCAPE '\\')"
    params.append(node.value)
    return f"({expr}{collate} {_SQL_COMPARE[op]} ?)"
