"""The filter builder renders Autotask's exact filter JSON for every operator."""

from __future__ import annotations

import enum
import json
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from py_autotask.exceptions import AutotaskConfigError
from py_autotask.query import (
    ALL_ROWS,
    OPERATORS,
    Condition,
    F,
    and_,
    build_query_body,
    or_,
    to_api_value,
)


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        (F("status").eq(5), {"op": "eq", "field": "status", "value": 5}),
        (F("status").noteq(5), {"op": "noteq", "field": "status", "value": 5}),
        (F("id").gt(10), {"op": "gt", "field": "id", "value": 10}),
        (F("id").gte(10), {"op": "gte", "field": "id", "value": 10}),
        (F("id").lt(10), {"op": "lt", "field": "id", "value": 10}),
        (F("id").lte(10), {"op": "lte", "field": "id", "value": 10}),
        (F("title").begins_with("Re"), {"op": "beginsWith", "field": "title", "value": "Re"}),
        (F("title").ends_with("x"), {"op": "endsWith", "field": "title", "value": "x"}),
        (F("title").contains("x"), {"op": "contains", "field": "title", "value": "x"}),
        (F("dueDateTime").exist(), {"op": "exist", "field": "dueDateTime"}),
        (F("dueDateTime").not_exist(), {"op": "notExist", "field": "dueDateTime"}),
        (F("id").in_([1, 2]), {"op": "in", "field": "id", "value": [1, 2]}),
        (F("id").not_in((3, 4)), {"op": "notIn", "field": "id", "value": [3, 4]}),
        (
            F.udf("Customer Ranking").eq("Gold"),
            {"op": "eq", "field": "Customer Ranking", "value": "Gold", "udf": True},
        ),
        (
            F("Customer Ranking", udf=True).exist(),
            {"op": "exist", "field": "Customer Ranking", "udf": True},
        ),
    ],
)
def test_every_operator_renders_autotask_json(
    condition: Condition, expected: dict[str, Any]
) -> None:
    assert condition.to_dict() == expected


def test_all_non_group_operators_are_reachable_from_F() -> None:
    rendered = {
        F("a").eq(1).op,
        F("a").noteq(1).op,
        F("a").gt(1).op,
        F("a").gte(1).op,
        F("a").lt(1).op,
        F("a").lte(1).op,
        F("a").begins_with("x").op,
        F("a").ends_with("x").op,
        F("a").contains("x").op,
        F("a").exist().op,
        F("a").not_exist().op,
        F("a").in_([1]).op,
        F("a").not_in([1]).op,
    }
    assert rendered | {"and", "or"} == OPERATORS


def test_and_or_nesting() -> None:
    flt = (F("status").eq(1) & F("priority").gte(2)) | F("title").contains("urgent")
    assert flt.to_dict() == {
        "op": "or",
        "items": [
            {
                "op": "and",
                "items": [
                    {"op": "eq", "field": "status", "value": 1},
                    {"op": "gte", "field": "priority", "value": 2},
                ],
            },
            {"op": "contains", "field": "title", "value": "urgent"},
        ],
    }


def test_same_operator_groups_are_flattened() -> None:
    flt = F("a").eq(1) | F("b").eq(2) | F("c").eq(3)
    assert [i["field"] for i in flt.to_dict()["items"]] == ["a", "b", "c"]
    assert and_(F("a").eq(1), and_(F("b").eq(2), F("c").eq(3))).to_dict()["items"] == [
        {"op": "eq", "field": "a", "value": 1},
        {"op": "eq", "field": "b", "value": 2},
        {"op": "eq", "field": "c", "value": 3},
    ]


def test_groups_accept_raw_dicts() -> None:
    flt = or_({"op": "eq", "field": "a", "value": 1}, F("b").eq(2))
    assert flt.to_dict() == {
        "op": "or",
        "items": [{"op": "eq", "field": "a", "value": 1}, {"op": "eq", "field": "b", "value": 2}],
    }
    assert ({"op": "eq", "field": "a", "value": 1} & F("b").eq(2)).op == "and"


def test_values_are_converted_to_wire_form() -> None:
    class Color(enum.Enum):
        RED = 3

    naive = datetime(2024, 1, 2, 3, 4, 5, 678901)
    aware = datetime(2024, 1, 2, 5, 4, 5, 678000, tzinfo=timezone(timedelta(hours=2)))
    assert F("x").eq(True).to_dict()["value"] is True
    assert F("x").eq(naive).to_dict()["value"] == "2024-01-02T03:04:05.678Z"
    assert F("x").gte(aware).to_dict()["value"] == "2024-01-02T03:04:05.678Z"
    assert F("x").eq(date(2024, 2, 29)).to_dict()["value"] == "2024-02-29"
    assert F("x").eq(Decimal("12.50")).to_dict()["value"] == 12.5
    assert F("x").eq(Decimal("12")).to_dict()["value"] == 12
    assert F("x").eq(Color.RED).to_dict()["value"] == 3
    assert F("x").in_([naive, date(2024, 1, 1)]).to_dict()["value"] == [
        "2024-01-02T03:04:05.678Z",
        "2024-01-01",
    ]
    # JSON booleans, not strings
    assert json.dumps(F("isActive").eq(False).to_dict()) == (
        '{"op": "eq", "field": "isActive", "value": false}'
    )
    with pytest.raises(TypeError):
        to_api_value(object())


@pytest.mark.parametrize(
    "make",
    [
        lambda: F("x").eq(None),
        lambda: F("x").in_([]),
        lambda: F("x").in_("abc"),
        lambda: F("x").in_([1, None]),
        lambda: F(""),
        lambda: Condition("like", "x", 1),
        lambda: Condition("exist", "x", 1),
        lambda: Condition("eq", "x"),
        lambda: and_(),
    ],
)
def test_invalid_conditions_raise_config_error(make) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(AutotaskConfigError):
        make()


def test_eq_none_points_to_not_exist() -> None:
    with pytest.raises(AutotaskConfigError, match=r"not_exist\(\)"):
        F("dueDateTime").eq(None)


def test_repr_reads_like_code() -> None:
    assert repr(F("status").eq(5)) == "F('status').eq(5)"
    assert repr(F.udf("Rank").exist()) == "F.udf('Rank').exist()"
    assert repr(F("a").eq(1) | F("b").in_([2])) == "or_(F('a').eq(1), F('b').in_([2]))"


# --- QueryModel bodies ------------------------------------------------------------------------------


def test_none_filter_is_all_rows() -> None:
    assert build_query_body(None) == {"filter": [{"op": "gte", "field": "id", "value": 0}]}
    assert build_query_body([]) == {"filter": [dict(ALL_ROWS)]}


def test_single_condition_and_top_level_and_is_flattened() -> None:
    assert build_query_body(F("status").eq(1)) == {
        "filter": [{"op": "eq", "field": "status", "value": 1}]
    }
    assert build_query_body(F("a").eq(1) & F("b").eq(2)) == {
        "filter": [{"op": "eq", "field": "a", "value": 1}, {"op": "eq", "field": "b", "value": 2}]
    }


def test_list_of_filters_and_dicts() -> None:
    body = build_query_body([F("a").eq(1), {"op": "contains", "field": "title", "value": "x"}])
    assert body["filter"] == [
        {"op": "eq", "field": "a", "value": 1},
        {"op": "contains", "field": "title", "value": "x"},
    ]


def test_raw_filter_item_dict() -> None:
    raw = {"op": "or", "items": [{"op": "eq", "field": "a", "value": 1}]}
    assert build_query_body(raw) == {"filter": [raw]}


def test_raw_query_model_2x_style_is_passed_through() -> None:
    raw = {"filter": [{"op": "eq", "field": "isActive", "value": "true"}]}
    assert build_query_body(raw) == {"filter": [{"op": "eq", "field": "isActive", "value": "true"}]}
    pascal = {
        "Filter": [{"op": "eq", "field": "id", "value": 1}],
        "IncludeFields": ["id", "title"],
        "MaxRecords": 10,
    }
    assert build_query_body(pascal) == {
        "filter": [{"op": "eq", "field": "id", "value": 1}],
        "IncludeFields": ["id", "title"],
        "MaxRecords": 10,
    }
    # explicit arguments win over the raw model's values
    assert build_query_body(pascal, max_records=3)["MaxRecords"] == 3


def test_include_fields_and_max_records() -> None:
    body = build_query_body(F("a").eq(1), include_fields=["title", "status"], max_records=500)
    assert body == {
        "filter": [{"op": "eq", "field": "a", "value": 1}],
        "IncludeFields": ["title", "status", "id"],  # id added: Autotask needs it to page
        "MaxRecords": 500,
    }
    assert build_query_body(None, include_fields=["ID", "title"])["IncludeFields"] == [
        "ID",
        "title",
    ]


@pytest.mark.parametrize("bad", [0, 501, -1, True, "10", 2.5])
def test_max_records_is_validated(bad: object) -> None:
    with pytest.raises(AutotaskConfigError, match="1 to 500"):
        build_query_body(None, max_records=bad)  # type: ignore[arg-type]


def test_include_fields_must_be_a_list() -> None:
    with pytest.raises(AutotaskConfigError):
        build_query_body(None, include_fields="id")


def test_only_one_udf_per_query() -> None:
    build_query_body(F.udf("Rank").eq("Gold") | F.udf("Rank").eq("Silver"))
    with pytest.raises(AutotaskConfigError, match="one user-defined field"):
        build_query_body([F.udf("Rank").eq("Gold"), F.udf("Region").eq("EU")])


@pytest.mark.parametrize(
    "bad",
    ["status eq 5", {"field": "x"}, [1, 2], {"filter": "x"}],
)
def test_unsupported_filter_shapes_raise(bad: object) -> None:
    with pytest.raises(AutotaskConfigError):
        build_query_body(bad)  # type: ignore[arg-type]


def test_filters_compare_by_rendering() -> None:
    assert F("a").eq(1) == F("a").eq(1)
    assert F("a").eq(1) != F("a").eq(2)
    assert len({F("a").eq(1), F("a").eq(1)}) == 1
