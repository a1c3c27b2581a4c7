"""The CLI filter language: every Autotask operator, UDFs, nesting, literals, and errors that point
at the mistake with a caret."""

from __future__ import annotations

from typing import Any

import pytest

from py_autotask.cli import FilterSyntaxError, compile_filter, parse_filter
from py_autotask.query import F, and_, or_


@pytest.mark.parametrize(
    ("expr", "op", "value"),
    [
        ("priority = 2", "eq", 2),
        ("priority == 2", "eq", 2),
        ("priority eq 2", "eq", 2),
        ("priority != 2", "noteq", 2),
        ("priority <> 2", "noteq", 2),
        ("priority noteq 2", "noteq", 2),
        ("priority ne 2", "noteq", 2),
        ("priority > 2", "gt", 2),
        ("priority gt 2", "gt", 2),
        ("priority >= 2", "gte", 2),
        ("priority GTE 2", "gte", 2),
        ("priority < 2", "lt", 2),
        ("priority lt 2", "lt", 2),
        ("priority <= 2", "lte", 2),
        ("priority lte 2", "lte", 2),
        ('title beginsWith "X"', "beginsWith", "X"),
        ("title startsWith X", "beginsWith", "X"),
        ('title endsWith "done."', "endsWith", "done."),
        ('title contains "VIP"', "contains", "VIP"),
        ("title CONTAINS vip", "contains", "vip"),
    ],
)
def test_comparison_operators(expr: str, op: str, value: Any) -> None:
    field = expr.split()[0]
    assert compile_filter(expr) == [{"op": op, "field": field, "value": value}]


@pytest.mark.parametrize(
    ("expr", "op"),
    [
        ("assignedResourceID exists", "exist"),
        ("assignedResourceID exist", "exist"),
        ("assignedResourceID notExists", "notExist"),
        ("assignedResourceID notExist", "notExist"),
        ("assignedResourceID not exists", "notExist"),
    ],
)
def test_existence_operators(expr: str, op: str) -> None:
    assert compile_filter(expr) == [{"op": op, "field": "assignedResourceID"}]


def test_list_operators() -> None:
    assert compile_filter("id in (1,2, 3)") == [{"op": "in", "field": "id", "value": [1, 2, 3]}]
    assert compile_filter('status notIn (5, "7")') == [
        {"op": "notIn", "field": "status", "value": [5, "7"]}
    ]
    assert compile_filter("status not in (5)") == [{"op": "notIn", "field": "status", "value": [5]}]


def test_literals() -> None:
    (item,) = compile_filter("isActive = true")
    assert item["value"] is True
    (item,) = compile_filter("isActive = FALSE")
    assert item["value"] is False
    assert compile_filter("hours >= 1.5")[0]["value"] == 1.5
    assert compile_filter("balance > -3")[0]["value"] == -3
    assert compile_filter("createDate >= 2024-01-31")[0]["value"] == "2024-01-31"
    assert compile_filter("createDate < 2024-01-31T10:00:00Z")[0]["value"] == "2024-01-31T10:00:00Z"
    assert compile_filter(r'title = "say \"hi\""')[0]["value"] == 'say "hi"'
    assert compile_filter('title = "5"')[0]["value"] == "5"  # quoted numbers stay strings


def test_udf_conditions() -> None:
    assert compile_filter('udf."Customer Ranking" = Gold') == [
        {"op": "eq", "field": "Customer Ranking", "value": "Gold", "udf": True}
    ]
    assert compile_filter("udf.Tier >= 3") == [
        {"op": "gte", "field": "Tier", "value": 3, "udf": True}
    ]
    assert compile_filter("udf.Tier exists") == [{"op": "exist", "field": "Tier", "udf": True}]
    assert compile_filter("udf.Tier in (1, 2)") == [
        {"op": "in", "field": "Tier", "value": [1, 2], "udf": True}
    ]


def test_the_documented_example_compiles_to_the_f_builder() -> None:
    expr = (
        'status = 5 and (priority <= 2 or title contains "VIP") and udf."Customer Ranking" = Gold '
        'and assignedResourceID exists and id in (1,2,3) and title beginsWith "X"'
    )
    expected = and_(
        F("status").eq(5),
        or_(F("priority").lte(2), F("title").contains("VIP")),
        F.udf("Customer Ranking").eq("Gold"),
        F("assignedResourceID").exist(),
        F("id").in_([1, 2, 3]),
        F("title").begins_with("X"),
    )
    assert parse_filter(expr) == expected
    # top-level "and" is flattened into the filter array (Autotask ANDs top-level items)
    assert compile_filter(expr) == [item.to_dict() for item in expected.items]


def test_precedence_and_nesting() -> None:
    # and binds tighter than or
    assert parse_filter("a = 1 or b = 2 and c = 3") == or_(
        F("a").eq(1), and_(F("b").eq(2), F("c").eq(3))
    )
    assert parse_filter("(a = 1 or b = 2) and c = 3") == and_(
        or_(F("a").eq(1), F("b").eq(2)), F("c").eq(3)
    )
    deep = parse_filter("((a = 1 or (b = 2 and (c = 3 or d = 4))))")
    assert deep == or_(F("a").eq(1), and_(F("b").eq(2), or_(F("c").eq(3), F("d").eq(4))))
    assert compile_filter("a = 1 or b = 2") == [
        {
            "op": "or",
            "items": [
                {"op": "eq", "field": "a", "value": 1},
                {"op": "eq", "field": "b", "value": 2},
            ],
        }
    ]
    # keywords are case-insensitive
    assert parse_filter("a = 1 AND b = 2 Or c = 3") == parse_filter("a = 1 and b = 2 or c = 3")


def test_empty_filter_means_all_rows() -> None:
    assert compile_filter(None) == [{"op": "gte", "field": "id", "value": 0}]
    assert compile_filter("   ") == [{"op": "gte", "field": "id", "value": 0}]


@pytest.mark.parametrize(
    ("expr", "column", "reason"),
    [
        ("status = ", 10, "expected a value at the end"),
        ("status 5", 8, "expected an operator after 'status'"),
        ("(a = 1", 1, "missing ')'"),
        ("a = 1)", 6, "unbalanced ')'"),
        ("a = 1 and", 10, "expected a field name"),
        ("a = 1 and or b = 2", 11, "keyword 'or'"),
        ("a in 1,2", 6, "expected '('"),
        ("a in (1 2)", 9, "expected ',' or ')'"),
        ("a in ()", 7, "expected a value"),
        ('"x" = 1', 1, "quoted string"),
        ('a = "abc', 5, "unterminated string"),
        ("a = 1 or # 2", 10, "unexpected character '#'"),
        ("a ~ 1", 3, "unexpected character '~'"),
        ("a = 1 b = 2", 7, "expected 'and', 'or'"),
        ("a not like 2", 3, "'not' must be followed by"),
        ("udf. = 1", 6, "expected a UDF name"),
        ("udf.a = 1 and udf.b = 2", 15, "one user-defined field per query"),
        ("()", 2, "empty parentheses"),
        ("", 1, "the filter is empty"),
    ],
)
def test_errors_point_at_the_mistake(expr: str, column: int, reason: str) -> None:
    with pytest.raises(FilterSyntaxError) as info:
        parse_filter(expr) if not expr else compile_filter(expr)
    exc = info.value
    assert exc.column == column, str(exc)
    assert reason in exc.reason
    lines = str(exc).splitlines()
    assert lines[0] == f"bad filter at column {column}: {exc.reason}"
    assert lines[1] == f"  {expr}"
    assert lines[2] == "  " + " " * (column - 1) + "^"
