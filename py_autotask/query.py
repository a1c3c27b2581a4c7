"""Typed builder for Autotask query filters and ``QueryModel`` bodies.

>>> from py_autotask.query import F, or_
>>> flt = (F("status").eq(5) & F("title").contains("printer")) | F("id").in_([1, 2])
>>> flt.to_dict()["op"]
'or'

Every operator of the REST filter grammar is covered: ``eq, noteq, gt, gte, lt, lte, beginsWith,
endsWith, contains, exist, notExist, in, notIn``, nested ``and``/``or`` groups and UDF conditions
(``F.udf("Customer Ranking").eq("Gold")`` renders ``"udf": true``). Top-level conditions are ANDed by
Autotask, so a top-level ``and`` group is flattened into the ``filter`` array.

Python values are converted for the wire: ``bool`` -> JSON ``true``/``false``, ``datetime`` ->
``'YYYY-MM-DDTHH:MM:SS.fffZ'`` in UTC (naive datetimes are taken as UTC), ``date`` -> ``'YYYY-MM-DD'``,
``Decimal`` -> number, ``Enum`` -> its value.
"""

from __future__ import annotations

import datetime as _dt
import enum
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final, Literal, TypeAlias

from ._values import format_wire_datetime
from .exceptions import AutotaskConfigError

if TYPE_CHECKING:
    from .graph import GraphQLQuery

__all__ = [
    "ALL_ROWS",
    "MAX_OR_CONDITIONS",
    "MAX_PAGE_SIZE",
    "OPERATORS",
    "Condition",
    "F",
    "Filter",
    "FilterArg",
    "GraphQLQuery",
    "Group",
    "RawFilter",
    "and_",
    "build_query_body",
    "or_",
    "to_api_value",
]

#: Largest ``MaxRecords`` Autotask accepts (also its default page size).
MAX_PAGE_SIZE: Final = 500
#: Most OR'd conditions Autotask takes in one query ("Queries are limited to 500 or fewer 'OR'
#: conditions"): the items of every ``or`` group, summed.
MAX_OR_CONDITIONS: Final = 500

COMPARISON_OPERATORS: Final = frozenset(
    {"eq", "noteq", "gt", "gte", "lt", "lte", "beginsWith", "endsWith", "contains"}
)
EXISTENCE_OPERATORS: Final = frozenset({"exist", "notExist"})
LIST_OPERATORS: Final = frozenset({"in", "notIn"})
GROUP_OPERATORS: Final = frozenset({"and", "or"})
#: Every operator of the Autotask REST filter grammar.
OPERATORS: Final = COMPARISON_OPERATORS | EXISTENCE_OPERATORS | LIST_OPERATORS | GROUP_OPERATORS

#: The "all rows" condition; Autotask needs at least one condition per query.
ALL_ROWS: Final[Mapping[str, Any]] = {"op": "gte", "field": "id", "value": 0}


# --- values -----------------------------------------------------------------------------------------


def to_api_value(value: Any) -> Any:
    """Convert one Python value (or a list of them) to its JSON wire form for a filter or body."""
    if value is None or isinstance(value, (bool, str, int, float)):
        return value
    if isinstance(value, enum.Enum):
        return to_api_value(value.value)
    if isinstance(value, _dt.datetime):
        return format_wire_datetime(value)
    if isinstance(value, _dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, Mapping):
        return {str(k): to_api_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_api_value(v) for v in value]
    raise TypeError(f"cannot send a {type(value).__name__} value to Autotask: {value!r}")


# --- filter objects ---------------------------------------------------------------------------------


class Filter(ABC):
    """A filter item; combine with ``&`` (and) and ``|`` (or)."""

    __slots__ = ()

    @abstractmethod
    def to_dict(self) -> dict[str, Any]:
        """The Autotask JSON of this filter item."""

    def __and__(self, other: Filter | Mapping[str, Any]) -> Group:
        return and_(self, other)

    def __rand__(self, other: Mapping[str, Any]) -> Group:
        return and_(other, self)

    def __or__(self, other: Filter | Mapping[str, Any]) -> Group:
        return or_(self, other)

    def __ror__(self, other: Mapping[str, Any]) -> Group:
        return or_(other, self)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Filter):
            return self.to_dict() == other.to_dict()
        return NotImplemented

    def __hash__(self) -> int:
        return hash(repr(self.to_dict()))


_NO_VALUE: Final[Any] = object()


class Condition(Filter):
    """One ``{"op", "field", "value"[, "udf": true]}`` condition."""

    __slots__ = ("field", "op", "udf", "value")

    def __init__(self, op: str, field: str, value: Any = _NO_VALUE, *, udf: bool = False) -> None:
        if op not in OPERATORS or op in GROUP_OPERATORS:
            raise AutotaskConfigError(
                f"unknown filter operator {op!r}; use one of "
                + ", ".join(sorted(OPERATORS - GROUP_OPERATORS))
            )
        if not isinstance(field, str) or not field.strip():
            raise AutotaskConfigError("a filter condition needs a non-empty field name")
        if op in EXISTENCE_OPERATORS:
            if value is not _NO_VALUE:
                raise AutotaskConfigError(f"operator {op!r} takes no value")
        elif value is _NO_VALUE:
            raise AutotaskConfigError(f"operator {op!r} needs a value")
        elif op in LIST_OPERATORS:
            if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
                raise AutotaskConfigError(
                    f"operator {op!r} needs a list of values, got {type(value).__name__}"
                )
            value = list(value)
            if not value:
                raise AutotaskConfigError(f"operator {op!r} needs at least one value")
            if any(v is None for v in value):
                raise AutotaskConfigError(f"operator {op!r} values must not be None")
        elif value is None:
            hint = "notExist" if op == "eq" else "exist" if op == "noteq" else None
            raise AutotaskConfigError(
                f"Autotask rejects null filter values ({field!r} {op} None)"
                + (f"; use F({field!r}).{_PY_METHOD[hint]}() instead" if hint else "")
            )
        self.op = op
        self.field = field
        self.value = value
        self.udf = bool(udf)

    def to_dict(self) -> dict[str, Any]:
        item: dict[str, Any] = {"op": self.op, "field": self.field}
        if self.value is not _NO_VALUE:
            item["value"] = to_api_value(self.value)
        if self.udf:
            item["udf"] = True
        return item

    def __repr__(self) -> str:
        head = f"F.udf({self.field!r})" if self.udf else f"F({self.field!r})"
        args = "" if self.value is _NO_VALUE else repr(self.value)
        return f"{head}.{_PY_METHOD[self.op]}({args})"


class Group(Filter):
    """An ``{"op": "and"|"or", "items": [...]}`` group (arbitrarily nested)."""

    __slots__ = ("items", "op")

    def __init__(
        self, op: Literal["and", "or"], items: Iterable[Filter | Mapping[str, Any]]
    ) -> None:
        if op not in GROUP_OPERATORS:
            raise AutotaskConfigError(f"group operator must be 'and' or 'or', not {op!r}")
        flat: list[Filter] = []
        for item in items:
            node = _as_filter(item)
            # (a & b) & c -> and(a, b, c): same meaning, flatter JSON.
            if isinstance(node, Group) and node.op == op:
                flat.extend(node.items)
            else:
                flat.append(node)
        if not flat:
            raise AutotaskConfigError(f"an {op!r} group needs at least one item")
        self.op: Literal["and", "or"] = op
        self.items: tuple[Filter, ...] = tuple(flat)

    def to_dict(self) -> dict[str, Any]:
        return {"op": self.op, "items": [item.to_dict() for item in self.items]}

    def __repr__(self) -> str:
        return f"{self.op}_(" + ", ".join(repr(i) for i in self.items) + ")"


class RawFilter(Filter):
    """A filter item given as a dict (``{"op": "eq", "field": "x", "value": 1}``), sent verbatim
    apart from converting Python dates/decimals/enums to their wire form."""

    __slots__ = ("data",)

    def __init__(self, data: Mapping[str, Any]) -> None:
        if not isinstance(data, Mapping):
            raise AutotaskConfigError(
                f"a raw filter item must be a dict, got {type(data).__name__}"
            )
        if not any(isinstance(k, str) and k.lower() == "op" for k in data):
            raise AutotaskConfigError(f"filter item {dict(data)!r} has no 'op' key")
        self.data = dict(data)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in self.data.items():
            if isinstance(key, str) and key.lower() == "items" and isinstance(value, list):
                out[key] = [_as_filter(v).to_dict() for v in value]
            else:
                out[key] = to_api_value(value)
        return out

    def __repr__(self) -> str:
        return f"RawFilter({self.data!r})"


def _as_filter(item: Filter | Mapping[str, Any]) -> Filter:
    if isinstance(item, Filter):
        return item
    if isinstance(item, Mapping):
        return RawFilter(item)
    raise AutotaskConfigError(
        f"filter items are F(...) conditions or dicts, not {type(item).__name__}: {item!r}"
    )


def and_(*items: Filter | Mapping[str, Any]) -> Group:
    """All of ``items`` must match."""
    return Group("and", items)


def or_(*items: Filter | Mapping[str, Any]) -> Group:
    """Any of ``items`` must match."""
    return Group("or", items)


_PY_METHOD: Final[Mapping[str, str]] = {
    "eq": "eq",
    "noteq": "noteq",
    "gt": "gt",
    "gte": "gte",
    "lt": "lt",
    "lte": "lte",
    "beginsWith": "begins_with",
    "endsWith": "ends_with",
    "contains": "contains",
    "exist": "exist",
    "notExist": "not_exist",
    "in": "in_",
    "notIn": "not_in",
}


class F:
    """A field to filter on: ``F("status").eq(5)``; UDFs: ``F.udf("Customer Ranking").eq("Gold")``
    or ``F("Customer Ranking", udf=True)``. Field names are API names (case-insensitive in Autotask).
    """

    __slots__ = ("field", "is_udf")

    def __init__(self, field: str, *, udf: bool = False) -> None:
        if not isinstance(field, str) or not field.strip():
            raise AutotaskConfigError("F() needs a non-empty field name")
        self.field = field
        self.is_udf = udf

    @classmethod
    def udf(cls, name: str) -> F:
        """A user-defined field, by its UDF *name*. Autotask allows one UDF per query."""
        return cls(name, udf=True)

    def _cond(self, op: str, value: Any = _NO_VALUE) -> Condition:
        return Condition(op, self.field, value, udf=self.is_udf)

    def eq(self, value: Any) -> Condition:
        return self._cond("eq", value)

    def noteq(self, value: Any) -> Condition:
        return self._cond("noteq", value)

    def gt(self, value: Any) -> Condition:
        return self._cond("gt", value)

    def gte(self, value: Any) -> Condition:
        return self._cond("gte", value)

    def lt(self, value: Any) -> Condition:
        return self._cond("lt", value)

    def lte(self, value: Any) -> Condition:
        return self._cond("lte", value)

    def begins_with(self, value: str) -> Condition:
        """``beginsWith`` (string fields only)."""
        return self._cond("beginsWith", value)

    def ends_with(self, value: str) -> Condition:
        """``endsWith`` (string fields only)."""
        return self._cond("endsWith", value)

    def contains(self, value: str) -> Condition:
        """``contains`` (string fields only)."""
        return self._cond("contains", value)

    def exist(self) -> Condition:
        """The field has a value (is not null)."""
        return self._cond("exist")

    def not_exist(self) -> Condition:
        """The field is null."""
        return self._cond("notExist")

    def in_(self, values: Iterable[Any]) -> Condition:
        """``in``: the field equals one of ``values``."""
        return self._cond("in", values)

    def not_in(self, values: Iterable[Any]) -> Condition:
        """``notIn``: the field equals none of ``values``."""
        return self._cond("notIn", values)

    def __repr__(self) -> str:
        return f"F.udf({self.field!r})" if self.is_udf else f"F({self.field!r})"


# --- QueryModel -------------------------------------------------------------------------------------

#: What query methods accept as a filter: a filter object, a raw filter item dict, a raw QueryModel
#: dict (with a ``filter``/``Filter`` key), or a list of filter objects / dicts (ANDed).
FilterArg: TypeAlias = Filter | Mapping[str, Any] | Sequence[Filter | Mapping[str, Any]]


def _key(mapping: Mapping[str, Any], name: str) -> str | None:
    lowered = name.lower()
    for key in mapping:
        if isinstance(key, str) and key.lower() == lowered:
            return key
    return None


def _filter_items(filter: FilterArg | None) -> list[Filter]:
    if filter is None:
        return []
    if isinstance(filter, Group) and filter.op == "and":
        return list(filter.items)  # top-level items are ANDed by Autotask
    if isinstance(filter, Filter):
        return [filter]
    if isinstance(filter, Mapping):
        return [RawFilter(filter)]
    if isinstance(filter, (str, bytes)):
        raise AutotaskConfigError(
            "string filters are not supported; use F('field').eq(value) or a filter dict"
        )
    if isinstance(filter, Sequence):
        items: list[Filter] = []
        for item in filter:
            items.extend(_filter_items(_as_filter(item)))
        return items
    raise AutotaskConfigError(f"unsupported filter type {type(filter).__name__}")


def _udf_fields(node: Mapping[str, Any], found: set[str]) -> None:
    udf_key = _key(node, "udf")
    field_key = _key(node, "field")
    if udf_key and node[udf_key] is True and field_key:
        found.add(str(node[field_key]).lower())
    items_key = _key(node, "items")
    if items_key and isinstance(node[items_key], list):
        for child in node[items_key]:
            if isinstance(child, Mapping):
                _udf_fields(child, found)


def _or_conditions(node: Mapping[str, Any]) -> int:
    """The OR'd conditions of one filter item: the items of every ``or`` group in it (walked
    without recursion, so a filter nested past Python's stack is counted, not a crash)."""
    count = 0
    stack = [node]
    while stack:
        item = stack.pop()
        items_key = _key(item, "items")
        children = item[items_key] if items_key and isinstance(item[items_key], list) else []
        op_key = _key(item, "op")
        if op_key and isinstance(item[op_key], str) and item[op_key].lower() == "or":
            count += len(children)
        stack.extend(c for c in children if isinstance(c, Mapping))
    return count


def _check_max_records(max_records: Any) -> int:
    if isinstance(max_records, bool) or not isinstance(max_records, int):
        raise AutotaskConfigError(
            f"max_records must be an integer from 1 to {MAX_PAGE_SIZE}, got {max_records!r}"
        )
    if not 1 <= max_records <= MAX_PAGE_SIZE:
        raise AutotaskConfigError(
            f"max_records must be from 1 to {MAX_PAGE_SIZE} (Autotask's page limit), "
            f"got {max_records}; use query_all()/query_all_iter() to read more rows"
        )
    return max_records


def _check_include_fields(include_fields: Any) -> list[str]:
    if isinstance(include_fields, (str, bytes)) or not isinstance(include_fields, Iterable):
        raise AutotaskConfigError("include_fields must be a list of field names, not a string")
    fields = [str(f) for f in include_fields]
    if any(not f.strip() for f in fields):
        raise AutotaskConfigError("include_fields must not contain empty names")
    # Autotask requires ``id`` in IncludeFields when results span more than one page.
    if fields and not any(f.lower() == "id" for f in fields):
        fields.append("id")
    return fields


def build_query_body(
    filter: FilterArg | None = None,
    *,
    include_fields: Iterable[str] | None = None,
    max_records: int | None = None,
) -> dict[str, Any]:
    """Build the ``QueryModel`` body: ``{"filter": [...], "IncludeFields": [...], "MaxRecords": n}``.

    ``filter`` may be ``None`` (all rows: ``id gte 0``), a filter object, a filter item dict, a list of
    those (ANDed) or a raw QueryModel dict with a ``filter``/``Filter`` key (its ``IncludeFields`` /
    ``MaxRecords`` are used unless given as arguments). When ``include_fields`` is given, ``id`` is
    added if missing (Autotask needs it to page).
    """
    extra: dict[str, Any] = {}
    if isinstance(filter, Mapping) and _key(filter, "op") is None:
        raw = dict(filter)
        filter_key = _key(raw, "filter")
        if filter_key is None:
            raise AutotaskConfigError(
                "a filter dict needs either an 'op' key (one filter item) or a 'filter' key "
                f"(a QueryModel); got keys {sorted(map(str, raw))}"
            )
        inner = raw.pop(filter_key)
        include_key = _key(raw, "includeFields")
        if include_key is not None:
            raw_include = raw.pop(include_key)
            if include_fields is None and raw_include:
                include_fields = raw_include
        max_key = _key(raw, "maxRecords")
        if max_key is not None:
            raw_max = raw.pop(max_key)
            if max_records is None and raw_max is not None:
                max_records = raw_max
        extra = {str(k): to_api_value(v) for k, v in raw.items()}
        if inner is not None and not isinstance(inner, (list, tuple, Mapping, Filter)):
            raise AutotaskConfigError(f"QueryModel 'filter' must be a list, got {inner!r}")
        filter = inner

    items = [item.to_dict() for item in _filter_items(filter)]
    if not items:
        items = [dict(ALL_ROWS)]

    udfs: set[str] = set()
    for item in items:
        _udf_fields(item, udfs)
    if len(udfs) > 1:
        raise AutotaskConfigError(
            f"Autotask allows one user-defined field per query; this filter uses {len(udfs)}: "
            + ", ".join(sorted(udfs))
        )

    ors = sum(_or_conditions(item) for item in items)
    if ors > MAX_OR_CONDITIONS:
        raise AutotaskConfigError(
            f"this filter has {ors} OR'd conditions; Autotask allows at most {MAX_OR_CONDITIONS} "
            "per query: list the values with F(field).in_([...]) or split it into several queries"
        )

    body: dict[str, Any] = {"filter": items}
    if include_fields is not None:
        fields = _check_include_fields(include_fields)
        if fields:
            body["IncludeFields"] = fields
    if max_records is not None:
        body["MaxRecords"] = _check_max_records(max_records)
    body.update(extra)
    return body


def __getattr__(name: str) -> Any:
    # ``from py_autotask.query import GraphQLQuery`` (the seed plan's spelling): the GraphQL
    # feature (py_autotask.graph, extra [graphql]) loads only when that name is asked for
    if name == "GraphQLQuery":
        from .graph import GraphQLQuery

        return GraphQLQuery
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
