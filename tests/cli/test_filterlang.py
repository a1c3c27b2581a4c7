"""The CLI filter language: every Autotask operator, UDFs, nesting, literals, and errors that point
at the mistake with a caret."""

from __future__ import annotations

from typing import Any

import pytest
from py_autotask_generated.entities import spec as entity_spec

from py_autotask.cli import (
    FilterSyntaxError,
    check_field_names,
    check_filter,
    compile_filter,
    parse_filter,
)
from py_autotask.exceptions import AutotaskConfigError, AutotaskError
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


# --- checks against the entity's metadata (before anything is sent) ----------------------------------


TICKETS = entity_spec("Tickets")


def _caret(exc: FilterSyntaxError) -> str:
    """The text under the caret (up to the next space)."""
    return exc.text[exc.position :].split(" ")[0]


@pytest.mark.parametrize(
    ("expr", "at", "words"),
    [
        ("priorty <= 2", "priorty", ["Tickets has no field 'priorty'", "did you mean priority?"]),
        ("status = 1 and isActive = true", "isActive", ["Tickets has no field 'isActive'"]),
        ("creatorType = 1", "creatorType", ["cannot be used in a filter", "isQueryable=false"]),
        ("priority contains 2", "contains", ["works on text fields only", "priority is integer"]),
        ("createDate beginsWith 2024", "beginsWith", ["createDate is datetime"]),
        ("priority = High", "High", ["integer picklist", "not its label", "'High'"]),
        ("status in (1, 5, Complete)", "Complete)", ["'Complete' is not a whole number"]),
        ("isVisibleToComanaged = 1", "1", ["true/false", "not 1"]),
        ("estimatedHours > lots", "lots", ["is a decimal field", "not a number"]),
        ("createDate > 2024", "2024", ["write a date such as 2024-01-31"]),
    ],
)
def test_metadata_mistakes_point_at_the_field_operator_or_value(
    expr: str, at: str, words: list[str]
) -> None:
    with pytest.raises(FilterSyntaxError) as info:
        check_filter(expr, TICKETS)
    assert _caret(info.value) == at
    for w in words:
        assert w in info.value.reason


@pytest.mark.parametrize(
    "expr",
    [
        "PRIORITY <= 2 and Status in (1, 5)",  # Autotask field names are case-insensitive
        'title contains "VIP" or description beginsWith x',
        "createDate >= 2024-01-01 and lastActivityDate < 2024-12-31T23:59:59Z",
        "isVisibleToComanaged = false and estimatedHours > 1.5 and priority = '2'",
        "assignedResourceID exists and dueDateTime notExist",
        'udf."Anything" = 1',  # UDF names are checked only against the tenant's definitions
        None,
        "",
    ],
)
def test_valid_filters_pass_the_metadata_check(expr: str | None) -> None:
    check_filter(expr, TICKETS)


def test_a_field_newer_than_the_bundled_metadata_is_accepted_when_the_tenant_has_it() -> None:
    calls: list[str] = []

    def tenant() -> list[dict[str, Any]]:
        calls.append("fields")
        return [{"name": "aiSummary", "dataType": "string", "isQueryable": True}]

    check_filter("aiSummary contains outage and priority = 1", TICKETS, tenant_fields=tenant)
    assert calls == ["fields"]  # fetched once, only because the bundled metadata lacks it
    check_filter("priority = 1", TICKETS, tenant_fields=tenant)
    assert calls == ["fields"]  # known fields never fetch
    with pytest.raises(FilterSyntaxError) as info:
        check_filter("aiSumary contains x", TICKETS, tenant_fields=tenant)
    assert _caret(info.value) == "aiSumary"


def test_an_unreadable_tenant_metadata_leaves_the_decision_to_the_api() -> None:
    def broken() -> list[dict[str, Any]]:
        raise AutotaskError("HTTP 503")

    check_filter("brandNewField = 1", TICKETS, tenant_fields=broken)  # no error from the check
    with pytest.raises(FilterSyntaxError):  # a known field with a wrong value still fails
        check_filter("priority = High", TICKETS, tenant_fields=broken)


def test_udf_names_and_types_are_checked_against_the_tenant_definitions() -> None:
    def udfs() -> list[dict[str, Any]]:
        return [
            {"name": "Customer Ranking", "type": "string", "isQueryable": True},
            {"name": "Renewal Date", "type": "datetime", "isQueryable": True},
        ]

    check_filter('udf."customer ranking" = Gold', TICKETS, tenant_udfs=udfs)
    with pytest.raises(FilterSyntaxError) as info:
        check_filter('priority = 1 and udf."Customer Rank" = Gold', TICKETS, tenant_udfs=udfs)
    assert info.value.text[info.value.position :].startswith('"Customer Rank"')
    assert "did you mean Customer Ranking?" in info.value.reason
    with pytest.raises(FilterSyntaxError) as info:
        check_filter('udf."Renewal Date" > 7', TICKETS, tenant_udfs=udfs)
    assert 'udf."Renewal Date" is a datetime' in info.value.reason
    with pytest.raises(FilterSyntaxError) as info:
        check_filter("udf.Anything = 1", TICKETS, tenant_udfs=list)
    assert "Tickets has no user-defined fields in this tenant" in info.value.reason


def test_field_lists_are_checked_too() -> None:
    check_field_names(["id", "Title", "udf.Whatever"], TICKETS)
    with pytest.raises(
        AutotaskConfigError, match=r"--fields: Tickets has no field 'titel'; did you mean title\?"
    ):
        check_field_names(["id", "titel"], TICKETS)
    with pytest.raises(AutotaskConfigError, match="no user-defined field 'Whatever'"):
        check_field_names(["udf.Whatever"], TICKETS, tenant_udfs=list)
